"""Caches that spare HeadHunter and Bitrix24 requests: «Новые отклики»'s seen ids, resumes of an applicant's
other responses, each vacancy's negotiation list at its last complete walk, and the type id of a smart process
whose app fields exist. Losing any of them costs requests, never data."""

from __future__ import annotations

import json
from typing import Any

from rabota_common.crypto import TokenError
from rabota_common.store._base import StoreBase, text


class CachesStore(StoreBase):
    # -- «Новые отклики»: HeadHunter's negotiation ids, cached about a minute per portal ---------
    async def get_new_responses_seen(self, portal: str) -> set[str] | None:
        raw = await self.redis.get(self.key(portal, "new-responses", "seen"))
        return None if raw is None else {str(i) for i in json.loads(text(raw))}

    async def put_new_responses_seen(self, portal: str, seen: set[str], ttl_s: int) -> None:
        await self.redis.set(self.key(portal, "new-responses", "seen"), json.dumps(sorted(seen)), ex=ttl_s)

    # -- resumes (personal data: sealed) -------------------------------------------------------------
    async def cached_resume(self, *, portal: str, resume_id: str) -> dict[str, Any] | None:
        """A resume entry remembered a moment ago; None when there is none, or it was sealed with another key."""
        raw = await self.redis.get(self.key(portal, "resume-cache", resume_id))
        if not raw:
            return None
        try:
            body = json.loads(self.unseal(raw))
        except (TokenError, ValueError):
            return None  # an entry sealed with another key (before the personal-data key): fetched again
        return dict(body) if isinstance(body, dict) and isinstance(body.get("resume"), dict) else None

    async def remember_resume(self, *, portal: str, resume_id: str, body: dict[str, Any], ttl_s: int,
                              only_new: bool = False) -> bool:
        """Keep the entry (shared by the poller, which fetches a webhook's resume with its negotiation, and the
        mapper: no resume fetched twice within its TTL); with `only_new`, not over an entry already there.
        True when written."""
        key = self.key(portal, "resume-cache", resume_id)
        written = await self.redis.set(key, self.seal(json.dumps(body)), ex=ttl_s, nx=only_new)
        if written:
            await self.track(portal, key)  # a CLEAN uninstall finds it by name
        return bool(written)

    # -- each vacancy's negotiations at its last complete walk, keyed by a fingerprint -----------------
    async def remember_listing(self, *, portal: str, vacancy_id: str, fingerprint: str, ids: set[str],
                               ttl_s: int) -> None:
        fp_key, ids_key = self.key(portal, "listing", "fingerprint"), self.key(portal, "listing", "ids", vacancy_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(ids_key)
        if ids:
            pipe.sadd(ids_key, *sorted(ids))
            pipe.expire(ids_key, ttl_s)
        pipe.hset(fp_key, vacancy_id, fingerprint)
        pipe.expire(fp_key, ttl_s)
        await pipe.execute()

    async def cached_listing(self, *, portal: str, vacancy_id: str, fingerprint: str) -> set[str] | None:
        """The vacancy's negotiations if its fingerprint is still the one of the last walk."""
        stored = await self.redis.hget(self.key(portal, "listing", "fingerprint"), vacancy_id)
        if text(stored or b"") != fingerprint:
            return None
        return {text(m) for m in await self.redis.smembers(self.key(portal, "listing", "ids", vacancy_id))}

    async def listing_vacancies(self, *, portal: str) -> list[str]:
        return [text(v) for v in await self.redis.hkeys(self.key(portal, "listing", "fingerprint"))]

    # -- smart processes whose app fields exist -------------------------------------------------------
    # `spa-fields-2`: the screening fields of issue 19 joined the four; a smart process made sure of before has
    # them created (again "already exists" for the four) once.
    async def spa_fields_type(self, *, portal: str, entity_type_id: int) -> int | None:
        """The type `id` of a smart process whose app fields were made sure to exist."""
        raw = await self.redis.get(self.key(portal, "spa-fields-2", str(entity_type_id)))
        return int(text(raw)) if raw else None

    async def remember_spa_fields(self, *, portal: str, entity_type_id: int, type_id: int) -> None:
        key = self.key(portal, "spa-fields-2", str(entity_type_id))
        await self.redis.set(key, str(type_id))
        await self.track(portal, key)  # a CLEAN uninstall finds it by name
