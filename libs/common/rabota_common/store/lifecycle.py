"""A portal's keys as a whole: every one of them by name (a CLEAN uninstall deletes them), and the sync state
forgotten when another HeadHunter account is connected."""

from __future__ import annotations

from rabota_common.ids import member_id as valid_member_id
from rabota_common.store._base import text
from rabota_common.store.feedback import FEEDBACK_PORTALS_KEY
from rabota_common.store.hh import HhStore
from rabota_common.store.portals import PORTALS_KEY, webhook_secret_key


class LifecycleStore(HhStore):
    # Every per-portal key with a fixed name (DESIGN §4); keys named after data are found through the
    # hashes that list them (by-entity, listing:fingerprint) or the portal's index (Store.track).
    FIXED_KEYS: tuple[tuple[str, ...], ...] = (
        ("portal",), ("hh",), ("settings",), ("import",), ("import", "found"), ("import", "done"),
        ("import", "walked"), ("failures",), ("parked",), ("ledger", "entity"), ("ledger", "contact"),
        ("ledger", "written-at"), ("ledger", "writing"), ("ledger", "epoch"), ("ledger", "kind"), ("crm-mode",),
        ("view-limit",),
        ("by-entity",), ("relogin-notified",), ("poll", "running"), ("poll", "fingerprint"), ("poll", "due"),
        ("poll", "count"), ("listing", "fingerprint"), ("hh-last",), ("webhooks-pending",), ("feedback",),
        ("new-responses", "seen"), ("waiting",), ("index",), ("webhook", "seen"), ("webhook", "missed"),
    )

    async def portal_keys(self, member_id: str) -> set[str]:
        """The names of every key of one portal, without a pattern (no SCAN MATCH, no KEYS)."""
        keys = {self.key(member_id, *parts) for parts in self.FIXED_KEYS}
        by_entity = await self.redis.hgetall(self.key(member_id, "by-entity"))
        for ref, applicant in by_entity.items():
            keys.add(self.key(member_id, "entity-info", text(ref)))
            keys.add(self.key(member_id, "applicant", text(applicant)))
        for vacancy in await self.redis.hkeys(self.key(member_id, "listing", "fingerprint")):
            keys.add(self.key(member_id, "listing", "ids", text(vacancy)))
        prefix = self.key(member_id, "")
        keys |= {k for k in (text(v) for v in await self.redis.smembers(self.key(member_id, "index")))
                 if k.startswith(prefix)}
        return keys

    async def wipe_portal(self, member_id: str) -> int:
        """Delete every key of one portal (ONAPPUNINSTALL with CLEAN=1) and nothing else: its keys by name,
        its webhook-secret mapping and its membership of rs:portals."""
        valid_member_id(member_id)
        portal = await self.get_portal(member_id)
        if portal and portal.webhook_secret:
            await self.redis.delete(webhook_secret_key(portal.webhook_secret))
        await self.release_hh_account(member_id)
        names = sorted(await self.portal_keys(member_id))
        deleted = 0
        for start in range(0, len(names), 500):
            deleted += int(await self.redis.delete(*names[start:start + 500]))
        await self.redis.srem(PORTALS_KEY, member_id)
        await self.redis.srem(FEEDBACK_PORTALS_KEY, member_id)
        return deleted

    async def reset_sync_state(self, portal: str) -> None:
        """Forget what the portal's previous HeadHunter account synced (another account was connected):
        import progress, the ledger (and its epoch, so the writer checks the CRM before it creates),
        parked work, failures and the walk caches. Settings and the CRM's own data stay."""
        await self.redis.delete(
            self.key(portal, "import"), self.key(portal, "import", "found"), self.key(portal, "import", "done"),
            self.key(portal, "import", "walked"),
            self.key(portal, "ledger", "entity"), self.key(portal, "ledger", "contact"),
            self.key(portal, "ledger", "written-at"), self.key(portal, "ledger", "epoch"),
            self.key(portal, "ledger", "kind"),
            self.key(portal, "parked"), self.key(portal, "failures"), self.key(portal, "view-limit"),
            self.key(portal, "relogin-notified"), self.key(portal, "listing", "fingerprint"),
            self.key(portal, "poll", "fingerprint"), self.key(portal, "poll", "count"),
            self.key(portal, "new-responses", "seen"),
        )
