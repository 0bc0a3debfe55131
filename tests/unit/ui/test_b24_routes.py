"""The ui's Bitrix24 routes: the Open Lines connector's event messages read from the form."""

from __future__ import annotations

from rabota_ui.b24_routes import connector_messages


def test_connector_event_messages_from_the_form() -> None:
    form = {"data[CONNECTOR]": "rabotaby", "data[LINE]": "1",
            "data[MESSAGES][0][im][chat_id]": "17", "data[MESSAGES][0][im][message_id]": "42",
            "data[MESSAGES][0][message][user_id]": "1", "data[MESSAGES][0][message][text]": "Hi",
            "data[MESSAGES][0][chat][id]": "5000000001", "data[MESSAGES][0][evil][x]": "1",
            "data[MESSAGES][1000][im][chat_id]": "1"}
    assert connector_messages(form) == [{"im": {"chat_id": "17", "message_id": "42"},
                                         "message": {"user_id": "1", "text": "Hi"}, "chat": {"id": "5000000001"}}]
