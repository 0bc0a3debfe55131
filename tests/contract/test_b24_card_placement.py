"""Contract tests of the Bitrix24 emulator for the card placement of issue 19 (F16): a `CRM_LEAD_DETAIL_ACTIVITY`
handler bound with `placement.bind` shows on the lead card, and the frame it opens carries the placement and
`PLACEMENT_OPTIONS {"ID": <entity id>}`; a placement no handler is bound to opens nothing."""

from __future__ import annotations

import json

import httpx

from tests.contract.test_b24_sandbox import ok, sb, token

__all__ = ["sb"]  # the fixture, used by name

HANDLER = "http://127.0.0.1:8000/b24/app"


async def test_detail_activity_placement_on_the_card(sb: httpx.AsyncClient) -> None:
    t = await token(sb)
    lead = (await ok(sb, "crm.item.add", {"entityTypeId": 1, "fields": {"title": "Отклик"}}, t))["result"]["item"]
    frame = await sb.post("/_sandbox/portals/demo/frame", json={
        "user_id": 1, "target": "app", "placement": "CRM_LEAD_DETAIL_ACTIVITY", "placement_options": {"ID": "1"}})
    assert frame.status_code == 400  # nothing bound yet
    params = {"PLACEMENT": "CRM_LEAD_DETAIL_ACTIVITY", "HANDLER": HANDLER, "TITLE": "rabota.by: пригласить"}
    assert (await ok(sb, "placement.bind", params, t))["result"] is True
    page = await sb.get(f"/portal/demo/crm/1/{lead['id']}/")
    assert 'data-placement="CRM_LEAD_DETAIL_ACTIVITY"' in page.text and "rabota.by: пригласить" in page.text
    deal_page_bound = [p for p in (await sb.get("/_sandbox/portals/demo/placements")).json()
                       if p["placement"] == "CRM_DEAL_DETAIL_ACTIVITY"]
    assert deal_page_bound == []
    frame = await sb.post("/_sandbox/portals/demo/frame", json={
        "user_id": 1, "target": "app", "placement": "CRM_LEAD_DETAIL_ACTIVITY",
        "placement_options": {"ID": str(lead["id"])}})
    assert frame.status_code == 200, frame.text
    form = frame.json()["form"]
    assert form["PLACEMENT"] == "CRM_LEAD_DETAIL_ACTIVITY"
    assert json.loads(form["PLACEMENT_OPTIONS"]) == {"ID": str(lead["id"])}
