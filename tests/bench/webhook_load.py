"""The second process of the receiver bench: `python -m tests.bench.webhook_load URL --rate 200 --seconds 10`.

Sends HeadHunter-shaped webhooks open-loop (each at its scheduled instant, whether or not earlier ones were
answered) and prints one JSON line: sent, ok, p50/p99/max of the answer time in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import httpx

from tests.bench.common import percentile


async def load(url: str, rate: float, seconds: float) -> dict[str, object]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    total = int(rate * seconds)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as http:
        async def one() -> None:
            # No topic_id: the poller acknowledges it at once, so the bench measures the receiver only.
            body = {"id": uuid.uuid4().hex, "subscription_id": "bench", "user_id": "1",
                    "action_type": "NEW_RESPONSE_OR_INVITATION_VACANCY", "payload": {"vacancy_id": "0"}}
            started = time.perf_counter()
            try:
                r = await http.post(url, json=body)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            except httpx.HTTPError:
                statuses[0] = statuses.get(0, 0) + 1
                return
            latencies.append((time.perf_counter() - started) * 1000)

        # Warm the connection pool so connection set-up is not counted as the receiver's time.
        await asyncio.gather(*(one() for _ in range(20)))
        latencies.clear()
        statuses.clear()
        t0 = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    return {"sent": total, "achieved_rps": round(total / elapsed, 1), "statuses": statuses,
            "p50_ms": round(percentile(latencies, 0.5) or 0, 1), "p99_ms": round(percentile(latencies, 0.99) or 0, 1),
            "max_ms": round(max(latencies, default=0), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(load(args.url, args.rate, args.seconds))))


if __name__ == "__main__":
    main()
