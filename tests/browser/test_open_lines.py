"""Chats with applicants in a real browser (issue 18): the admin picks the Open Line on «Настройки», an applicant
writes on rabota.by, the operator reads it on the sandbox portal's «Открытые линии» page and answers there; the
answer reaches the applicant's chat on rabota.by and shows as delivered. From the lead card (item 6): «Написать» on
the response's activity opens the app's slider, which opens the applicant's dialogue in the messenger (the portal's
«Открытые линии» page) with the chat's messages; the recruiter's reply there reaches rabota.by. Screenshots go to
test-artifacts/screenshots/ (open_lines_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Driver, until
from tests.e2e.test_open_lines import _dialogue, _hh, _imported, _setup

pytestmark = [pytest.mark.timeout(240),
              pytest.mark.stack_env({"HH_SANDBOX_NEGOTIATIONS": "4", "HH_RATE": "60", "HH_BURST": "20"})]


async def answer_and_see_delivered(page: Any, driver: Driver, stack: Any, chat_id: str, answer: str,
                                   shot: Path) -> None:
    """The operator answers on the open dialogue; the applicant reads it on rabota.by, and it shows as delivered."""
    from playwright.async_api import expect

    await page.locator("#ol-text").fill(answer)
    await page.get_by_role("button", name="Отправить").click()
    await expect(page.locator(".ol-operator .ol-text")).to_have_text([answer])

    async def on_rabota_by() -> bool:
        chat = (await driver.http.get(f"{stack.hh_url}/_sandbox/chats/{chat_id}")).json()
        return any(m["text"] == answer and m["role"] == "EMPLOYER" for m in chat["messages"])

    await until("the answer on rabota.by", 30, on_rabota_by)

    async def delivered() -> bool:
        await page.reload()
        return bool(await page.locator(".ol-operator .ol-who", has_text="доставлено").count())

    await until("the delivered mark", 30, delivered)
    await page.screenshot(path=str(shot), full_page=True)


async def test_a_conversation_on_the_portal_page(stack: Any, driver: Driver, browser: Any, screenshots: Path) -> None:
    from playwright.async_api import expect

    await driver.http.put(f"{stack.hh_url}/_sandbox/knobs", json={"rate_limit_rps": None})
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200

    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="ru-RU")
    context.set_default_timeout(20_000)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    # «Настройки»: the line is one of the portal's Open Lines.
    await page.goto(f"{stack.b24_url}/portal/demo/")
    app = page.frame_locator("#b24-app-frame")
    await app.get_by_role("tab", name="Настройки").click()
    line = app.get_by_label("Открытая линия для переписки с соискателями")
    await expect(line.locator("option")).to_have_text(
        ["Не переписываться из Битрикс24", "Подбор персонала", "Сайт компании"])
    await expect(app.locator("#open-line-note")).to_be_hidden()
    await line.select_option(label="Подбор персонала")
    await page.screenshot(path=str(screenshots / "open_lines_settings_1200.png"), full_page=True)
    await app.get_by_role("button", name="Сохранить", exact=True).click()
    await expect(app.locator("#settings-msg")).to_contain_text("Настройки сохранены")
    assert (await driver.api("GET", "/settings")).json()["open_line_id"] == 1

    async def subscribed() -> bool:
        subs = (await driver.http.get(f"{stack.hh_url}/_sandbox/webhooks")).json()["subscriptions"]
        return any(a["type"] == "CHAT_MESSAGE_CREATED" for s in subs for a in s["actions"])

    await until("the chat subscription", 30, subscribed)

    # The applicant writes on rabota.by; the operator sees it in the line.
    chat_id = str((await driver.hh_negotiations())[0]["chat_id"])
    question = "Добрый день! Вакансия ещё актуальна?"
    r = await driver.http.post(f"{stack.hh_url}/_sandbox/chats/{chat_id}/messages",
                               json={"role": "APPLICANT", "text": question})
    assert r.status_code == 201, r.text

    async def in_line() -> bool:
        state = (await driver.http.get(f"{stack.b24_url}/_sandbox/portals/demo/openlines")).json()
        return any(m["text"] == question for d in state["dialogues"] for m in d["messages"])

    await until("the applicant's message in the line", 30, in_line)
    await page.goto(f"{stack.b24_url}/portal/demo/")
    await page.get_by_role("link", name="Открытые линии").click()
    await expect(page.locator(".ol-client .ol-text")).to_have_text([question])
    await page.screenshot(path=str(screenshots / "open_lines_incoming_1200.png"), full_page=True)

    # The operator answers on the page; the applicant reads it on rabota.by, and it shows as delivered.
    await answer_and_see_delivered(page, driver, stack, chat_id, "Да, актуальна. Приходите в четверг в 11:00.",
                                   screenshots / "open_lines_answered_1200.png")
    assert not problems, problems
    await context.close()


async def test_write_from_the_lead_card(stack: Any, driver: Driver, browser: Any, screenshots: Path) -> None:
    from playwright.async_api import expect

    _chat, _line = await _setup(driver)  # "demo" connected, its first Open Line chosen
    await _imported(driver)
    leads = {x["ORIGIN_ID"]: x for x in await driver.entities("demo", 1)}
    chosen: dict[str, Any] | None = None
    for n in await driver.hh_negotiations():  # a response whose chat opens with the applicant's letter
        head = [m["text"] for m in (await _hh(driver, "GET", f"/chats/{n['chat_id']}"))["messages"] if m["text"]]
        if n["kind"] == "response" and str(n["id"]) in leads and head:
            chosen = n
            break
    assert chosen is not None
    chat_id, lead = str(chosen["chat_id"]), leads[str(chosen["id"])]
    assert await _dialogue(driver, chat_id) is None  # nothing of this chat in the line yet

    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="ru-RU")
    context.set_default_timeout(20_000)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    card = f"{stack.b24_url}/portal/demo/crm/1/{lead['ID']}/"

    # A user who is neither an administrator nor responsible for the lead: the slider says who may, in Russian.
    await page.goto(card)
    await page.locator("#b24-user-select").select_option("3")
    await page.reload()
    activity = page.locator("article.tl-item").filter(has=page.get_by_role("button", name="Другие отклики")).first
    write = activity.get_by_role("link", name="Написать", exact=True)
    await expect(activity.get_by_text("Чат", exact=True)).to_be_visible()
    await page.screenshot(path=str(screenshots / "open_lines_write_link_1200.png"), full_page=True)
    await write.click()
    slider = page.frame_locator("iframe.b24-slider-frame")
    await expect(slider.get_by_role("heading", name="Чат с соискателем")).to_be_visible()
    await expect(slider.locator("#chat-state")).to_contain_text(
        "Написать соискателю из карточки может только администратор портала")
    await page.screenshot(path=str(screenshots / "open_lines_write_forbidden_1200.png"), full_page=True)
    await page.locator(".b24-slider-close").click()
    assert await _dialogue(driver, chat_id) is None

    # The administrator: «Написать» opens the slider, which opens the dialogue in the messenger with the chat.
    await page.locator("#b24-user-select").select_option("1")
    await write.click()
    await page.wait_for_url("**/portal/demo/openlines/?chat=*", timeout=30_000)
    dialogue = await _dialogue(driver, chat_id)
    assert dialogue is not None and page.url.endswith(f"?chat={dialogue['chat_id']}")
    letter = [m["text"] for m in dialogue["messages"]]
    assert letter and letter[0].startswith("Здравствуйте!")
    await expect(page.locator(".ol-dialogue h2")).to_have_text(dialogue["name"])
    await expect(page.locator(".ol-client .ol-text")).to_have_text(letter)
    await page.screenshot(path=str(screenshots / "open_lines_write_opened_1200.png"), full_page=True)

    # The recruiter writes; the applicant reads it on rabota.by, and it shows as delivered.
    await answer_and_see_delivered(page, driver, stack, chat_id,
                                   "Спасибо за отклик! Удобно ли вам созвониться завтра в 12:00?",
                                   screenshots / "open_lines_write_answered_1200.png")
    assert not problems, problems
    await context.close()
