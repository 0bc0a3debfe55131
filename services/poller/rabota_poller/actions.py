"""Acting on an applicant from the CRM card (DESIGN F16): the negotiation's own HeadHunter actions (invite,
discard with its sub-states, move to a state), each with the message it takes prefilled from the employer's
templates; performing one; and the bulk rejection offered when a vacancy is archived.

The ui asks on `poller.actions` (request/reply): the poller is the HeadHunter-facing service and every call goes
through `TokenSource`. After HeadHunter moved the negotiation, it is published like a webhook would publish it,
so the mapper and the writer move the CRM entity to the mapped stage and record the new state in the ledger (the
back-sync loop guard then sees the writer's own update as «unchanged»). Every action is idempotent: the store
records it per negotiation and action, one at a time per negotiation, and the timeline comment is left once.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from rabota_common.budget import bulk
from rabota_common.entity_ref import EntityRef
from rabota_common.errors import HhAuthLost
from rabota_common.hh_client import HhError
from rabota_common.hh_session import TokenSource
from rabota_common.hh_walk import negotiation_pages
from rabota_common.models import (
    AppEvent,
    CardAction,
    HhWebhookEvent,
    NegotiationActionReply,
    NegotiationActionRequest,
    ReplyTemplate,
)
from rabota_common.negotiation_kind import enum_id
from rabota_common.runtime import Runtime

from rabota_poller.chats import ENTITY_TYPES, b24_call
from rabota_poller.handlers import publish_one

VACANCY_CLOSED_ACTION = "discard_vacancy_closed"
INVITE_STATES = frozenset({"phone_interview", "assessment", "interview", "offer", "hired"})
FINAL_PREFIXES = ("discard", "hired")
ARCHIVATION_ACTION = "VACANCY_ARCHIVATION"


def action_kind(resulting_state: str) -> Literal["invite", "discard", "move"]:
    """What the card calls the action: an invitation, a rejection (any discard sub-state) or a move."""
    if resulting_state.startswith("discard"):
        return "discard"
    return "invite" if resulting_state in INVITE_STATES else "move"


def _resulting(action: dict[str, Any]) -> str:
    return enum_id(action.get("resulting_employer_state")) or str(action.get("id") or "")


def _message_argument(action: dict[str, Any]) -> dict[str, Any] | None:
    return next((a for a in action.get("arguments") or [] if isinstance(a, dict) and a.get("id") == "message"), None)


def usable(actions: Any) -> list[dict[str, Any]]:
    """The actions a recruiter may take now: enabled, not hidden, with HeadHunter's own URL."""
    return [a for a in actions or [] if isinstance(a, dict) and a.get("enabled", True) and not a.get("hidden")
            and a.get("url") and a.get("id")]


async def _template_texts(tokens: TokenSource, actions: list[dict[str, Any]]) -> dict[str, str]:
    """Each distinct template of the actions (`templates[].url`, the negotiation's topic in it), filled once."""
    texts: dict[str, str] = {}
    for action in actions:
        for template in action.get("templates") or []:
            url = template.get("url") if isinstance(template, dict) else None
            if url and url not in texts:
                try:
                    texts[url] = await tokens.call(tokens.rt.hh.message_template, str(url))
                except HhError as exc:
                    if exc.auth_lost or exc.token_expired:
                        raise
                    texts[url] = ""  # a template HeadHunter refuses (paid access): the text starts empty
    return texts


async def _template_text(tokens: TokenSource, action: dict[str, Any], template_id: str) -> str:
    """The text of one of the action's templates, filled for the negotiation (its first one if none has the id)."""
    templates = [t for t in action.get("templates") or [] if isinstance(t, dict) and t.get("url")]
    chosen = next((t for t in templates if t.get("id") == template_id), templates[0] if templates else None)
    return (await _template_texts(tokens, [{"templates": [chosen]}])).get(str(chosen["url"]), "") if chosen else ""


def describe_action(action: dict[str, Any], texts: dict[str, str]) -> CardAction:
    resulting = _resulting(action)
    argument = _message_argument(action)
    templates = [t for t in action.get("templates") or [] if isinstance(t, dict)]
    first = next((texts.get(str(t.get("url")), "") for t in templates if texts.get(str(t.get("url")))), "")
    return CardAction(id=str(action["id"]), name=str(action.get("name") or action["id"]),
                      kind=action_kind(resulting), resulting_state=resulting, message=argument is not None,
                      message_required=bool(argument and argument.get("required")),
                      text=first if argument is not None else "",
                      templates=[ReplyTemplate(id=str(t.get("id") or ""), name=str(t.get("name") or t.get("id") or ""),
                                               text=texts.get(str(t.get("url")), "")) for t in templates])


async def employer_templates(tokens: TokenSource) -> list[ReplyTemplate]:
    """The employer's e-mail templates (`/employers/{id}/mail_templates`) the dialog offers to choose from."""
    token = await tokens.get()
    if not token.employer_id:
        return []
    try:
        items = await tokens.call(tokens.rt.hh.mail_templates, token.employer_id)
    except HhError as exc:
        if exc.auth_lost or exc.token_expired:
            raise
        return []
    return [ReplyTemplate(id=str(t.get("id")), name=str(t.get("name") or t.get("id")), text=str(t.get("text") or ""),
                          employer_state=enum_id(t.get("employer_state")))
            for t in items if str(t.get("type") or "EMAIL").upper() == "EMAIL"]


async def list_actions(rt: Runtime, req: NegotiationActionRequest) -> NegotiationActionReply:
    tokens = TokenSource(rt, req.portal)
    negotiation = await tokens.call(rt.hh.negotiation, req.negotiation_id)
    actions = usable(negotiation.get("actions"))
    texts = await _template_texts(tokens, actions)
    state = negotiation.get("employer_state")
    return NegotiationActionReply(ok=True, state=enum_id(state),
                                  state_name=str(state.get("name") or "") if isinstance(state, dict) else None,
                                  actions=[describe_action(a, texts) for a in actions],
                                  templates=await employer_templates(tokens))


def comment_text(kind: str, name: str, message: str | None) -> str:
    head = {"invite": "Приглашение отправлено", "discard": "Отказ отправлен"}.get(kind, "Отклик перемещён")
    line = f"{head} на rabota.by: «{name}»."
    if message:
        line += f"\nТекст сообщения:\n{message}"
    return line


async def leave_comment(rt: Runtime, portal: str, nid: str, action_id: str, text: str) -> None:
    """The timeline line of an action on the applicant's CRM entity, once (best effort: the action stands)."""
    ref = await rt.store.ledger_ref(portal=portal, negotiation_id=nid)
    entity: EntityRef | None = ref.entity if ref is not None else None
    if entity is None or not entity.known or not await rt.store.claim_action_comment(portal, nid, action_id):
        return
    kind = ENTITY_TYPES.get(entity.entity_type_id, f"dynamic_{entity.entity_type_id}")
    try:
        await b24_call(rt, portal, "crm.timeline.comment.add", {"fields": {
            "ENTITY_TYPE": kind, "ENTITY_ID": entity.entity_id, "COMMENT": text}})
    except Exception as exc:
        await rt.store.release_action_comment(portal, nid, action_id)
        rt.log.warning("portal %s: no timeline comment for the action on %s: %s", portal, nid, type(exc).__name__)


def _refusal(exc: HhError) -> tuple[str, str]:
    for kind, text in (("wrong_state", "Отклик уже в другом состоянии на rabota.by."),
                       ("invalid_vacancy", "Вакансия в архиве или скрыта: действие недоступно."),
                       ("too_long_message", "Сообщение слишком длинное для rabota.by."),
                       ("empty_message", "rabota.by требует текст сообщения."),
                       ("not_enough_purchased_services", "На rabota.by не хватает оплаченных услуг.")):
        if exc.has("negotiations", kind):
            return kind, text
    return "hh_refused", f"rabota.by отказал ({exc.status})."


async def perform(rt: Runtime, req: NegotiationActionRequest) -> NegotiationActionReply:
    portal, nid, action_id = req.portal, req.negotiation_id, req.action_id
    if await rt.store.action_done(portal, nid, action_id) is not None:
        return NegotiationActionReply(ok=True, already=True, state=action_id)
    if not await rt.store.claim_action(portal, nid):
        return NegotiationActionReply(ok=False, error="in_flight", message="Действие с этим откликом уже выполняется.")
    try:
        return await _perform_claimed(rt, req)
    finally:
        await rt.store.release_action(portal, nid)


async def _perform_claimed(rt: Runtime, req: NegotiationActionRequest) -> NegotiationActionReply:
    portal, nid, action_id = req.portal, req.negotiation_id, req.action_id
    tokens = TokenSource(rt, portal)
    negotiation = await tokens.call(rt.hh.negotiation, nid)
    state = enum_id(negotiation.get("employer_state"))
    action = next((a for a in usable(negotiation.get("actions")) if a.get("id") == action_id), None)
    if action is None:
        if state == action_id:  # taken already (on rabota.by itself, or a lost reply): nothing to do twice
            await rt.store.record_action(portal, nid, action_id)
            return NegotiationActionReply(ok=True, already=True, state=state)
        return NegotiationActionReply(ok=False, error="action_unavailable", state=state,
                                      message="Это действие сейчас недоступно для отклика на rabota.by.")
    argument = _message_argument(action)
    message = (req.message or "").strip()
    if not message and req.message is None and req.template_id and argument is not None:
        message = await _template_text(tokens, action, req.template_id)
    if argument is not None and argument.get("required") and not message:
        return NegotiationActionReply(ok=False, error="empty_message", message="Введите текст сообщения.")
    arguments = {"message": message} if argument is not None and message else None
    try:
        await tokens.call(rt.hh.negotiation_action, str(action["url"]), arguments)
    except HhError as exc:
        if exc.status in (400, 403, 404) and not exc.auth_lost and not exc.token_expired:
            error, text = _refusal(exc)
            return NegotiationActionReply(ok=False, error=error, message=text, state=state)
        raise
    await rt.store.record_action(portal, nid, action_id)
    rt.log.info("portal %s: negotiation %s: action %s taken from the card by user %s", portal, nid, action_id,
                req.user_id)
    await publish_one(rt, portal, nid, "webhook")  # the entity moves to the mapped stage (mapper, writer)
    name = str(action.get("name") or action_id)
    await leave_comment(rt, portal, nid, action_id, comment_text(action_kind(_resulting(action)), name, message))
    return NegotiationActionReply(ok=True, state=_resulting(action))


async def answer(rt: Runtime, req: NegotiationActionRequest) -> NegotiationActionReply:
    """The reply of `poller.actions`; HeadHunter trouble becomes an error the ui shows in Russian."""
    try:
        if req.op == "list":
            return await list_actions(rt, req)
        if req.op == "templates":
            return NegotiationActionReply(ok=True, templates=await employer_templates(TokenSource(rt, req.portal)))
        return await perform(rt, req)
    except HhAuthLost:
        return NegotiationActionReply(ok=False, error="relogin_required", message="Нужен повторный вход в rabota.by.")
    except HhError as exc:
        if exc.status == 404:
            return NegotiationActionReply(ok=False, error="not_found", message="Отклик не найден на rabota.by.")
        rt.log.warning("actions of negotiation %s (portal %s): %s", req.negotiation_id, req.portal, exc)
        return NegotiationActionReply(ok=False, error="hh_unavailable",
                                      message="rabota.by сейчас недоступен. Попробуйте позже.")
    except Exception as exc:
        rt.log.warning("actions of negotiation %s (portal %s): %s", req.negotiation_id, req.portal,
                       type(exc).__name__)
        return NegotiationActionReply(ok=False, error="unavailable",
                                      message="Действие не выполнено: сервис временно недоступен.")


# -- bulk rejection ---------------------------------------------------------------------------------------
async def vacancy_archived(rt: Runtime, portal: str, event: HhWebhookEvent) -> int:
    """`VACANCY_ARCHIVATION`: the vacancy's applicants still in progress whose entity the app wrote are offered
    for a bulk rejection (`discard_vacancy_closed`); the responsible user is told. Returns how many."""
    vacancy_id = str(event.payload.get("vacancy_id") or "")
    if not vacancy_id.isdigit():
        return 0
    tokens = TokenSource(rt, portal)
    open_ids: list[str] = []
    name = ""
    with bulk():
        async for page in negotiation_pages(tokens, {"id": vacancy_id}):
            for item in page.items:
                state = enum_id(item.get("employer_state")) or ""
                if state.startswith(FINAL_PREFIXES):
                    continue
                name = name or str((item.get("vacancy") or {}).get("name") or "")
                nid = str(item.get("id") or "")
                if nid and await rt.store.ledger_ref(portal=portal, negotiation_id=nid) is not None:
                    open_ids.append(nid)
    if not open_ids:
        return 0
    if not name:
        try:
            with bulk():
                name = str((await tokens.call(rt.hh.vacancy, vacancy_id)).get("name") or "")
        except HhError:
            name = ""
    await rt.store.put_bulk_offer(portal, f"vacancy-{vacancy_id}", {
        "vacancy_id": vacancy_id, "vacancy_name": name, "negotiation_ids": sorted(set(open_ids)),
        "at": time.time(), "reason": "vacancy_archived"})
    await notify_offer(rt, portal, name or vacancy_id, len(set(open_ids)))
    return len(set(open_ids))


async def notify_offer(rt: Runtime, portal: str, vacancy: str, count: int) -> None:
    settings = await rt.store.sync_settings(portal=portal)
    if settings is None:
        return
    try:
        await b24_call(rt, portal, "im.notify.system.add", {
            "USER_ID": settings.responsible_id,
            "MESSAGE": f"Вакансия «{vacancy}» закрыта на rabota.by. Откликов без ответа: {count}. "
                       "Откройте приложение rabota.by, чтобы отправить им отказ."})
    except Exception as exc:  # the offer is on the app's page all the same
        rt.log.warning("portal %s: bulk rejection offer not notified: %s", portal, type(exc).__name__)


async def bulk_reject(rt: Runtime, event: AppEvent) -> dict[str, int]:
    """`app.bulk_reject_requested`: reject each negotiation with `discard_vacancy_closed` (or, for chosen
    entities of a vacancy still open, the action the request names) and the chosen text, at bulk priority."""
    portal = event.portal
    run_id = str(event.data.get("run_id") or "")
    nids = [str(n) for n in event.data.get("negotiation_ids") or [] if str(n).isdigit()]
    action_id = str(event.data.get("action_id") or VACANCY_CLOSED_ACTION)
    message = str(event.data.get("message") or "") or None
    template_id = str(event.data.get("template_id") or "")
    user_id = int(event.data.get("user_id") or 0)
    progress = await rt.store.bulk_progress(portal, run_id)
    already = progress.get("done", 0) + progress.get("failed", 0)
    with bulk():
        for nid in nids[already:]:  # a redelivered run continues where it stopped
            reply = await perform(rt, NegotiationActionRequest(portal=portal, negotiation_id=nid, op="perform",
                                                               action_id=action_id, message=message,
                                                               template_id=template_id, user_id=user_id))
            if reply.ok:
                progress = await rt.store.bulk_progress(portal, run_id, done=1)
            else:
                rt.log.info("bulk rejection of %s on portal %s: %s", nid, portal, reply.error)
                progress = await rt.store.bulk_progress(portal, run_id, failed=1)
    offer_id = str(event.data.get("offer_id") or "")
    if offer_id:
        await rt.store.drop_bulk_offer(portal, offer_id)
    return progress
