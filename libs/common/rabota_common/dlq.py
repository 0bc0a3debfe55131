"""`python -m rabota_common.dlq`: the operators' tool for dead letters and re-imports.

  list [--portal P] [--stage S]        dead letters, oldest first (ID = sequence in the DLQ stream)
  show ID                              one dead letter with its original message
  replay ID | --portal P | --all       publish the original message to its original subject, then delete the letter
  reimport --portal P --negotiation N  sync one negotiation again (the poller fetches it, as for a webhook)
  reimport --portal P --vacancy V      sync every negotiation of one vacancy again

It reads the same settings (NATS_URL, REDIS_URL, APP_SECRET_KEY, ...) as the services and publishes through the
same bus helpers. A letter's original message is stored encrypted (personal data); this tool decrypts it with
APP_SECRET_KEY or one of APP_SECRET_KEY_OLD.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from opentelemetry import propagate, trace

from rabota_common import subjects
from rabota_common.bus import publish, republish
from rabota_common.crypto import Crypto
from rabota_common.ids import member_id
from rabota_common.models import AppEvent, DeadLetter
from rabota_common.runtime import Runtime, build_runtime
from rabota_common.settings import get_settings

STREAM = subjects.stream_of(subjects.pattern(subjects.DLQ))
_tracer = trace.get_tracer(__name__)


@dataclass(frozen=True)
class Letter:
    id: int
    subject: str
    time: datetime | None
    letter: DeadLetter
    headers: dict[str, str]

    @property
    def portal(self) -> str:
        return subjects.portal_of(self.subject)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time.isoformat() if self.time else None, "portal": self.portal,
                "stage": self.letter.stage, "subject": self.letter.subject, "deliveries": self.letter.deliveries,
                "reason": self.letter.reason}


def _filter(portal: str | None, stage: str | None) -> str:
    """A subject filter of the operator's tool: `*` for "any"; a named portal must be a member_id."""
    return subjects.DLQ.format(stage=stage or "*", portal=member_id(portal) if portal else "*")


def open_letter(raw: RawStreamMsg, crypto: Crypto, seq: int) -> Letter:
    """A stored dead letter with its original message in clear (sealed, or in clear from before encryption)."""
    letter = DeadLetter.model_validate_json(raw.data or b"{}")
    if letter.sealed:
        letter = letter.model_copy(update={"data": dict(crypto.unseal_json(letter.sealed)), "sealed": ""})
    return Letter(id=int(raw.seq or seq), subject=str(raw.subject), time=raw.time, letter=letter,
                  headers=dict(raw.headers or {}))


async def get_letter(js: JetStreamContext, letter_id: int, *, crypto: Crypto) -> Letter:
    return open_letter(await js.get_msg(STREAM, seq=letter_id), crypto, letter_id)


async def list_letters(js: JetStreamContext, portal: str | None = None, stage: str | None = None,
                       limit: int = 1000, *, crypto: Crypto) -> list[Letter]:
    """Dead letters matching the filter, oldest first, walking the stream by subject (no consumer is created)."""
    letters: list[Letter] = []
    seq = 1
    while len(letters) < limit:
        try:
            raw = await js.get_msg(STREAM, seq=seq, subject=_filter(portal, stage), next=True)
        except NotFoundError:
            break
        letters.append(open_letter(raw, crypto, seq))
        seq = int(raw.seq or seq) + 1
    return letters


async def replay(rt: Runtime, js: JetStreamContext, letter: Letter) -> None:
    """Publish the original message again (continuing its negotiation's trace), then delete the letter. A letter
    whose message cannot be read as its subject's model stays where it is."""
    with _tracer.start_as_current_span("dead letter replay", context=propagate.extract(letter.headers),
                                       attributes={"rabota.portal": letter.portal, "rabota.stage": letter.letter.stage,
                                                   "rabota.dlq_id": letter.id}):
        await republish(rt.broker, letter.letter.subject, letter.letter.data)
    await js.delete_msg(STREAM, letter.id)


async def reimport(rt: Runtime, portal: str, negotiation_id: str | None = None, vacancy_id: str | None = None) -> None:
    """Ask the poller to publish the negotiation (or the vacancy's negotiations) as its walks do."""
    data = {"negotiation_id": negotiation_id} if negotiation_id else {"vacancy_id": vacancy_id}
    with _tracer.start_as_current_span("reimport requested", attributes={"rabota.portal": portal}):
        await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="reimport_requested", portal=portal),
                      AppEvent(portal=portal, event="reimport_requested", data=data))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rabota_common.dlq", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list dead letters")
    ls.add_argument("--portal")
    ls.add_argument("--stage")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    show = sub.add_parser("show", help="show one dead letter")
    show.add_argument("id", type=int)
    rp = sub.add_parser("replay", help="republish dead letters to their original subjects")
    which = rp.add_mutually_exclusive_group(required=True)
    which.add_argument("id", type=int, nargs="?")
    which.add_argument("--portal")
    which.add_argument("--all", action="store_true")
    ri = sub.add_parser("reimport", help="sync one negotiation or one vacancy again")
    ri.add_argument("--portal", required=True)
    what = ri.add_mutually_exclusive_group(required=True)
    what.add_argument("--negotiation")
    what.add_argument("--vacancy")
    return p


async def run(args: argparse.Namespace) -> int:
    rt = build_runtime("ops", get_settings())
    await rt.broker.connect()
    js = rt.broker.connection.jetstream()
    try:
        if args.command == "list":
            for letter in await list_letters(js, args.portal, args.stage, crypto=rt.crypto):
                row = letter.summary()
                print(json.dumps(row, ensure_ascii=False) if args.json else
                      f"{row['id']:>6}  {row['time'] or '-':<32}  {row['stage']:<10}  {row['subject']:<36}  "
                      f"x{row['deliveries']}  {row['reason']}")
        elif args.command == "show":
            letter = await get_letter(js, args.id, crypto=rt.crypto)
            print(json.dumps({**letter.summary(), "data": letter.letter.data}, ensure_ascii=False, indent=2))
        elif args.command == "replay":
            letters = ([await get_letter(js, args.id, crypto=rt.crypto)] if args.id else
                       await list_letters(js, args.portal, crypto=rt.crypto))
            failed = 0
            for letter in letters:
                try:
                    await replay(rt, js, letter)
                    print(f"replayed {letter.id} → {letter.letter.subject}")
                except Exception as exc:
                    failed += 1
                    print(f"not replayed {letter.id}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1 if failed else 0
        elif args.command == "reimport":
            await reimport(rt, args.portal, args.negotiation, args.vacancy)
            print(f"reimport of {'negotiation ' + args.negotiation if args.negotiation else 'vacancy ' + args.vacancy}"
                  f" of portal {args.portal} requested")
    except NotFoundError:
        print("not found", file=sys.stderr)
        return 2
    finally:
        await rt.broker.stop()
        await rt.close()
        rt.tracer_provider.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
