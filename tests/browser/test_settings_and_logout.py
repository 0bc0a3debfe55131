"""The settings form in a real browser: deal mode with a pipeline choice, smart-process mode, the extended
stage table with the portal's real stage names; «Выйти» disables the other tabs; a forged frame gets a
clear Russian error page. Screenshots at 800 and 1200 px go to test-artifacts/screenshots/."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Driver

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.stack_env({"HH_SANDBOX_NEGOTIATIONS": "6", "HH_RATE": "60", "HH_BURST": "20"})]

EXTENDED_RU = ["Отклики", "Подумать", "Телефонное интервью", "Оценка", "Интервью", "Предложение о работе",
               "Выход на работу", "Отказ"]


async def test_settings_modes_logout_and_error_page(stack: Any, driver: Driver, browser: Any,
                                                    screenshots: Path) -> None:
    from playwright.async_api import expect

    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    options = (await driver.api("GET", "/options")).json()
    pipeline = next(c for c in options["deal_categories"] if not c["is_default"])
    spa = options["smart_processes"][0]

    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="ru-RU")
    context.set_default_timeout(20_000)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    async def shot(name: str) -> None:
        for width in (600, 800, 1200, 1400):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.evaluate("window.scrollTo(0, 0)")  # the portal's sticky header stays on top
            await page.wait_for_timeout(250)  # fitWindow resizes the iframe
            if width in (800, 1200):
                await page.screenshot(path=str(screenshots / f"{name}_{width}.png"), full_page=True)
            # Responsive from 600 to 1400 px: the app never scrolls sideways inside its frame.
            for frame in page.frames:
                if "/b24/app" in frame.url:
                    overflow = await frame.evaluate(
                        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
                    assert overflow <= 0, (name, width, overflow)

    await page.goto(f"{stack.b24_url}/portal/demo/")
    app = page.frame_locator("#b24-app-frame")
    await expect(app.get_by_role("button", name="Выйти")).to_be_visible()

    # --- deal mode: the pipeline list is the portal's, the stage table shows the chosen pipeline's stages
    await app.get_by_role("tab", name="Настройки").click()
    await expect(app.locator("#responsible-name")).not_to_have_text("не выбран")
    await app.get_by_label("Тип сущности CRM").select_option(label="Сделка")
    category = app.get_by_label("Воронка")
    await expect(category).to_be_visible()
    await expect(category.locator("option")).to_have_text([c["name"] for c in options["deal_categories"]])
    await expect(category).to_have_value(str(next(c["id"] for c in options["deal_categories"] if c["is_default"])))
    await category.select_option(label=pipeline["name"])
    stage_names = [s["name"] for s in pipeline["stages"]]
    await expect(app.locator("#stage-map select")).to_have_count(2)
    await expect(app.get_by_label("Приглашения").locator("option")).to_have_text(stage_names)

    # --- extended mode: eight statuses, each with the pipeline's stages
    await app.get_by_label("Расширенная синхронизация").check()
    await expect(app.locator("#stage-map label")).to_have_text(EXTENDED_RU)
    await expect(app.get_by_label("Телефонное интервью").locator("option")).to_have_text(stage_names)
    # Defaults follow the stages' meaning: a refusal to the failure stage, a hire to the success stage.
    failure = next(s for s in pipeline["stages"] if s["semantics"] == "F")
    success = next(s for s in pipeline["stages"] if s["semantics"] == "S")
    await expect(app.get_by_label("Отказ", exact=True)).to_have_value(failure["id"])
    await expect(app.get_by_label("Выход на работу")).to_have_value(success["id"])
    for label in EXTENDED_RU[:-2]:
        value = await app.get_by_label(label, exact=True).input_value()
        assert value not in (failure["id"], success["id"]), (label, value)
    # ... and a status whose meaning a stage's name carries goes there: «Оценка» and «Интервью» to
    # «Собеседование», not to the next stage in order («Оффер»).
    by_name = {st["name"]: st["id"] for st in pipeline["stages"]}
    assert "Собеседование" in by_name and "Оффер" in by_name, by_name
    for label in ("Оценка", "Интервью"):
        await expect(app.get_by_label(label, exact=True)).to_have_value(by_name["Собеседование"])
    await expect(app.get_by_label("Предложение о работе")).to_have_value(by_name["Оффер"])
    await shot("settings_deal_extended")

    # --- smart process mode: its types and its first pipeline
    await app.get_by_label("Тип сущности CRM").select_option(label="Смарт-процесс")
    await expect(app.get_by_label("Смарт-процесс", exact=True)).to_have_value(str(spa["id"]))
    await expect(app.get_by_label("Воронка").locator("option")).to_have_text([c["name"] for c in spa["categories"]])
    await expect(app.get_by_label("Отказ", exact=True).locator("option")).to_have_text(
        [s["name"] for s in spa["categories"][0]["stages"]])
    await shot("settings_spa_extended")

    # --- save deals in the chosen pipeline, extended mode
    await app.get_by_label("Тип сущности CRM").select_option(label="Сделка")
    await app.get_by_label("Воронка").select_option(label=pipeline["name"])
    await app.get_by_label("Отказ", exact=True).select_option(label=stage_names[-2])
    await app.get_by_role("button", name="Сохранить", exact=True).click()
    await expect(app.locator("#settings-msg")).to_contain_text("Настройки сохранены")
    saved = (await driver.api("GET", "/settings")).json()
    assert saved["entity_type"] == "deal" and saved["category_id"] == pipeline["id"] and saved["extended"] is True
    assert saved["stage_map"]["discard"] == pipeline["stages"][-2]["id"]
    assert set(saved["stage_map"].values()) <= {s["id"] for s in pipeline["stages"]}
    await expect(app.locator("#import")).to_contain_text("Сделок импортировано", timeout=60_000)
    await shot("settings_deal_saved")

    # --- «Выйти» from the settings tab's neighbour: back to the login state, the other tabs disabled
    await app.get_by_role("tab", name="Авторизация").click()
    await app.get_by_role("button", name="Выйти").click()
    # The logout asks rabota.by to drop the subscription and revoke the token at live priority, while the import
    # still uses the shared HeadHunter budget (the sandbox answers 429 past its limit): a generous deadline.
    await expect(app.get_by_role("button", name="Войти")).to_be_visible(timeout=30_000)
    await expect(app.locator("#auth-state")).to_contain_text("Войдите в учётную запись работодателя")
    await expect(app.get_by_role("tab", name="Настройки")).to_be_disabled()
    await expect(app.get_by_role("tab", name="Новые отклики")).to_be_disabled()
    await expect(app.get_by_role("tab", name="Обратная связь")).to_be_enabled()
    # Keyboard: arrows move along the enabled tabs only (Авторизация → Обратная связь → Авторизация).
    await app.get_by_role("tab", name="Авторизация").focus()
    await page.keyboard.press("ArrowRight")
    await expect(app.get_by_role("tab", name="Обратная связь")).to_be_focused()
    await expect(app.get_by_role("tab", name="Обратная связь")).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("ArrowRight")
    await expect(app.get_by_role("tab", name="Авторизация")).to_be_focused()
    await page.keyboard.press("Tab")  # from the tab list into the panel: its first control
    await expect(app.get_by_role("button", name="Войти")).to_be_focused()
    await shot("auth_logged_out")

    # --- a frame the portal does not confirm (forged AUTH_ID): a clear Russian page, no session, no trace
    frame = await driver.frame("demo", "app")
    frame["form"]["AUTH_ID"] = "forged-auth-id"
    fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}">'
                     for k, v in frame["form"].items())
    query = "&".join(f"{k}={v}" for k, v in frame["query"].items())
    await page.set_content(f'<form id="f" method="post" action="{stack.public_url}/b24/app?{query}">{fields}</form>'
                           '<script>document.getElementById("f").submit()</script>')
    await expect(page.get_by_role("heading", name="Приложение не открылось")).to_be_visible()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Не удалось подтвердить вход через Битрикс24")
    content = await page.content()
    assert "rabota-sync-session" not in content and "Traceback" not in content
    await shot("error_unverified_frame")
    await context.close()
    assert not problems, json.dumps(problems, ensure_ascii=False)
