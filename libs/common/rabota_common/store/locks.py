"""Single-flight locks: one replica at a time in a critical section (a token refresh, one portal's writes)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rabota_common.store._base import StoreBase

_RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
          "end return 0")
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def lock_key(name: str) -> str:
    return f"rs:lock:{name}"


class LocksStore(StoreBase):
    @asynccontextmanager
    async def lock(self, name: str, ttl_s: float = 30.0, wait_s: float = 30.0) -> AsyncIterator[None]:
        """A Redis lock so that one replica at a time runs a critical section (a token refresh, the writes
        of one portal). Renewed while held, so a long section keeps it and a killed holder frees it in ttl_s."""
        token = secrets.token_hex(8)
        key = lock_key(name)
        deadline = time.monotonic() + wait_s
        while not await self.redis.set(key, token, nx=True, px=int(ttl_s * 1000)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"lock {name} busy")
            await asyncio.sleep(0.05)

        async def renew() -> None:
            while True:
                await asyncio.sleep(ttl_s / 3)
                await self.redis.eval(_RENEW, 1, key, token, int(ttl_s * 1000))

        renewal = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)
            await self.redis.eval(_RELEASE, 1, key, token)
