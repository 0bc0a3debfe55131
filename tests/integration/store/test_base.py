from __future__ import annotations

import pytest
from rabota_common.crypto import Crypto
from rabota_common.store import Store

from tests.integration.store.support import P1


async def test_keys_only_for_member_ids_and_the_index(store: Store) -> None:
    assert store.key(P1, "ledger", "entity") == f"rs:{P1}:ledger:entity"
    for bad in ("", "a.b", "*", f"{P1}:x", "../p"):
        with pytest.raises(ValueError):
            store.key(bad, "portal")
    await store.track(P1, store.key(P1, "resume-cache", "r9"))
    await store.track(P1)  # nothing to track: no command
    assert store.key(P1, "resume-cache", "r9") in await store.portal_keys(P1)


async def test_connect_ping_close(redis_url: str) -> None:
    store = Store.connect(url=redis_url, crypto=Crypto("k"))
    assert await store.ping()
    await store.close()


def test_sealing_round_trips(store: Store) -> None:
    assert store.unseal(store.seal("+375291112233")) == "+375291112233"
    assert store.unseal("written before encryption") == "written before encryption"
    assert store.unseal_json(store.seal_json({"a": [1]})) == {"a": [1]}
