"""The one Bitrix24 gate (`rabota_common.b24_session`) against the emulator over HTTP: refresh once, the
per-method OPERATION_TIME_LIMIT back-off, PAYMENT_REQUIRED as a closed portal, and the error classes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rabota_common.b24_client import B24Error
from rabota_common.b24_session import (
    BLOCKS,
    SUBSCRIPTION_ENDED,
    B24PortalClosed,
    B24PortalPaused,
    open_session,
    token_problem,
)
from rabota_common.errors import Parkable, TransientError
from rabota_common.models import B24Token
from rabota_common.store import PortalRecord
from rabota_common.transience import classify

from tests.integration.conftest import Sandbox

MEMBER = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"  # the portal's member_id in the store


async def knobs(sb: Sandbox, **values: Any) -> None:
    r = await sb.http.put(f"{sb.url}/_sandbox/knobs", params={"portal": "demo"}, json=values)
    assert r.status_code == 200, r.text


@pytest.fixture(autouse=True)
def _no_blocks() -> Iterator[None]:
    """The gate's table of blocked methods is per process: each test starts and ends without blocks."""
    BLOCKS.until.clear()
    yield
    BLOCKS.until.clear()


async def test_operation_time_limit_blocks_only_that_method(sandbox: Sandbox, rt: Any) -> None:
    session = await open_session(rt, MEMBER)
    await knobs(sandbox, operation_time_limit_s=0.015, operation_cost_s=0.01)
    await session.call("crm.item.list", {"entityTypeId": 1})
    await session.call("crm.item.list", {"entityTypeId": 1})  # the budget is now spent
    with pytest.raises(TransientError) as caught:
        await session.call("crm.item.list", {"entityTypeId": 1})
    assert caught.value.delay_s is not None and 500 < caught.value.delay_s <= 600  # until operating_reset_at
    assert "OPERATION_TIME_LIMIT" in str(classify(caught.value).reason)
    requests = (await sandbox.http.get(f"{sandbox.url}/_sandbox/stats", params={"portal": "demo"})).json()
    # The next try is refused here, without a request; another method goes on.
    with pytest.raises(TransientError):
        await session.call("crm.item.list", {"entityTypeId": 1})
    again = (await sandbox.http.get(f"{sandbox.url}/_sandbox/stats", params={"portal": "demo"})).json()
    assert again["requests_total"] == requests["requests_total"]
    assert await session.call("crm.status.list", {}) is not None
    BLOCKS.until.clear()  # the sandbox still refuses crm.item.list: the batch below meets that
    # Inside a batch the refused nested call blocks its own method; the other command of the batch ran.
    result = await session.batch({"a": ("crm.item.list", {"entityTypeId": 1}), "b": ("crm.settings.mode.get", {})})
    assert result.errors["a"]["error"] == "OPERATION_TIME_LIMIT" and "b" in result.result
    with pytest.raises(TransientError):
        await session.call("crm.item.list", {"entityTypeId": 1})
    assert await session.call("crm.settings.mode.get", {}) is not None


async def test_payment_required_pauses_the_portal_and_parks_the_work(sandbox: Sandbox, rt: Any) -> None:
    await rt.store.save_portal(PortalRecord(member_id=MEMBER, domain="demo.bitrix24.by",
                                            client_endpoint=sandbox.endpoint))
    session = await open_session(rt, MEMBER)
    await knobs(sandbox, payment_required=True)
    with pytest.raises(B24PortalPaused) as caught:
        await session.call("crm.item.list", {"entityTypeId": 1})
    assert isinstance(caught.value, Parkable) and caught.value.cause == SUBSCRIPTION_ENDED
    assert SUBSCRIPTION_ENDED.startswith("Подписка на приложение закончилась")
    record = await rt.store.get_portal(MEMBER)
    assert record is not None and record.paused == "PAYMENT_REQUIRED" and record.probe_at > record.paused_at > 0
    # One transition: a second refusal does not start the pause again.
    with pytest.raises(B24PortalPaused):
        await session.call("crm.item.list", {"entityTypeId": 1})
    assert (await rt.store.get_portal(MEMBER)).paused_at == record.paused_at  # type: ignore[union-attr]
    await knobs(sandbox, payment_required=False)
    assert await session.call("crm.item.list", {"entityTypeId": 1}) is not None  # usable again
    assert await rt.store.resume_portal(MEMBER) and (await rt.store.get_portal(MEMBER)).paused == ""  # type: ignore[union-attr]


async def test_expired_token_is_refreshed_once(sandbox: Sandbox, rt: Any) -> None:
    asked: list[str | None] = []

    async def tokens(portal: str, stale_token: str | None = None) -> B24Token:
        asked.append(stale_token)
        if stale_token is None:
            return B24Token(ok=True, access_token=sandbox.token, client_endpoint=sandbox.endpoint)
        r = await sandbox.http.post(f"{sandbox.url}/_sandbox/portals/demo/frame", json={"user_id": 1, "target": "app"})
        return B24Token(ok=True, access_token=r.json()["form"]["AUTH_ID"], client_endpoint=sandbox.endpoint)

    rt.b24_token = tokens
    session = await open_session(rt, MEMBER)
    r = await sandbox.http.post(f"{sandbox.url}/_sandbox/portals/demo/tokens/expire")
    assert r.status_code == 200, r.text
    assert await session.call("crm.item.list", {"entityTypeId": 1}) is not None
    assert asked == [None, sandbox.token]
    await sandbox.http.post(f"{sandbox.url}/_sandbox/portals/demo/tokens/expire")
    with pytest.raises(B24Error) as caught:  # once per session: the second expiry is the caller's
        await session.call("crm.item.list", {"entityTypeId": 1})
    assert caught.value.expired_token and len(asked) == 2


def test_token_broker_answers_are_classified_once() -> None:
    paused = token_problem(B24Token(ok=False, error="paused: PAYMENT_REQUIRED"))
    assert isinstance(paused, B24PortalPaused) and classify(paused).kind == "transient"
    assert isinstance(token_problem(B24Token(ok=False, error="inactive: NOT_INSTALLED")), B24PortalClosed)
    assert isinstance(token_problem(B24Token(ok=False, error="unknown_portal")), B24PortalClosed)
    down = token_problem(B24Token(ok=False, error="transient"))
    assert isinstance(down, TransientError) and classify(down).kind == "transient"
    assert token_problem(B24Token(ok=True, access_token="t", client_endpoint="https://x.bitrix24.by/rest/")) is None
