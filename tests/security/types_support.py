"""Helpers of tests/security/test_types.py: a portal whose app wrote smart process A's item 42, then had its
settings switched to smart process B, whose own item 42 is another applicant's."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from rabota_common.crypto import Crypto
from rabota_common.entity_ref import EntityRef
from rabota_common.models import EXTENDED_STATUSES, AppEvent
from rabota_common.store import Store

PORTAL = "0123456789abcdef0123456789abcdef"
SPA_A, SPA_B = 1038, 1040


def spa_settings(etid: int) -> dict[str, Any]:
    return {"responsible_id": 1, "entity_type": "smart_process", "smart_process_type_id": etid, "extended": True,
            "back_sync": True, "stage_map": {**{k: f"DT{etid}_10:NEW" for k in EXTENDED_STATUSES},
                                             "discard": f"DT{etid}_10:FAIL"}}


async def written(store: Store, redis: Any, etid: int, nid: str, applicant: str, state: str = "response") -> None:
    """What the writer records for a negotiation written to item 42 of smart process `etid`."""
    await store.set_entity(PORTAL, nid, f"{etid}:42:{state}:7")
    pipe = redis.pipeline(transaction=False)
    store.queue_entity_written(pipe, PORTAL, EntityRef(etid, 42), applicant, {
        "vacancy": f"Вакансия {nid}", "status": "Отклик", "created_at": "2026-01-01",
        "url": f"/crm/type/{etid}/details/42/", "negotiation_id": nid})
    await pipe.execute()


class Acted(Exception):
    """back_sync went on to ask Bitrix24 and HeadHunter, i.e. it meant to move a negotiation."""


def runtime(store: Store, redis: Any) -> Any:
    async def acting(*_: Any, **__: Any) -> Any:
        raise Acted()

    return SimpleNamespace(store=store, redis=redis, b24_token=acting, log=logging.getLogger("types"))


def moved_to_discard(etid: int, entity_id: int = 42) -> AppEvent:
    return AppEvent(portal=PORTAL, event="crm_entity_updated", data={"entity_type_id": etid, "entity_id": entity_id})


def new_store(redis: Any) -> Store:
    return Store(redis, Crypto("types-test-key"))
