"""The app's user fields on a CRM card (F18): one definition for the installer (leads, deals), the writer
(smart processes, created lazily) and the values written.

Types follow the CRM user field docs (`crm.{lead|deal}.userfield.add` / `userfieldconfig.add`): numbers are
`integer`, texts `string`, skills a multiple `string`. A value HeadHunter hides for this resume (its
`hidden_fields`) or the applicant left out keeps a placeholder in the text fields; a number field stays
empty (a number cannot hold one) and the timeline activity shows the placeholder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rabota_common.models import CardData

UF_CREATED = "UF_CRM_RABOTABY_CREATED_AT"
UF_STATUS = "UF_CRM_RABOTABY_STATUS"
UF_VACANCY = "UF_CRM_RABOTABY_VACANCIES"
UF_RESUME = "UF_CRM_RABOTABY_RESUME"
UF_CITY = "UF_CRM_RABOTABY_CITY"
UF_AGE = "UF_CRM_RABOTABY_AGE"
UF_SALARY = "UF_CRM_RABOTABY_SALARY"
UF_EXPERIENCE = "UF_CRM_RABOTABY_EXPERIENCE"
UF_POSITION = "UF_CRM_RABOTABY_LAST_POSITION"
UF_COMPANY = "UF_CRM_RABOTABY_LAST_COMPANY"
UF_SKILLS = "UF_CRM_RABOTABY_SKILLS"
UF_COVER = "UF_CRM_RABOTABY_COVER_LETTER"
UF_SOURCE = "UF_CRM_RABOTABY_SOURCE"

HIDDEN = "скрыто соискателем"
NOT_GIVEN = "не указано"
# The lead source the installer creates (`crm.status.add`, ENTITY_ID SOURCE) and every entity is written with.
SOURCE_STATUS_ID = "RABOTABY"
SOURCE_NAME = "rabota.by"
# The kanban badge of a new response: registered at install (`crm.activity.badge.add`), set on the activity,
# shown until the activity is completed (a recruiter opened the response from the card).
BADGE_CODE = "rabotabyNewResponse"
BADGE = {"code": BADGE_CODE, "title": {"ru": "rabota.by", "en": "rabota.by"},
         "value": {"ru": "Новый отклик", "en": "New response"}, "type": "primary"}


@dataclass(frozen=True)
class AppField:
    name: str  # UF_CRM_RABOTABY_…; a smart process's is UF_CRM_{type id}_RABOTABY_…
    user_type: str
    label: str
    multiple: bool = False


APP_FIELDS: tuple[AppField, ...] = (
    AppField(UF_CREATED, "string", "Дата создания rabota.by"),
    AppField(UF_STATUS, "string", "Статус rabota.by"),
    AppField(UF_VACANCY, "string", "Вакансия rabota.by"),
    AppField(UF_RESUME, "file", "Резюме rabota.by"),
    AppField(UF_CITY, "string", "Город (rabota.by)"),
    AppField(UF_AGE, "integer", "Возраст (rabota.by)"),
    AppField(UF_SALARY, "integer", "Желаемая зарплата (rabota.by)"),
    AppField(UF_EXPERIENCE, "integer", "Опыт работы, месяцев (rabota.by)"),
    AppField(UF_POSITION, "string", "Последняя должность (rabota.by)"),
    AppField(UF_COMPANY, "string", "Последнее место работы (rabota.by)"),
    AppField(UF_SKILLS, "string", "Ключевые навыки (rabota.by)", multiple=True),
    AppField(UF_COVER, "string", "Сопроводительное письмо (rabota.by)"),
    AppField(UF_SOURCE, "string", "Источник отклика (rabota.by)"),
)


def _text(value: str | None, hidden: bool) -> str:
    return value if value else (HIDDEN if hidden else NOT_GIVEN)


def card_values(card: CardData) -> dict[str, Any]:
    """UF name -> value of the screening fields (numbers None when unknown: the field is left empty)."""
    hidden = set(card.hidden)
    experience_hidden = "experience" in hidden
    return {
        UF_CITY: _text(card.city, False),
        UF_AGE: card.age,
        UF_SALARY: card.salary,
        UF_EXPERIENCE: card.experience_months,
        UF_POSITION: _text(card.last_position, experience_hidden),
        UF_COMPANY: _text(card.last_company, experience_hidden),
        UF_SKILLS: list(card.skills) if card.skills else [NOT_GIVEN],
        UF_COVER: _text(card.cover_letter, False),
        UF_SOURCE: card.source,
    }


def months_text(months: int) -> str:
    years, rest = divmod(months, 12)
    parts = []
    if years:
        parts.append(f"{years} {_plural(years, 'год', 'года', 'лет')}")
    if rest or not years:
        parts.append(f"{rest} {_plural(rest, 'месяц', 'месяца', 'месяцев')}")
    return " ".join(parts)


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def card_lines(card: CardData) -> list[tuple[str, str]]:
    """(title, text) of each screening value, in the order the activity shows them."""
    hidden = set(card.hidden)
    exp_hidden = "experience" in hidden
    salary = f"{card.salary:,} {card.salary_currency or ''}".replace(",", " ").strip() if card.salary else NOT_GIVEN
    experience = months_text(card.experience_months) if card.experience_months is not None else (
        HIDDEN if exp_hidden else NOT_GIVEN)
    company = card.last_company or (HIDDEN if exp_hidden else None)
    last_job = " — ".join(p for p in (card.last_position, company) if p) or NOT_GIVEN
    return [
        ("Возраст", str(card.age) if card.age is not None else NOT_GIVEN),
        ("Зарплата", salary),
        ("Опыт", experience),
        ("Последнее место", last_job),
        ("Навыки", ", ".join(card.skills) if card.skills else NOT_GIVEN),
        ("Письмо", _text(card.cover_letter, False)),
        ("Источник", card.source),
    ]
