"""The reconciliation walk against a real NATS and Redis (HeadHunter scripted): it publishes negotiations the
CRM lacks or whose status moved, skips vacancies whose fingerprint did not move (unless full), leaves alone what
a running import or a recorded failure holds, and publishes one negotiation in one state once a while."""

from __future__ import annotations

import json
from typing import Any

from rabota_common import subjects
from rabota_common.app_settings import SyncSettings
from rabota_common.entity_ref import EntityRef, LedgerRef
from rabota_common.models import HhToken, NegotiationFound
from rabota_common.runtime import Runtime
from rabota_common.store import Failure
from rabota_poller.reconcile import reconcile

from tests.integration.poller.support import P1

SIMPLE = SyncSettings(responsible_id=1, entity_type="lead", stage_map={"response": "NEW", "invitation": "NEW"})


class FakeHh:
    def __init__(self) -> None:
        self.counters = {"responses": 3, "invitations": 0}
        self.items = [{"id": "1", "employer_state": {"id": "response"}},
                      {"id": "2", "employer_state": {"id": "response"}},
                      {"id": "3", "employer_state": {"id": "invitation"}}]
        self.walks = 0

    async def active_vacancies(self, token: str, employer_id: str, manager_id: str) -> list[dict[str, Any]]:
        return [{"id": "900", "name": "Курьер", "counters": dict(self.counters)}]

    async def negotiation_collections(self, token: str, vacancy_id: str) -> dict[str, Any]:
        self.walks += 1
        return {"collections": [{"id": "response", "url": "u/response", "counters": {"total": len(self.items)}}]}

    async def collection_page(self, token: str, url: str, page: int) -> dict[str, Any]:
        return {"items": [dict(i) for i in self.items], "pages": 1}


def with_hh(rt: Runtime) -> FakeHh:
    async def hh_token(portal: str, stale_token: str | None = None) -> HhToken:
        return HhToken(ok=True, access_token="t", employer_id="e1", manager_id="m1")

    hh = FakeHh()
    rt.hh = hh  # type: ignore[assignment]
    rt.hh_token = hh_token  # type: ignore[method-assign]
    return hh


async def published(rt: Runtime) -> list[str]:
    name = subjects.subject(subjects.HH_NEGOTIATION, portal=P1)
    js = rt.broker.connection.jetstream()
    stream = subjects.stream_of(name)
    info = await js.stream_info(stream)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        if msg.subject == name:
            out.append(NegotiationFound.model_validate(json.loads(msg.data or b"{}")).negotiation_id)
    return out


async def test_what_the_crm_lacks_is_published_once_and_idle_vacancies_skipped(bus_rt: Runtime) -> None:
    hh = with_hh(bus_rt)
    assert await reconcile(bus_rt, P1) == 0  # no settings: nothing to reconcile for
    await bus_rt.store.put_settings(P1, SIMPLE)
    await bus_rt.store.set_entity(P1, "1", LedgerRef(EntityRef(1, 10), "response", 5))  # written, unchanged
    assert await reconcile(bus_rt, P1) == 2
    assert await published(bus_rt) == ["2", "3"]
    assert hh.walks == 1
    # The counters did not move: the vacancy is not walked again; a full walk walks it but sends nothing twice.
    assert await reconcile(bus_rt, P1) == 0 and hh.walks == 1
    assert await reconcile(bus_rt, P1, full=True) == 0 and hh.walks == 2


async def test_a_moved_negotiation_is_published_unless_an_import_or_a_failure_holds_it(bus_rt: Runtime) -> None:
    hh = with_hh(bus_rt)
    extended = SyncSettings(responsible_id=1, entity_type="deal", extended=True, stage_map={
        k: f"S_{k}" for k in ("response", "consider", "phone_interview", "assessment", "interview", "offer",
                              "hired", "discard")})
    await bus_rt.store.put_settings(P1, extended)
    for nid in ("1", "2", "3"):
        await bus_rt.store.set_entity(P1, nid, LedgerRef(EntityRef(2, int(nid)), "response", 5))
    hh.items = [{"id": "1", "employer_state": {"id": "interview"}},
                {"id": "2", "employer_state": {"id": "discard_by_employer"}},
                {"id": "3", "employer_state": {"id": "response"}}]
    await bus_rt.store.add_failure(P1, Failure(negotiation_id="2", reason="Не заполнено поле", data={}))
    assert await reconcile(bus_rt, P1) == 1
    assert await published(bus_rt) == ["1"]  # 2 waits for «Повторить», 3 did not move
    import_id = await bus_rt.store.start_import(P1)
    await bus_rt.store.add_found(P1, import_id, ["1"])
    hh.items[0]["employer_state"] = {"id": "offer"}
    assert await reconcile(bus_rt, P1, full=True) == 0  # the running import carries it
