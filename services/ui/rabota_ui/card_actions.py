"""Acting on an applicant from the CRM card (DESIGN F16): the negotiation's own HeadHunter actions and the bulk
rejection. The poller (the HeadHunter-facing service) lists and performs them on `poller.actions`; this module
checks who may act: a portal administrator, or the user responsible for the entity (its `assignedById`, asked of
the portal through the Bitrix24 gate). Others get 403 `forbidden` with a Russian message."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rabota_common import subjects
from rabota_common.bus import publish
from rabota_common.entity_ref import MAX_ID, EntityRef, type_name
from rabota_common.models import (
    ACTION_MESSAGE_MAX,
    AppEvent,
    NegotiationActionReply,
    NegotiationActionRequest,
)
from rabota_common.runtime import Runtime

from rabota_ui.api import portal_call, requested_entity
from rabota_ui.deps import RuntimeDep, Session, SessionDep
from rabota_ui.errors import ApiError, describe
from rabota_ui.ratelimit import session_limited
from rabota_ui.visibility import readable

router = APIRouter(prefix="/api", dependencies=[Depends(session_limited)])

ACTIONS_TIMEOUT_S = 60.0
BULK_MAX = 2000
NOT_OURS = "Эта сущность создана не приложением rabota.by."
NOT_ALLOWED = ("Действовать с откликом может только администратор портала или ответственный за эту карточку "
               "сотрудник.")
NOT_ALLOWED_BULK = ("Массовый отказ может отправить только администратор портала или ответственный за все "
                    "выбранные карточки сотрудник.")
# The HTTP status of each error the poller answers.
REPLY_STATUS = {"relogin_required": 409, "in_flight": 409, "action_unavailable": 409, "wrong_state": 409,
                "invalid_vacancy": 409, "empty_message": 422, "too_long_message": 422, "not_found": 404,
                "not_enough_purchased_services": 402, "hh_refused": 409}


async def ask_poller(rt: Runtime, req: NegotiationActionRequest) -> NegotiationActionReply:
    try:
        response = await rt.broker.request(req, subjects.POLLER_ACTIONS, timeout=ACTIONS_TIMEOUT_S)
    except TimeoutError as exc:
        raise ApiError(504, "hh_timeout", "rabota.by отвечает слишком долго. Попробуйте позже.") from exc
    reply = NegotiationActionReply.model_validate_json(response.body)
    if not reply.ok:
        raise ApiError(REPLY_STATUS.get(reply.error or "", 503), reply.error or "hh_unavailable",
                       reply.message or "rabota.by сейчас недоступен. Попробуйте позже.")
    return reply


async def hh_ready(rt: Runtime, portal: str) -> None:
    hh = await rt.store.get_hh(portal)
    if not hh or not hh.access_token:
        raise ApiError(409, "hh_not_connected", "Сначала войдите в аккаунт работодателя rabota.by.")
    if hh.relogin_required:
        raise ApiError(409, "relogin_required", "Нужен повторный вход в rabota.by.")


async def responsible_of(rt: Runtime, portal: str, refs: list[EntityRef]) -> dict[EntityRef, int]:
    """Each entity's responsible user (`assignedById`), asked of the portal in batches of `crm.item.get`."""
    owners: dict[EntityRef, int] = {}
    for start in range(0, len(refs), 50):
        part = refs[start:start + 50]
        cmds = {f"e{n}": ("crm.item.get", {"entityTypeId": ref.entity_type_id, "id": ref.entity_id})
                for n, ref in enumerate(part)}
        result = await portal_call(rt, portal, cmds)
        for n, ref in enumerate(part):
            item = (result.get(f"e{n}") or {}).get("item") if isinstance(result.get(f"e{n}"), dict) else None
            if isinstance(item, dict) and str(item.get("assignedById") or "").isdigit():
                owners[ref] = int(item["assignedById"])
    return owners


async def may_act(rt: Runtime, session: Session, refs: list[EntityRef]) -> bool:
    """An administrator acts on any entity; another user only on entities they are responsible for."""
    if session.is_admin:
        return True
    owners = await responsible_of(rt, session.portal, refs)
    return all(owners.get(ref) == session.user_id for ref in refs)


async def card_negotiation(rt: Runtime, session: Session, entity_type: str, entity_type_id: int | None,
                entity_id: int) -> tuple[EntityRef, str]:
    """The card's entity and the negotiation it was written for; an entity the user may not read is not ours."""
    ref = requested_entity(entity_type, entity_type_id, entity_id, await rt.store.sync_settings(portal=session.portal))
    nid = await rt.store.entity_negotiation(session.portal, ref)
    if not nid or ref not in await readable(rt, session, [ref]):
        raise ApiError(404, "not_found", NOT_OURS)
    return ref, nid


@router.get("/card-actions")
async def card_actions(rt: RuntimeDep, session: SessionDep, entity_type: str = "",
                       entity_id: int = Query(0, le=MAX_ID),
                       entity_type_id: int | None = Query(None, le=MAX_ID)) -> dict[str, Any]:
    """The negotiation's own actions on HeadHunter, each with the message text it takes (prefilled from the
    employer's templates), and the employer's templates to choose from."""
    await hh_ready(rt, session.portal)
    ref, nid = await card_negotiation(rt, session, entity_type, entity_type_id, entity_id)
    reply = await ask_poller(rt, NegotiationActionRequest(portal=session.portal, negotiation_id=nid, op="list",
                                                          user_id=session.user_id))
    return {"entity_type": type_name(ref.entity_type_id), "entity_type_id": ref.entity_type_id,
            "entity_id": ref.entity_id, "negotiation_id": nid, "state": reply.state, "state_name": reply.state_name,
            "can_act": await may_act(rt, session, [ref]),
            "actions": [a.model_dump(mode="json") for a in reply.actions],
            "templates": [t.model_dump(mode="json") for t in reply.templates]}


class CardActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entity_type: str = Field(default="", max_length=20)
    entity_type_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    entity_id: int = Field(ge=1, le=MAX_ID)
    action_id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")
    message: str | None = Field(default=None, max_length=ACTION_MESSAGE_MAX)


def validated(model: type[BaseModel], body: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", f"{what}: {describe(exc.errors())}") from exc


@router.post("/card-actions")
async def perform_card_action(body: dict[str, Any], rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    """Performs one action (idempotent: a repeat answers `already` and does nothing twice). HeadHunter moves the
    negotiation; the entity moves to the mapped stage; the timeline gets «Приглашение отправлено…»."""
    data: CardActionBody = validated(CardActionBody, body, "Действие не выполнено")
    await hh_ready(rt, session.portal)
    ref, nid = await card_negotiation(rt, session, data.entity_type, data.entity_type_id, data.entity_id)
    if not await may_act(rt, session, [ref]):
        raise ApiError(403, "forbidden", NOT_ALLOWED)
    reply = await ask_poller(rt, NegotiationActionRequest(
        portal=session.portal, negotiation_id=nid, op="perform", action_id=data.action_id, message=data.message,
        user_id=session.user_id))
    return {"ok": True, "already": reply.already, "state": reply.state, "negotiation_id": nid}


# -- bulk rejection -----------------------------------------------------------------------------------------
@router.get("/bulk-rejections")
async def bulk_offers(rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    """The bulk rejections offered (a vacancy archived on rabota.by), each with how many applicants it covers."""
    offers = await rt.store.bulk_offers(session.portal)
    templates: list[dict[str, Any]] = []
    if offers:
        await hh_ready(rt, session.portal)
        ask = NegotiationActionRequest(portal=session.portal, op="templates")
        templates = [t.model_dump(mode="json") for t in (await ask_poller(rt, ask)).templates]
    return {"templates": templates,
            "offers": [{"id": oid, "vacancy_id": o.get("vacancy_id"), "vacancy_name": o.get("vacancy_name"),
                        "count": len(o.get("negotiation_ids") or []), "reason": o.get("reason")}
                       for oid, o in sorted(offers.items())]}


class EntityName(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entity_type: str = Field(default="", max_length=20)
    entity_type_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    entity_id: int = Field(ge=1, le=MAX_ID)


class BulkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offer_id: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9-]+$")
    entities: list[EntityName] | None = Field(default=None, max_length=BULK_MAX)
    action_id: str = Field(default="discard_vacancy_closed", max_length=64, pattern=r"^discard_[a-z_]+$")
    message: str | None = Field(default=None, max_length=ACTION_MESSAGE_MAX)
    # No message: each applicant gets this template of the action, filled for them by rabota.by.
    template_id: str = Field(default="", max_length=64, pattern=r"^[a-z0-9_]{0,64}$")
    confirm: int | None = Field(default=None, ge=0)


def applicants_dative(n: int) -> str:
    """«соискателю» after 1, 21, 31…, else «соискателям» (the dative after a number)."""
    return "соискателю" if n % 10 == 1 and n % 100 != 11 else "соискателям"


async def _bulk_targets(rt: Runtime, session: Session, data: BulkBody) -> tuple[list[str], list[EntityRef]]:
    """The negotiation ids a bulk rejection covers, with their entities (for the rights check)."""
    if (data.offer_id is None) == (data.entities is None):
        raise ApiError(422, "validation_error", "Укажите либо offer_id (закрытая вакансия), либо entities.")
    nids: list[str] = []
    refs: list[EntityRef] = []
    if data.offer_id is not None:
        offer = await rt.store.bulk_offer(session.portal, data.offer_id)
        if offer is None:
            raise ApiError(404, "not_found", "Предложение массового отказа не найдено (уже выполнено или устарело).")
        nids = [str(n) for n in offer.get("negotiation_ids") or []]
        for ref_or_none in [await rt.store.ledger_ref(portal=session.portal, negotiation_id=n) for n in nids]:
            if ref_or_none is not None and ref_or_none.entity.known:
                refs.append(ref_or_none.entity)
        return nids, refs
    settings = await rt.store.sync_settings(portal=session.portal)
    for name in data.entities or []:
        ref = requested_entity(name.entity_type, name.entity_type_id, name.entity_id, settings)
        nid = await rt.store.entity_negotiation(session.portal, ref)
        if not nid:
            raise ApiError(404, "not_found", f"{NOT_OURS} ({name.entity_type or name.entity_type_id} "
                                             f"#{name.entity_id})")
        if nid not in nids:
            nids.append(nid)
            refs.append(ref)
    return nids, refs


@router.post("/bulk-rejections")
async def bulk_reject(body: dict[str, Any], rt: RuntimeDep, session: SessionDep) -> Any:
    """Without `confirm`: how many applicants the rejection covers (nothing is sent). With `confirm` equal to
    that count: the rejection starts (202 with its run id); a count that changed meanwhile is refused (409)."""
    data: BulkBody = validated(BulkBody, body, "Массовый отказ не отправлен")
    await hh_ready(rt, session.portal)
    nids, refs = await _bulk_targets(rt, session, data)
    if not session.is_admin and (data.offer_id is not None or not await may_act(rt, session, refs)):
        raise ApiError(403, "forbidden", NOT_ALLOWED_BULK)
    count = len(nids)
    if data.confirm is None:
        return {"count": count, "confirm_required": True,
                "question": f"Отправить отказ {count} {applicants_dative(count)}?"}
    if data.confirm != count:
        raise ApiError(409, "count_changed", f"Число откликов изменилось: теперь их {count}. Подтвердите ещё раз.")
    if count == 0:
        return {"count": 0, "run_id": None}
    run_id = secrets.token_hex(8)
    await rt.store.bulk_progress(session.portal, run_id, total=count)
    await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="bulk_reject_requested",
                                              portal=session.portal),
                  AppEvent(portal=session.portal, event="bulk_reject_requested", data={
                      "run_id": run_id, "negotiation_ids": nids, "action_id": data.action_id,
                      "message": data.message or "", "template_id": data.template_id,
                      "offer_id": data.offer_id or "", "user_id": session.user_id}),
                  msg_id=f"bulk:{session.portal}:{run_id}")
    return {"count": count, "run_id": run_id}


@router.get("/bulk-rejections/{run_id}")
async def bulk_progress(run_id: str, rt: RuntimeDep, session: SessionDep) -> dict[str, Any]:
    if not run_id.isalnum() or len(run_id) > 32:
        raise ApiError(404, "not_found", "Массовый отказ не найден.")
    progress = await rt.store.bulk_run(session.portal, run_id)
    if "total" not in progress:
        raise ApiError(404, "not_found", "Массовый отказ не найден.")
    total, done, failed = progress.get("total", 0), progress.get("done", 0), progress.get("failed", 0)
    return {"run_id": run_id, "total": total, "done": done, "failed": failed,
            "state": "done" if done + failed >= total else "running"}
