"""Who installs or opens the app: the portal confirmed by Bitrix24's OAuth server (the refresh must name the
frame's member_id and a usable endpoint), and the token confirmed to belong to this app (`app.info`)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from rabota_common.b24_client import B24Error
from rabota_common.settings import Settings
from rabota_ui.errors import ApiError
from rabota_ui.identity import NOT_CONFIRMED, ConfirmedPortal, check_app, confirm_portal, domain_of

MEMBER = "0123456789abcdef0123456789abcdef"
GOOD = {"member_id": MEMBER, "client_endpoint": "https://b24-x.bitrix24.by/rest/", "access_token": "a",
        "refresh_token": "r", "expires_in": 3600}


class FakeB24:
    def __init__(self, refresh: Any = None, info: Any = None) -> None:
        self.answer = refresh
        self.info = info

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        if isinstance(self.answer, BaseException):
            raise self.answer
        return dict(self.answer)

    async def call(self, endpoint: str, token: str, method: str, params: dict[str, Any] | None = None) -> Any:
        assert method == "app.info"
        if isinstance(self.info, BaseException):
            raise self.info
        return self.info


def rt(b24: FakeB24) -> Any:
    return SimpleNamespace(b24=b24, settings=Settings(SANDBOX=True, B24_CLIENT_ID="local.app1"),
                           log=logging.getLogger("test"))


def test_domain_of_an_endpoint() -> None:
    assert domain_of("https://B24-X.bitrix24.by/rest/") == "b24-x.bitrix24.by"
    assert domain_of("http://127.0.0.1:8081/portal/demo/rest/") == "127.0.0.1:8081/portal/demo"


async def test_a_confirmed_portal() -> None:
    portal = await confirm_portal(rt(FakeB24({**GOOD, "client_endpoint": "https://b24-x.bitrix24.by/rest"})), "r0",
                                  MEMBER)
    assert (portal.client_endpoint, portal.domain, portal.access_token) == (
        "https://b24-x.bitrix24.by/rest/", "b24-x.bitrix24.by", "a")
    capped = await confirm_portal(rt(FakeB24({**GOOD, "expires_in": 10**9})), "r0", MEMBER)
    odd = await confirm_portal(rt(FakeB24({**GOOD, "expires_in": "soon"})), "r0", MEMBER)
    assert capped.expires_at - odd.expires_at == pytest.approx(86400 - 3600, abs=5)


@pytest.mark.parametrize("answer", [
    {**GOOD, "member_id": "f" * 32}, {**GOOD, "client_endpoint": "javascript:alert(1)"},
    {**GOOD, "client_endpoint": "https://x/rest/?a=1"}, {**GOOD, "access_token": ""}, {**GOOD, "refresh_token": 5},
    B24Error(401, "invalid_grant", "expired"),
])
async def test_what_is_not_confirmed(answer: Any) -> None:
    with pytest.raises(ApiError) as caught:
        await confirm_portal(rt(FakeB24(answer)), "r0", MEMBER)
    assert (caught.value.status, caught.value.message) == (403, NOT_CONFIRMED)


async def test_no_request_without_a_token_or_a_member_id_and_an_outage_is_503() -> None:
    for token, member in (("", MEMBER), ("r0", "*")):
        with pytest.raises(ApiError) as caught:
            await confirm_portal(rt(FakeB24(AssertionError("no request expected"))), token, member)
        assert caught.value.status == 403
    with pytest.raises(ApiError) as caught:
        await confirm_portal(rt(FakeB24(B24Error(503, "INTERNAL_SERVER_ERROR", ""))), "r0", MEMBER)
    assert (caught.value.status, caught.value.error) == (503, "oauth_unavailable")


async def test_the_token_must_belong_to_this_app() -> None:
    portal = ConfirmedPortal(member_id=MEMBER, client_endpoint="https://x.bitrix24.by/rest/", domain="x.bitrix24.by",
                             access_token="a", refresh_token="r", expires_at=0)
    await check_app(rt(FakeB24(info={"CODE": "local.app1"})), portal)
    await check_app(rt(FakeB24(info={"CLIENT_ID": "local.app1", "CODE": "whatever"})), portal)
    for info in ({"CODE": "local.other"}, {"CLIENT_ID": "local.other", "CODE": "local.app1"}, [],
                 B24Error(401, "invalid_token", "")):
        with pytest.raises(ApiError) as caught:
            await check_app(rt(FakeB24(info=info)), portal)
        assert (caught.value.status, caught.value.error) == (403, "app_not_confirmed"), info
