"""The pages' Content-Security-Policy: scripts by nonce or from the BX24 library, framing only by the portal the
page belongs to; nothing from a setting can add a directive."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from rabota_common.settings import Settings
from rabota_common.store import PortalRecord
from rabota_ui.pages import content_security_policy, origin_of, portal_ancestors, render


def rt(**over: Any) -> Any:
    return SimpleNamespace(settings=Settings(SANDBOX=True, **over))


def test_origins_and_ancestors() -> None:
    assert origin_of("https://demo.bitrix24.by:8443/rest/x?y") == "https://demo.bitrix24.by:8443"
    assert origin_of("/relative") == ""
    portal = PortalRecord(member_id="a" * 32, domain="demo.bitrix24.by", client_endpoint="https://b24-x.bitrix24.by/rest/")
    assert portal_ancestors(portal) == "https://b24-x.bitrix24.by https://demo.bitrix24.by"
    same = portal.model_copy(update={"domain": "b24-x.bitrix24.by"})
    assert portal_ancestors(same) == "https://b24-x.bitrix24.by"
    evil = portal.model_copy(update={"domain": "x; script-src *", "client_endpoint": "javascript:alert(1)"})
    assert portal_ancestors(evil) == "'none'"


def test_the_policy() -> None:
    policy = content_security_policy(rt(B24_JS_URL="https://api.bitrix24.com/api/v1/"), "N0NCE")
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["script-src"] == "'nonce-N0NCE' https://api.bitrix24.com/api/v1/"
    assert directives["default-src"] == "'none'" and directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "http: https:"  # an http deployment (local)
    https = content_security_policy(rt(PUBLIC_URL="https://app.example.by", B24_JS_URL="https://x/ y; evil"), "N")
    assert "frame-ancestors https:" in https and "evil" not in https and "script-src 'nonce-N'" in https
    assert "frame-ancestors https://p.by" in content_security_policy(rt(), "N", "https://p.by")


def test_a_rendered_page_carries_its_nonce_and_headers() -> None:
    page = render(rt(), "hh_result.html", frame_ancestors="'none'", b24_js_url="", app_origin="http://x",
                  code="c", state="s", error="")
    policy = page.headers["Content-Security-Policy"]
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert f'nonce="{nonce}"' in page.body.decode() and page.headers["X-Content-Type-Options"] == "nosniff"
