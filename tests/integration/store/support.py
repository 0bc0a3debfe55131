"""Portals and a Redis dump for the store modules' tests."""

from __future__ import annotations

import redis.asyncio as aioredis

P1 = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"  # member_ids: 32 lowercase hex characters
P2 = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"



async def all_values(client: aioredis.Redis) -> bytes:
    """Every key and value in Redis, as one blob (to check that nothing is stored in clear)."""
    blob = b""
    async for key in client.scan_iter():
        kind = await client.type(key)
        blob += key
        if kind == b"hash":
            blob += b"".join(k + v for k, v in (await client.hgetall(key)).items())
        elif kind == b"string":
            blob += await client.get(key) or b""
        elif kind == b"list":
            blob += b"".join(await client.lrange(key, 0, -1))
        elif kind == b"set":
            blob += b"".join(await client.smembers(key))
        elif kind == b"zset":
            blob += b"".join(await client.zrange(key, 0, -1))
    return blob
