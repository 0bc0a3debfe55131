"""Redis state (DESIGN §4): the one owner of every Redis key and command of the product.

One module per concern owns its keys (`rs:{member_id}:…` per portal; secrets and personal data are
encrypted before they reach Redis):

| module | keys |
|---|---|
| `portals` | portal record, `rs:portals`, `rs:webhook-secret:*`, crm-mode |
| `hh` | HeadHunter account, `rs:hh-account:*`, hh-last, view-limit, relogin-notified |
| `settings` | sync settings (typed: `sync_settings()`) |
| `imports` | import progress, found, done, walked, listing failures |
| `ledger` | ledger entity / contact / written-at / epoch / writing (`LedgerRef`) |
| `applicants` | by-entity, applicant sets, entity-info (the writer's results the ui and the poller read) |
| `failures` | failures, parked work, waiting causes, retry claims, failure notices |
| `webhooks` | webhooks pending, webhook seen / missed (whether the poll trusts the portal's webhooks) |
| `feedback` | feedback, `rs:feedback-portals` |
| `oauth` | `rs:oauth-state:*` |
| `caches` | new-responses seen, resume cache, listing cache, spa-fields |
| `poll` | poll due / running / count / fingerprint / sent |
| `locks` | `rs:lock:*` |
| `buckets` | `rs:budget:*` (the leaky buckets of `rabota_common.budget`, the adaptive HeadHunter one with its rate) |
| `chats` | chat ↔ negotiation, chat → Open Line dialogue, messages in the line, operators' replies (ids only, F15) |
| `actions` | actions taken from the card (done, in flight, commented), bulk-rejection offers and runs (F16) |
| `lifecycle` | a portal's keys as a whole (CLEAN uninstall, account switch) |
| `replication` | `rs:replication-fence` (what WAIT confirms on the replicas, issue 15), the primary's replication id |

`_base.redis_client` is the one place a Redis client is made (REDIS_URL, or the primary the Sentinels name).

No other module builds a key or sends a Redis command (tests/unit/test_store_owns_redis.py checks it).
"""

from __future__ import annotations

from rabota_common.store._base import SECRET_FIELDS, StoreBase, text
from rabota_common.store.actions import ActionsStore
from rabota_common.store.applicants import PERSONAL_INFO_FIELDS, ApplicantsStore, WrittenEntity
from rabota_common.store.buckets import BucketsStore
from rabota_common.store.caches import CachesStore
from rabota_common.store.chats import ChatsStore, chat_lock_name
from rabota_common.store.failures import WAITING_RECENT_S, WAITING_TTL_S, Failure, FailuresStore, cause_digest
from rabota_common.store.feedback import FeedbackStore
from rabota_common.store.hh import HhAccount, HhStore
from rabota_common.store.imports import ImportProgress, ImportsStore
from rabota_common.store.ledger import LedgerStore
from rabota_common.store.lifecycle import LifecycleStore
from rabota_common.store.locks import LocksStore
from rabota_common.store.oauth import OAuthStore
from rabota_common.store.poll import PollStore
from rabota_common.store.portals import UNINSTALLED_REASON, PortalRecord, PortalsStore
from rabota_common.store.replication import ReplicationStore
from rabota_common.store.settings import SettingsStore
from rabota_common.store.webhooks import WebhooksStore

__all__ = [
    "PERSONAL_INFO_FIELDS", "SECRET_FIELDS", "UNINSTALLED_REASON", "WAITING_RECENT_S", "WAITING_TTL_S",
    "Failure", "HhAccount", "ImportProgress", "PortalRecord", "Store", "WrittenEntity", "cause_digest",
    "chat_lock_name", "text",
]


class Store(ActionsStore, LifecycleStore, HhStore, PortalsStore, SettingsStore, ImportsStore, LedgerStore,
            ApplicantsStore, FailuresStore, WebhooksStore, FeedbackStore, OAuthStore, CachesStore, ChatsStore,
            PollStore, LocksStore, BucketsStore, ReplicationStore, StoreBase):
    """Typed access to every Redis key the product uses: the concern modules' methods on one object."""
