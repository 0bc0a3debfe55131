"""Every /api route of DESIGN §7 against one stack with two installed portals: a session is required
(none, garbage, tampered, expired, unknown portal → 401), each portal sees and changes only its own data
when handed the other's ids, and bad input is a 4xx `{"error","message"}` in Russian."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from rabota_common.crypto import OAUTH_STATE, SESSION, Crypto
from rabota_common.settings import SANDBOX_APP_SECRET_KEY

from tests.api.conftest import World, store

pytestmark = pytest.mark.timeout(300)

# (method, path template) of every /api route; the test below keeps this list equal to the app's.
ROUTES = [
    ("GET", "/api/status"), ("GET", "/api/settings"), ("PUT", "/api/settings"), ("GET", "/api/options"),
    ("GET", "/api/hh/authorize-url"), ("POST", "/api/import"), ("GET", "/api/import"),
    ("GET", "/api/new-responses"), ("GET", "/api/other-responses"), ("POST", "/api/failures/{failure_id}/retry"),
    ("POST", "/api/feedback"), ("POST", "/api/hh/logout"), ("POST", "/api/hh/connect"),
    # F16 (issue 19): acting on an applicant from the CRM card, and the bulk rejection.
    ("GET", "/api/card-actions"), ("POST", "/api/card-actions"), ("GET", "/api/bulk-rejections"),
    ("POST", "/api/bulk-rejections"), ("GET", "/api/bulk-rejections/{run_id}"),
    # Issue 18 item 6: the card's «Написать» (the applicant's dialogue in the Open Line).
    ("POST", "/api/card-chat"),
]
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
# Every /api answer of this module, scanned for secrets by test_security.
ANSWERS: list[str] = []


def crypto() -> Crypto:
    return Crypto(SANDBOX_APP_SECRET_KEY)


def assert_error(r: httpx.Response, status: int | tuple[int, ...], code: str | None = None) -> dict[str, Any]:
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error", "message"}, body
    assert CYRILLIC.search(body["message"]), body
    if code:
        assert body["error"] == code, body
    return dict(body)


async def call(world: World, session: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if session:
        headers["Authorization"] = f"Bearer {session}"
    async with httpx.AsyncClient(base_url=world.stack.public_url, timeout=150.0) as http:
        r = await http.request(method, path.replace("{failure_id}", "x"), headers=headers, **kw)
    ANSWERS.append(r.text)
    return r


async def test_route_list_is_the_apps(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.stack.public_url) as http:
        spec = (await http.get("/openapi.json")).json()
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() if p.startswith("/api/") for m in ops}
    assert routes == set(ROUTES)


@pytest.mark.parametrize("kind", ["none", "not_bearer", "garbage", "tampered", "expired", "unknown_portal",
                                  "oauth_state"])
async def test_every_route_requires_a_session(world: World, kind: str) -> None:
    c = crypto()
    a = world.a.session
    raw, mac = a.split(".", 1)
    sessions = {
        "none": None, "not_bearer": None, "garbage": "garbage",
        # A's session with its signature moved onto B's payload.
        "tampered": world.b.session.split(".", 1)[0] + "." + mac,
        "expired": c.sign({"kind": "session", "p": world.a.member_id, "u": 1}, -5, purpose=SESSION),
        "unknown_portal": c.sign({"kind": "session", "p": "no-such-portal", "u": 1}, 600, purpose=SESSION),
        # A signed token of another purpose (the OAuth state) is not a session.
        "oauth_state": c.sign({"kind": "hh_state", "p": world.a.member_id, "n": "x"}, 600, purpose=OAUTH_STATE),
    }
    for method, path in ROUTES:
        if kind == "not_bearer":
            async with httpx.AsyncClient(base_url=world.stack.public_url) as http:
                r = await http.request(method, path.replace("{failure_id}", "x"), headers={"Authorization": a})
        else:
            r = await call(world, sessions[kind], method, path, json={})
        assert_error(r, 401)
    assert raw  # the split above really took A's token apart


async def test_validation_errors_are_russian_4xx(world: World) -> None:
    s = world.a.session
    good = dict(world.a.settings)
    bad_settings: list[Any] = [
        {}, [], "x", None,
        dict(good, responsible_id="one"), dict(good, responsible_id=-1), dict(good, responsible_id=999999),
        dict(good, responsible_id=5),  # a dismissed employee of the portal
        dict(good, entity_type="contact"), dict(good, entity_type="smart_process"),
        dict(good, stage_map={"response": good["stage_map"]["response"]}),
        dict(good, stage_map=dict(good["stage_map"], hired="X")),
        dict(good, stage_map={"response": "NO_SUCH_STAGE", "invitation": "NO_SUCH_STAGE"}),
        dict(good, extended=True), dict(good, extended="maybe"), dict(good, unexpected=1),
        dict(good, entity_type="deal", category_id=4242), dict(good, category_id=-3),
        dict(good, entity_type="smart_process", smart_process_type_id=999),
    ]
    for body in bad_settings:
        assert_error(await call(world, s, "PUT", "/api/settings", json=body), 422)
    assert_error(await call(world, s, "PUT", "/api/settings", content=b"{not json",
                            headers={"Content-Type": "application/json"}), 422)
    # Nothing of that was stored.
    assert (await call(world, s, "GET", "/api/settings")).json() == good

    for params in ({"page": "0"}, {"page": "x"}, {"entity_type": "lead", "entity_id": "x"},
                   {"entity_type": "lead", "entity_id": "-1"}, {"entity_type": "contact", "entity_id": "1"}, {},
                   {"entity_type": "lead", "entity_id": "1", "page": "-5"},
                   {"entity_type": "lead", "entity_id": "1", "page": str(10**9)},
                   {"entity_type": "lead", "entity_id": "1", "entity_type_id": "2"},
                   {"entity_type": "smart_process", "entity_id": "1", "entity_type_id": "1"},
                   {"entity_type": "lead", "entity_id": "1", "applicant": "x"}):
        assert_error(await call(world, s, "GET", "/api/other-responses", params=params), 422)
    assert_error(await call(world, s, "GET", "/api/other-responses",
                            params={"entity_type": "lead", "entity_id": "987654"}), 404, "not_found")
    for body in ({}, {"message": ""}, {"message": "x" * 5001}, {"message": "ok", "contact": "c" * 201},
                 {"message": 5}, [], "x"):
        assert_error(await call(world, s, "POST", "/api/feedback", json=body), 422)
    assert_error(await call(world, s, "POST", "/api/failures/no-such-failure/retry"), 404, "not_found")
    assert_error(await call(world, s, "DELETE", "/api/settings"), 405)
    assert_error(await call(world, s, "GET", "/api/no-such-route"), 404)


async def test_portal_b_never_reads_or_writes_portal_a(world: World) -> None:
    a, b = world.a, world.b
    before_a = {path: (await call(world, a.session, "GET", path)).json()
                for path in ("/api/status", "/api/settings", "/api/import")}
    assert before_a["/api/import"]["failures"] == a.failures

    status = (await call(world, b.session, "GET", "/api/status")).json()
    assert status["portal"]["member_id"] == b.member_id and status["portal"]["domain"] == b.domain
    assert status["portal"]["crm_mode"] == "simple" and status["hh"]["connected"] is True
    assert (await call(world, b.session, "GET", "/api/settings")).json() == b.settings
    options = (await call(world, b.session, "GET", "/api/options")).json()
    assert "lead" not in options["entity_types"]
    url = (await call(world, b.session, "GET", "/api/hh/authorize-url")).json()["url"]
    state = httpx.URL(url).params["state"]
    claims = crypto().verify(state, purpose=OAUTH_STATE)
    assert claims["p"] == b.member_id and claims["u"] == 1, claims
    # B's login state does not complete a login in A's session (nor A's in B's).
    r = await call(world, a.session, "POST", "/api/hh/connect", json={"code": "x", "state": state})
    assert_error(r, 403, "foreign_state")

    # A's settings (leads, A's stages) do not fit B's portal: refused, and A's stay as they were.
    assert_error(await call(world, b.session, "PUT", "/api/settings", json=a.settings), 422, "validation_error")
    # A's failure ids: not found for B, still listed for A.
    for failure in a.failures:
        assert_error(await call(world, b.session, "POST", f"/api/failures/{failure['id']}/retry"), 404, "not_found")
    # A's CRM entities (A has leads only) and applicants: B gets nothing of A's. Entity ids are numbered per
    # portal, so a deal id of B may equal a lead id of A: then B sees its own deal, never A's lead.
    for entity_id in a.entity_ids:
        r = await call(world, b.session, "GET", "/api/other-responses",
                       params={"entity_type": "lead", "entity_id": entity_id})
        assert_error(r, 404, "not_found")
        for entity_type in ("deal", "smart_process"):
            r = await call(world, b.session, "GET", "/api/other-responses",
                           params={"entity_type": entity_type, "entity_id": entity_id})
            if r.status_code != 200:
                assert_error(r, 404, "not_found")
            assert all(item["entity_type"] != "lead" for item in r.json().get("items", [])), r.json()
    # Other responses are scoped by an entity only: an applicant key (A's or anyone's) is refused.
    for applicant in a.applicants:
        r = await call(world, b.session, "GET", "/api/other-responses", params={"applicant": applicant})
        assert_error(r, 422, "validation_error")
    # B's import, feedback and logout change B only.
    r = await call(world, b.session, "POST", "/api/import")
    assert r.status_code == 202, r.text
    assert not {f["id"] for f in r.json()["failures"]} & {f["id"] for f in a.failures}
    b_import = (await call(world, b.session, "GET", "/api/import")).json()
    assert not {f["id"] for f in b_import["failures"]} & {f["id"] for f in a.failures}
    assert isinstance((await call(world, b.session, "GET", "/api/new-responses")).json()["count"], int)
    r = await call(world, b.session, "POST", "/api/feedback", json={"message": "Отзыв портала B", "contact": None})
    assert r.status_code == 201, r.text
    client, st = store(world.stack)
    try:
        entries = await st.feedback(b.member_id)  # the portal's own capped list (no global list)
        assert not [e for e in await st.feedback(a.member_id) if e["message"] == "Отзыв портала B"]
    finally:
        await client.aclose()
    assert [e["portal"] for e in entries if e["message"] == "Отзыв портала B"] == [b.member_id]
    assert (await call(world, b.session, "POST", "/api/hh/logout")).json() == {"ok": True}
    assert (await call(world, b.session, "GET", "/api/status")).json()["hh"]["connected"] is False

    after_a = {path: (await call(world, a.session, "GET", path)).json()
               for path in ("/api/status", "/api/settings", "/api/import")}
    assert after_a["/api/status"] == before_a["/api/status"]
    assert after_a["/api/settings"] == before_a["/api/settings"] == a.settings
    assert after_a["/api/import"]["failures"] == a.failures
    assert after_a["/api/import"]["found"] == before_a["/api/import"]["found"]
    # A's own retry still works: the ids were A's all along.
    r = await call(world, a.session, "POST", f"/api/failures/{a.failures[0]['id']}/retry")
    assert r.status_code == 202, r.text


async def test_wrong_webhook_secrets_reveal_nothing(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.stack.public_url) as http:
        answers = []
        for secret in ("x", "no-such-secret", world.a.webhook_secret[:-1], world.a.member_id, world.b.member_id,
                       "demo", "simple", world.a.webhook_secret.upper()):
            r = await http.post(f"/hh/webhook/{secret}", json={"action_type": "NEW_RESPONSE_OR_INVITATION_VACANCY"})
            answers.append((r.status_code, r.text, sorted(set(r.headers) - {"date", "content-length"})))
        assert len(set(map(str, answers))) == 1, answers
        assert answers[0][0] == 404
        # The right secret with a body that is not an event: 400, never 5xx.
        r = await http.post(f"/hh/webhook/{world.a.webhook_secret}", content=b"\x00 not json")
        assert_error(r, 400, "bad_webhook")


async def dump_redis(client: Any) -> dict[str, str]:
    """Every Redis key's value as text, whatever its type."""
    out: dict[str, str] = {}
    async for raw_key in client.scan_iter(count=1000):
        key = raw_key.decode(errors="replace")
        kind = (await client.type(raw_key)).decode()
        if kind == "string":
            value: Any = await client.get(raw_key)
        elif kind == "hash":
            value = await client.hgetall(raw_key)
        elif kind == "list":
            value = await client.lrange(raw_key, 0, -1)
        elif kind == "set":
            value = await client.smembers(raw_key)
        elif kind == "zset":
            value = await client.zrange(raw_key, 0, -1)
        elif kind == "stream":
            value = await client.xrange(raw_key)
        else:
            value = kind
        out[f"redis {key}"] = key + " " + str(value)
    return out


async def test_no_secret_in_logs_traces_or_answers(world: World) -> None:
    """Last in this module: every call above has been made, logged and traced."""
    client, st = store(world.stack)
    secrets: set[str] = set(world.frame_secrets)
    try:
        for portal in (world.a, world.b):
            record = await st.get_portal(portal.member_id)
            assert record is not None
            secrets |= {record.access_token, record.refresh_token, record.application_token}
            hh = await st.get_hh(portal.member_id)
            if hh:
                secrets |= {hh.access_token, hh.refresh_token}
        redis_dump = await dump_redis(client)
    finally:
        await client.aclose()
    secrets = {s for s in secrets if s and len(s) >= 8}
    assert len(secrets) >= 6, "too few token values to make the scan meaningful"
    data_dir = world.stack.config.data_dir
    sources: dict[str, str] = {f"answer {i}": text for i, text in enumerate(ANSWERS)}
    sources.update(redis_dump)  # tokens are stored Fernet-encrypted, never in clear
    for name in ("ui", "auth", "poller", "mapper", "crm-writer"):
        for log in (data_dir / "logs").glob(f"{name}*.log"):
            sources[str(log)] = log.read_text(errors="replace")
    spans = list(world.stack.trace_dir.glob("*.jsonl"))
    assert spans, "no span files were written"
    for path in spans:
        sources[str(path)] = path.read_text(errors="replace")
    assert len(ANSWERS) > 100 and len(redis_dump) > 20
    leaks = [(where, s[:6] + "…") for where, text in sources.items() for s in secrets if s in text]
    assert not leaks, leaks
