"""The recruiter's path through the sandbox portal page in a real browser (Playwright + Debian chromium).

Portal page → install (installer iframe, «Готово» → BX24.installFinish) → main page in the iframe →
«Войти» opens the rabota.by authorize page in a popup → admin@sandbox.by approves → the callback page hands
code and state to the app window and closes, the app completes the login → the Authorization tab shows the
employer → «Настройки»: responsible, Лид, save → import progress and result → the lead in the portal's CRM
→ its timeline activity's «Другие отклики» opens the app slider → «Обратная связь» sent.
Screenshots of every tab at 800 and 1200 px go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Driver

pytestmark = [pytest.mark.timeout(180), pytest.mark.stack_env({"HH_SANDBOX_NEGOTIATIONS": "30"})]

WIDTHS = (1200, 800)
TABS = {"auth": "Авторизация", "settings": "Настройки", "new": "Новые отклики", "feedback": "Обратная связь"}


async def test_recruiter_flow(stack: Any, driver: Driver, browser: Any, screenshots: Path) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="ru-RU")
    context.set_default_timeout(20_000)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # Every failed request of the app or the portal page (the browser's own /favicon.ico probe aside).
    context.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}")
               if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)

    async def shot(name: str, target: Any = None) -> None:
        print(f"{time.monotonic() - t0:6.1f}s {name}")
        await (target or page).screenshot(path=str(screenshots / f"{name}.png"), full_page=True)

    t0 = time.monotonic()
    state = (await driver.http.get(f"{stack.hh_url}/_sandbox/state")).json()
    employer_name = state["employer"]["name"]

    # --- install: the portal POSTs the frame parameters into the iframe at /b24/install
    await page.goto(f"{stack.b24_url}/portal/demo/")
    await shot("01_portal_not_installed")
    await page.get_by_role("button", name="Установить приложение").click()
    app = page.frame_locator("#b24-app-frame")
    finish = app.get_by_role("button", name="Готово")
    await expect(finish).to_be_visible()
    await shot("02_installer")
    await finish.click()  # BX24.installFinish → install-finish → the page reloads and opens /b24/app
    await expect(page.get_by_text("установлено", exact=True)).to_be_visible()
    login = app.get_by_role("button", name="Войти")
    await expect(login).to_be_visible()
    await expect(app.locator("#auth-state")).to_contain_text("Войдите в учётную запись работодателя")
    await shot("03_app_not_connected")

    # --- «Войти»: the rabota.by (HH emulator) authorize page in a popup
    async with context.expect_page() as popup_info:
        await login.click()
    popup = await popup_info.value
    await popup.wait_for_load_state()
    await popup.get_by_label(re.compile(r"admin@sandbox\.by")).check()
    await shot("04_hh_popup_login", popup)
    # The callback page hands code and state to the app's window and closes itself; the app completes the
    # login (POST /api/hh/connect with its session).
    async with popup.expect_event("close"):
        await popup.get_by_role("button", name="Продолжить").click()

    auth_state = app.locator("#auth-state")
    await expect(auth_state).to_contain_text(employer_name)
    await expect(auth_state).to_contain_text("администратор компании")
    await expect(app.get_by_role("button", name="Выйти")).to_be_visible()

    # --- «Настройки»: responsible, entity type Лид, save → import
    await app.get_by_role("tab", name="Настройки").click()
    await expect(app.locator("#responsible-name")).not_to_have_text("не выбран")
    # The responsible is chosen with Bitrix24's own employee picker (BX24.selectUser), in the portal's page.
    await app.get_by_role("button", name="Выбрать сотрудника").click()
    picker = page.get_by_role("dialog", name="Выбор сотрудника")
    await expect(picker).to_be_visible()
    await picker.get_by_label("Поиск сотрудника").fill("Ирина")
    await expect(picker.get_by_role("option")).to_have_count(1)
    await shot("05_user_picker")
    await picker.get_by_role("option", name=re.compile("Ирина Кадрова")).click()
    await expect(picker).to_be_hidden()
    await expect(app.locator("#responsible-name")).to_have_text("Ирина Кадрова")
    await app.get_by_label("Тип сущности CRM").select_option(label="Лид")
    await expect(app.locator("#stage-map select")).to_have_count(2)
    await expect(app.get_by_role("button", name="Загрузить все отклики заново")).to_be_disabled()  # nothing saved yet
    await app.get_by_role("button", name="Сохранить", exact=True).click()
    await expect(app.locator("#settings-msg")).to_contain_text("Настройки сохранены, импорт откликов запущен")
    try:  # the progress bar is visible only while the import runs (it may already be over)
        await expect(app.get_by_role("progressbar")).to_be_visible(timeout=5_000)
        await shot("05_import_progress")
    except AssertionError:
        pass
    result = app.locator("#import")
    await expect(result).to_contain_text("Лидов импортировано", timeout=90_000)
    await expect(result).to_contain_text("Откликов загружено")
    imported = int(await app.locator("#imported").inner_text())
    assert imported > 0
    await driver.open_app("demo")  # an API session of the admin, beside the browser's
    assert (await driver.api("GET", "/settings")).json()["responsible_id"] == 2
    # The import is over: «импорт запущен» is gone; a second save changes settings only, and a repeated import is
    # offered on its own button.
    await expect(app.locator("#settings-msg")).to_be_empty()
    await app.get_by_role("button", name="Сохранить", exact=True).click()
    await expect(app.locator("#settings-msg")).to_contain_text("Настройки сохранены. Новые отклики")
    await expect(app.get_by_role("button", name="Загрузить все отклики заново")).to_be_enabled()

    # --- every tab at 800 and 1200 px
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        for key, title in TABS.items():
            await app.get_by_role("tab", name=title).click()
            await expect(app.locator(f"#p-{key}")).to_be_visible()
            if key == "new" and width == WIDTHS[0]:  # the poller asks rabota.by: slow, checked once
                await expect(app.locator("#new-count")).to_contain_text("откликов", timeout=60_000)
            await page.wait_for_timeout(300)  # fitWindow resizes the iframe
            await shot(f"tab_{key}_{width}")
    await page.set_viewport_size({"width": 1200, "height": 900})

    # --- the lead of the applicant who answered most vacancies (HH sandbox ground truth) in the portal's CRM
    leads = await driver.entities("demo", 1)
    assert len(leads) == imported
    await page.get_by_role("link", name="Лиды").click()
    await expect(page.locator(".b24-h1")).to_have_text("Лиды")
    await expect(page.locator(".b24-table tbody tr")).to_have_count(imported)
    await shot("06_crm_leads")
    negotiations = await driver.hh_negotiations()
    repeat = [str(n["id"]) for n in negotiations if n["resume_id"] == state["repeat_resume_id"]]
    lead = next(lead for lead in leads if str(lead.get("ORIGIN_ID")) in repeat)  # ORIGIN_ID = negotiation id
    await page.locator(f'a[href="/portal/demo/crm/1/{lead["ID"]}/"]').click()
    activity = page.locator("article.tl-item").filter(has=page.get_by_role("button", name="Другие отклики")).first
    await expect(activity).to_be_visible()
    await shot("07_crm_lead_card")

    # --- «Другие отклики»: openRestApp → the app in a slider listing this applicant's responses
    await activity.get_by_role("button", name="Другие отклики").click()
    slider = page.frame_locator("iframe.b24-slider-frame")
    await expect(slider.get_by_role("heading", name="Другие отклики соискателя")).to_be_visible()
    pageinfo = slider.locator("#pageinfo")
    await expect(pageinfo).to_contain_text("Страница 1 из")
    total = int(re.search(r"всего (\d+)", await pageinfo.inner_text()).group(1))  # type: ignore[union-attr]
    assert total == len(repeat), (total, len(repeat))
    await expect(slider.locator("#other table tbody tr")).to_have_count(min(total, 20))
    await shot("08_other_responses_slider")
    # Newest first, and the card the slider was opened from is marked (on whichever page it falls).
    dates = await slider.locator("#other table tbody tr td:nth-child(2)").all_inner_texts()
    assert dates == sorted(dates, reverse=True), dates
    marked = await slider.locator("#other tr[aria-current=true]").count()
    assert total > 20, "the repeat applicant must need a second page"  # no 20-row limit
    if total > 20:
        await slider.get_by_role("button", name="Далее").click()
        await expect(pageinfo).to_contain_text("Страница 2 из 2")
        await expect(slider.locator("#other table tbody tr")).to_have_count(total - 20)
        await expect(slider.get_by_role("button", name="Далее")).to_be_disabled()
        await shot("08_other_responses_slider_page2")
        marked += await slider.locator("#other tr[aria-current=true]").count()
    assert marked == 1, marked
    await page.get_by_role("button", name="Закрыть").click()
    await expect(page.locator("#b24-slider")).to_be_hidden()
    # A row's CRM link opens that card in the portal (BX24.openPath), not inside the app's frame.
    await activity.get_by_role("button", name="Другие отклики").click()
    first = slider.locator("#other table tbody tr a").first
    await expect(first).to_be_visible()
    target_id = (await first.inner_text()).rsplit("#", 1)[1]
    await first.click()
    await expect(page).to_have_url(re.compile(rf"/portal/demo/crm/1/{target_id}/$"))

    # --- «Обратная связь»
    await page.get_by_role("link", name="rabota.by (приложение)").click()
    await app.get_by_role("tab", name="Обратная связь").click()
    await app.get_by_label("Ваше пожелание или вопрос").fill("Проверка из браузера: всё работает.")
    await app.get_by_label("Как с вами связаться (необязательно)").fill("admin@example.by")
    await app.get_by_role("button", name="Отправить").click()
    await expect(app.locator("#fb-msg")).to_contain_text("Спасибо")
    await shot("09_feedback_sent")

    await context.close()
    assert not problems, problems
