"""Pydantic models of every NATS message and request/reply body (DESIGN §3)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from rabota_common.hh_ids import is_message_id, is_numeric_id, is_resume_id

EntityType = Literal["lead", "deal", "smart_process"]
NegotiationSource = Literal["import", "webhook", "poll", "replay"]
SIMPLE_STATUSES = ("response", "invitation")
EXTENDED_STATUSES = (
    "response", "consider", "phone_interview", "assessment", "interview", "offer", "hired", "discard",
)
# Russian names of the applicant statuses, as the manual and the UF_CRM_RABOTABY_STATUS field show them.
STATUS_NAMES_RU = {
    "response": "Отклик",
    "invitation": "Приглашение",
    "consider": "Подумать",
    "phone_interview": "Телефонное интервью",
    "assessment": "Оценка",
    "interview": "Интервью",
    "offer": "Предложение о работе",
    "hired": "Выход на работу",
    "discard": "Отказ",
}


def _from_base64(value: Any) -> Any:
    return base64.b64decode(value, validate=True) if isinstance(value, str) else value


# Bytes that travel in a JSON message as standard base64 (one line, no newlines as pydantic's Base64Bytes has).
B64Bytes = Annotated[bytes, BeforeValidator(_from_base64),
                     PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), return_type=str, when_used="json"),
                     WithJsonSchema({"type": "string", "contentEncoding": "base64"})]
# A resume PDF up to this size travels inside its CRM command (NATS max_payload is 1 MiB, base64 adds a third);
# a larger one goes through the `resumes` object store, whose put and get cost several JetStream round trips.
INLINE_PDF_MAX = 256 * 1024


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Webhook actions about one negotiation (reference/hh-api.md §5.2–5.3): their payload names it by `topic_id`.
NEGOTIATION_ACTIONS = frozenset({
    "NEW_RESPONSE_OR_INVITATION_VACANCY", "NEW_NEGOTIATION_VACANCY", "NEGOTIATION_EMPLOYER_STATE_CHANGE"})
# Chat actions (the newer spec, F15): the payload names a chat and a message by `chat_id` and `message_id`.
CHAT_ACTIONS = frozenset({"CHAT_MESSAGE_CREATED"})
# Vacancy actions (F16): `VACANCY_ARCHIVATION` offers the bulk rejection of the vacancy's applicants; the payload
# names the vacancy by `vacancy_id` (and `archivation_date`).
VACANCY_ACTIONS = frozenset({"VACANCY_ARCHIVATION"})
HANDLED_ACTIONS = NEGOTIATION_ACTIONS | CHAT_ACTIONS | VACANCY_ACTIONS


class HhWebhookEvent(Message):
    """A verified HeadHunter callback body, as received (ids are strings). The ids of a negotiation action are
    checked against their documented forms: they become request paths and message ids, never a path walk."""

    model_config = ConfigDict(extra="allow", frozen=True)
    id: str
    subscription_id: str | None = None
    action_type: str
    user_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _message_id(cls, value: str) -> str:
        if not is_message_id(value):
            raise ValueError("неверный идентификатор уведомления")
        return value

    @field_validator("subscription_id")
    @classmethod
    def _subscription_id(cls, value: str | None) -> str | None:
        if value is not None and not is_message_id(value):
            raise ValueError("неверный идентификатор подписки")
        return value

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        if value is not None and not is_numeric_id(value):
            raise ValueError("идентификатор пользователя — не число")
        return value

    @model_validator(mode="after")
    def _negotiation_payload(self) -> HhWebhookEvent:
        if self.action_type not in HANDLED_ACTIONS:
            return self
        if self.subscription_id is None or self.user_id is None:
            raise ValueError("нет subscription_id или user_id")
        if self.action_type in VACANCY_ACTIONS:
            if not is_numeric_id(self.payload.get("vacancy_id")):
                raise ValueError("payload.vacancy_id: нужен числовой идентификатор вакансии")
            return self
        if self.action_type in CHAT_ACTIONS:
            if not is_numeric_id(self.payload.get("chat_id")) or not is_numeric_id(self.payload.get("message_id")):
                raise ValueError("payload.chat_id и payload.message_id: нужны числовые идентификаторы")
            return self
        if not is_numeric_id(self.payload.get("topic_id")):
            raise ValueError("payload.topic_id: нужен числовой идентификатор отклика")
        vacancy_id = self.payload.get("vacancy_id")
        if vacancy_id is not None and not is_numeric_id(vacancy_id):
            raise ValueError("payload.vacancy_id: нужен числовой идентификатор вакансии")
        resume_id = self.payload.get("resume_id")
        if resume_id is not None and not is_resume_id(resume_id):
            raise ValueError("payload.resume_id: неверный идентификатор резюме")
        return self


class NegotiationFound(Message):
    """hh.negotiation.{portal}: one negotiation to (re)sync; the mapper fetches the rest."""

    portal: str
    negotiation_id: str
    vacancy_id: str
    vacancy_name: str | None = None
    employer_state: str | None = None
    updated_at: str | None = None
    source: NegotiationSource = "import"
    hh_source: str | None = Field(
        default=None, description="HeadHunter's `source` of the negotiation (NEGOTIATION, PHONE_CALL, CHAT, "
        "AUTO_INVITE, AUTO_RESPONSE, …, or a value added later), as listed")
    import_id: str | None = None
    item: dict[str, Any] | None = Field(
        default=None, description="the negotiation as HeadHunter listed it; spares the mapper a request")


class ContactData(Message):
    name: str
    last_name: str | None = None
    second_name: str | None = None
    phone: str | None = None
    email: str | None = None
    city: str | None = None
    phones: list[str] = Field(default_factory=list, description="every phone of the resume (the first is `phone`): "
                              "looked up in the CRM before a contact or lead is created (F17)")
    emails: list[str] = Field(default_factory=list, description="every e-mail of the resume")


class CardData(Message):
    """What recruiters screen by (F18), from the resume and the response; None: not given or hidden."""

    city: str | None = None
    age: int | None = None
    salary: int | None = None
    salary_currency: str | None = None
    experience_months: int | None = None
    last_position: str | None = None
    last_company: str | None = None
    skills: list[str] = Field(default_factory=list)
    cover_letter: str | None = None
    source: str = Field(description="the response's source as the card shows it, bot-made ones marked")
    hidden: list[str] = Field(default_factory=list, description="the resume's hidden_fields ids")


class ActivityContent(Message):
    title: str
    vacancy: str
    full_name: str
    city: str | None = None
    phone: str | None = None
    email: str | None = None
    resume_url: str | None = None
    applicant_key: str


class CrmCommand(Message):
    """crm.command.{portal}: everything the writer needs, no further HeadHunter call required."""

    portal: str
    negotiation_id: str
    vacancy_id: str
    import_id: str | None = None
    kind: Literal["response", "invitation"] = Field(
        description="response or invitation, as first decided for the negotiation (kept in the ledger, never flips)")
    hh_status: str
    hh_source: str | None = Field(
        default=None, description="HeadHunter's `source` of the negotiation, any value it sends (unknown ones kept)")
    by_hh_bot: bool = Field(
        default=False, description="made by one of HeadHunter's bots (`AUTO_*` source): for the card to show")
    entity_type: EntityType
    entity_type_id: int = Field(description="Bitrix24 entityTypeId: 1 lead, 2 deal, SPA id")
    category_id: int | None = None
    stage_id: str | None = None
    responsible_id: int
    title: str
    contact: ContactData
    comments: str
    created_date: str = Field(description="DD-MM-YYYY, as UF_CRM_RABOTABY_CREATED_AT shows it")
    status_name: str
    vacancy_name: str
    applicant_key: str = Field(description="resume id, or negotiation id when the resume is gone")
    resume_object: str | None = Field(default=None, description="key in the `resumes` object store")
    resume_pdf: B64Bytes | None = Field(
        default=None, description="the resume PDF itself, base64, when at most 256 KiB (then no resume_object)")
    resume_filename: str | None = None
    activity: ActivityContent
    card: CardData | None = Field(default=None, description="screening fields (None: a command from before F18)")
    link_existing: bool = Field(
        default=True, description="a contact already in the CRM with the applicant's phone or e-mail is linked "
        "instead of creating one (settings `existing_contacts`: link)")
    state_only: bool = Field(default=False, description="status change of an entity that exists")
    updated_at: str | None = Field(
        default=None, description="HeadHunter's updated_at of the negotiation as this command saw it: a command "
        "older than the one last written never moves the entity back to an earlier status")


class CrmResult(Message):
    portal: str
    negotiation_id: str
    import_id: str | None = None
    ok: bool
    entity_type: EntityType | None = None
    entity_id: int | None = None
    created: bool = False
    reason: str | None = None


class AppEvent(Message):
    model_config = ConfigDict(extra="forbid", frozen=True)
    portal: str
    event: str
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=datetime.now)


class DeadLetter(Message):
    stage: str
    subject: str
    reason: str
    deliveries: int
    data: dict[str, Any] = Field(default_factory=dict,
                                 description="the original message in clear: only in letters from before `sealed`")
    sealed: str = Field(default="", description="the original message, JSON encrypted with the personal-data key "
                                                "(python -m rabota_common.dlq show reads it)")


# Token broker request/reply bodies.
class TokenRequest(Message):
    portal: str
    stale_token: str | None = Field(
        default=None, description="the access token that failed; refresh only if it is still current"
    )


class B24Token(Message):
    ok: bool
    access_token: str | None = None
    client_endpoint: str | None = None
    error: str | None = None


class HhToken(Message):
    ok: bool
    access_token: str | None = None
    employer_id: str | None = None
    manager_id: str | None = None
    is_admin: bool = False
    error: str | None = None


class HhConnectRequest(Message):
    portal: str
    code: str


class HhConnectReply(Message):
    ok: bool
    error: str | None = None
    message: str | None = None
    employer_name: str | None = None
    manager_name: str | None = None


class NewResponsesReply(Message):
    """poller.new_responses reply: responses HeadHunter has that the CRM lacks."""

    ok: bool
    count: int = 0
    error: str | None = None


# -- acting on applicants from the CRM card (F16): ui → poller request/reply on poller.actions ---------------
ACTION_MESSAGE_MAX = 10_000  # HeadHunter's change-negotiation-action refuses a longer message (too_long_message)


class NegotiationActionRequest(Message):
    """`list`: the negotiation's own HeadHunter actions with their prefilled message texts; `perform`: one of them
    (idempotent: an action the app already took answers `already`), with the message as edited; `templates`: the
    employer's reply templates."""

    portal: str
    negotiation_id: str = Field(default="", pattern=r"^\d{0,20}$")
    op: Literal["list", "perform", "templates"]
    action_id: str = Field(default="", max_length=64, pattern=r"^[a-z_]{0,64}$")
    message: str | None = Field(default=None, max_length=ACTION_MESSAGE_MAX)
    # No message given: the text of this template of the action, filled for the negotiation (a bulk rejection).
    template_id: str = Field(default="", max_length=64, pattern=r"^[a-z0-9_]{0,64}$")
    user_id: int = 0


class ReplyTemplate(Message):
    """A reply template: the employer's (`/employers/{id}/mail_templates`, `employer_state` its status) or one an
    action offers, its text filled for the negotiation (`/message_templates/{template}?topic_id=`)."""

    id: str
    name: str
    text: str = ""
    employer_state: str | None = None


class CardAction(Message):
    """One of the negotiation's own HeadHunter actions, as the card's dialog offers it."""

    id: str
    name: str
    kind: Literal["invite", "discard", "move"]
    resulting_state: str
    message: bool = Field(description="the action takes a message to the applicant")
    message_required: bool = False
    text: str = Field(default="", description="the message prefilled from the action's first template")
    templates: list[ReplyTemplate] = []  # pydantic copies the default per instance


class NegotiationActionReply(Message):
    ok: bool
    error: str | None = None
    message: str | None = None
    state: str | None = None
    state_name: str | None = None
    already: bool = False
    actions: list[CardAction] = Field(default_factory=list)
    templates: list[ReplyTemplate] = Field(default_factory=list)
