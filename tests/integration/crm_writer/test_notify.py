"""The crm-writer's notifications against a real Redis: one per portal and cause."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from rabota_common.crypto import Crypto
from rabota_common.models import B24Token
from rabota_common.store import Store
from rabota_crm_writer.notify import notify_failure

P1 = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"  # member_ids: 32 lowercase hex characters
P2 = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"


class FakeB24:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, endpoint: str, token: str, method: str, params: dict[str, Any]) -> Any:
        self.calls.append((method, params))
        return 1


async def test_one_notification_per_portal_and_cause(redis_client: Any) -> None:
    store = Store(redis_client, Crypto("k"))
    b24 = FakeB24()

    async def b24_token(portal: str, stale_token: str | None = None) -> B24Token:
        return B24Token(ok=True, access_token="t", client_endpoint="http://x/rest/")

    rt: Any = SimpleNamespace(redis=redis_client, store=store, b24=b24, b24_token=b24_token,
                              log=logging.getLogger("test"))
    cmd: Any = SimpleNamespace(portal=P1, responsible_id=3)
    assert await notify_failure(rt, cmd, "Не заполнено обязательное поле X")
    assert not await notify_failure(rt, cmd, "Не заполнено обязательное поле X")
    assert await notify_failure(rt, cmd, "Другая причина")
    other: Any = SimpleNamespace(portal=P2, responsible_id=3)
    assert await notify_failure(rt, other, "Не заполнено обязательное поле X")
    assert [m for m, _ in b24.calls] == ["im.notify.system.add"] * 3
    assert b24.calls[0][1]["USER_ID"] == 3 and "обязательное поле" in b24.calls[0][1]["MESSAGE"]
