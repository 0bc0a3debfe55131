"""Which errors are transient: the one classifier every consumer settles by (issue 15).

Only a permanent cause becomes a failure a recruiter must retry by hand. A transient one (the token broker,
NATS, Redis, Bitrix24 or HeadHunter being down, slow or throttling) waits with capped exponential backoff
however long it lasts and is shown as «ожидание: <причина>». What fits neither is a bug or a cause nobody
foresaw: it gets MAX_DELIVER tries and is then recorded with its real cause.
"""

from __future__ import annotations

import asyncio
import random
from typing import Literal, NamedTuple

import nats.errors
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError
from redis import exceptions as redis_errors

from rabota_common.b24_client import B24Error
from rabota_common.errors import NotReplicated, PermanentError, TransientError
from rabota_common.hh_client import HhError

Kind = Literal["permanent", "transient", "unknown"]

BACKOFF_BASE_S = 1.0
# At most a minute between two tries of a waiting message: an outage of minutes costs each message a few
# cheap tries, and the import goes on within a minute of the recovery (jitter spreads the herd).
BACKOFF_CAP_S = 60.0

AUTH_DOWN = "сервис токенов недоступен"
NATS_DOWN = "шина сообщений NATS недоступна или выбирает лидера"
REDIS_DOWN = "хранилище Redis недоступно"
REDIS_REPLICA = "реплика Redis не подтвердила запись"
NETWORK = "нет связи"

NATS_ERRORS: tuple[type[BaseException], ...] = (
    nats.errors.NoRespondersError, nats.errors.TimeoutError, nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError, nats.errors.StaleConnectionError, nats.errors.OutboundBufferLimitError,
    nats.errors.FlushTimeoutError, ServiceUnavailableError, NoStreamResponseError)
REDIS_ERRORS: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.BusyLoadingError,
    # Sentinel's MasterNotFoundError (no primary known while the election runs) is a ConnectionError: covered
    # (redis.sentinel stays inside the store package; tests/integration/test_redis_sentinel.py checks it).
    redis_errors.ReadOnlyError, redis_errors.TryAgainError, redis_errors.MasterDownError)


class Cause(NamedTuple):
    kind: Kind
    reason: str  # Russian, for recruiters: the failure record or «ожидание: …»
    key: str  # short and bounded, for metrics labels


def classify(exc: BaseException) -> Cause:
    """Permanent, transient or unknown, with the real cause in Russian."""
    if isinstance(exc, PermanentError):
        return Cause("permanent", exc.reason, "permanent")
    if isinstance(exc, TransientError):
        return Cause("transient", exc.cause or str(exc), "transient")
    if isinstance(exc, B24Error):
        return _b24(exc)
    if isinstance(exc, HhError):
        return _hh(exc)
    if isinstance(exc, NATS_ERRORS):
        return Cause("transient", NATS_DOWN, "nats")
    if isinstance(exc, NotReplicated):
        return Cause("transient", REDIS_REPLICA, "redis_replica")
    if isinstance(exc, REDIS_ERRORS):
        return Cause("transient", REDIS_DOWN, "redis")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | ConnectionError):
        return Cause("transient", f"{NETWORK}: {type(exc).__name__}", "network")
    return Cause("unknown", f"{type(exc).__name__}: {exc}", "unknown")


def _b24(exc: B24Error) -> Cause:
    if exc.throttled:
        return Cause("transient", f"Битрикс24 ограничил частоту запросов ({exc.code})", "b24_throttled")
    if exc.transient or exc.expired_token:
        return Cause("transient", f"Битрикс24 временно не отвечает ({exc.status} {exc.code})", "b24_down")
    return Cause("unknown", f"Битрикс24 отклонил запрос: {exc.status} {exc.code} {exc.description}", "b24_error")


def _hh(exc: HhError) -> Cause:
    if exc.status == 429:
        return Cause("transient", "rabota.by ограничил частоту запросов (429)", "hh_throttled")
    if exc.status >= 500:
        return Cause("transient", f"rabota.by временно не отвечает ({exc.status})", "hh_down")
    return Cause("unknown", f"rabota.by отклонил запрос: {exc}", "hh_error")


def backoff_s(attempt: int, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S) -> float:
    """Capped exponential backoff with jitter (between half and all of the step), so that many messages held
    by one outage do not all come back in the same second."""
    step = min(cap_s, base_s * 2 ** max(0, min(attempt, 20) - 1))
    return step / 2 + random.random() * step / 2  # nosec B311 - jitter, not a secret
