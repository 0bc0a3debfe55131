"""A store on the real Redis of tests/conftest.py, for the store modules' own tests."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from rabota_common.crypto import Crypto
from rabota_common.store import Store


@pytest.fixture
def store(redis_client: aioredis.Redis) -> Store:
    return Store(redis_client, Crypto("store-tests"))
