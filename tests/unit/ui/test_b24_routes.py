"""The ui's Bitrix24 routes: the Open Lines connector's event messages read from the form, and which view a frame
opens (F16: the card placement, the timeline activity's menu)."""

from __future__ import annotations

from rabota_ui.b24_routes import connector_messages, page_view


def test_connector_event_messages_from_the_form() -> None:
    form = {"data[CONNECTOR]": "rabotaby", "data[LINE]": "1",
            "data[MESSAGES][0][im][chat_id]": "17", "data[MESSAGES][0][im][message_id]": "42",
            "data[MESSAGES][0][message][user_id]": "1", "data[MESSAGES][0][message][text]": "Hi",
            "data[MESSAGES][0][chat][id]": "5000000001", "data[MESSAGES][0][evil][x]": "1",
            "data[MESSAGES][1000][im][chat_id]": "1"}
    assert connector_messages(form) == [{"im": {"chat_id": "17", "message_id": "42"},
                                         "message": {"user_id": "1", "text": "Hi"}, "chat": {"id": "5000000001"}}]


def test_views_of_frames_card_placements_and_menu() -> None:
    assert page_view("CRM_LEAD_DETAIL_ACTIVITY", {"ID": "5"}) == ("actions", {"entityTypeId": "1", "entityId": "5"})
    assert page_view("CRM_DEAL_DETAIL_ACTIVITY", {"ID": "7"})[1]["entityTypeId"] == "2"
    assert page_view("CRM_DYNAMIC_1038_DETAIL_ACTIVITY", {"ID": "9"}) == (
        "actions", {"entityTypeId": "1038", "entityId": "9"})
    assert page_view("CRM_LEAD_DETAIL_ACTIVITY", {"ID": "../1"})[1]["entityId"] == ""
    assert page_view("DEFAULT", {"view": "actions", "entityTypeId": "1", "entityId": "3"})[0] == "actions"
    assert page_view("DEFAULT", {"view": "other_responses"})[0] == "other_responses"
    # Issue 18 item 6: the activity's «Написать» (its entity from Bitrix24's entityTypeId and entityId).
    assert page_view("DEFAULT", {"view": "chat", "entityTypeId": "2", "entityId": "8"}) == (
        "chat", {"view": "chat", "entityTypeId": "2", "entityId": "8"})
    assert page_view("DEFAULT", {"view": "<script>"})[0] == "main"
