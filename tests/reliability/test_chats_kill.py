"""A dialogue in the Open Line while the poller (the service that carries chat messages both ways) is killed
twice with SIGKILL: every applicant message reaches the line exactly once, every operator reply reaches
HeadHunter exactly once, and no reply comes back into the line (issue 18: 0 lost, 0 duplicated)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from tests.e2e.harness import Driver, until
from tests.e2e.test_open_lines import FAST, _b24, _dialogue, _hh, _setup

ROUNDS = 12
KILL_AT = (3, 8)


@FAST
async def test_killing_the_poller_mid_dialogue_loses_and_duplicates_nothing(driver: Driver) -> None:
    chat_id, _line = await _setup(driver)
    # The chat may open with the applicant's letter (most responses do): not the dialogue's to count.
    before = Counter((m["role"], m["text"]) for m in (await _hh(driver, "GET", f"/chats/{chat_id}"))["messages"])
    asked = [f"Вопрос {i}" for i in range(ROUNDS)]
    answers = [f"Ответ {i}" for i in range(ROUNDS)]
    await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "APPLICANT", "text": "Начало"})

    async def opened() -> dict[str, Any] | None:
        return await _dialogue(driver, chat_id)

    dialogue = await until("the dialogue", 30, opened)
    for i in range(ROUNDS):
        await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "APPLICANT", "text": asked[i]})
        reply = await _b24(driver, "POST", f"/portals/demo/openlines/chats/{dialogue['chat_id']}/reply",
                           json={"user_id": 1, "text": answers[i]})
        assert [d["status"] for d in reply["deliveries"]] == [200], reply
        if i in KILL_AT:  # with this round's messages in flight
            await asyncio.to_thread(driver.stack.restart_service, "poller", True)

    async def all_there() -> bool:
        line = await _dialogue(driver, chat_id) or {}
        chat = await _hh(driver, "GET", f"/chats/{chat_id}")
        in_line = {m["text"] for m in line.get("messages", [])}
        on_hh = {m["text"] for m in chat["messages"]}
        return set(asked) <= in_line and set(answers) <= on_hh

    await until("every message on both sides", 180, all_there)
    # A last applicant message: everything before it (our replies' webhooks included) has been looked at.
    await _hh(driver, "POST", f"/chats/{chat_id}/messages", json={"role": "APPLICANT", "text": "Конец"})

    async def ended() -> bool:
        line = await _dialogue(driver, chat_id) or {}
        return any(m["text"] == "Конец" for m in line.get("messages", []))

    await until("the last message", 120, ended)
    line = await _dialogue(driver, chat_id)
    assert line is not None
    chat = await _hh(driver, "GET", f"/chats/{chat_id}")
    in_line = Counter((m["author"], m["text"]) for m in line["messages"])
    on_hh = Counter((m["role"], m["text"]) for m in chat["messages"])
    assert all(in_line[("client", t)] == 1 for t in asked), in_line
    assert all(in_line[("operator", t)] == 1 for t in answers), in_line  # the operator's own, never an echo
    assert all(on_hh[("EMPLOYER", t)] == 1 for t in answers), on_hh
    assert sum(in_line.values()) == 2 * ROUNDS + 2  # the chat's head was read before: not the line's
    assert sum((on_hh - before).values()) == 2 * ROUNDS + 2 and (on_hh & before) == before, (on_hh, before)
