"""Roles in a real browser (issue 14): a portal user who is not an administrator sees the app read-only, with
a note saying why; a session ended by a reinstall shows a note and a button that reopens the app, which then
works again. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Driver

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.stack_env({"HH_SANDBOX_NEGOTIATIONS": "4", "HH_RATE": "60", "HH_BURST": "20"})]

NOTE = "Изменять настройки может только администратор портала"


async def test_non_admin_sees_a_read_only_app_and_a_reinstall_asks_to_reopen(
        stack: Any, driver: Driver, browser: Any, screenshots: Path) -> None:
    from playwright.async_api import expect

    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    await driver.save_lead_settings()

    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="ru-RU")
    context.set_default_timeout(20_000)
    await context.add_init_script("localStorage.setItem('b24sbx-user', '2')")  # Ирина Кадрова, not an admin
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    await page.goto(f"{stack.b24_url}/portal/demo/")
    app = page.frame_locator("#b24-app-frame")

    await expect(app.get_by_role("note")).to_contain_text(NOTE)
    await expect(app.get_by_role("button", name="Выйти")).to_be_disabled()
    await app.get_by_role("tab", name="Настройки").click()
    await expect(app.locator("#responsible-name")).not_to_have_text("не выбран")
    await expect(app.get_by_role("button", name="Выбрать сотрудника")).to_be_disabled()
    await expect(app.get_by_label("Тип сущности CRM")).to_be_disabled()
    await expect(app.get_by_role("button", name="Сохранить", exact=True)).to_be_disabled()
    await expect(app.get_by_role("button", name="Загрузить все отклики заново")).to_be_disabled()
    await page.screenshot(path=str(screenshots / "settings_read_only_1200.png"), full_page=True)

    # A reinstall ends the session: the next call answers 401, and the page says so and offers to reopen.
    await driver.install("demo")
    await app.get_by_role("tab", name="Новые отклики").click()
    ended = app.locator("#session-ended")
    await expect(ended).to_be_visible()
    await expect(ended).to_contain_text("Сессия приложения закончилась")
    await page.screenshot(path=str(screenshots / "session_ended_1200.png"), full_page=True)
    await ended.get_by_role("button", name="Открыть приложение заново").click()
    await expect(app.get_by_role("note")).to_contain_text(NOTE)
    await expect(app.locator("#session-ended")).to_be_hidden()
    await expect(app.locator("#auth-state")).to_contain_text("Работодатель")
    await context.close()
    assert not problems, json.dumps(problems, ensure_ascii=False)
