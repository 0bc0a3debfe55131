"""Chat latency bench (issue 18): `python -m tests.bench.bench_chats [--count N]`.

With the sandboxes' default limits (HeadHunter 10 requests/s per IP, Bitrix24 2 requests/s burst 50), the demo
portal imported and its first Open Line chosen, N applicant messages are written on rabota.by one after another
(each waits for the previous one) and N operator replies are written in the line:
- applicant → line: from the message's creation on HeadHunter (its webhook is sent at once) to its presence in the
  Open Line dialogue;
- operator → HeadHunter: from the operator's reply (ONIMCONNECTORMESSAGEADD sent at once) to the message in the
  HeadHunter chat.
Observed by polling every 50 ms, so figures carry up to 0.05 s of observation delay. Prints JSON; never fails on
slowness."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.bench.common import Limits, percentile, portal_stack
from tests.e2e.harness import Driver, manager_vacancies, second_portal, seed_admin_only, wait_subscriptions

OBSERVE_EVERY_S = 0.05


async def _wait(probe: Callable[[], Awaitable[bool]], limit_s: float = 30.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        if await probe():
            return time.monotonic() - start
        await asyncio.sleep(OBSERVE_EVERY_S)
    raise AssertionError("timed out")


async def _line(driver: Driver, chat_id: str, portal: str = "demo") -> dict[str, Any]:
    r = await driver.http.get(f"{driver.stack.b24_url}/_sandbox/portals/{portal}/openlines")
    return next((d for d in r.json()["dialogues"] if d["external_id"] == chat_id), {"messages": []})


async def choose_line(driver: Driver) -> None:
    options = (await driver.api("GET", "/options")).json()
    settings = (await driver.api("GET", "/settings")).json()
    r = await driver.api("PUT", "/settings", json={**settings, "open_line_id": options["open_lines"][0]["id"]})
    assert r.status_code == 200, r.text


async def conversation(driver: Driver, count: int, portal: str = "demo", chat_id: str | None = None
                       ) -> dict[str, Any]:
    hh, b24 = driver.stack.hh_url, driver.stack.b24_url
    if chat_id is None:
        await choose_line(driver)
        chat_id = str((await driver.hh_negotiations())[0]["chat_id"])
    inbound: list[float] = []
    outbound: list[float] = []
    dialogue: dict[str, Any] = {}
    for i in range(count):
        text = f"Вопрос соискателя {i}"
        await driver.http.post(f"{hh}/_sandbox/chats/{chat_id}/messages", json={"role": "APPLICANT", "text": text})

        async def in_line(text: str = text) -> bool:
            nonlocal dialogue
            dialogue = await _line(driver, chat_id, portal)
            return any(m["text"] == text for m in dialogue["messages"])

        inbound.append(await _wait(in_line))
        answer = f"Ответ оператора {i}"
        await driver.http.post(f"{b24}/_sandbox/portals/{portal}/openlines/chats/{dialogue['chat_id']}/reply",
                               json={"user_id": 1, "text": answer})

        async def on_hh(answer: str = answer) -> bool:
            chat = (await driver.http.get(f"{hh}/_sandbox/chats/{chat_id}")).json()
            return any(m["text"] == answer for m in chat["messages"])

        outbound.append(await _wait(on_hh))
    final = await _line(driver, chat_id, portal)
    chat = (await driver.http.get(f"{hh}/_sandbox/chats/{chat_id}")).json()
    # The chat opens with the negotiation's head (its letter or invitation): only this conversation is counted.
    hh_messages = [m for m in chat["messages"] if m["text"].startswith(("Вопрос соискателя ", "Ответ оператора "))]
    return {
        "count": count,
        "applicant_to_line_s": {"p50": percentile(inbound, 0.5), "p99": percentile(inbound, 0.99),
                                "max": max(inbound)},
        "operator_to_hh_s": {"p50": percentile(outbound, 0.5), "p99": percentile(outbound, 0.99),
                             "max": max(outbound)},
        "line_messages": len(final["messages"]), "hh_messages": len(hh_messages),
        "duplicates": (len(final["messages"]) - 2 * count) + (len(hh_messages) - 2 * count),
    }


async def run(count: int) -> dict[str, Any]:
    async with portal_stack(Limits(), 20) as (_stack, driver):
        await driver.api("POST", "/import")
        await driver.wait_import()
        return await conversation(driver, count)


async def during_import(n: int, count: int) -> dict[str, Any]:
    """Portal A ("demo", the admin) imports `n` responses on vacancies only it sees while portal B ("simple", the
    manager's account, given one Open Line) has its conversation: B's chat latency under A's import."""
    async with portal_stack(Limits(), 0, seed=lambda driver: seed_admin_only(driver, n)) as (stack, a):
        b = await second_portal(a)
        r = await a.http.post(f"{stack.b24_url}/_sandbox/portals/simple/openlines/lines",
                              json={"lines": [{"id": 1, "name": "Подбор"}]})
        assert r.status_code == 200, r.text
        await choose_line(b)
        await wait_subscriptions(a, 2)
        vacancy = (await manager_vacancies(a))[0][0]
        created = (await a.http.post(f"{stack.hh_url}/_sandbox/negotiations", json={"vacancy_id": vacancy})).json()
        await a.api("POST", "/import")

        async def under_way() -> bool:
            return bool((await a.api("GET", "/import")).json()["processed"] >= min(50, n // 10))

        await _wait(under_way, 600.0)
        row = await conversation(b, count, portal="simple", chat_id=str(created["chat_id"]))
        row["a_import_state_when_b_done"] = (await a.api("GET", "/import")).json()["state"]
        return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--during-import", type=int, default=0, metavar="N",
                        help="portal B converses while portal A imports N responses")
    args = parser.parse_args()
    result = asyncio.run(during_import(args.during_import, args.count) if args.during_import else run(args.count))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
