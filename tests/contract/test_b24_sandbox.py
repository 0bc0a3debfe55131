"""Contract tests of the Bitrix24 emulator (deploy/sandbox/rabota_sandbox/b24).

Each test pins a behaviour of the real Bitrix24 cloud documented in /work/shared/reference/b24-rest.md
(section numbers in the docstrings) or in deploy/sandbox/README.md."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from rabota_sandbox.b24 import B24SandboxConfig, create_app
from rabota_stack.processes import free_port

BASE = "http://127.0.0.1:8020"
CLIENT = {"client_id": "sandbox-b24-client", "client_secret": "sandbox-b24-secret"}
SPA = 1032


@pytest.fixture
async def sb():
    app = create_app(B24SandboxConfig(deliver_events=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


async def frame(c: httpx.AsyncClient, portal: str = "demo", user_id: int = 1, target: str = "app",
                **extra: Any) -> dict[str, Any]:
    r = await c.post(f"/_sandbox/portals/{portal}/frame", json={"user_id": user_id, "target": target, **extra})
    assert r.status_code == 200, r.text
    return r.json()


async def token(c: httpx.AsyncClient, portal: str = "demo", user_id: int = 1) -> str:
    return (await frame(c, portal, user_id))["form"]["AUTH_ID"]


async def call(c: httpx.AsyncClient, method: str, params: dict[str, Any] | None = None, auth: str | None = None,
               portal: str = "demo") -> httpx.Response:
    body = dict(params or {})
    if auth is not None:
        body["auth"] = auth
    return await c.post(f"/portal/{portal}/rest/{method}", json=body)


async def ok(c: httpx.AsyncClient, method: str, params: dict[str, Any] | None = None, auth: str | None = None,
             portal: str = "demo") -> Any:
    r = await call(c, method, params, auth, portal)
    assert r.status_code == 200, r.text
    return r.json()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ------------------------------------------------------------------------------ layout helpers
def layout(blocks: int = 2, buttons: int = 2, **over: Any) -> dict[str, Any]:
    lay: dict[str, Any] = {
        "icon": {"code": "call-completed"},
        "header": {"title": "Отклик"},
        "body": {"logo": {"code": "call-incoming"},
                 "blocks": {f"b{i}": {"type": "withTitle", "properties": {
                     "title": "Вакансия", "inline": True,
                     "block": {"type": "text", "properties": {"value": f"v{i}"}}}} for i in range(blocks)}},
        "footer": {"buttons": {
            f"btn{i}": {"title": "Другие отклики" if i == 0 else "Резюме",
                        "type": "primary" if i == 0 else "secondary",
                        "action": {"type": "openRestApp", "actionParams": {"negotiation": "42"}} if i == 0 else
                        {"type": "redirect", "uri": "https://rabota.by/resume/abc"}} for i in range(buttons)}},
    }
    lay.update(over)
    return lay


# ============================================================================== basics / auth
async def test_health_and_seeded_portals(sb):
    assert (await sb.get("/_sandbox/health")).json() == {"ok": True}
    portals = {p["code"]: p for p in (await sb.get("/_sandbox/portals")).json()}
    assert portals["demo"]["crm_mode"] == 1 and portals["simple"]["crm_mode"] == 2
    assert portals["demo"]["domain"] == "127.0.0.1:8020/portal/demo"
    assert portals["demo"]["client_endpoint"] == "http://127.0.0.1:8020/portal/demo/rest/"
    assert portals["demo"]["installed"] is False


async def test_frame_parameters(sb):
    """§1.2: query DOMAIN/PROTOCOL/LANG/APP_SID, form AUTH_ID.. PLACEMENT_OPTIONS as a JSON string."""
    f = await frame(sb, target="install")
    assert f["url"] == "http://127.0.0.1:8000/b24/install"
    assert f["query"]["DOMAIN"] == "127.0.0.1:8020/portal/demo" and f["query"]["PROTOCOL"] == "0"
    assert f["query"]["LANG"] == "ru" and f["query"]["APP_SID"]
    form = f["form"]
    assert form["AUTH_EXPIRES"] == "3600" and form["PLACEMENT"] == "DEFAULT"
    assert form["SERVER_ENDPOINT"] == "http://127.0.0.1:8020/rest/"
    assert json.loads(form["PLACEMENT_OPTIONS"]) == {}
    assert "APPLICATION_TOKEN" not in form  # not installed yet
    await sb.post("/_sandbox/portals/demo/install-finish")
    f2 = await frame(sb, placement_options={"x": "1"})
    assert f2["url"] == "http://127.0.0.1:8000/b24/app"
    assert f2["form"]["APPLICATION_TOKEN"] and json.loads(f2["form"]["PLACEMENT_OPTIONS"]) == {"x": "1"}
    f3 = await frame(sb)
    assert f3["form"]["APPLICATION_TOKEN"] == f2["form"]["APPLICATION_TOKEN"]  # stable per install


async def test_rest_success_shape_and_time(sb):
    """§1.1: {"result", "time": {start, finish, duration, processing, date_start, date_finish,
    operating_reset_at, operating}}; the .json suffix is optional; GET works too."""
    t = await token(sb)
    body = await ok(sb, "crm.settings.mode.get", auth=t)
    assert body["result"] == 1
    assert set(body["time"]) == {"start", "finish", "duration", "processing", "date_start", "date_finish",
                                 "operating_reset_at", "operating"}
    r = await sb.get(f"/portal/demo/rest/crm.settings.mode.get.json?auth={t}")
    assert r.status_code == 200 and r.json()["result"] == 1
    assert (await ok(sb, "crm.settings.mode.get", auth=await token(sb, "simple"), portal="simple"))["result"] == 2


async def test_auth_errors(sb):
    """§1.6: missing/invalid auth -> 401 NO_AUTH_FOUND; unknown method -> 404 ERROR_METHOD_NOT_FOUND."""
    r = await call(sb, "user.current")
    assert r.status_code == 401
    assert r.json() == {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}
    r = await call(sb, "user.current", auth="nope")
    assert r.status_code == 401 and r.json()["error"] == "NO_AUTH_FOUND"
    t = await token(sb)
    r = await call(sb, "user.current", auth=t, portal="simple")  # a token of another portal
    assert r.status_code == 401 and r.json()["error"] == "NO_AUTH_FOUND"
    r = await call(sb, "crm.nothing.here", auth=t)
    assert r.status_code == 404 and r.json()["error"] == "ERROR_METHOD_NOT_FOUND"


async def test_expired_token_and_refresh_rotation(sb):
    """§1.5/§1.6/§9: expired -> 401 expired_token; refresh rotates; a used refresh token -> invalid_grant;
    the old access token is not revoked by the refresh."""
    f = await frame(sb)
    access, refresh = f["form"]["AUTH_ID"], f["form"]["REFRESH_ID"]
    q = {"grant_type": "refresh_token", **CLIENT, "refresh_token": refresh}
    r = await sb.get("/oauth/token/", params=q)
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["access_token"] != access and new["refresh_token"] != refresh
    assert new["expires_in"] == 3600 and new["client_endpoint"] == "http://127.0.0.1:8020/portal/demo/rest/"
    assert new["member_id"] and new["user_id"] == 1 and new["server_endpoint"] == "http://127.0.0.1:8020/rest/"
    assert (await call(sb, "user.current", auth=access)).status_code == 200  # still inside its hour
    r = await sb.get("/oauth/token/", params=q)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = await sb.post("/oauth/token/", data={**q, "refresh_token": new["refresh_token"], "client_secret": "x"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    await sb.post("/_sandbox/portals/demo/tokens/expire")
    r = await call(sb, "user.current", auth=new["access_token"])
    assert r.status_code == 401
    assert r.json() == {"error": "expired_token", "error_description": "The access token provided has expired"}
    r = await sb.post("/oauth/token/", data={**q, "refresh_token": new["refresh_token"]})
    assert r.status_code == 200
    assert (await call(sb, "user.current", auth=r.json()["access_token"])).status_code == 200


async def test_oauth_server_app_info(sb):
    """§1.2/§1.7: app.info on the OAuth server and on the portal; INSTALLED false until installFinish."""
    t = await token(sb)
    r = await sb.post("/rest/app.info", data={"auth": t})
    assert r.status_code == 200 and r.json()["result"]["INSTALLED"] is False
    await sb.post("/_sandbox/portals/demo/install-finish")
    body = await ok(sb, "app.info", auth=t)
    assert body["result"]["INSTALLED"] is True and body["result"]["STATUS"] == "F"


async def test_parameter_encodings(sb):
    """§1.1: query string, form-encoded PHP nested keys and JSON bodies are all accepted."""
    t = await token(sb)
    form = {"auth": t, "fields[TITLE]": "Form", "fields[PHONE][0][VALUE]": "+375291112233",
            "fields[PHONE][0][VALUE_TYPE]": "MOBILE"}
    r = await sb.post("/portal/demo/rest/crm.lead.add", data=form)
    assert r.status_code == 200, r.text
    lid = r.json()["result"]
    r = await sb.get(f"/portal/demo/rest/crm.lead.get?auth={t}&id={lid}")
    lead = r.json()["result"]
    assert lead["TITLE"] == "Form" and lead["PHONE"][0]["VALUE"] == "+375291112233"
    assert lead["PHONE"][0]["VALUE_TYPE"] == "MOBILE" and lead["PHONE"][0]["TYPE_ID"] == "PHONE"
    r = await sb.post(f"/portal/demo/rest/crm.lead.list?auth={t}", data={"filter[ID]": str(lid), "select[]": "TITLE"})
    assert r.json()["result"] == [{"ID": str(lid), "TITLE": "Form"}]
    r = await sb.post("/portal/demo/rest/crm.lead.add", content=b"{bad", headers={"content-type": "application/json"})
    assert r.status_code == 400


# ============================================================================== install / events
async def test_install_finish_delivers_onappinstall():
    """§1.3/§1.4: ONAPPINSTALL is POSTed form-encoded with nested auth[...] keys to {app}/b24/events."""
    received: list[dict[str, str]] = []
    receiver = FastAPI()

    @receiver.post("/b24/events")
    async def events(request: Request) -> dict[str, bool]:
        received.append(dict(parse_qsl((await request.body()).decode())))
        return {"ok": True}

    @receiver.post("/hooks/timeline")
    async def timeline(request: Request) -> dict[str, bool]:
        received.append(dict(parse_qsl((await request.body()).decode())))
        return {"ok": True}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(receiver, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        app = create_app(B24SandboxConfig(app_url=f"http://127.0.0.1:{port}"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            f = await frame(c, target="install")
            t = f["form"]["AUTH_ID"]
            # events bound in the installer are delivered only after installFinish
            await ok(c, "event.bind", {"event": "onCrmTimelineItemAction",
                                       "handler": f"http://127.0.0.1:{port}/hooks/timeline"}, t)
            r = await c.post("/_sandbox/portals/demo/install-finish")
            assert r.status_code == 200 and r.json()["delivery"]["status"] == 200, r.text
            ev = received[0]
            assert ev["event"] == "ONAPPINSTALL" and ev["data[INSTALLED]"] == "Y" and ev["data[LANGUAGE_ID]"] == "ru"
            for k in ("access_token", "refresh_token", "application_token", "member_id", "client_endpoint",
                      "server_endpoint", "domain", "expires_in", "scope", "status"):
                assert ev.get(f"auth[{k}]"), k
            assert ev["auth[client_endpoint]"] == "http://127.0.0.1:8020/portal/demo/rest/"
            assert ev["auth[expires_in]"] == "3600"
            app_token = ev["auth[application_token]"]
            assert (await frame(c))["form"]["APPLICATION_TOKEN"] == app_token
            # the event tokens work and refresh
            assert (await call(c, "user.current", auth=ev["auth[access_token]"])).status_code == 200
            r = await c.get("/oauth/token/", params={"grant_type": "refresh_token", **CLIENT,
                                                     "refresh_token": ev["auth[refresh_token]"]})
            assert r.status_code == 200
            # a restEvent click reaches the bound handler as ONCRMTIMELINEITEMACTION
            lid = (await ok(c, "crm.lead.add", {"fields": {"TITLE": "x"}}, t))["result"]
            lay = layout()
            lay["footer"]["buttons"]["btn0"]["action"] = {"type": "restEvent", "id": "other",
                                                          "actionParams": {"n": 5}, "animationType": "loader"}
            aid = (await ok(c, "crm.activity.configurable.add",
                            {"ownerTypeId": 1, "ownerId": lid, "layout": lay}, t))["result"]["activity"]["id"]
            r = await c.post(f"/_sandbox/portals/demo/activities/{aid}/action", json={"action": "btn0"})
            assert r.json()["deliveries"][0]["status"] == 200
            ev = received[-1]
            assert ev["event"] == "ONCRMTIMELINEITEMACTION" and ev["data[id]"] == "other" and ev["data[n]"] == "5"
            assert ev["data[entityTypeId]"] == "1" and ev["data[entityId]"] == str(lid)
            assert ev["data[activityId]"] == str(aid) and ev["auth[application_token]"] == app_token
            # CRM changes reach bound ONCRM* handlers in the background (REST calls and edits in the UI)
            await ok(c, "event.bind", {"event": "ONCRMDEALUPDATE", "handler": f"http://127.0.0.1:{port}/hooks/timeline"},
                     t)
            did = (await ok(c, "crm.deal.add", {"fields": {"TITLE": "d"}}, t))["result"]
            r = await c.post(f"/_sandbox/portals/demo/entities/2/{did}", json={"fields": {"STAGE_ID": "WON"}})
            assert r.status_code == 200 and r.json()["STAGE_ID"] == "WON"
            for _ in range(100):
                if received[-1]["event"] == "ONCRMDEALUPDATE":
                    break
                await asyncio.sleep(0.02)
            assert received[-1]["event"] == "ONCRMDEALUPDATE" and received[-1]["data[FIELDS][ID]"] == str(did)
            # uninstall: ONAPPUNINSTALL with data[CLEAN], no tokens; API access revoked
            r = await c.post("/_sandbox/portals/demo/uninstall", json={"clean": 1})
            ev = received[-1]
            assert ev["event"] == "ONAPPUNINSTALL" and ev["data[CLEAN]"] == "1"
            assert "auth[access_token]" not in ev and ev["auth[application_token]"] == app_token
            assert (await call(c, "user.current", auth=t)).status_code == 401
            assert (await c.get("/_sandbox/portals/demo/events")).json() == []
    finally:
        server.should_exit = True
        await task


async def test_event_bind_rules(sb):
    """§1.4/§9: unknown event -> ERROR_EVENT_NOT_FOUND; duplicate -> ERROR_CORE; event.get lists them."""
    t = await token(sb)
    h = "http://127.0.0.1:8000/b24/events"
    assert (await ok(sb, "event.bind", {"event": "ONCRMTIMELINEITEMACTION", "handler": h}, t))["result"] is True
    r = await call(sb, "event.bind", {"event": "ONCRMTIMELINEITEMACTION", "handler": h}, t)
    assert r.status_code == 400 and r.json()["error"] == "ERROR_CORE"
    r = await call(sb, "event.bind", {"event": "ONSOMETHINGELSE", "handler": h}, t)
    assert r.status_code == 400 and r.json()["error"] == "ERROR_EVENT_NOT_FOUND"
    got = (await ok(sb, "event.get", {}, t))["result"]
    assert got == [{"event": "ONCRMTIMELINEITEMACTION", "handler": h, "auth_type": "0", "offline": 0}]


async def test_placement_bind(sb):
    """§2/§9: argument errors are HTTP 200 ERROR_ARGUMENT with `argument`; duplicate -> ERROR_CORE."""
    t = await token(sb)
    p = {"PLACEMENT": "CRM_LEAD_DETAIL_TAB", "HANDLER": "http://127.0.0.1:8000/b24/app", "TITLE": "rabota.by"}
    assert (await ok(sb, "placement.bind", p, t))["result"] is True
    r = await call(sb, "placement.bind", p, t)
    assert r.status_code == 400 and r.json()["error"] == "ERROR_CORE"
    r = await call(sb, "placement.bind", {"PLACEMENT": "CRM_LEAD_DETAIL_TAB"}, t)
    assert r.status_code == 200 and r.json()["error"] == "ERROR_ARGUMENT" and r.json()["argument"] == "HANDLER"
    r = await call(sb, "placement.bind", {**p, "PLACEMENT": "NOPE"}, t)
    assert r.json()["error"] == "ERROR_PLACEMENT_NOT_FOUND"
    r = await call(sb, "placement.bind", p, await token(sb, user_id=2))
    assert r.status_code == 403


# ============================================================================== limits
async def test_rate_limit_leaky_bucket(sb):
    """§7.2/§9: the counter must exceed the burst before a request is refused: 503 QUERY_LIMIT_EXCEEDED;
    refused requests do not add; a batch is one request."""
    t = await token(sb)
    await sb.put("/_sandbox/knobs", params={"portal": "demo"}, json={"burst": 3, "rate": 0.001})
    statuses = [(await call(sb, "crm.settings.mode.get", auth=t)).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 503, 503]
    r = await call(sb, "crm.settings.mode.get", auth=t)
    assert r.json() == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    # another portal has its own bucket
    assert (await call(sb, "crm.settings.mode.get", auth=await token(sb, "simple"), portal="simple")).status_code == 200
    stats = (await sb.get("/_sandbox/stats", params={"portal": "demo"})).json()
    assert stats["errors"]["QUERY_LIMIT_EXCEEDED"] == 3
    await sb.put("/_sandbox/knobs", params={"portal": "demo"}, json={"rate": 1000.0})
    await asyncio.sleep(0.01)
    assert (await call(sb, "crm.settings.mode.get", auth=t)).status_code == 200


async def test_operation_time_limit(sb):
    """§7.3: per-method budget over 10 min; the call that goes over passes, the next one gets 429;
    other methods are unaffected; `time.operating` accumulates."""
    t = await token(sb)
    await sb.put("/_sandbox/knobs", json={"operation_time_limit_s": 0.025, "operation_cost_s": 0.01})
    ops = []
    for _ in range(3):
        body = await ok(sb, "user.current", auth=t)
        ops.append(body["time"]["operating"])
    assert ops == pytest.approx([0.01, 0.02, 0.03])
    r = await call(sb, "user.current", auth=t)
    assert r.status_code == 429 and r.json()["error"] == "OPERATION_TIME_LIMIT"
    assert (await call(sb, "profile", auth=t)).status_code == 200


async def test_error_injection_knobs(sb):
    t = await token(sb)
    await sb.put("/_sandbox/knobs", json={"error_rate_5xx": 1.0})
    r = await call(sb, "profile", auth=t)
    assert r.status_code == 500 and r.json()["error"] == "INTERNAL_SERVER_ERROR"
    await sb.put("/_sandbox/knobs", json={"error_rate_5xx": 0.0, "error_rate_503": 1.0})
    r = await call(sb, "profile", auth=t)
    assert r.status_code == 503 and r.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    r = await sb.put("/_sandbox/knobs", json={"nope": 1})
    assert r.status_code == 400


async def test_failing_method_knob(sb):
    """A named method fails with the documented error (§5.1: HTTP 400 ACCESS_DENIED), alone and inside
    `batch` (in result_error, the other commands still run); other methods are untouched."""
    t = await token(sb)
    r = await sb.put("/_sandbox/knobs", params={"portal": "demo"},
                     json={"failing_methods": {"crm.lead.add": "NO_SUCH_CODE"}})
    assert r.status_code == 400
    r = await sb.put("/_sandbox/knobs", params={"portal": "demo"},
                     json={"failing_methods": {"crm.lead.add": "ACCESS_DENIED"}})
    assert r.status_code == 200, r.text
    r = await call(sb, "crm.lead.add", {"fields": {"TITLE": "x"}}, t)
    assert r.status_code == 400 and r.json() == {"error": "ACCESS_DENIED", "error_description": "Access denied"}
    body = await ok(sb, "batch", {"cmd": {"a": "crm.lead.add?fields[TITLE]=x", "b": "profile"}}, t)
    assert body["result"]["result_error"] == {"a": {"error": "ACCESS_DENIED", "error_description": "Access denied"}}
    assert "b" in body["result"]["result"] and "a" not in body["result"]["result"]
    stats = (await sb.get("/_sandbox/stats", params={"portal": "demo"})).json()
    assert stats["injected"]["failing:crm.lead.add"] == 2
    await sb.put("/_sandbox/knobs", params={"portal": "demo"}, json={"failing_methods": {}})
    assert (await call(sb, "crm.lead.add", {"fields": {"TITLE": "x"}}, t)).status_code == 200


# ============================================================================== batch
async def test_batch_refs_and_shape(sb):
    """§7.1: sequential commands, $result[...] references, result_error, empty maps as []."""
    t = await token(sb)
    cmd = {
        "lead": "crm.lead.add?" + urlencode({"fields[TITLE]": "Batch lead", "fields[ORIGIN_ID]": "neg-1"}),
        "get": "crm.lead.get?id=$result[lead]",
        "list": "crm.lead.list?filter[ID]=$result[lead]&select[]=ID&select[]=TITLE",
        "again": "crm.lead.list?filter[ID]=$result[list][0][ID]",
        "bad": "crm.lead.get?id=999999",
    }
    body = await ok(sb, "batch", {"halt": 0, "cmd": cmd}, t)
    res = body["result"]
    lid = res["result"]["lead"]
    assert res["result"]["get"]["TITLE"] == "Batch lead"
    assert res["result"]["list"] == [{"ID": str(lid), "TITLE": "Batch lead"}]
    assert res["result"]["again"][0]["ID"] == str(lid)
    assert res["result_total"] == {"list": 1, "again": 1}
    assert res["result_next"] == []
    assert set(res["result_time"]) == {"lead", "get", "list", "again"}
    assert res["result_error"] == {"bad": {"error": "", "error_description": "Not found"}}
    # GET with a double-encoded cmd
    q = "cmd[a]=" + quote("crm.lead.get?id=" + str(lid), safe="") + f"&auth={t}"
    r = await sb.get(f"/portal/demo/rest/batch?{q}")
    assert r.json()["result"]["result"]["a"]["ID"] == str(lid)
    stats = (await sb.get("/_sandbox/stats", params={"portal": "demo"})).json()
    assert stats["by_method"]["batch"] == 2
    assert stats["batched_commands"]["crm.lead.get"] == 3 and stats["batched_commands"]["crm.lead.list"] == 2


async def test_batch_halt_limit_and_nesting(sb):
    """§7.1/§9: halt stops at the first error (the rest not reported); commands past 50 get
    ERROR_BATCH_LENGTH_EXCEEDED; nested batch -> ERROR_BATCH_METHOD_NOT_ALLOWED; list cmd keys."""
    t = await token(sb)
    cmd = ["crm.settings.mode.get", "crm.lead.get?id=0", "crm.settings.mode.get"]
    res = (await ok(sb, "batch", {"halt": 1, "cmd": cmd}, t))["result"]
    assert res["result"] == [1]
    assert list(res["result_error"]) == ["1"] and res["result_error"]["1"]["error"] == ""
    res = (await ok(sb, "batch", {"halt": 0, "cmd": cmd}, t))["result"]
    assert res["result"] == {"0": 1, "2": 1}
    big = {f"c{i}": "crm.settings.mode.get" for i in range(52)}
    res = (await ok(sb, "batch", {"cmd": big}, t))["result"]
    assert len(res["result"]) == 50
    assert set(res["result_error"]) == {"c50", "c51"}
    assert res["result_error"]["c50"]["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"
    res = (await ok(sb, "batch", {"cmd": {"x": "batch?cmd[a]=profile", "y": "no.such.method"}}, t))["result"]
    assert res["result"] == [] and res["result_error"]["x"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"
    assert res["result_error"]["y"]["error"] == "ERROR_METHOD_NOT_FOUND"


# ============================================================================== CRM
async def test_lead_with_multifields_uf_file_and_origin_filter(sb):
    """§3.2/§3.8/§4.1/§4.3: multifields, UF file via fileData (readable back, downloadable),
    ORIGINATOR_ID/ORIGIN_ID filter with @ lists, paging fields."""
    t = await token(sb)
    assert (await ok(sb, "crm.lead.userfield.add", {"fields": {"FIELD_NAME": "RABOTABY_RESUME", "USER_TYPE_ID": "file",
                                                                "LABEL": "Резюме"}}, t))["result"] > 0
    await ok(sb, "crm.lead.userfield.add", {"fields": {"FIELD_NAME": "RABOTABY_STATUS", "USER_TYPE_ID": "string"}}, t)
    pdf = b"%PDF-1.4 resume"
    fields = {"TITLE": "Отклик", "NAME": "Иван", "LAST_NAME": "Петров", "ORIGINATOR_ID": "rabota.by",
              "ORIGIN_ID": "100", "PHONE": [{"VALUE": "+375291234567", "VALUE_TYPE": "MOBILE"}],
              "EMAIL": [{"VALUE": "ivan@example.by", "VALUE_TYPE": "WORK"}],
              "UF_CRM_RABOTABY_RESUME": {"fileData": ["resume.pdf", b64(pdf)]},
              "UF_CRM_RABOTABY_STATUS": "response", "UF_CRM_UNKNOWN": "ignored"}
    lid = (await ok(sb, "crm.lead.add", {"fields": fields}, t))["result"]
    await ok(sb, "crm.lead.add", {"fields": {"TITLE": "Другой", "ORIGINATOR_ID": "rabota.by", "ORIGIN_ID": "101"}}, t)
    lead = (await ok(sb, "crm.lead.get", {"id": lid}, t))["result"]
    assert lead["STATUS_ID"] == "NEW" and lead["ASSIGNED_BY_ID"] == "1" and lead["HAS_PHONE"] == "Y"
    assert lead["EMAIL"][0]["VALUE"] == "ivan@example.by" and lead["UF_CRM_RABOTABY_STATUS"] == "response"
    assert "UF_CRM_UNKNOWN" not in lead
    f = lead["UF_CRM_RABOTABY_RESUME"]
    assert set(f) == {"id", "showUrl", "downloadUrl"}
    assert (await sb.get(f["showUrl"])).content == pdf
    item = (await ok(sb, "crm.item.get", {"entityTypeId": 1, "id": lid, "useOriginalUfNames": "Y"}, t))
    item = item["result"]["item"]
    assert set(item["UF_CRM_RABOTABY_RESUME"]) == {"id", "url", "urlMachine"}
    body = await ok(sb, "crm.lead.list", {"filter": {"ORIGINATOR_ID": "rabota.by", "@ORIGIN_ID": ["100", "102"]},
                                          "select": ["ID", "ORIGIN_ID"]}, t)
    assert body["result"] == [{"ID": str(lid), "ORIGIN_ID": "100"}] and body["total"] == 1 and "next" not in body
    body = await ok(sb, "crm.lead.list", {"filter": {"=ORIGINATOR_ID": "rabota.by", "!ORIGIN_ID": "100"}}, t)
    assert [x["ORIGIN_ID"] for x in body["result"]] == ["101"]
    body = await ok(sb, "crm.lead.list", {"filter": {">ID": lid}, "select": ["ID"]}, t)
    assert len(body["result"]) == 1
    body = await ok(sb, "crm.lead.list", {"filter": {"%TITLE": "откл"}, "select": ["ID"]}, t)
    assert body["result"] == [{"ID": str(lid)}]
    r = await call(sb, "crm.lead.add", {"fields": {"UF_CRM_RABOTABY_RESUME": {"fileData": ["a.pdf", ""]}}}, t)
    assert r.status_code == 400 and r.json()["error"] == ""
    r = await call(sb, "crm.lead.add", {"fields": {"PHONE": [{"VALUE": "1", "VALUE_TYPE": "CELL"}]}}, t)
    assert r.status_code == 400


async def test_paging_next_total(sb):
    """§7.4: page size 50, `next` only when more rows exist; start=-1 disables total."""
    t = await token(sb)
    cmd = {f"c{i}": f"crm.lead.add?fields[TITLE]=L{i}" for i in range(50)}
    await ok(sb, "batch", {"cmd": cmd}, t)
    await ok(sb, "batch", {"cmd": {"a": "crm.lead.add?fields[TITLE]=x", "b": "crm.lead.add?fields[TITLE]=y"}}, t)
    body = await ok(sb, "crm.lead.list", {"select": ["ID"], "order": {"ID": "ASC"}}, t)
    assert len(body["result"]) == 50 and body["total"] == 52 and body["next"] == 50
    body = await ok(sb, "crm.lead.list", {"select": ["ID"], "start": 50}, t)
    assert len(body["result"]) == 2 and "next" not in body
    body = await ok(sb, "crm.lead.list", {"select": ["ID"], "start": -1}, t)
    assert "total" not in body and len(body["result"]) == 50


async def test_deal_pipeline_validation_and_contact(sb):
    """§3.3/§3.6/§3.7: CATEGORY_ID/STAGE_ID validated against the pipelines; contacts with multifields."""
    t = await token(sb)
    cats = (await ok(sb, "crm.category.list", {"entityTypeId": 2}, t))["result"]["categories"]
    assert [(c["id"], c["name"], c["isDefault"]) for c in cats] == [(0, "Общее", "Y"), (1, "Подбор", "N")]
    stages = (await ok(sb, "crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE_1"}}, t))["result"]
    assert stages[0]["STATUS_ID"] == "C1:NEW"
    phone = [{"VALUE": "+375291234567", "VALUE_TYPE": "MOBILE"}]
    cid = (await ok(sb, "crm.contact.add", {"fields": {"NAME": "Иван", "PHONE": phone}}, t))["result"]
    did = (await ok(sb, "crm.deal.add", {"fields": {"TITLE": "D", "CATEGORY_ID": 1, "CONTACT_ID": cid}}, t))["result"]
    deal = (await ok(sb, "crm.deal.get", {"id": did}, t))["result"]
    assert deal["CATEGORY_ID"] == "1" and deal["STAGE_ID"] == "C1:NEW" and deal["CONTACT_ID"] == str(cid)
    assert "PHONE" not in deal
    r = await call(sb, "crm.deal.add", {"fields": {"CATEGORY_ID": 1, "STAGE_ID": "NEW"}}, t)
    assert r.status_code == 400 and r.json()["error"] == ""
    r = await call(sb, "crm.deal.add", {"fields": {"CATEGORY_ID": 7}}, t)
    assert r.status_code == 400
    assert (await ok(sb, "crm.deal.update", {"id": did, "fields": {"STAGE_ID": "C1:EXECUTING"}}, t))["result"] is True
    r = await call(sb, "crm.deal.update", {"id": did, "fields": {"STAGE_ID": "WON"}}, t)
    assert r.status_code == 400
    r = await call(sb, "crm.item.add", {"entityTypeId": 2, "fields": {"categoryId": 1, "stageId": "WON"}}, t)
    assert r.status_code == 400 and r.json()["error"] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    contact = (await ok(sb, "crm.contact.get", {"id": cid}, t))["result"]
    assert contact["PHONE"][0]["VALUE_TYPE"] == "MOBILE"


async def test_spa_items(sb):
    """§3.4/§3.5/§4.2: crm.type.list, SPA categories/stages, crm.item.add with xmlId, camelCase UF
    fields, files as [name, base64], fm for contacts, useOriginalUfNames."""
    t = await token(sb)
    types = (await ok(sb, "crm.type.list", {}, t))["result"]["types"]
    assert types[0]["entityTypeId"] == SPA and types[0]["id"] == 1
    cats = (await ok(sb, "crm.category.list", {"entityTypeId": SPA}, t))["result"]["categories"]
    default = next(c for c in cats if c["isDefault"] == "Y")
    assert default["id"] != 0
    stages = (await ok(sb, "crm.status.list", {"filter": {"ENTITY_ID": f"DYNAMIC_{SPA}_STAGE_{default['id']}"}}, t))
    first_stage = stages["result"][0]["STATUS_ID"]
    assert first_stage == f"DT{SPA}_{default['id']}:NEW"
    f = (await ok(sb, "userfieldconfig.add", {"moduleId": "crm", "field": {
        "entityId": "CRM_1", "fieldName": "UF_CRM_1_RABOTABY_RESUME", "userTypeId": "file",
        "editFormLabel": {"ru": "Резюме"}}}, t))["result"]["field"]
    assert f["fieldName"] == "UF_CRM_1_RABOTABY_RESUME" and f["entityId"] == "CRM_1"
    camel = "ufCrm1RabotabyResume"
    fields = (await ok(sb, "crm.item.fields", {"entityTypeId": SPA}, t))["result"]["fields"]
    assert fields[camel]["upperName"] == "UF_CRM_1_RABOTABY_RESUME" and "originId" not in fields
    item = (await ok(sb, "crm.item.add", {"entityTypeId": SPA, "fields": {
        "title": "Кандидат", "xmlId": "neg-7", camel: ["cv.pdf", b64(b"PDF")], "originId": "ignored"}}, t))
    item = item["result"]["item"]
    assert item["stageId"] == first_stage and item["categoryId"] == default["id"] and item["xmlId"] == "neg-7"
    assert item["assignedById"] == 1 and set(item[camel]) == {"id", "url", "urlMachine"}
    got = (await ok(sb, "crm.item.list", {"entityTypeId": SPA, "filter": {"xmlId": "neg-7"}}, t))
    assert got["total"] == 1 and got["result"]["items"][0]["id"] == item["id"]
    got = await ok(sb, "crm.item.list", {"entityTypeId": SPA, "useOriginalUfNames": "Y",
                                         "filter": {"@xmlId": ["neg-7", "neg-8"]},
                                         "select": ["id", "UF_CRM_1_RABOTABY_RESUME"]}, t)
    assert set(got["result"]["items"][0]) == {"id", "UF_CRM_1_RABOTABY_RESUME"}
    upd = (await ok(sb, "crm.item.update", {"entityTypeId": SPA, "id": item["id"],
                                            "fields": {"stageId": f"DT{SPA}_{default['id']}:CLIENT"}}, t))
    assert upd["result"]["item"]["stageId"].endswith(":CLIENT")
    r = await call(sb, "crm.item.add", {"entityTypeId": 999, "fields": {}}, t)
    assert r.status_code == 400 and r.json()["error"] == "NOT_FOUND"
    r = await call(sb, "crm.item.add", {"entityTypeId": SPA, "fields": {camel: ["cv.pdf", ""]}}, t)
    assert r.status_code == 400
    c = (await ok(sb, "crm.item.add", {"entityTypeId": 3, "fields": {"name": "Анна", "fm": [
        {"typeId": "PHONE", "valueType": "MOBILE", "value": "+375291111111"}]}}, t))["result"]["item"]
    assert c["fm"][0]["value"] == "+375291111111"
    assert (await ok(sb, "crm.contact.get", {"id": c["id"]}, t))["result"]["PHONE"][0]["VALUE_TYPE"] == "MOBILE"


async def test_crm_item_for_leads_deals_and_contacts(sb):
    """object-fields.md: crm.item.* on types 1, 2, 3 — camelCase fields, `fm` added (never replaced) on update and
    returned only for select ["*"], `address` response only, `contacts` refused (100), and the entities the old
    methods made found by their originId."""
    t = await token(sb)
    old = (await ok(sb, "crm.lead.add", {"fields": {"TITLE": "Старый", "ORIGINATOR_ID": "rabota.by",
                                                     "ORIGIN_ID": "7"}}, t))["result"]
    found = (await ok(sb, "crm.item.list", {"entityTypeId": 1, "filter": {"originatorId": "rabota.by",
                                                                          "@originId": ["7", "8"]},
                                            "select": ["id", "originId"]}, t))["result"]["items"]
    assert found == [{"id": old, "originId": "7"}]
    c = (await ok(sb, "crm.item.add", {"entityTypeId": 3, "fields": {
        "name": "Анна", "addressCity": "Минск", "originatorId": "rabota.by", "originId": "r1",
        "fm": [{"typeId": "PHONE", "valueType": "MOBILE", "value": "+375291111111"}]}}, t))["result"]["item"]
    assert c["originId"] == "r1" and c.get("addressCity") is None
    upd = (await ok(sb, "crm.item.update", {"entityTypeId": 3, "id": c["id"], "fields": {
        "fm": [{"typeId": "EMAIL", "valueType": "WORK", "value": "a@example.by"}]}}, t))["result"]["item"]
    assert sorted(x["typeId"] for x in upd["fm"]) == ["EMAIL", "PHONE"], "fm on update adds, never replaces"
    listed = (await ok(sb, "crm.item.list", {"entityTypeId": 3, "select": ["id", "fm"]}, t))["result"]["items"]
    assert listed == [{"id": c["id"]}]
    listed = (await ok(sb, "crm.item.list", {"entityTypeId": 3, "select": ["*"]}, t))["result"]["items"]
    assert len(listed[0]["fm"]) == 2
    r = await call(sb, "crm.item.list", {"entityTypeId": 3, "filter": {"fm": "x"}}, t)
    assert r.status_code == 400 and r.json()["error"] == "100"
    r = await call(sb, "crm.item.add", {"entityTypeId": 2, "fields": {"contacts": [c["id"]]}}, t)
    assert r.status_code == 400 and r.json()["error"] == "100"
    deal = (await ok(sb, "crm.item.add", {"entityTypeId": 2, "fields": {"contactIds": [c["id"]], "stageId": "NEW",
                                                                        "categoryId": 0}}, t))["result"]["item"]
    assert deal["contactIds"] == [c["id"]] and deal["contactId"] == c["id"]
    r = await call(sb, "crm.item.update", {"entityTypeId": 2, "id": deal["id"], "fields": {"stageId": "C9:NEW"}}, t)
    assert r.status_code == 400 and r.json()["error"] == "CRM_FIELD_ERROR_VALUE_NOT_VALID"
    lead = (await ok(sb, "crm.item.add", {"entityTypeId": 1, "fields": {
        "title": "Новый", "ufCrmRabotabyStatus": "x", "UF_CRM_RABOTABY_STATUS": "y"}}, t))["result"]["item"]
    assert lead["stageId"] == "NEW"


async def test_userfield_name_rules(sb):
    """§4.1/§4.2: prefixing, ≤50 chars, A-Z0-9_, duplicates, missing fields, userfieldconfig prefix."""
    t = await token(sb)

    async def add(name: Any, utype: Any = "string", entity: str = "lead") -> httpx.Response:
        f = {k: v for k, v in (("FIELD_NAME", name), ("USER_TYPE_ID", utype)) if v is not None}
        return await call(sb, f"crm.{entity}.userfield.add", {"fields": f}, t)

    assert (await add("UF_X")).status_code == 200
    assert (await add("uf_crm_lower")).status_code == 200
    names = {u["FIELD_NAME"] for u in (await ok(sb, "crm.lead.userfield.list", {}, t))["result"]}
    assert {"UF_CRM_X", "UF_CRM_LOWER"} <= names
    r = await add("X")
    assert r.status_code == 400 and r.json()["error"] == "ERROR_CORE"  # UF_CRM_X again
    assert (await add("X", entity="deal")).status_code == 200  # separate namespaces
    r = await add("A" * 44)
    assert r.json() == {"error": "ERROR_CORE", "error_description": "Field name is too long (more than 50 characters)."}
    assert (await add("A" * 43)).status_code == 200
    r = await add("BAD-NAME")
    assert r.json()["error"] == "ERROR_CORE" and "invalid characters" in r.json()["error_description"]
    r = await add(None)
    assert r.json() == {"error": "", "error_description": "The 'FIELD_NAME' field is not found."}
    r = await add("Y", None)
    assert r.json() == {"error": "", "error_description": "The 'USER_TYPE_ID' field is not found."}
    r = await add("Z", "weird")
    assert r.json() == {"error": "ERROR_CORE", "error_description": "Invalid custom type specified."}
    r = await call(sb, "userfieldconfig.add", {"moduleId": "crm", "field": {
        "entityId": "CRM_1032", "fieldName": "UF_CRM_1032_X", "userTypeId": "string"}}, t)
    assert r.status_code == 400 and "You cannot create custom fields" in r.json()["error_description"]
    r = await call(sb, "userfieldconfig.add", {"moduleId": "crm", "field": {
        "entityId": "CRM_1", "fieldName": "UF_CRM_X", "userTypeId": "string"}}, t)
    assert r.status_code == 400


async def test_mandatory_field_knob(sb):
    """Manual's known failure: a field made mandatory on the portal makes add fail with HTTP 400."""
    t = await token(sb)
    await ok(sb, "crm.lead.userfield.add", {"fields": {"FIELD_NAME": "CITY_X", "USER_TYPE_ID": "string",
                                                       "LABEL": "Город"}}, t)
    await sb.put("/_sandbox/knobs", params={"portal": "demo"}, json={"mandatory_fields": {"CRM_LEAD": ["UF_CRM_CITY_X"],
                                                                                         "CRM_1": ["UF_CRM_1_Q"]}})
    r = await call(sb, "crm.lead.add", {"fields": {"TITLE": "x"}}, t)
    assert r.status_code == 400
    assert r.json() == {"error": "", "error_description": 'Не заполнено обязательное поле "Город"'}
    r = await call(sb, "crm.item.add", {"entityTypeId": 1, "fields": {"title": "x"}}, t)
    assert r.status_code == 400 and r.json()["error"] == "CRM_FIELD_ERROR_REQUIRED"
    assert (await call(sb, "crm.lead.add", {"fields": {"UF_CRM_CITY_X": "Минск"}}, t)).status_code == 200
    r = await call(sb, "crm.item.add", {"entityTypeId": SPA, "fields": {"title": "x"}}, t)
    assert r.status_code == 400


async def test_simple_mode_converts_leads(sb):
    """§3.9: in simple mode a new lead becomes a deal at once (STATUS_ID=CONVERTED, deal LEAD_ID)."""
    t = await token(sb, "simple")
    lid = (await ok(sb, "crm.lead.add", {"fields": {"TITLE": "S", "NAME": "Ivan", "PHONE": [{"VALUE": "+3751"}]}}, t,
                    "simple"))["result"]
    lead = (await ok(sb, "crm.lead.get", {"id": lid}, t, "simple"))["result"]
    assert lead["STATUS_ID"] == "CONVERTED"
    deals = (await ok(sb, "crm.deal.list", {"filter": {"LEAD_ID": lid}, "select": ["ID", "CONTACT_ID", "TITLE"]}, t,
                      "simple"))["result"]
    assert len(deals) == 1 and deals[0]["TITLE"] == "S" and deals[0]["CONTACT_ID"]


async def test_users(sb):
    """§3.10: user.get FILTER ACTIVE / NAME_SEARCH, user.current, profile."""
    t = await token(sb, user_id=2)
    cur = (await ok(sb, "user.current", {}, t))["result"]
    assert cur["ID"] == "2"
    all_users = await ok(sb, "user.get", {}, t)
    assert all_users["total"] == 5
    active = (await ok(sb, "user.get", {"FILTER": {"ACTIVE": True}}, t))["result"]
    assert [u["ID"] for u in active] == ["1", "2", "3", "4"]
    found = (await ok(sb, "user.get", {"FILTER": {"NAME_SEARCH": "Ирина"}}, t))["result"]
    assert [u["ID"] for u in found] == ["2"]
    assert (await ok(sb, "profile", {}, t))["result"]["ADMIN"] is False


async def test_notifications(sb):
    """§6: im.notify.system.add -> id; USER_ID_EMPTY, MESSAGE_EMPTY."""
    t = await token(sb)
    nid = (await ok(sb, "im.notify.system.add", {"USER_ID": 2, "MESSAGE": "Привет"}, t))["result"]
    assert isinstance(nid, int)
    r = await call(sb, "im.notify.system.add", {"USER_ID": 0, "MESSAGE": "x"}, t)
    assert r.status_code == 400 and r.json()["error"] == "USER_ID_EMPTY"
    r = await call(sb, "im.notify.system.add", {"USER_ID": 2, "MESSAGE": "  "}, t)
    assert r.status_code == 400 and r.json()["error"] == "MESSAGE_EMPTY"
    notes = (await sb.get("/_sandbox/portals/demo/notifications")).json()
    assert [(n["user_id"], n["message"]) for n in notes] == [(2, "Привет")]


# ============================================================================== timeline
async def test_configurable_activity_add_get_update_list(sb):
    """§5.1: add -> {"activity":{"id"}}, get returns fields+layout, update replaces the layout,
    crm.activity.list by PROVIDER_ID; owner must exist."""
    t = await token(sb)
    lid = (await ok(sb, "crm.lead.add", {"fields": {"TITLE": "x"}}, t))["result"]
    body = await ok(sb, "crm.activity.configurable.add", {"ownerTypeId": 1, "ownerId": lid, "fields": {
        "completed": True, "originatorId": "rabota.by", "originId": "100"}, "layout": layout()}, t)
    aid = body["result"]["activity"]["id"]
    got = (await ok(sb, "crm.activity.configurable.get", {"id": aid}, t))["result"]["activity"]
    assert got["ownerId"] == lid and got["fields"]["completed"] is True
    assert got["layout"]["header"]["title"] == "Отклик"
    new = layout(blocks=1)
    new["header"]["title"] = "Приглашение"
    await ok(sb, "crm.activity.configurable.update", {"id": aid, "layout": new}, t)
    got = (await ok(sb, "crm.activity.configurable.get", {"id": aid}, t))["result"]["activity"]
    assert got["layout"]["header"]["title"] == "Приглашение" and len(got["layout"]["body"]["blocks"]) == 1
    rows = (await ok(sb, "crm.activity.list", {"filter": {"PROVIDER_ID": "CONFIGURABLE_REST_APP", "OWNER_ID": lid,
                                                          "OWNER_TYPE_ID": 1}}, t))["result"]
    assert rows[0]["ID"] == str(aid) and rows[0]["ORIGIN_ID"] == "100"
    r = await call(sb, "crm.activity.configurable.add", {"ownerTypeId": 1, "ownerId": 9999, "layout": layout()}, t)
    assert r.status_code == 400 and r.json()["error"] == "NOT_FOUND"
    r = await call(sb, "crm.activity.configurable.add", {"ownerTypeId": 1, "ownerId": lid}, t)
    assert r.status_code == 400 and r.json()["error"] == "ERROR_EMPTY_LAYOUT"
    # openRestApp click -> the app frame with PLACEMENT_OPTIONS = actionParams + context
    r = await sb.post(f"/_sandbox/portals/demo/activities/{aid}/action", json={"action": "btn0"})
    opts = json.loads(r.json()["frame"]["form"]["PLACEMENT_OPTIONS"])
    assert opts == {"negotiation": "42", "entityTypeId": "1", "entityId": str(lid), "activityId": str(aid)}
    r = await sb.post(f"/_sandbox/portals/demo/activities/{aid}/action", json={"action": "btn1"})
    assert r.json() == {"type": "redirect", "uri": "https://rabota.by/resume/abc"}


@pytest.mark.parametrize("mutate, code, text", [
    (lambda lay: lay["body"].update(blocks={f"b{i}": {"type": "text", "properties": {"value": "x"}}
                                            for i in range(21)}),
     "TOO_MANY_ITEMS", "Поле blocks объекта BodyDto может содержать не более 20 значений"),
    (lambda lay: lay["footer"]["buttons"].update(btn2={"title": "3", "type": "primary",
                                                       "action": {"type": "redirect", "uri": "/"}}),
     "TOO_MANY_ITEMS", None),
    (lambda lay: lay["header"].update(tags={k: {"title": k, "type": "primary"} for k in "abc"}),
     "TOO_MANY_ITEMS", None),
    (lambda lay: lay["body"]["blocks"].update({"bad key": {"type": "text", "properties": {"value": "x"}}}),
     "KEY_CONTAIN_WRONG_SYMBOLS", None),
    (lambda lay: lay.update(extra=1), "FIELD_IS_REDUNDANT", None),
    (lambda lay: lay["footer"]["buttons"]["btn0"].update(color="red"), "FIELD_IS_REDUNDANT", None),
    (lambda lay: lay["footer"]["buttons"]["btn0"].update(type="danger"), "ENUM_FIELD", None),
    (lambda lay: lay["footer"]["buttons"]["btn0"]["action"].update(type="popup"), "ENUM_FIELD", None),
    (lambda lay: lay["body"]["blocks"]["b0"]["properties"]["block"]["properties"].update(color="red"), "ENUM_FIELD",
     None),
    (lambda lay: lay["icon"].update(code="no-such-icon"), "ENUM_FIELD", None),
    (lambda lay: lay.pop("icon"), "FIELD_IS_REQUIRED", None),
    (lambda lay: lay["header"].pop("title"), "FIELD_IS_REQUIRED", None),
    (lambda lay: lay["body"].pop("logo"), "FIELD_IS_REQUIRED", None),
    (lambda lay: lay["body"].pop("blocks"), "FIELD_IS_REQUIRED", None),
    (lambda lay: lay["footer"]["buttons"]["btn1"]["action"].pop("uri"), "FIELD_IS_REQUIRED", None),
    (lambda lay: lay["footer"]["buttons"]["btn0"]["action"].update(actionParams={"a": {"nested": 1}}),
     "WRONG_FIELD_VALUE", None),
    (lambda lay: lay["footer"]["buttons"]["btn0"]["action"].update(actionParams={f"k{i}": i for i in range(21)}),
     "TOO_MANY_ITEMS", None),
    (lambda lay: lay["footer"]["buttons"]["btn0"]["action"].update(actionParams={"a b": 1}),
     "KEY_CONTAIN_WRONG_SYMBOLS", None),
    # §5.2: a link's text* is plain text (no HTML), its action* required.
    (lambda lay: lay["body"]["blocks"].update(chat={"type": "link", "properties": {
        "text": "<b>Написать</b>", "action": {"type": "openRestApp"}}}), "WRONG_FIELD_VALUE", None),
    (lambda lay: lay["body"]["blocks"].update(chat={"type": "link", "properties": {"text": "Написать"}}),
     "FIELD_IS_REQUIRED", "Не заполнено обязательное поле action объекта LinkDto"),
    (lambda lay: lay["body"]["blocks"].update(chat={"type": "link", "properties": {
        "text": "", "action": {"type": "openRestApp"}}}), "FIELD_IS_REQUIRED", None),
])
async def test_layout_validation(sb, mutate, code, text):
    """§5.1/§5.2/§9: LayoutDto validation errors (HTTP 400)."""
    t = await token(sb)
    lid = (await ok(sb, "crm.lead.add", {"fields": {"TITLE": "x"}}, t))["result"]
    lay = layout()
    mutate(lay)
    r = await call(sb, "crm.activity.configurable.add", {"ownerTypeId": 1, "ownerId": lid, "layout": lay}, t)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == code
    if text:
        assert r.json()["error_description"] == text


async def test_layout_twenty_blocks_and_empty_blocks_pass(sb):
    t = await token(sb)
    lid = (await ok(sb, "crm.lead.add", {"fields": {"TITLE": "x"}}, t))["result"]
    for n in (20, 0):
        r = await call(sb, "crm.activity.configurable.add", {"ownerTypeId": 1, "ownerId": lid, "layout": layout(n)}, t)
        assert r.status_code == 200, r.text


# ============================================================================== stats
async def test_stats_counting(sb):
    """Every request is counted per portal and method (batch commands too); errors by code."""
    t = await token(sb)
    await sb.post("/_sandbox/stats/reset")
    await call(sb, "profile", auth=t)
    await call(sb, "profile", auth=t)
    await call(sb, "profile")
    await ok(sb, "batch", {"cmd": {"a": "profile", "b": "crm.lead.get?id=1"}}, t)
    s = (await sb.get("/_sandbox/stats", params={"portal": "demo"})).json()
    assert s["requests_total"] == 4
    assert s["by_method"] == {"profile": 3, "batch": 1}
    assert s["batched_commands"] == {"profile": 1, "crm.lead.get": 1}
    assert s["errors"] == {"NO_AUTH_FOUND": 1, "": 1}
    assert s["max_rate_10s"] == pytest.approx(0.4)
    total = (await sb.get("/_sandbox/stats")).json()
    assert total["requests_total"] == 4 and total["portals"]["simple"]["requests_total"] == 0
    reqs = (await sb.get("/_sandbox/requests", params={"portal": "demo"})).json()
    assert [r["method"] for r in reqs] == ["profile", "profile", "profile", "batch"]


async def test_control_entities_and_portal_creation(sb):
    r = await sb.post("/_sandbox/portals", json={"code": "acme", "crm_mode": 2})
    assert r.status_code == 200 and r.json()["client_endpoint"].endswith("/portal/acme/rest/")
    t = await token(sb, "acme")
    await ok(sb, "crm.deal.add", {"fields": {"TITLE": "D"}}, t, "acme")
    ents = (await sb.get("/_sandbox/portals/acme/entities", params={"entity_type_id": 2})).json()
    assert ents[0]["TITLE"] == "D" and ents[0]["STAGE_ID"] == "NEW"
    await sb.post("/_sandbox/reset")
    assert {p["code"] for p in (await sb.get("/_sandbox/portals")).json()} == {"demo", "simple"}


# ============================================================================== portal page
async def test_portal_page_and_bx24(sb):
    """The page a person opens: portals, the app area, CRM lists and cards with files and timeline."""
    assert "demo" in (await sb.get("/")).text
    home = await sb.get("/portal/demo/")
    assert home.status_code == 200 and "Установить приложение" in home.text
    js = await sb.get("/api/v1/")
    assert js.status_code == 200 and "installFinish" in js.text and "javascript" in js.headers["content-type"]
    t = await token(sb)
    await ok(sb, "crm.lead.userfield.add", {"fields": {"FIELD_NAME": "RESUME", "USER_TYPE_ID": "file",
                                                       "LABEL": "Резюме"}}, t)
    lid = (await ok(sb, "crm.lead.add", {"fields": {"TITLE": "Отклик Иванова",
                                                    "UF_CRM_RESUME": {"fileData": ["cv.pdf", b64(b"%PDF")]}}}, t))
    lid = lid["result"]
    lay = layout()
    lay["body"]["blocks"]["link"] = {"type": "link", "properties": {"text": "Сделка", "action": {
        "type": "redirect", "uri": "/crm/lead/details/1/"}}}
    lay["header"]["tags"] = {"new": {"title": "Новый", "type": "success"}}
    lay["header"]["titleAction"] = {"type": "redirect", "uri": "https://rabota.by/"}
    lay["body"]["blocks"]["line"] = {"type": "lineOfBlocks", "properties": {"blocks": {
        "a": {"type": "text", "properties": {"value": {"ru": "Город", "en": "City"}, "bold": True}},
        "b": {"type": "link", "properties": {"text": "ещё", "action": {"type": "restEvent", "id": "more"}}}}}}
    lay["body"]["blocks"]["big"] = {"type": "largeText", "properties": {"value": "строка\nстрока"}}
    lay["body"]["blocks"]["dl"] = {"type": "deadline", "properties": {"readonly": True}}
    lay["footer"]["menu"] = {"showPinItem": True, "items": {"m": {"title": "Открыть", "action": {
        "type": "openRestApp", "actionParams": {"x": 1}}}}}
    aid = (await ok(sb, "crm.activity.configurable.add", {"ownerTypeId": 1, "ownerId": lid, "layout": lay},
                    t))["result"]["activity"]["id"]
    r = await sb.post(f"/_sandbox/portals/demo/activities/{aid}/action", json={"action": "menu:m"})
    assert json.loads(r.json()["frame"]["form"]["PLACEMENT_OPTIONS"])["x"] == "1"
    r = await sb.post(f"/_sandbox/portals/demo/activities/{aid}/action", json={"action": "block:line/b"})
    assert r.json()["type"] == "restEvent" and r.json()["deliveries"] == []  # not installed: no events
    lst = await sb.get("/portal/demo/crm/1/")
    assert lst.status_code == 200 and "Отклик Иванова" in lst.text
    card = await sb.get(f"/portal/demo/crm/1/{lid}/")
    assert card.status_code == 200
    for s in ("Другие отклики", "Резюме", "https://rabota.by/resume/abc", "cv.pdf", 'data-action="btn0"',
              "/portal/demo/crm/1/1/", "Новый", "Город", 'data-action="menu:m"', 'data-action="block:line/b"'):
        assert s in card.text, s
    r = await sb.options("/portal/demo/rest/profile", headers={"Origin": "http://127.0.0.1:8000",
                                                              "Access-Control-Request-Method": "POST"})
    assert r.headers.get("access-control-allow-origin") in ("*", "http://127.0.0.1:8000")


async def test_timeline_comment_and_delete(sb):
    """§5.3: crm.timeline.comment.add (errors OWNER_NOT_FOUND, INVALID_ARG_VALUE); deletes."""
    t = await token(sb)
    lid = (await ok(sb, "crm.lead.add", {"fields": {"TITLE": "x"}}, t))["result"]
    cid = (await ok(sb, "crm.timeline.comment.add", {"fields": {"ENTITY_ID": lid, "ENTITY_TYPE": "lead",
                                                               "COMMENT": "Привет", "FILES": [["a.txt", b64(b"hi")]]}},
                    t))["result"]
    assert isinstance(cid, int)
    r = await call(sb, "crm.timeline.comment.add", {"fields": {"ENTITY_ID": 999, "ENTITY_TYPE": "lead",
                                                               "COMMENT": "x"}}, t)
    assert r.json()["error"] == "OWNER_NOT_FOUND"
    r = await call(sb, "crm.timeline.comment.add", {"fields": {"ENTITY_ID": lid, "ENTITY_TYPE": "lead",
                                                               "COMMENT": " "}}, t)
    assert r.json()["error"] == "INVALID_ARG_VALUE"
    assert "Привет" in (await sb.get(f"/portal/demo/crm/1/{lid}/")).text
    assert (await ok(sb, "crm.lead.delete", {"id": lid}, t))["result"] is True
    assert (await call(sb, "crm.lead.get", {"id": lid}, t)).status_code == 400
    item = (await ok(sb, "crm.item.add", {"entityTypeId": SPA, "fields": {"title": "s"}}, t))["result"]["item"]
    assert (await ok(sb, "crm.item.delete", {"entityTypeId": SPA, "id": item["id"]}, t))["result"] == []


async def test_refresh_answer_and_user_admin_as_documented(sb):
    """The OAuth server's documented refresh answer (domain and server_endpoint name the OAuth server itself,
    client_endpoint the portal); unknown refresh tokens are refused; `user.admin` answers a boolean;
    `app.info` names the app by CODE (a local app's client id), VERSION a number."""
    f = await frame(sb)
    q = {"grant_type": "refresh_token", **CLIENT, "refresh_token": f["form"]["REFRESH_ID"]}
    body = (await sb.get("/oauth/token/", params=q)).json()
    assert list(body) == ["access_token", "expires", "expires_in", "scope", "domain", "server_endpoint", "status",
                          "client_endpoint", "member_id", "user_id", "refresh_token"]
    assert body["domain"] == "127.0.0.1:8020" and body["member_id"] == f["form"]["member_id"]
    r = await sb.get("/oauth/token/", params=dict(q, refresh_token="no-such-token"))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert (await ok(sb, "user.admin", auth=await token(sb, user_id=1)))["result"] is True
    assert (await ok(sb, "user.admin", auth=await token(sb, user_id=2)))["result"] is False
    info = (await ok(sb, "app.info", auth=await token(sb)))["result"]
    assert info["CODE"] == CLIENT["client_id"] and isinstance(info["VERSION"], int)
