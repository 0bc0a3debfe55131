"""Deterministic seed data of the emulated employer, with indexes for O(1) lookups.

Negotiations are small slotted objects; resume details (names, contacts, experience) are derived
from the resume index and the seed on demand, so 100 000 negotiations seed in about a second.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .config import EMPLOYER_ID

MINSK_TZ = timezone(timedelta(hours=3))

EMPLOYER_STATES: list[tuple[str, str]] = [
    ("response", "Отклик"),
    ("consider", "Подумать"),
    ("phone_interview", "Телефонное интервью"),
    ("assessment", "Оценка"),
    ("interview", "Собеседование"),
    ("offer", "Предложение о работе"),
    ("hired", "Выход на работу"),
    ("discard_by_employer", "Отказ"),
    ("discard_by_applicant", "Кандидат отказался"),
    ("discard_no_interaction", "Не вышел на связь"),
]
EMPLOYER_STATE_IDS = [s for s, _ in EMPLOYER_STATES]
# A discard sub-state only a closed (archived) vacancy offers (api-changes H9, hh-api.md §3 "seen in integrations"):
# not seeded, its collection listed once it holds someone.
VACANCY_CLOSED_STATE = "discard_vacancy_closed"
EMPLOYER_STATE_NAMES = dict(EMPLOYER_STATES) | {VACANCY_CLOSED_STATE: "Вакансия закрыта"}

# The employer's templates of replies to applicants (get-mail-templates: `id, name, text, type, employer_state,
# variables, template_modified, editable`); `{{...}}` variables are filled per negotiation by
# GET /message_templates/{template}?topic_id=.
TEMPLATE_VARIABLES = [{"id": "applicant_first_name", "name": "Имя соискателя"},
                      {"id": "vacancy_name", "name": "Название вакансии"},
                      {"id": "company_name", "name": "Название компании"}]
DEFAULT_MAIL_TEMPLATES: dict[str, tuple[str, str | None, str]] = {
    "invite": ("Приглашение", None,
               "{{applicant_first_name}}, добрый день! Приглашаем вас рассмотреть вакансию «{{vacancy_name}}»."),
    "invite_after_response": ("Приглашение после отклика", "interview",
                              "{{applicant_first_name}}, спасибо за отклик на вакансию «{{vacancy_name}}»! "
                              "Приглашаем вас на собеседование."),
    "discard_after_response": ("Отказ после отклика", "discard_by_employer",
                               "{{applicant_first_name}}, спасибо за отклик на вакансию «{{vacancy_name}}». "
                               "К сожалению, сейчас мы не готовы пригласить вас."),
    "discard_after_interview": ("Отказ после собеседования", "discard_by_employer",
                                "{{applicant_first_name}}, спасибо за время, уделённое собеседованию. "
                                "К сожалению, мы выбрали другого кандидата."),
}
STATE_NAMES = {"response": "Отклик", "invitation": "Приглашение", "discard": "Отказ", "hidden": "Скрыт"}
# Live mode moves negotiations along this funnel.
NEXT_STATES: dict[str, list[str]] = {
    "response": ["consider", "phone_interview", "discard_by_employer"],
    "consider": ["phone_interview", "interview", "discard_by_employer"],
    "phone_interview": ["assessment", "interview", "discard_no_interaction"],
    "assessment": ["interview", "discard_by_employer"],
    "interview": ["offer", "discard_by_applicant", "discard_by_employer"],
    "offer": ["hired", "discard_by_applicant"],
}

HIDDEN_FIELD_NAMES = {
    "names_and_photo": "ФИО и фотография",
    "phones": "Все телефоны",
    "email": "Электронная почта",
    "other_contacts": "Другие контакты",
    "experience": "Места работы",
}
RESUME_VARIANTS = ("normal", "hidden", "deleted")

AREAS = [("1002", "Минск"), ("1003", "Гомель"), ("1007", "Брест"), ("1006", "Гродно"), ("1005", "Витебск")]
TITLES = [
    "Python-разработчик",
    "Менеджер по продажам",
    "Бухгалтер",
    "Водитель-экспедитор",
    "Оператор call-центра",
    "Кладовщик",
    "Маркетолог",
    "Инженер-технолог",
    "Продавец-консультант",
    "HR-менеджер",
    "Тестировщик ПО",
    "Юрист",
]
MALE = (
    ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Иван", "Павел", "Артём", "Николай"],
    ["Иванов", "Ковалёв", "Новиков", "Козлов", "Мельников", "Климович", "Жук", "Бондаренко", "Шевчук"],
    ["Александрович", "Сергеевич", "Иванович", "Петрович", "Андреевич", "Николаевич"],
)
FEMALE = (
    ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Юлия", "Дарья", "Алина", "Виктория"],
    ["Иванова", "Ковалёва", "Новикова", "Козлова", "Мельникова", "Климович", "Жук", "Бондаренко", "Шевчук"],
    ["Александровна", "Сергеевна", "Ивановна", "Петровна", "Андреевна", "Николаевна"],
)
COMPANIES = ["ООО «Белтехсофт»", "ОАО «Минский завод»", "ИП Петров", "ЗАО «Евроторг»", "ООО «Логистик+»"]
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "",
            "y",
            "",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)


def translit(text: str) -> str:
    out = []
    for ch in text:
        low = ch.lower()
        if low in _TRANSLIT:
            t = _TRANSLIT[low]
            out.append(t.capitalize() if ch != low and t else t)
        else:
            out.append(ch)
    return "".join(out)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, MINSK_TZ).strftime("%Y-%m-%dT%H:%M:%S%z")


def applicant_state(employer_state: str) -> str:
    if employer_state.startswith("discard"):
        return "discard"
    if employer_state == "response":
        return "response"
    return "invitation"


@dataclass(slots=True)
class Manager:
    id: str
    first_name: str
    last_name: str
    middle_name: str
    email: str
    position: str
    phone_number: str
    is_admin: bool
    login: str | None = None
    user_id: str | None = None


@dataclass(slots=True)
class User:
    login: str
    user_id: str
    first_name: str
    last_name: str
    middle_name: str
    manager_id: str | None
    is_admin: bool

    @property
    def is_employer(self) -> bool:
        return self.manager_id is not None


@dataclass(slots=True)
class Vacancy:
    id: str
    index: int
    name: str
    manager_id: str
    active: bool
    created_at: float
    area_id: str
    area_name: str


@dataclass(slots=True)
class Resume:
    id: str
    index: int
    variant: str  # normal | hidden | deleted
    hidden_fields: tuple[str, ...] = ()
    names: tuple[str, str, str] | None = None  # (first, last, middle) set by a test, else generated


@dataclass(slots=True)
class Negotiation:
    id: str
    vacancy_id: str
    resume_id: str
    kind: str  # response | invitation
    employer_state: str
    created_at: float
    updated_at: float
    has_updates: bool = True
    viewed: bool = False
    source: str = "NEGOTIATION"  # the `source` enum (api-changes H8)


# The `source` values of the spec (NEGOTIATION, PHONE_CALL, CHAT, VR, AUTO_INVITE, APPLICANT_QUESTIONS,
# AUTO_RESPONSE, AUTO_RESPONSE_HH_PRO, CLICKME_CPA, REGISTRATION) the emulator can give a negotiation.
SOURCES = (
    "NEGOTIATION", "PHONE_CALL", "CHAT", "VR", "AUTO_INVITE", "APPLICANT_QUESTIONS", "AUTO_RESPONSE",
    "AUTO_RESPONSE_HH_PRO", "CLICKME_CPA", "REGISTRATION",
)
INVITATION_SOURCES = ("NEGOTIATION", "AUTO_INVITE", "CHAT", "VR")
RESPONSE_SOURCES = ("NEGOTIATION", "PHONE_CALL", "CHAT", "APPLICANT_QUESTIONS", "AUTO_RESPONSE", "AUTO_RESPONSE_HH_PRO",
                    "CLICKME_CPA", "REGISTRATION")


def default_source(kind: str, nid: str) -> str:
    """A seeded negotiation's source, from its id (no draw from the seed's random stream): every fourth
    invitation made by HeadHunter's auto-invite bot, every sixth response an auto-response."""
    n = int(nid)
    if kind == "invitation":
        return "AUTO_INVITE" if n % 4 == 1 else "NEGOTIATION"
    if n % 6 == 1:
        return "AUTO_RESPONSE" if n % 12 == 1 else "AUTO_RESPONSE_HH_PRO"
    return "NEGOTIATION"


def chat_head(neg: Negotiation) -> list[tuple[str, str, str]]:
    """The first messages of the negotiation's chat as (type, role, text): an invitation opens with the
    employer's message (a bot's for an auto-invite), a response with the applicant's letter; every fifth
    response has none (a response without a letter: an empty chat)."""
    if neg.kind == "invitation":
        if neg.source == "AUTO_INVITE":
            return [("SIMPLE", "BOT", "Вас пригласили на вакансию по результатам автоподбора.")]
        return [("PARTICIPANT_JOINED", "EMPLOYER", ""),
                ("SIMPLE", "EMPLOYER", "Здравствуйте! Приглашаем вас на собеседование.")]
    if int(neg.id) % 5 == 0:
        return []
    return [("SIMPLE", "APPLICANT", "Здравствуйте! Прошу рассмотреть мою кандидатуру.")]


@dataclass(slots=True)
class ResumeDetails:
    gender: str
    first_name: str
    last_name: str
    middle_name: str
    age: int
    birth_date: str
    title: str
    area_id: str
    area_name: str
    salary: int
    phone_city: str
    phone_number: str
    email: str
    work_phone: bool
    experience_months: int
    companies: list[str]
    owner_id: str

    @property
    def phone_formatted(self) -> str:
        n = self.phone_number
        return f"+375 ({self.phone_city}) {n[:3]}-{n[3:5]}-{n[5:]}"


MANAGERS_SEED = [
    # id, first, last, middle, email, position, is_admin, login, user_id
    (
        "2001",
        "Анна",
        "Ковалёва",
        "Сергеевна",
        "admin@sandbox.by",
        "Руководитель HR",
        True,
        "admin@sandbox.by",
        "3001",
    ),
    (
        "2002",
        "Игорь",
        "Лукашевич",
        "Петрович",
        "manager@sandbox.by",
        "Рекрутер",
        False,
        "manager@sandbox.by",
        "3002",
    ),
    ("2003", "Ольга", "Сидоренко", "Ивановна", "olga@sandbox.by", "Рекрутер", False, None, None),
    ("2004", "Павел", "Громыко", "Андреевич", "pavel@sandbox.by", "Менеджер по персоналу", False, None, None),
]
VACANCY_OWNERS = ["2001", "2002", "2003"]
REPEAT_RESPONSES = 25


@dataclass
class Store:
    seed: int
    now: float
    employer: dict[str, str] = field(default_factory=dict)
    managers: dict[str, Manager] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)  # by login
    users_by_id: dict[str, User] = field(default_factory=dict)
    vacancies: dict[str, Vacancy] = field(default_factory=dict)
    resumes: dict[str, Resume] = field(default_factory=dict)
    negotiations: dict[str, Negotiation] = field(default_factory=dict)
    nid_list: list[str] = field(default_factory=list)
    # vacancy id -> employer state -> ordered set of negotiation ids
    by_vacancy: dict[str, dict[str, dict[str, None]]] = field(default_factory=dict)
    by_resume: dict[str, list[str]] = field(default_factory=dict)
    # The messages employer actions carried (`message` of change-negotiation-action) by negotiation id.
    action_messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The employer's reply templates, editable (PUT /employers/{id}/mail_templates/{template_id}): id → text.
    mail_templates: dict[str, str] = field(default_factory=lambda: {k: v[2] for k, v in DEFAULT_MAIL_TEMPLATES.items()})
    pairs: set[tuple[str, str]] = field(default_factory=set)
    next_nid: int = 1_000_000_001
    next_resume_index: int = 0
    repeat_resume_id: str = ""

    # -- construction -------------------------------------------------------------------------------
    def new_resume(self, variant: str = "normal", hidden_fields: tuple[str, ...] = (),
                   names: tuple[str, str, str] | None = None) -> Resume:
        index = self.next_resume_index
        self.next_resume_index += 1
        rid = hashlib.sha1(f"{self.seed}:resume:{index}".encode()).hexdigest()[:38]
        if variant == "hidden" and not hidden_fields:
            hidden_fields = ("names_and_photo", "phones", "email")
        resume = Resume(rid, index, variant, hidden_fields if variant == "hidden" else (), names)
        self.resumes[rid] = resume
        self.by_resume[rid] = []
        return resume

    def add_negotiation(
        self,
        vacancy_id: str,
        resume_id: str,
        kind: str,
        employer_state: str,
        created_at: float,
        updated_at: float | None = None,
        source: str | None = None,
    ) -> Negotiation:
        nid = str(self.next_nid)
        self.next_nid += 1
        neg = Negotiation(
            nid,
            vacancy_id,
            resume_id,
            kind,
            employer_state,
            created_at,
            updated_at if updated_at is not None else created_at,
            source=source or default_source(kind, nid),
        )
        self.negotiations[nid] = neg
        self.nid_list.append(nid)
        self.by_vacancy[vacancy_id][employer_state][nid] = None
        self.by_resume[resume_id].append(nid)
        self.pairs.add((vacancy_id, resume_id))
        return neg

    def move(self, neg: Negotiation, new_state: str, at: float) -> str:
        old = neg.employer_state
        cols = self.by_vacancy[neg.vacancy_id]
        cols.get(old, {}).pop(neg.id, None)
        cols.setdefault(new_state, {})[neg.id] = None
        neg.employer_state = new_state
        neg.updated_at = at
        neg.has_updates = True
        return old

    # -- queries ------------------------------------------------------------------------------------
    def user_can_see_vacancy(self, user: User, vacancy: Vacancy) -> bool:
        return user.is_employer and (user.is_admin or vacancy.manager_id == user.manager_id)

    def collection_ids(self, vacancy_id: str, state: str) -> list[str]:
        ids = self.by_vacancy[vacancy_id].get(state, {})
        negs = self.negotiations
        return sorted(ids, key=lambda i: (negs[i].updated_at, i), reverse=True)

    def details(self, resume: Resume) -> ResumeDetails:
        rng = random.Random(f"{self.seed}:details:{resume.index}")
        female = rng.random() < 0.5
        firsts, lasts, middles = FEMALE if female else MALE
        first, last, middle = rng.choice(firsts), rng.choice(lasts), rng.choice(middles)
        if resume.names is not None:
            first, last, middle = resume.names
        age = rng.randint(19, 58)
        born = datetime(2025 - age, rng.randint(1, 12), rng.randint(1, 28))
        area_id, area_name = AREAS[rng.randrange(len(AREAS))] if rng.random() < 0.4 else AREAS[0]
        months = rng.randint(0, (age - 18) * 12)
        n_companies = min(3, months // 18 + (1 if months else 0))
        return ResumeDetails(
            gender="female" if female else "male",
            first_name=first,
            last_name=last,
            middle_name=middle,
            age=age,
            birth_date=born.strftime("%Y-%m-%d"),
            title=rng.choice(TITLES),
            area_id=area_id,
            area_name=area_name,
            salary=rng.randrange(800, 6000, 100),
            phone_city=rng.choice(["29", "33", "44", "25"]),
            phone_number=f"{rng.randrange(10**6, 10**7)}",
            email=(f"{translit(first).lower()}.{translit(last).lower()}{resume.index}@mail.test" if resume.names is None
                   else f"applicant{resume.index}@mail.test"),
            work_phone=resume.index % 4 == 1,
            experience_months=months,
            companies=[rng.choice(COMPANIES) for _ in range(n_companies)],
            owner_id=str(50_000_000 + resume.index),
        )

    def stats_vacancy(self, vacancy_id: str) -> dict[str, int]:
        responses = invitations = unread = in_progress = 0
        negs = self.negotiations
        for state, ids in self.by_vacancy[vacancy_id].items():
            for nid in ids:
                n = negs[nid]
                if n.kind == "response":
                    responses += 1
                    if state == "response" and not n.viewed:
                        unread += 1
                else:
                    invitations += 1
                if not state.startswith("discard") and state not in ("response", "hired"):
                    in_progress += 1
        return {
            "responses": responses,
            "invitations": invitations,
            "unread_responses": unread,
            "resumes_in_progress": in_progress,
        }


# -------------------------------------------------------------------------------------------------
# generation

_STATE_WEIGHTS = [40, 10, 6, 4, 8, 3, 2, 15, 6, 6]
_FORCED_VARIANTS: list[tuple[str, tuple[str, ...]]] = [
    ("normal", ()),
    ("hidden", ("names_and_photo", "phones", "email")),
    ("normal", ()),
    ("hidden", ("names_and_photo",)),
    ("deleted", ()),
    ("hidden", ("phones",)),
    ("normal", ()),
    ("hidden", ("email",)),
    ("deleted", ()),
    ("normal", ()),
]


def _plan(rng: random.Random, n_active: int) -> Iterator[tuple[int, str, str, str, tuple[str, ...]]]:
    """Yield (vacancy index, kind, employer state, resume variant, hidden fields); variant "repeat"
    means the applicant who responded to many vacancies, "reuse" an earlier applicant."""
    for i in range(min(REPEAT_RESPONSES, n_active)):
        state = EMPLOYER_STATE_IDS[i % len(EMPLOYER_STATE_IDS)] if i % 3 == 2 else "response"
        yield i, "response", state, "repeat", ()
    for vi in (0, 1):
        for j, state in enumerate(EMPLOYER_STATE_IDS):
            kind = "invitation" if state != "response" and j % 2 == 1 else "response"
            variant, hidden = _FORCED_VARIANTS[j] if vi == 0 else _FORCED_VARIANTS[(j + 3) % 10]
            yield vi, kind, state, variant, hidden
    # the same applicants answering the first two vacancies as well (dedupe across vacancies)
    for vi in range(2, min(5, n_active)):
        yield vi, "response", "response", "reuse", ()
    while True:
        vi = rng.randrange(3) if rng.random() < 0.3 else rng.randrange(n_active)
        state = rng.choices(EMPLOYER_STATE_IDS, _STATE_WEIGHTS)[0]
        kind = "invitation" if state != "response" and rng.random() < 0.3 else "response"
        r = rng.random()
        if r < 0.1:
            yield vi, kind, state, "reuse", ()
        elif r < 0.15:
            yield vi, kind, state, "deleted", ()
        elif r < 0.23:
            hidden = tuple(f for f in ("names_and_photo", "phones", "email") if rng.random() < 0.6)
            yield vi, kind, state, "hidden", hidden or ("names_and_photo",)
        else:
            yield vi, kind, state, "normal", ()


def generate(total: int, seed: int, now: float) -> Store:
    rng = random.Random(seed)
    store = Store(seed=seed, now=now)
    store.employer = {"id": EMPLOYER_ID, "name": "ООО «Песочница»"}
    for mid, first, last, middle, email, position, is_admin, login, uid in MANAGERS_SEED:
        phone = f"{rng.randrange(10**6, 10**7)}"
        store.managers[mid] = Manager(mid, first, last, middle, email, position, phone, is_admin, login, uid)
        if login and uid:
            user = User(login, uid, first, last, middle, mid, is_admin)
            store.users[login] = user
            store.users_by_id[uid] = user
    applicant = User("applicant@sandbox.by", "3100", "Пётр", "Соискателев", "Иванович", None, False)
    store.users[applicant.login] = applicant
    store.users_by_id[applicant.user_id] = applicant

    n_active = max(REPEAT_RESPONSES + 5, min(200, total // 500))
    day = 86_400.0
    for i in range(n_active + 1):
        vid = str(90_000_001 + i)
        title = TITLES[i % len(TITLES)]
        round_ = i // len(TITLES)
        name = title if round_ == 0 else f"{title} ({round_ + 1})"
        area_id, area_name = AREAS[i % len(AREAS)]
        active = i < n_active
        store.vacancies[vid] = Vacancy(
            vid,
            i,
            name,
            VACANCY_OWNERS[i % 3],
            active,
            now - day * (60 + rng.random() * 30),
            area_id,
            area_name,
        )
        store.by_vacancy[vid] = {s: {} for s in EMPLOYER_STATE_IDS}
    vids = list(store.vacancies)[:n_active]

    repeat = store.new_resume("normal")
    store.repeat_resume_id = repeat.id
    reusable: list[str] = []
    plan = _plan(rng, n_active)
    made = 0
    while made < total:
        vi, kind, state, variant, hidden = next(plan)
        vid = vids[vi]
        if variant == "repeat":
            rid = repeat.id
        elif variant == "reuse":
            rid = ""
            for _ in range(3):
                cand = reusable[rng.randrange(len(reusable))] if reusable else ""
                if cand and (vid, cand) not in store.pairs:
                    rid = cand
                    break
            if not rid:
                rid = store.new_resume("normal").id
                reusable.append(rid)
        else:
            res = store.new_resume(variant, hidden)
            rid = res.id
            if variant != "deleted" and len(reusable) < 5000:
                reusable.append(rid)
        if (vid, rid) in store.pairs:
            continue
        created = now - rng.random() * 45 * day
        updated = created if state == "response" else created + rng.random() * (now - created)
        neg = store.add_negotiation(vid, rid, kind, state, created, updated)
        neg.viewed = state != "response" or rng.random() < 0.5
        neg.has_updates = not neg.viewed or rng.random() < 0.1
        made += 1
    return store
