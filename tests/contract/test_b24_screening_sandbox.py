"""Contract tests of the Bitrix24 emulator's F17/F18 methods, per b24restdocs:
`crm/duplicates/crm-duplicate-find-by-comm.md`, `crm/status/crm-status-add.md`,
`crm/timeline/activities/configurable/badges/*`."""

from __future__ import annotations

import httpx
import pytest
from rabota_sandbox.b24 import B24SandboxConfig, create_app

from tests.contract.test_b24_sandbox import BASE, call, ok, token


@pytest.fixture
async def sb():
    app = create_app(B24SandboxConfig(deliver_events=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


async def _contact(sb, auth: str, phone: str, email: str | None = None) -> int:
    fm = [{"typeId": "PHONE", "valueType": "MOBILE", "value": phone}]
    if email:
        fm.append({"typeId": "EMAIL", "valueType": "WORK", "value": email})
    body = await ok(sb, "crm.item.add", {"entityTypeId": 3, "fields": {"name": "Анна", "fm": fm}}, auth)
    return int(body["result"]["item"]["id"])


async def test_findbycomm_compares_phones_as_the_duplicate_index(sb):
    auth = await token(sb)
    a = await _contact(sb, auth, "8 029 123-45-67", "Anna@Mail.test")
    b = await _contact(sb, auth, "+7 (916) 000-00-01")
    found = await ok(sb, "crm.duplicate.findbycomm", {"entity_type": "CONTACT", "type": "PHONE",
                                                      "values": ["+375291234567", "89160000001"]}, auth)
    assert found["result"] == {"CONTACT": [a, b]}
    found = await ok(sb, "crm.duplicate.findbycomm", {"type": "EMAIL", "values": ["anna@mail.test"]}, auth)
    assert found["result"] == {"CONTACT": [a]}  # no entity_type: every type searched
    none = await ok(sb, "crm.duplicate.findbycomm", {"entity_type": "LEAD", "type": "PHONE",
                                                     "values": ["+375291234567"]}, auth)
    assert none["result"] == []


@pytest.mark.parametrize(("params", "text"), [
    ({"values": ["1"]}, "Communication type is not defined"),
    ({"type": "WEB", "values": ["1"]}, "is not supported in current context"),
    ({"type": "PHONE"}, "Communication values is not defined"),
])
async def test_findbycomm_errors(sb, params, text):
    r = await call(sb, "crm.duplicate.findbycomm", params, await token(sb))
    assert r.status_code == 400 and text in r.text


async def test_a_lead_bound_to_a_contact_is_a_repeat_lead(sb):
    auth = await token(sb)
    contact = await _contact(sb, auth, "+375291234567")
    lead = await ok(sb, "crm.item.add", {"entityTypeId": 1, "fields": {"title": "x", "contactIds": [contact]}}, auth)
    assert lead["result"]["item"]["isReturnCustomer"] == "Y"
    lead = await ok(sb, "crm.item.add", {"entityTypeId": 1, "fields": {"title": "y"}}, auth)
    assert lead["result"]["item"]["isReturnCustomer"] == "N"


async def test_status_add_source_once(sb):
    auth = await token(sb)
    fields = {"ENTITY_ID": "SOURCE", "STATUS_ID": "RABOTABY", "NAME": "rabota.by"}
    new_id = (await ok(sb, "crm.status.add", {"fields": fields}, auth))["result"]
    assert isinstance(new_id, int)
    rows = (await ok(sb, "crm.status.list", {"filter": {"ENTITY_ID": "SOURCE"}}, auth))["result"]
    assert [r["NAME"] for r in rows if r["STATUS_ID"] == "RABOTABY"] == ["rabota.by"]
    r = await call(sb, "crm.status.add", {"fields": fields}, auth)
    assert r.status_code == 400 and "Duplicate STATUS_ID" in r.text
    r = await call(sb, "crm.status.add", {"fields": {**fields, "STATUS_ID": "X"}}, await token(sb, user_id=2))
    assert r.status_code == 400 and "Access denied" in r.text


async def test_badges_registered_before_an_activity_names_them(sb):
    auth = await token(sb)
    deal = (await ok(sb, "crm.item.add", {"entityTypeId": 2, "fields": {"title": "d"}}, auth))["result"]["item"]["id"]
    act = {"ownerTypeId": 2, "ownerId": deal, "fields": {"completed": "N", "badgeCode": "newResponse"},
           "layout": {"icon": {"code": "comment"}, "header": {"title": "t"},
                      "body": {"logo": {"code": "comment"}, "blocks": {}}}}
    r = await call(sb, "crm.activity.configurable.add", act, auth)
    assert r.status_code == 400 and "WRONG_FIELD_VALUE" in r.text
    r = await call(sb, "crm.activity.badge.add", {"code": "newResponse", "title": "t"}, auth)
    assert r.status_code == 400 and "REQUIRED_ARG_MISSING" in r.text
    badge = {"code": "newResponse", "title": {"ru": "rabota.by"}, "value": {"ru": "Новый отклик"}, "type": "primary"}
    assert (await ok(sb, "crm.activity.badge.add", badge, auth))["result"]["badge"]["code"] == "newResponse"
    aid = (await ok(sb, "crm.activity.configurable.add", act, auth))["result"]["activity"]["id"]
    kanban = (await sb.get(f"/_sandbox/portals/demo/kanban/2/{deal}")).json()
    assert [b["code"] for b in kanban["badges"]] == ["newResponse"]
    await ok(sb, "crm.activity.configurable.update", {"id": aid, "fields": {"completed": "Y"}}, auth)
    assert (await sb.get(f"/_sandbox/portals/demo/kanban/2/{deal}")).json()["badges"] == []
    listed = (await ok(sb, "crm.activity.badge.list", {}, auth))["result"]["badges"]
    assert [b["code"] for b in listed] == ["newResponse"]
