from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from rabota_common.app_settings import SyncSettings
from rabota_common.store import Store

from tests.integration.store.support import P1

BODY = {"responsible_id": 1, "entity_type": "deal", "category_id": 0, "extended": False,
        "stage_map": {"response": "NEW", "invitation": "PREPARATION"}}


async def test_settings_stored_validated_and_read_typed(store: Store) -> None:
    assert await store.sync_settings(portal=P1) is None and await store.get_settings(P1) is None
    await store.put_settings(P1, SyncSettings.model_validate(BODY))
    typed = await store.sync_settings(portal=P1)
    assert typed is not None and typed.entity_type_id == 2 and typed.stage_map["invitation"] == "PREPARATION"
    assert (await store.get_settings(P1) or {})["stage_map"] == BODY["stage_map"]  # the body GET /api/settings answers
    await store.put_settings(P1, dict(BODY, responsible_id=7))  # a dict is validated too
    assert (await store.sync_settings(portal=P1) or typed).responsible_id == 7


async def test_nothing_invalid_is_stored_and_old_invalid_settings_raise(store: Store) -> None:
    with pytest.raises(ValidationError):
        await store.put_settings(P1, dict(BODY, responsible_id=0))
    assert await store.get_settings(P1) is None
    await store.redis.set(store.key(P1, "settings"), json.dumps({"entity_type": "deal"}))  # an older version's
    with pytest.raises(ValidationError):
        await store.sync_settings(portal=P1)
