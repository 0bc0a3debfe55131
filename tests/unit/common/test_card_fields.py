"""F18: the screening values written on the card and shown in the activity, placeholders for what is hidden."""

from __future__ import annotations

from rabota_common.card_fields import (
    APP_FIELDS,
    HIDDEN,
    NOT_GIVEN,
    UF_AGE,
    UF_COMPANY,
    UF_EXPERIENCE,
    UF_POSITION,
    UF_SKILLS,
    card_lines,
    card_values,
    months_text,
)
from rabota_common.models import CardData


def test_values_from_the_resume() -> None:
    card = CardData(city="Минск", age=31, salary=2500, salary_currency="BYR", experience_months=40,
                    last_position="Кассир", last_company="ООО Ромашка", skills=["Excel"], cover_letter="Здравствуйте",
                    source="Отклик на rabota.by")
    values = card_values(card)
    assert values[UF_AGE] == 31 and values[UF_EXPERIENCE] == 40 and values[UF_SKILLS] == ["Excel"]
    lines = dict(card_lines(card))
    assert lines["Опыт"] == "3 года 4 месяца" and lines["Зарплата"] == "2 500 BYR"
    assert lines["Последнее место"] == "Кассир — ООО Ромашка"


def test_hidden_and_missing_values_keep_placeholders() -> None:
    card = CardData(experience_months=12, last_position="Кассир", source="x", hidden=["experience"])
    values = card_values(card)
    assert values[UF_COMPANY] == HIDDEN and values[UF_POSITION] == "Кассир"
    assert values[UF_AGE] is None and values[UF_SKILLS] == [NOT_GIVEN]
    assert dict(card_lines(card))["Последнее место"] == f"Кассир — {HIDDEN}"


def test_field_names_fit_a_smart_process_prefix() -> None:
    for field in APP_FIELDS:
        assert len(field.name.replace("UF_CRM_", "UF_CRM_1234_", 1)) <= 50, field.name
    assert months_text(1) == "1 месяц" and months_text(24) == "2 года" and months_text(0) == "0 месяцев"
