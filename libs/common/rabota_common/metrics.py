"""Prometheus metrics of every service, and the small HTTP endpoint that serves them with health and readiness.

Labels stay bounded: stage, stream, consumer, API method, error kind, and the portal (a deployment serves a
limited number of portals; Bitrix24 portals are labelled by their domain). Never a negotiation id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Protocol
from urllib.parse import urlparse

from faststream.nats import NatsBroker
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, disable_created_metrics, generate_latest

from rabota_common import subjects

log = logging.getLogger(__name__)
disable_created_metrics()  # the `_created` twin of every counter only doubles a scrape

RESPONSES_FOUND = Counter("rabota_responses_found", "Negotiations published for syncing (poller)",
                          ["portal", "source"])
CRM_WRITES = Counter("rabota_crm_writes", "Negotiations written to Bitrix24 (crm-writer): created or updated",
                     ["portal", "result"])
DELIVERIES_FAILED = Counter("rabota_deliveries_failed", "Deliveries whose work raised", ["stage"])
DELIVERIES_RETRIED = Counter("rabota_deliveries_retried", "Deliveries handed back for a later retry (nak)",
                             ["stage"])
DELIVERIES_WAITING = Counter("rabota_deliveries_waiting",
                              "Deliveries handed back to wait on a transient cause (never a failure)",
                              ["stage", "cause"])
DELIVERIES_PARKED = Counter("rabota_deliveries_parked", "Deliveries parked until the HeadHunter re-login",
                            ["stage"])
DEAD_LETTERS = Counter("rabota_dead_letters", "Messages moved to the dead-letter stream", ["stage", "portal"])
B24_REQUESTS = Counter("rabota_b24_requests", "Bitrix24 REST requests", ["method", "outcome"])
HH_REQUESTS = Counter("rabota_hh_requests", "HeadHunter API requests (each try)", ["outcome"])
HH_ERRORS = Counter("rabota_hh_errors", "HeadHunter error answers by status and error type", ["status", "type"])
BUDGET_WAITS = Counter("rabota_budget_waits", "Requests that had to wait for the shared rate budget",
                       ["api"])
BUDGET_WAIT_SECONDS = Counter("rabota_budget_wait_seconds", "Time spent waiting for the shared rate budget",
                              ["api"])
HH_RATE_NOW = Gauge("rabota_hh_rate", "HeadHunter requests per second the adaptive budget allows now (as this "
                    "process last saw it)")
HH_RATE_CUTS = Counter("rabota_hh_rate_cuts", "Cuts of the adaptive HeadHunter rate, by the status that caused "
                       "them (429, or a burst of 503)", ["status"])
CONSUMER_PENDING = Gauge("rabota_consumer_pending", "Messages not yet delivered to a durable consumer (lag)",
                         ["stream", "consumer"])
CONSUMER_ACK_PENDING = Gauge("rabota_consumer_ack_pending", "Messages delivered and not yet acknowledged",
                             ["stream", "consumer"])


def portal_label(endpoint: str) -> str:
    """A Bitrix24 portal's label: the domain of its REST endpoint (holds no secret)."""
    return urlparse(endpoint).hostname or "unknown"


def _connected(broker: NatsBroker) -> bool:
    try:
        return bool(broker.connection.is_connected)
    except Exception:
        return False


async def sample_consumer_lag(broker: NatsBroker, timeout_s: float = 2.0) -> None:
    """num_pending and num_ack_pending of every durable consumer, sampled when scraped."""
    if not _connected(broker):
        return
    js = broker.connection.jetstream()
    for spec in subjects.STREAMS:
        try:
            infos = await asyncio.wait_for(js.consumers_info(spec.name), timeout_s)
        except Exception as exc:
            log.debug("consumer info of %s unavailable: %s", spec.name, exc)
            continue
        for info in infos:
            name = info.name or (info.config.durable_name if info.config else None)
            if not name or not (info.config and info.config.durable_name):
                continue  # ephemeral consumers (tools, ordered readers) come and go
            CONSUMER_PENDING.labels(spec.name, name).set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.labels(spec.name, name).set(info.num_ack_pending or 0)


class Pingable(Protocol):
    """The store, as readiness sees it."""

    async def ping(self) -> bool: ...


async def readiness(broker: NatsBroker, store: Pingable) -> dict[str, bool]:
    """Whether the service can work: connected to NATS, and Redis answers."""
    redis_ok = False
    with contextlib.suppress(Exception):
        redis_ok = bool(await asyncio.wait_for(store.ping(), 2.0))
    return {"nats": _connected(broker), "redis": redis_ok}


async def metrics_text(broker: NatsBroker) -> bytes:
    await sample_consumer_lag(broker)
    return generate_latest(REGISTRY)


class OpsServer:
    """GET /healthz, /readyz and /metrics on their own port: a few lines of HTTP/1.0 on asyncio streams, served
    in the service's own event loop (readiness and lag need its connections), one request per connection."""

    def __init__(self, broker: NatsBroker, store: Pingable, port: int, host: str = "0.0.0.0") -> None:
        self._broker = broker
        self._store = store
        self._port = port
        self._host = host
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self._host, self._port)
        except OSError as exc:  # fail at start, plainly: a second process on one host needs its own port
            raise RuntimeError(f"cannot serve /healthz, /readyz, /metrics on port {self._port} ({exc}): "
                               "set METRICS_PORT to a free port, or 0 to turn the endpoint off") from exc
        log.info("health and metrics on :%s", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            return 200, "application/json", b'{"ok": true}'
        if path == "/readyz":
            state = await readiness(self._broker, self._store)
            ok = all(state.values())
            return (200 if ok else 503), "application/json", json.dumps({"ok": ok, **state}).encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, await metrics_text(self._broker)
        return 404, "text/plain", b"not found"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            method, target, _ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            path = target.split("?", 1)[0]
            status, ctype, body = (await self._answer(path)) if method in ("GET", "HEAD") else (
                405, "text/plain", b"method not allowed")
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
            head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n").encode()
            writer.write(head if method == "HEAD" else head + body)
            await writer.drain()
        except Exception as exc:  # a broken probe must never disturb the service
            log.debug("ops request failed: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
