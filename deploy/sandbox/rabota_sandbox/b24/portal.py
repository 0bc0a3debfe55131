"""State of the emulator: portals (users, pipelines, CRM data, user fields, files, activities),
OAuth tokens, knobs and request statistics."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .config import DEFAULT_KNOBS, B24SandboxConfig
from .openlines import OpenLines

LEAD, DEAL, CONTACT, COMPANY = 1, 2, 3, 4
ENTITY_NAMES = {LEAD: "LEAD", DEAL: "DEAL", CONTACT: "CONTACT", COMPANY: "COMPANY"}
SPA_ENTITY_TYPE_ID = 1032


class RestError(Exception):
    """An error answer of the REST API: `{"error", "error_description"}` with an HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400, extra: dict[str, Any] | None = None):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error, "error_description": self.description}
        out.update(self.extra)
        return out


def new_token() -> str:
    return secrets.token_hex(16) + "000071" + secrets.token_hex(4)


@dataclass
class User:
    id: int
    name: str
    last_name: str
    email: str
    admin: bool = False
    active: bool = True
    position: str = ""
    # CRM read permission of the user's role: "all" (X), "own" (A: entities assigned to them) or "none"; an admin
    # reads everything whatever the role says.
    crm_read: str = "all"

    def reads(self, rec: dict[str, Any]) -> bool:
        if self.admin or self.crm_read == "all":
            return True
        return self.crm_read == "own" and rec.get("ASSIGNED_BY_ID") == self.id

    def row(self) -> dict[str, Any]:
        return {
            "ID": str(self.id),
            "XML_ID": "",
            "ACTIVE": self.active,
            "NAME": self.name,
            "LAST_NAME": self.last_name,
            "SECOND_NAME": "",
            "EMAIL": self.email,
            "LAST_LOGIN": "2026-11-01T10:00:00+03:00",
            "DATE_REGISTER": "2026-01-01T00:00:00+03:00",
            "IS_ONLINE": "N",
            "TIME_ZONE": "Europe/Minsk",
            "TIMESTAMP_X": "2026-01-01T00:00:00+03:00",
            "PERSONAL_GENDER": "",
            "PERSONAL_PHOTO": None,
            "WORK_POSITION": self.position,
            "UF_DEPARTMENT": [1],
            "USER_TYPE": "employee",
        }


@dataclass
class AccessToken:
    token: str
    portal: str
    user_id: int
    expires_at: float
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    portal: str
    user_id: int
    expires_at: float
    used: bool = False
    revoked: bool = False


@dataclass
class StoredFile:
    id: int
    name: str
    data: bytes
    entity_type_id: int = 0
    entity_id: int = 0
    field_name: str = ""


@dataclass
class UserField:
    id: int
    entity_id: str
    field_name: str
    user_type_id: str
    multiple: bool = False
    mandatory: bool = False
    label: Any = ""
    xml_id: str = ""
    sort: int = 100
    settings: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def label_text(self) -> str:
        lab = self.label
        if isinstance(lab, dict):
            return str(lab.get("ru") or lab.get("en") or next(iter(lab.values()), "") or self.field_name)
        return str(lab or self.field_name)

    def old_row(self) -> dict[str, Any]:
        """The row of `crm.lead.userfield.list` and friends."""
        row: dict[str, Any] = {
            "ID": str(self.id),
            "ENTITY_ID": self.entity_id,
            "FIELD_NAME": self.field_name,
            "USER_TYPE_ID": self.user_type_id,
            "XML_ID": self.xml_id or None,
            "SORT": str(self.sort),
            "MULTIPLE": "Y" if self.multiple else "N",
            "MANDATORY": "Y" if self.mandatory else "N",
            "SHOW_FILTER": self.extra.get("SHOW_FILTER", "N"),
            "SHOW_IN_LIST": self.extra.get("SHOW_IN_LIST", "Y"),
            "EDIT_IN_LIST": self.extra.get("EDIT_IN_LIST", "Y"),
            "IS_SEARCHABLE": self.extra.get("IS_SEARCHABLE", "N"),
            "SETTINGS": self.settings,
            "EDIT_FORM_LABEL": self.label_text(),
            "LIST_COLUMN_LABEL": self.label_text(),
            "LIST_FILTER_LABEL": self.label_text(),
        }
        if self.user_type_id == "enumeration":
            row["LIST"] = self.items
        return row

    def config_row(self) -> dict[str, Any]:
        """The object of `userfieldconfig.add|get|list`."""
        return {
            "id": self.id,
            "entityId": self.entity_id,
            "fieldName": self.field_name,
            "userTypeId": self.user_type_id,
            "xmlId": self.xml_id or None,
            "sort": str(self.sort),
            "multiple": "Y" if self.multiple else "N",
            "mandatory": "Y" if self.mandatory else "N",
            "showFilter": self.extra.get("SHOW_FILTER", "N"),
            "showInList": self.extra.get("SHOW_IN_LIST", "Y"),
            "editInList": self.extra.get("EDIT_IN_LIST", "Y"),
            "isSearchable": self.extra.get("IS_SEARCHABLE", "N"),
            "settings": self.settings,
            "editFormLabel": self.label if isinstance(self.label, dict) else {"ru": self.label_text()},
            "enum": self.items,
        }


@dataclass
class SpaType:
    id: int
    entity_type_id: int
    title: str
    code: str = ""

    def row(self) -> dict[str, Any]:
        flags_y = ("isCategoriesEnabled", "isStagesEnabled", "isClientEnabled", "isUseInUserfieldEnabled",
                   "isBeginCloseDatesEnabled", "isObserversEnabled", "isSourceEnabled",
                   "isRecyclebinEnabled", "isAutomationEnabled", "isBizProcEnabled", "isSetOpenPermissions")
        flags_n = ("isLinkWithProductsEnabled", "isMycompanyEnabled", "isDocumentsEnabled",
                   "isPaymentsEnabled", "isCountersEnabled", "isCrmTrackingEnabled")
        row: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "code": self.code,
            "createdBy": 1,
            "entityTypeId": self.entity_type_id,
            "customSectionId": None,
            "createdTime": "2026-01-01T00:00:00+03:00",
            "updatedTime": "2026-01-01T00:00:00+03:00",
        }
        row.update({k: "Y" for k in flags_y})
        row.update({k: "N" for k in flags_n})
        return row


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests_total = 0
        self.by_method: Counter[str] = Counter()
        self.batched_commands: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.status: Counter[str] = Counter()
        self.window: deque[float] = deque()
        self.max_rate_10s = 0.0
        # The highest level the leaky bucket reached, and how often it refused (QUERY_LIMIT_EXCEEDED of
        # the real limit, apart from `injected`: the faults the knobs made up).
        self.max_bucket_level = 0.0
        self.bucket_refused = 0
        self.injected: Counter[str] = Counter()

    def hit(self, now: float) -> None:
        self.requests_total += 1
        self.window.append(now)
        while self.window and self.window[0] <= now - 10.0:
            self.window.popleft()
        rate = len(self.window) / 10.0
        if rate > self.max_rate_10s:
            self.max_rate_10s = rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests_total": self.requests_total,
            "by_method": dict(self.by_method),
            "batched_commands": dict(self.batched_commands),
            "errors": dict(self.errors),
            "status": dict(self.status),
            "max_rate_10s": self.max_rate_10s,
            "max_bucket_level": round(self.max_bucket_level, 3),
            "bucket_refused": self.bucket_refused,
            "injected": dict(self.injected),
        }


DEAL_STAGES = [
    ("NEW", "Новая", None, "process", "#39A8EF"),
    ("PREPARATION", "Подготовка документов", None, "process", "#2FC6F6"),
    ("PREPAYMENT_INVOICE", "Счёт на предоплату", None, "process", "#55D0E0"),
    ("EXECUTING", "В работе", None, "process", "#47E4C2"),
    ("FINAL_INVOICE", "Финальный счёт", None, "process", "#FFA900"),
    ("WON", "Сделка успешна", "S", "success", "#7BD500"),
    ("LOSE", "Сделка провалена", "F", "failure", "#FF5752"),
    ("APOLOGY", "Анализ причины провала", "F", "failure", "#FF5752"),
]
HIRING_STAGES = [
    ("NEW", "Отклик", None, "process", "#39A8EF"),
    ("PREPARATION", "Рассмотрение", None, "process", "#2FC6F6"),
    ("EXECUTING", "Собеседование", None, "process", "#47E4C2"),
    ("FINAL_INVOICE", "Оффер", None, "process", "#FFA900"),
    ("WON", "Принят", "S", "success", "#7BD500"),
    ("LOSE", "Отказ", "F", "failure", "#FF5752"),
]
LEAD_STATUSES = [
    ("NEW", "Не обработан", None, "process", "#39A8EF"),
    ("IN_PROCESS", "В работе", None, "process", "#2FC6F6"),
    ("PROCESSED", "Обработан", None, "process", "#FFA900"),
    ("CONVERTED", "Качественный лид", "S", "success", "#7BD500"),
    ("JUNK", "Некачественный лид", "F", "failure", "#FF5752"),
]
SPA_STAGES = [
    ("NEW", "Начало", None, "#39A8EF"),
    ("PREPARATION", "Подготовка", None, "#2FC6F6"),
    ("CLIENT", "Согласование", None, "#FFA900"),
    ("SUCCESS", "Успех", "S", "#7BD500"),
    ("FAIL", "Провал", "F", "#FF5752"),
]
SOURCES = [("CALL", "Звонок"), ("EMAIL", "Электронная почта"), ("WEB", "Веб-сайт"),
           ("ADVERTISING", "Реклама"), ("PARTNER", "Существующий клиент"), ("RECOMMENDATION", "По рекомендации"),
           ("TRADE_SHOW", "Выставка"), ("WEBFORM", "CRM-форма"), ("CALLBACK", "Обратный звонок"),
           ("RC_GENERATOR", "Генератор продаж"), ("STORE", "Интернет-магазин"), ("OTHER", "Другое")]
DEAL_TYPES = [("SALE", "Продажа"), ("COMPLEX", "Комплексная продажа"), ("GOODS", "Продажа товара"),
              ("SERVICES", "Продажа услуги"), ("SERVICE", "Сервисное обслуживание")]


class Portal:
    def __init__(self, code: str, crm_mode: int, config: B24SandboxConfig):
        self.code = code
        self.crm_mode = crm_mode
        self.member_id = hashlib.md5(f"sandbox-portal-{code}".encode()).hexdigest()
        self.domain = f"{config.host_port}/portal/{code}"
        self.client_endpoint = f"{config.public_url}/portal/{code}/rest/"
        self.app_present = False  # the app was added (a frame was opened at least once)
        self.installed = False  # installFinish done
        self.application_token: str | None = None
        self.install_user_id = 1
        self.users: dict[int, User] = {
            1: User(1, "Администратор", "Портала", "admin@sandbox.by", admin=True, position="Директор"),
            2: User(2, "Ирина", "Кадрова", "hr@sandbox.by", position="HR-менеджер"),
            3: User(3, "Пётр", "Подборов", "recruiter@sandbox.by", position="Рекрутер"),
            4: User(4, "Анна", "Менеджерова", "manager@sandbox.by", position="Менеджер"),
            5: User(5, "Сергей", "Уволенный", "fired@sandbox.by", active=False, position="Бывший сотрудник"),
        }
        self.spa_types: list[SpaType] = [SpaType(1, SPA_ENTITY_TYPE_ID, "Кандидаты", "candidates")]
        # entityTypeId -> categories
        self.categories: dict[int, list[dict[str, Any]]] = {
            DEAL: [
                {"id": 0, "name": "Общее", "sort": 100, "entityTypeId": DEAL, "isDefault": "Y",
                 "originId": "", "originatorId": ""},
                {"id": 1, "name": "Подбор", "sort": 200, "entityTypeId": DEAL, "isDefault": "N",
                 "originId": "", "originatorId": ""},
            ],
            SPA_ENTITY_TYPE_ID: [
                {"id": 10, "name": "Воронка кандидатов", "sort": 100, "entityTypeId": SPA_ENTITY_TYPE_ID,
                 "isDefault": "Y", "isSystem": "N", "code": None, "originId": "", "originatorId": ""},
                {"id": 11, "name": "Резерв", "sort": 200, "entityTypeId": SPA_ENTITY_TYPE_ID,
                 "isDefault": "N", "isSystem": "N", "code": None, "originId": "", "originatorId": ""},
            ],
        }
        self.statuses: list[dict[str, Any]] = []
        self._seed_statuses()
        self.entities: dict[int, dict[int, dict[str, Any]]] = {LEAD: {}, DEAL: {}, CONTACT: {}, COMPANY: {}}
        for t in self.spa_types:
            self.entities[t.entity_type_id] = {}
        self.next_id: Counter[str] = Counter()
        self.userfields: list[UserField] = []
        self.files: dict[int, StoredFile] = {}
        self.activities: dict[int, dict[str, Any]] = {}
        self.badges: dict[str, dict[str, Any]] = {}  # crm.activity.badge.* by code
        self.notifications: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self.event_bindings: list[dict[str, Any]] = []
        self.placements: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.knobs: dict[str, Any] = {}
        self.bucket_level = 0.0
        self.bucket_at = time.monotonic()
        self.optime: dict[str, deque[tuple[float, float]]] = {}
        self.optime_used: dict[str, float] = {}  # the sum of each method's window, kept with it
        self.stats = Stats()
        # Open Lines: the "demo" portal has two lines, the others none (a portal without Open Lines).
        self.openlines = OpenLines.seeded(with_lines=code == "demo")

    # ------------------------------------------------------------------ ids
    def new_id(self, kind: str) -> int:
        self.next_id[kind] += 1
        return self.next_id[kind]

    # ------------------------------------------------------------------ directories
    def _status_row(self, entity_id: str, status_id: str, name: str, sort: int, category: int | None,
                    semantics: str | None, extra_sem: str | None, color: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "ID": str(len(self.statuses) + 1),
            "ENTITY_ID": entity_id,
            "STATUS_ID": status_id,
            "NAME": name,
            "NAME_INIT": name,
            "SORT": str(sort),
            "SYSTEM": "Y",
            "CATEGORY_ID": None if category is None else str(category),
            "COLOR": color,
            "SEMANTICS": semantics,
        }
        if extra_sem is not None:
            row["EXTRA"] = {"SEMANTICS": extra_sem, "COLOR": color}
        return row

    def _seed_statuses(self) -> None:
        rows = self.statuses
        for i, (sid, name, sem, esem, color) in enumerate(LEAD_STATUSES):
            rows.append(self._status_row("STATUS", sid, name, (i + 1) * 10, None, sem, esem, color))
        for i, (sid, name, sem, esem, color) in enumerate(DEAL_STAGES):
            rows.append(self._status_row("DEAL_STAGE", sid, name, (i + 1) * 10, 0, sem, esem, color))
        for i, (sid, name, sem, esem, color) in enumerate(HIRING_STAGES):
            rows.append(self._status_row("DEAL_STAGE_1", f"C1:{sid}", name, (i + 1) * 10, 1, sem, esem, color))
        for t in self.spa_types:
            for cat in self.categories[t.entity_type_id]:
                cid = cat["id"]
                for i, (sid, name, sem, color) in enumerate(SPA_STAGES):
                    rows.append(self._status_row(
                        f"DYNAMIC_{t.entity_type_id}_STAGE_{cid}", f"DT{t.entity_type_id}_{cid}:{sid}",
                        name, (i + 1) * 10, cid, sem, None, color))
        for i, (sid, name) in enumerate(SOURCES):
            rows.append(self._status_row("SOURCE", sid, name, (i + 1) * 10, None, None, None, ""))
        for i, (sid, name) in enumerate(DEAL_TYPES):
            rows.append(self._status_row("DEAL_TYPE", sid, name, (i + 1) * 10, None, None, None, ""))

    def stage_entity_id(self, entity_type_id: int, category_id: int) -> str:
        if entity_type_id == LEAD:
            return "STATUS"
        if entity_type_id == DEAL:
            return "DEAL_STAGE" if category_id == 0 else f"DEAL_STAGE_{category_id}"
        return f"DYNAMIC_{entity_type_id}_STAGE_{category_id}"

    def stages(self, entity_type_id: int, category_id: int) -> list[dict[str, Any]]:
        eid = self.stage_entity_id(entity_type_id, category_id)
        return [r for r in self.statuses if r["ENTITY_ID"] == eid]

    def stage_ids(self, entity_type_id: int, category_id: int) -> list[str]:
        return [r["STATUS_ID"] for r in self.stages(entity_type_id, category_id)]

    def category_ids(self, entity_type_id: int) -> list[int]:
        return [c["id"] for c in self.categories.get(entity_type_id, [])]

    def default_category(self, entity_type_id: int) -> int:
        for c in self.categories.get(entity_type_id, []):
            if c["isDefault"] == "Y":
                return int(c["id"])
        return 0

    def spa_by_etid(self, entity_type_id: int) -> SpaType | None:
        for t in self.spa_types:
            if t.entity_type_id == entity_type_id:
                return t
        return None

    def uf_entity_id(self, entity_type_id: int) -> str | None:
        if entity_type_id in ENTITY_NAMES:
            return f"CRM_{ENTITY_NAMES[entity_type_id]}"
        t = self.spa_by_etid(entity_type_id)
        return f"CRM_{t.id}" if t else None

    def ufs_for(self, entity_type_id: int) -> list[UserField]:
        eid = self.uf_entity_id(entity_type_id)
        return [u for u in self.userfields if u.entity_id == eid]

    def uf(self, entity_type_id: int, name: str) -> UserField | None:
        for u in self.ufs_for(entity_type_id):
            if u.field_name == name:
                return u
        return None

    def entity_label(self, entity_type_id: int) -> str:
        if entity_type_id in ENTITY_NAMES:
            return ENTITY_NAMES[entity_type_id]
        return f"DYNAMIC_{entity_type_id}"

    def known_entity_type(self, entity_type_id: int) -> bool:
        return entity_type_id in self.entities

    # ------------------------------------------------------------------ knobs
    def effective_knobs(self, global_knobs: dict[str, Any]) -> dict[str, Any]:
        out = dict(DEFAULT_KNOBS)
        out.update(global_knobs)
        out.update(self.knobs)
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "member_id": self.member_id,
            "domain": self.domain,
            "client_endpoint": self.client_endpoint,
            "crm_mode": self.crm_mode,
            "installed": self.installed,
            "app_present": self.app_present,
            "application_token": self.application_token,
        }


class SandboxState:
    def __init__(self, config: B24SandboxConfig):
        self.config = config
        self.portals: dict[str, Portal] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.knobs: dict[str, Any] = dict(config.knobs)
        self.requests: deque[dict[str, Any]] = deque(maxlen=20000)
        self.reset()

    def reset(self) -> None:
        self.portals.clear()
        self.access.clear()
        self.refresh.clear()
        self.knobs = dict(self.config.knobs)
        self.requests.clear()
        self.add_portal("demo", 1)
        self.add_portal("simple", 2)

    def add_portal(self, code: str, crm_mode: int) -> Portal:
        p = Portal(code, crm_mode, self.config)
        self.portals[code] = p
        return p

    def portal_by_member(self, member_id: str) -> Portal | None:
        for p in self.portals.values():
            if p.member_id == member_id:
                return p
        return None

    def issue_tokens(self, portal: Portal, user_id: int) -> tuple[AccessToken, RefreshToken]:
        now = time.time()
        a = AccessToken(new_token(), portal.code, user_id, now + self.config.access_ttl_s)
        r = RefreshToken(new_token(), portal.code, user_id, now + self.config.refresh_ttl_s)
        self.access[a.token] = a
        self.refresh[r.token] = r
        return a, r

    def ensure_app(self, portal: Portal) -> None:
        portal.app_present = True
        if not portal.application_token:
            portal.application_token = secrets.token_hex(16)

    def revoke_portal_tokens(self, portal: Portal) -> None:
        for a in self.access.values():
            if a.portal == portal.code:
                a.revoked = True
        for r in self.refresh.values():
            if r.portal == portal.code:
                r.revoked = True

    def expire_portal_tokens(self, portal: Portal) -> int:
        n = 0
        now = time.time()
        for a in self.access.values():
            if a.portal == portal.code and a.expires_at > now:
                a.expires_at = now - 1
                n += 1
        return n
