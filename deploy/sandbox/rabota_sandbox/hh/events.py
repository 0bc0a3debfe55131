"""Changes of the world (new responses / invitations, state moves) and the webhooks they fire;
also the live mode that makes such changes over time."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from .config import EMPLOYER_ID
from .data import NEXT_STATES, Negotiation, Vacancy, iso
from .state import SandboxState
from .webhooks import emit

log = logging.getLogger(__name__)


CHAT_ID_BASE = 4_000_000_000


def chat_id(neg: Negotiation) -> int:
    return CHAT_ID_BASE + int(neg.id)


def create_negotiation(
    state: SandboxState,
    vacancy_id: str,
    kind: str = "response",
    variant: str = "normal",
    resume_id: str | None = None,
    hidden_fields: tuple[str, ...] = (),
    employer_state: str | None = None,
    names: tuple[str, str, str] | None = None,
    source: str | None = None,
) -> Negotiation:
    store = state.store
    vacancy = store.vacancies[vacancy_id]
    rid = resume_id if resume_id is not None else store.new_resume(variant, hidden_fields, names).id
    if employer_state is None:
        employer_state = "response" if kind == "response" else "consider"
    now = time.time()
    neg = store.add_negotiation(vacancy_id, rid, kind, employer_state, now, source=source)
    payload_rid = None if store.resumes[rid].variant == "deleted" else rid
    emit(
        state,
        "NEW_RESPONSE_OR_INVITATION_VACANCY",
        vacancy,
        {
            "topic_id": neg.id,
            "resume_id": payload_rid,
            "vacancy_id": vacancy_id,
            "employer_id": EMPLOYER_ID,
            "response_date": iso(now),
            "chat_id": str(chat_id(neg)),
        },
    )
    if kind == "response":
        emit(
            state,
            "NEW_NEGOTIATION_VACANCY",
            vacancy,
            {
                "topic_id": neg.id,
                "resume_id": payload_rid,
                "vacancy_id": vacancy_id,
                "employer_id": EMPLOYER_ID,
                "negotiation_date": iso(now),
            },
        )
    return neg


def change_state(state: SandboxState, neg: Negotiation, to_state: str, manager_id: str | None) -> str:
    store = state.store
    vacancy = store.vacancies[neg.vacancy_id]
    now = time.time()
    from_state = store.move(neg, to_state, now)
    payload_rid = None if store.resumes[neg.resume_id].variant == "deleted" else neg.resume_id
    emit(
        state,
        "NEGOTIATION_EMPLOYER_STATE_CHANGE",
        vacancy,
        {
            "topic_id": neg.id,
            "vacancy_id": neg.vacancy_id,
            "resume_id": payload_rid,
            "from_state": from_state,
            "to_state": to_state,
            "employer_manager_id": manager_id or vacancy.manager_id,
            "transferred_at": iso(now),
        },
    )
    return from_state


def live_tick(state: SandboxState) -> dict[str, Any]:
    """One live event: a new response (60 %) or a move along the funnel."""
    store = state.store
    rng = state.rng
    active = [v for v in store.vacancies.values() if v.active]
    if store.nid_list and rng.random() >= 0.6:
        for _ in range(20):
            neg = store.negotiations[store.nid_list[rng.randrange(len(store.nid_list))]]
            options = NEXT_STATES.get(neg.employer_state)
            if options and store.vacancies[neg.vacancy_id].active:
                to = rng.choice(options)
                old = change_state(state, neg, to, None)
                return {"event": "state_change", "id": neg.id, "from": old, "to": to}
    vacancy = rng.choice(active)
    r = rng.random()
    variant = "deleted" if r < 0.05 else "hidden" if r < 0.15 else "normal"
    kind = "invitation" if rng.random() < 0.2 else "response"
    neg = create_negotiation(state, vacancy.id, kind, variant)
    return {"event": "created", "id": neg.id, "kind": kind}


async def live_loop(state: SandboxState) -> None:
    """Tick every `live_interval_s` seconds; re-reads the knob often, so changes apply at once."""
    last = time.monotonic()
    while True:
        interval = state.knobs.get("live_interval_s")
        if not interval:
            return  # ensure_live() starts a new loop when the knob is set again
        await asyncio.sleep(min(0.1, float(interval)))
        interval = state.knobs.get("live_interval_s")
        if interval and time.monotonic() - last >= float(interval):
            last = time.monotonic()
            try:
                live_tick(state)
            except Exception:
                log.exception("live tick failed")


def ensure_live(state: SandboxState) -> None:
    if state.knobs.get("live_interval_s") and (state.live_task is None or state.live_task.done()):
        state.live_task = asyncio.get_running_loop().create_task(live_loop(state))


def archive(state: SandboxState, vacancy: Vacancy) -> None:
    """The vacancy goes to the archive: `VACANCY_ARCHIVATION` ({vacancy_id, archivation_date}) to subscribers."""
    vacancy.active = False
    emit(state, "VACANCY_ARCHIVATION", vacancy, {"vacancy_id": vacancy.id, "archivation_date": iso(time.time())})
