"""The operators' dead-letter tool against a real NATS: list, show, replay (functions and the command line)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from rabota_common.bus import dead_letter, ensure_jetstream
from rabota_common.dlq import get_letter, list_letters, replay
from rabota_common.models import NegotiationFound
from rabota_common.runtime import build_runtime
from rabota_common.settings import Settings

P1 = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"  # member_ids: 32 lowercase hex characters
P2 = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"  # member_ids: 32 lowercase hex characters


def _found(portal: str, nid: str) -> dict:
    return NegotiationFound(portal=portal, negotiation_id=nid, vacancy_id="v1", source="poll").model_dump(mode="json")


async def test_list_show_replay_and_cli(nats_url: str, redis_url: str) -> None:
    await ensure_jetstream(nats_url)
    rt = build_runtime("ops-test", Settings(SANDBOX=True, NATS_URL=nats_url, REDIS_URL=redis_url, METRICS_PORT=0))
    await rt.broker.connect()
    js = rt.broker.connection.jetstream()
    try:
        for portal, deliveries, reason, nid in ((P1, 8, "TransientError: boom", "11"),
                                                (P1, 1, "Настройки не сохранены", "12"),
                                                (P2, 8, "TransientError: boom", "21")):
            await dead_letter(rt.broker, "mapper", f"hh.negotiation.{portal}", deliveries, reason, _found(portal, nid),
                              crypto=rt.crypto)

        every = await list_letters(js, crypto=rt.crypto)
        assert [(x.portal, x.letter.data["negotiation_id"]) for x in every] == [(P1, "11"), (P1, "12"),
                                                                               (P2, "21")]
        p1 = await list_letters(js, portal=P1, crypto=rt.crypto)
        assert [x.letter.data["negotiation_id"] for x in p1] == ["11", "12"]
        assert await list_letters(js, stage="crm-writer", crypto=rt.crypto) == []
        shown = await get_letter(js, p1[1].id, crypto=rt.crypto)
        assert shown.letter.reason == "Настройки не сохранены" and shown.letter.deliveries == 1

        await replay(rt, js, p1[0])
        again = await js.get_msg("HH_NEGOTIATION", subject=f"hh.negotiation.{P1}")  # the last one on the subject
        assert NegotiationFound.model_validate_json(again.data or b"") == NegotiationFound.model_validate(
            _found(P1, "11"))
        assert [x.letter.data["negotiation_id"] for x in await list_letters(js, crypto=rt.crypto)] == ["12", "21"]

        env = {**os.environ, "SANDBOX": "1", "NATS_URL": nats_url, "REDIS_URL": redis_url, "METRICS_PORT": "0"}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "rabota_common.dlq", *args], env=env, capture_output=True,
                                  text=True, timeout=60, check=False)

        listed = await asyncio.to_thread(cli, "list", "--portal", P2, "--json")
        assert listed.returncode == 0, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(r["portal"], r["stage"], r["subject"], r["deliveries"]) for r in rows] == [
            (P2, "mapper", f"hh.negotiation.{P2}", 8)]
        shown_cli = await asyncio.to_thread(cli, "show", str(rows[0]["id"]))
        assert json.loads(shown_cli.stdout)["data"]["negotiation_id"] == "21"
        replayed = await asyncio.to_thread(cli, "replay", "--portal", P2)
        assert replayed.returncode == 0, replayed.stderr
        assert [x.letter.data["negotiation_id"] for x in await list_letters(js, crypto=rt.crypto)] == ["12"]
        last = await js.get_msg("HH_NEGOTIATION", subject=f"hh.negotiation.{P2}")
        assert json.loads(last.data or b"")["negotiation_id"] == "21"
        missing = await asyncio.to_thread(cli, "show", "9999")
        assert missing.returncode == 2
    finally:
        await rt.broker.stop()
        await rt.close()
