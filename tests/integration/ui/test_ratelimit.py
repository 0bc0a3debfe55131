"""The ui's rate limits: the public endpoints per client address (the forwarded one only behind a trusted
proxy), the session API per portal user; over the budget, 429 with Retry-After in whole seconds."""

from __future__ import annotations

from rabota_ui.ratelimit import client_address

from tests.integration.ui.conftest import Ui


def test_the_client_is_the_peer_unless_a_trusted_proxy_forwards_it() -> None:
    proxies = "10.0.0.0/8, 192.168.1.1"
    assert client_address("203.0.113.7", ["1.2.3.4"], "") == "203.0.113.7"
    assert client_address("203.0.113.7", ["1.2.3.4"], proxies) == "203.0.113.7"  # not a proxy: header ignored
    assert client_address("10.0.0.2", ["6.6.6.6, 1.2.3.4, 10.0.0.9"], proxies) == "1.2.3.4"
    assert client_address("10.0.0.2", ["6.6.6.6", "1.2.3.4"], proxies) == "1.2.3.4"
    assert client_address("10.0.0.2", ["garbage"], proxies) == "10.0.0.2"
    assert client_address("10.0.0.2", [], proxies) == "10.0.0.2"
    assert client_address("192.168.1.1", ["2001:db8::1"], proxies) == "2001:db8::1"


async def test_public_endpoints_refuse_a_client_over_its_budget(ui: Ui) -> None:
    ui.rt.settings.PUBLIC_RATE_PER_IP = 0.5
    ui.rt.settings.PUBLIC_BURST_PER_IP = 3
    codes = [(await ui.http.post("/hh/webhook/unknown-secret", json={})).status_code for _ in range(5)]
    assert codes[:3] == [404, 404, 404] and codes[3:] == [429, 429]
    r = await ui.http.post("/hh/webhook/unknown-secret", json={})
    assert r.json()["error"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1


async def test_the_session_api_counts_per_portal_user(ui: Ui) -> None:
    ui.rt.settings.API_RATE_PER_SESSION = 0.5
    ui.rt.settings.API_BURST_PER_SESSION = 2
    first = {"Authorization": ui.session(user_id=1)}
    codes = [(await ui.http.get("/api/settings", headers=first)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    other = {"Authorization": ui.session(user_id=2)}  # another user of the portal has a budget of their own
    assert (await ui.http.get("/api/settings", headers=other)).status_code == 200
