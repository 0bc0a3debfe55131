"""A scripted HeadHunter for the poller's tests (the runtime's `hh` client and token replaced), and reading what
the poller published."""

from __future__ import annotations

import json
from typing import Any

from rabota_common import subjects
from rabota_common.hh_client import HhError
from rabota_common.models import HhToken, NegotiationFound
from rabota_common.runtime import Runtime

P1 = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"  # a member_id
RESUME = "0123456789abcdef0123456789abcdef012345"


class FakeHh:
    """HeadHunter's answers by negotiation id; records every call."""

    def __init__(self, negotiations: dict[str, Any] | None = None, subscriptions: list[dict[str, Any]] | None = None
                 ) -> None:
        self.negotiations = negotiations or {}
        self.subs = subscriptions or []
        self.calls: list[str] = []

    async def negotiation(self, token: str, nid: str) -> dict[str, Any]:
        self.calls.append(f"negotiation {nid}")
        answer = self.negotiations[nid]
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer)

    async def get(self, token: str, path: str, params: dict[str, Any] | None = None) -> Any:
        self.calls.append(f"get {path}")
        return {"id": path.rsplit("/", 1)[-1], "first_name": "Иван"}

    async def subscriptions(self, token: str) -> list[dict[str, Any]]:
        self.calls.append("subscriptions")
        return self.subs

    async def subscribe(self, token: str, url: str, actions: list[str]) -> str:
        self.calls.append(f"subscribe {url}")
        return "new-sub"

    async def update_subscription(self, token: str, subscription_id: str, url: str, actions: list[str]) -> None:
        self.calls.append(f"update {subscription_id} {url}")


def with_hh(rt: Runtime, hh: FakeHh) -> FakeHh:
    async def hh_token(portal: str, stale_token: str | None = None) -> HhToken:
        return HhToken(ok=True, access_token="t", employer_id="e1", manager_id="m1")

    rt.hh = hh  # type: ignore[assignment]
    rt.hh_token = hh_token  # type: ignore[method-assign]
    return hh


def not_found() -> HhError:
    return HhError(404, [{"type": "not_found"}], None)


async def last_found(rt: Runtime, template: str = subjects.HH_NEGOTIATION, portal: str = P1
                     ) -> NegotiationFound | None:
    name = subjects.subject(template, portal=portal)
    try:
        msg = await rt.broker.connection.jetstream().get_last_msg(subjects.stream_of(name), name)
    except Exception:  # nothing published there
        return None
    return NegotiationFound.model_validate(json.loads(msg.data or b"{}"))


def with_portal(bus_rt: Runtime, sandbox_rt: Any) -> Runtime:
    """The bus runtime calling the Bitrix24 emulator's portal (its client and token from the `rt` fixture)."""
    bus_rt.b24 = sandbox_rt.b24
    bus_rt.b24_token = sandbox_rt.b24_token  # type: ignore[method-assign]
    return bus_rt
