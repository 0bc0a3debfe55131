"""Work that did not go through: failures (waiting for «Повторить»), parked work (waiting for a HeadHunter
re-login, DESIGN F11), the transient causes messages wait on, the single-flight claim of a retry, and the
once-per-cause notice of a failure (DESIGN F13)."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from pydantic import BaseModel, Field

from rabota_common.store._base import StoreBase, text

# A transient cause is listed while seen within WAITING_RECENT_S; the record goes after WAITING_TTL_S without one.
WAITING_RECENT_S = 120.0
WAITING_TTL_S = 900


class Failure(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    negotiation_id: str
    reason: str
    stage: str = "crm-writer"
    at: float = Field(default_factory=time.time)
    data: dict[str, Any] = Field(default_factory=dict)


def cause_digest(reason: str) -> str:
    """A failure cause's short name (its notice's key and the notification's TAG)."""
    return hashlib.sha1(reason.encode(), usedforsecurity=False).hexdigest()[:16]


class FailuresStore(StoreBase):
    def open_failure(self, stored: Any) -> Failure:
        """A stored failure record (holding the whole CRM command) in clear."""
        return Failure.model_validate_json(self.unseal(stored))

    async def add_failure(self, portal: str, failure: Failure) -> None:
        await self.redis.hset(self.key(portal, "failures"), failure.negotiation_id,
                              self.seal(failure.model_dump_json()))

    async def failures(self, portal: str) -> list[Failure]:
        raw = await self.redis.hvals(self.key(portal, "failures"))
        return sorted((self.open_failure(v) for v in raw), key=lambda f: f.at)

    async def failed_negotiations(self, *, portal: str) -> set[str]:
        """The negotiations with a recorded failure (no decryption)."""
        return {text(k) for k in await self.redis.hkeys(self.key(portal, "failures"))}

    async def clear_failure(self, portal: str, negotiation_id: str) -> None:
        await self.redis.hdel(self.key(portal, "failures"), negotiation_id)

    # -- parked work (waits for a HeadHunter re-login, DESIGN F11) --------------------------------
    async def park(self, portal: str, subject_name: str, data: dict[str, Any]) -> None:
        await self.redis.rpush(self.key(portal, "parked"), self.seal_json({"subject": subject_name, "data": data}))

    async def take_parked(self, portal: str, limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        """Pop up to `limit` parked messages (oldest first)."""
        raw = await self.redis.lpop(self.key(portal, "parked"), limit)
        out = []
        for item in raw or []:
            body = self.unseal_json(item)
            out.append((str(body["subject"]), dict(body["data"])))
        return out

    # -- waiting (transient causes) --------------------------------------------------------------
    async def note_waiting(self, portal: str, reason: str, now: float | None = None) -> None:
        """A message waits on a transient cause: kept as cause → last seen, the hash gone when none is seen
        for WAITING_TTL_S (reasons are party names and codes, never personal data)."""
        key = self.key(portal, "waiting")
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, reason[:200], str(now if now is not None else time.time()))
        pipe.expire(key, WAITING_TTL_S)
        await pipe.execute()

    async def waiting(self, portal: str, within_s: float = WAITING_RECENT_S, now: float | None = None) -> list[str]:
        """The transient causes seen in the last `within_s` seconds, the most recent first."""
        now = now if now is not None else time.time()
        seen = [(float(text(v)), text(k)) for k, v in (await self.redis.hgetall(self.key(portal, "waiting"))).items()]
        return [reason for at, reason in sorted(seen, reverse=True) if now - at <= within_s]

    async def clear_waiting(self, portal: str) -> None:
        await self.redis.delete(self.key(portal, "waiting"))

    # -- failure retries (single flight) -------------------------------------------------------
    async def claim_retry(self, portal: str, failure_id: str, ttl_s: int) -> bool:
        """True for the first retry of a failure within ttl_s; False while one is already in flight."""
        key = self.key(portal, "retry", failure_id)
        if not await self._claim(key, ttl_s=ttl_s):
            return False
        await self.track(portal, key)  # a CLEAN uninstall finds it by name
        return True

    async def release_retry(self, portal: str, failure_id: str) -> None:
        await self.redis.delete(self.key(portal, "retry", failure_id))

    # -- the notice of a failure cause: once per portal and cause -------------------------------------
    async def claim_failure_notice(self, *, portal: str, reason: str, ttl_s: int) -> bool:
        """True for the one caller that is to tell the responsible user about this cause (within ttl_s)."""
        key = self.key(portal, "notified", cause_digest(reason))
        if not await self._claim(key, ttl_s=ttl_s):
            return False
        await self.track(portal, key)  # a CLEAN uninstall finds it by name
        return True

    async def release_failure_notice(self, *, portal: str, reason: str) -> None:
        """The cause may be told again (the notice failed, or the negotiation went through since)."""
        await self.redis.delete(self.key(portal, "notified", cause_digest(reason)))
