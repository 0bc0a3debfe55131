"""The health, readiness and metrics endpoint every non-ui service serves on METRICS_PORT."""

from __future__ import annotations

import httpx
import pytest
from rabota_common.bus import dead_letter, ensure_jetstream
from rabota_common.metrics import OpsServer
from rabota_common.runtime import build_runtime
from rabota_common.settings import Settings

P9 = "c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9"  # member_ids: 32 lowercase hex characters


async def test_healthz_readyz_metrics(nats_url: str, redis_url: str) -> None:
    await ensure_jetstream(nats_url)
    rt = build_runtime("ops-test", Settings(SANDBOX=True, NATS_URL=nats_url, REDIS_URL=redis_url, METRICS_PORT=0))
    server = OpsServer(rt.broker, rt.store, 0, host="127.0.0.1")
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with httpx.AsyncClient(timeout=10.0) as http:
            assert (await http.get(f"{base}/healthz")).status_code == 200
            not_ready = await http.get(f"{base}/readyz")  # the broker is not connected yet
            assert not_ready.status_code == 503 and not_ready.json() == {"ok": False, "nats": False, "redis": True}
            await rt.broker.connect()
            ready = await http.get(f"{base}/readyz")
            assert ready.status_code == 200 and ready.json()["ok"] is True

            js = rt.broker.connection.jetstream()
            await js.pull_subscribe("hh.negotiation.*", durable="lag-probe", stream="HH_NEGOTIATION")
            await dead_letter(rt.broker, "mapper", f"hh.negotiation.{P9}", 8, "boom", {"x": 1}, crypto=rt.crypto)
            await rt.broker.publish({"x": 1}, f"hh.negotiation.{P9}", stream="HH_NEGOTIATION")
            metrics = await http.get(f"{base}/metrics")
            assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
            text = metrics.text
            assert f'rabota_dead_letters_total{{portal="{P9}",stage="mapper"}}' in text
            assert 'rabota_consumer_pending{consumer="lag-probe",stream="HH_NEGOTIATION"} 1.0' in text
            assert (await http.get(f"{base}/nothing")).status_code == 404
        taken = OpsServer(rt.broker, rt.store, server.port, host="127.0.0.1")  # a second process on one host
        with pytest.raises(RuntimeError, match="METRICS_PORT"):
            await taken.start()
    finally:
        await server.stop()
        await rt.broker.stop()
        await rt.close()
