"""Acting on an applicant from the CRM card in a real browser (issue 19 part 1, F16): the lead card's «rabota.by:
пригласить или отказать» placement opens the action dialog in a slider; an invitation is chosen, its template
text edited and sent with the keyboard only; the timeline activity's menu opens the same dialog for a rejection;
then a vacancy archived on rabota.by offers the bulk rejection on the app's page, which says how many first.
Screenshots at 1200 and 800 px go to test-artifacts/screenshots/ (issue19_*)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Driver
from tests.e2e.test_back_sync import STAGE_MAP
from tests.e2e.test_hh_side import _hh, _one_lead_each, _start, _until

pytestmark = [pytest.mark.timeout(240), pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20"})]


async def _ready(driver: Driver) -> dict[str, dict[str, Any]]:
    await _start(driver, negotiations=16)
    body: dict[str, Any] = {"responsible_id": 2, "entity_type": "lead", "extended": True, "stage_map": STAGE_MAP}
    assert (await driver.api("PUT", "/settings", json=body)).status_code == 200
    assert (await driver.api("POST", "/import")).status_code == 202
    await driver.wait_import()
    return {lead["ORIGIN_ID"]: lead for lead in await _one_lead_each(driver)}


async def _negotiation(driver: Driver, nid: str) -> dict[str, Any]:
    return next(n for n in await driver.hh_negotiations() if str(n["id"]) == nid)


async def test_action_dialog_and_bulk_rejection(stack: Any, driver: Driver, browser: Any, screenshots: Path) -> None:
    from playwright.async_api import expect

    leads = await _ready(driver)
    fresh = [str(n["id"]) for n in await driver.hh_negotiations()
             if n["employer_state"] == "response" and n["kind"] == "response"]
    invite_nid, reject_nid = fresh[0], fresh[1]

    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="ru-RU")
    context.set_default_timeout(20_000)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    context.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}")
               if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

    async def shot(name: str) -> None:
        for width in (1200, 800):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.screenshot(path=str(screenshots / f"issue19_{name}_{width}.png"), full_page=True)
        await page.set_viewport_size({"width": 1200, "height": 900})

    # --- the card placement (CRM_LEAD_DETAIL_ACTIVITY, bound at install) opens the dialog in a slider
    await page.goto(f"{stack.b24_url}/portal/demo/crm/1/{leads[invite_nid]['ID']}/")
    await page.get_by_role("button", name="rabota.by: пригласить или отказать").click()
    slider = page.frame_locator("iframe.b24-slider-frame")
    await expect(slider.get_by_role("heading", name="Действия с откликом на rabota.by")).to_be_visible()
    invite_group = slider.get_by_role("group", name="Пригласить")
    await expect(invite_group.get_by_role("button", name="Собеседование")).to_be_visible()
    await expect(slider.get_by_role("group", name="Отказать").get_by_role("button", name="Отказ", exact=True)) \
        .to_be_visible()
    await shot("01_action_dialog")

    # Keyboard only: focus «Собеседование», Enter opens the message form with the template text in the textarea
    # (focused), the recruiter adds a line, Ctrl+Enter sends.
    await invite_group.get_by_role("button", name="Собеседование").focus()
    await page.keyboard.press("Enter")
    message = slider.get_by_label("Текст сообщения соискателю (можно изменить)")
    await expect(message).to_be_focused()
    await expect(message).to_have_value(re.compile("Приглашаем вас на собеседование"))
    await page.keyboard.press("End")
    await page.keyboard.press("Control+End")
    await page.keyboard.type("\nЖдём вас в среду в 11:00.")
    await shot("02_invitation_edited")
    await page.keyboard.press("Control+Enter")
    await expect(slider.locator("#act-result")).to_contain_text("Приглашение отправлено")
    await shot("03_invitation_sent")
    sent = (await _negotiation(driver, invite_nid))["action_messages"]
    assert sent[-1]["employer_state"] == "interview" and sent[-1]["message"].endswith("Ждём вас в среду в 11:00.")
    assert "Приглашаем вас на собеседование" in sent[-1]["message"]

    # Esc closes the form without sending.
    await page.locator(".b24-slider-close").click()

    # --- the timeline activity's menu opens the same dialog: a rejection with another template, edited
    await page.goto(f"{stack.b24_url}/portal/demo/crm/1/{leads[reject_nid]['ID']}/")
    activity = page.locator("article.tl-item").filter(has=page.get_by_role("button", name="Другие отклики")).first
    await activity.locator("details.tl-menu summary").click()
    await activity.get_by_text("Пригласить или отказать").click()
    await expect(slider.get_by_role("heading", name="Действия с откликом на rabota.by")).to_be_visible()
    await slider.get_by_role("group", name="Отказать").get_by_role("button", name="Отказ", exact=True).click()
    await slider.get_by_label("Шаблон сообщения").select_option("discard_after_interview")
    await message.fill("Спасибо за отклик! К сожалению, вакансия уже закрыта для новых кандидатов.")
    await page.keyboard.press("Escape")
    await expect(slider.locator("#act-form")).to_be_hidden()
    await slider.get_by_role("group", name="Отказать").get_by_role("button", name="Отказ", exact=True).click()
    await message.fill("Спасибо за отклик! К сожалению, вакансия уже закрыта для новых кандидатов.")
    await shot("04_rejection_edited")
    await slider.get_by_role("button", name="Отправить").click()
    await expect(slider.locator("#act-result")).to_contain_text("Отказ отправлен")
    rejected = await _negotiation(driver, reject_nid)
    assert rejected["employer_state"] == "discard_by_employer"
    assert rejected["action_messages"][-1]["message"].startswith("Спасибо за отклик! К сожалению, вакансия")

    async def lead_moved() -> bool:
        lead = next(x for x in await driver.entities("demo", 1) if x["ORIGIN_ID"] == reject_nid)
        return bool(lead["STATUS_ID"] == STAGE_MAP["discard"])

    await _until("the rejected lead to move", lead_moved, 30)
    await page.locator(".b24-slider-close").click()
    await page.reload()
    await expect(page.get_by_text("Отказ отправлен на rabota.by").first).to_be_visible()
    await shot("05_timeline_comment")

    # --- bulk rejection: a vacancy archived on rabota.by is offered on the app's page, with its count
    negotiations = await driver.hh_negotiations()
    vacancy = next(str(n["vacancy_id"]) for n in negotiations if str(n["id"]) not in (invite_nid, reject_nid)
                   and not n["employer_state"].startswith(("discard", "hired")))
    open_ones = [str(n["id"]) for n in negotiations if str(n["vacancy_id"]) == vacancy
                 and not n["employer_state"].startswith(("discard", "hired"))]
    await _hh(driver, "POST", f"/vacancies/{vacancy}/archive")

    async def offered() -> bool:
        return bool((await driver.api("GET", "/bulk-rejections")).json()["offers"])

    await _until("the bulk rejection offer", offered, 30)
    await page.goto(f"{stack.b24_url}/portal/demo/")
    app = page.frame_locator("#b24-app-frame")
    bulk = app.locator("#bulk")
    await expect(bulk).to_contain_text(f"соискателей без ответа — {len(open_ones)}")
    await bulk.get_by_role("button", name="Отказать всем").first.click()
    await expect(app.get_by_label("Шаблон отказа")).to_be_focused()
    await shot("06_bulk_offer")
    await app.locator("#bulk-check").click()
    confirm = app.get_by_role("alertdialog")
    await expect(confirm).to_contain_text(f"Отправить отказ {len(open_ones)} соискател")
    await expect(app.get_by_role("button", name="Да, отправить")).to_be_focused()
    await shot("07_bulk_confirm")
    await page.keyboard.press("Enter")
    await expect(app.locator("#bulk-result")).to_contain_text(
        f"отправлено {len(open_ones)} из {len(open_ones)}", timeout=60_000)
    await shot("08_bulk_done")
    for nid in open_ones:
        assert (await _negotiation(driver, nid))["employer_state"] == "discard_vacancy_closed"
    assert not problems, problems
