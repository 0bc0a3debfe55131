"""Poller handlers: initial import, webhook expansion, webhook subscription, re-login."""

from __future__ import annotations

import asyncio

from faststream.nats import NatsMessage
from rabota_common import budget
from rabota_common.consume import heartbeat
from rabota_common.hh_client import HhError
from rabota_common.hh_ids import is_numeric_id, is_resume_id
from rabota_common.hh_session import TokenSource
from rabota_common.hh_walk import negotiation_pages, vacancies
from rabota_common.models import CHAT_ACTIONS, AppEvent, HhWebhookEvent, NegotiationFound, NegotiationSource
from rabota_common.negotiation_kind import enum_id
from rabota_common.runtime import Runtime
from rabota_common.subjects import webhook_key

from rabota_poller.found import publish_found
from rabota_poller.listing import remember_listing
from rabota_poller.reconcile import imported_vacancy

# The listing heartbeats its message: a killed poller's listing resumes on another (or the restarted) one within
# the ack wait, from the vacancies it had not finished.
IMPORT_HEARTBEAT_S = 2.0
IMPORT_ACK_WAIT_S = 6.0


async def run_import(rt: Runtime, event: AppEvent, msg: NatsMessage) -> None:
    """Walk every vacancy's negotiations; a heartbeat keeps the message ours while we work, so that the
    ack wait is short and a walk cut short by a crash resumes within seconds."""
    async with heartbeat([msg], IMPORT_HEARTBEAT_S):
        with budget.bulk():  # live requests of every portal go first
            await _walk(rt, event, msg)


async def _walk(rt: Runtime, event: AppEvent, msg: NatsMessage) -> None:
    portal = event.portal
    import_id = str(event.data.get("import_id", ""))
    tokens = TokenSource(rt, portal)
    # A listing that crashed or failed resumes: vacancies listed completely are not walked again.
    walked = await rt.store.walked_vacancies(portal, import_id)
    for vacancy in await vacancies(tokens):
        if str(vacancy.get("id")) in walked:
            continue
        listed: set[str] = set()
        async for page in negotiation_pages(tokens, vacancy):
            ids = [str(item["id"]) for item in page.items]
            listed.update(ids)
            # Published first, recorded as found after: a crash in between publishes them again on the
            # resumed walk (JetStream drops the copies by msg id), never leaves one found but unpublished.
            seen = await rt.store.already_found(portal, ids)
            # A page's messages go out together: their PubAcks are awaited at once, not one round trip each.
            await asyncio.gather(*(publish_found(rt, NegotiationFound(
                portal=portal, negotiation_id=str(item["id"]), vacancy_id=page.vacancy_id,
                vacancy_name=page.vacancy_name, employer_state=enum_id(item.get("employer_state")),
                updated_at=item.get("updated_at"), source="import", hh_source=enum_id(item.get("source")),
                import_id=import_id, item=item,
            ), new_trace=True, bulk=True) for item in page.items if str(item["id"]) not in seen))
            await rt.store.add_found(portal, import_id, ids)
        await rt.store.mark_walked(portal, import_id, str(vacancy.get("id")))
        await remember_listing(rt, portal, vacancy, listed)
        await imported_vacancy(rt, portal, vacancy)
    await rt.store.finish_listing(portal, import_id)
    rt.log.info("import %s of portal %s listed", import_id, portal)


WEBHOOK_SEEN_TTL_S = 30 * 24 * 3600


async def expand_webhook(rt: Runtime, portal: str, event: HhWebhookEvent) -> None:
    await rt.store.webhook_seen(portal, WEBHOOK_SEEN_TTL_S)  # delivery works: the poll may trust webhooks
    if event.action_type in CHAT_ACTIONS:
        from rabota_poller.chats import inbound

        await inbound(rt, portal, event)
        return
    if event.action_type == "VACANCY_ARCHIVATION":  # F16: offer the bulk rejection of its applicants
        from rabota_poller.actions import vacancy_archived

        count = await vacancy_archived(rt, portal, event)
        rt.log.info("portal %s: vacancy archived, %d applicants offered for a bulk rejection", portal, count)
        return
    nid = event.payload.get("topic_id")
    if not is_numeric_id(nid):
        rt.log.info("webhook %s (%s) names no negotiation: ignored", event.id, event.action_type)
        return
    if event.action_type == RESPONSE_ONLY_ACTION:
        # Fires only for an applicant's response (reference §5.2): the strongest evidence of its kind, kept in
        # the ledger. The negotiation itself comes with NEW_RESPONSE_OR_INVITATION_VACANCY, which every response
        # fires too, so this one costs no HeadHunter request.
        await rt.store.negotiation_kind(portal, negotiation_id=str(nid), decide="response")
        return
    vacancy_id = event.payload.get("vacancy_id")
    resume_id = event.payload.get("resume_id")
    try:
        await publish_one(rt, portal, str(nid), "webhook", str(vacancy_id) if is_numeric_id(vacancy_id) else "",
                          resume_id=str(resume_id) if is_resume_id(resume_id) else "")
    except HhError as exc:
        # A negotiation this account cannot see (a forged or foreign webhook, or one withdrawn since): asking
        # again cannot help, so it is acknowledged, with no retry and no dead letter.
        if exc.status in (403, 404) and not exc.token_expired and not exc.auth_lost:
            rt.log.warning("webhook %s of portal %s: negotiation %s answers %s: ignored",
                           event.id, portal, nid, exc.status)
            return
        raise


async def webhook_settled(rt: Runtime, portal: str, event: HhWebhookEvent) -> None:
    """The webhook no longer counts among the portal's pending ones (the receiver's cap)."""
    try:
        await rt.store.webhook_done(portal, webhook_key(event))
    except Exception as exc:  # the entry expires by itself
        rt.log.warning("webhook %s of portal %s: pending count not updated: %s", event.id, portal, exc)


# The mapper's resume cache lifetime (rabota_mapper.handlers.RESUME_CACHE_S): a prefetched resume waits there.
RESUME_PREFETCH_TTL_S = 3600


async def prefetch_resume(rt: Runtime, tokens: TokenSource, portal: str, nid: str, resume_id: str) -> None:
    """The resume a new response's webhook names, fetched while its negotiation is: the mapper finds it in the
    shared cache and asks HeadHunter only for the PDF (one round trip less per live response, issue 17).
    Best effort: on any failure the mapper fetches it as before."""
    try:
        if await rt.store.cached_resume(portal=portal, resume_id=resume_id) is not None:
            return  # the same applicant's resume, fetched a moment ago
        resume = await tokens.call(rt.hh.get, f"/resumes/{resume_id}", {"topic_id": nid})
        await rt.store.remember_resume(portal=portal, resume_id=resume_id, ttl_s=RESUME_PREFETCH_TTL_S,
                                       body={"resume": resume, "pdf": None, "pdf_data": None, "pdf_pending": True},
                                       only_new=True)
    except Exception as exc:
        rt.log.info("resume of negotiation %s not prefetched: %s", nid, exc)


async def publish_one(rt: Runtime, portal: str, nid: str, source: NegotiationSource, vacancy_id: str = "",
                      resume_id: str = "") -> None:
    """One negotiation by id (a webhook, a re-import), as HeadHunter has it now; continues the caller's trace.
    A webhook that names the resume has it fetched at the same time."""
    tokens = TokenSource(rt, portal)
    if resume_id:
        await tokens.get()  # one token for both requests
        item, _ = await asyncio.gather(tokens.call(rt.hh.negotiation, nid),
                                       prefetch_resume(rt, tokens, portal, nid, resume_id))
    else:
        item = await tokens.call(rt.hh.negotiation, nid)
    vacancy = item.get("vacancy") or {}
    state = enum_id(item.get("employer_state"))
    found = NegotiationFound(
        portal=portal, negotiation_id=nid, vacancy_id=str(vacancy.get("id") or vacancy_id),
        vacancy_name=vacancy.get("name"), employer_state=state, updated_at=item.get("updated_at"),
        source=source, hh_source=enum_id(item.get("source")), item=item,
    )
    if source == "webhook":
        # A poll within SENT_TTL_S does not publish it again, nor count it as missed by the webhooks.
        from rabota_poller.reconcile import mark_sent

        await mark_sent(rt, portal, nid, state)
    await publish_found(rt, found, new_trace=False)


async def reimport(rt: Runtime, event: AppEvent, msg: NatsMessage) -> None:
    """app.reimport_requested (the operators' `python -m rabota_common.dlq reimport`): one negotiation, or every
    negotiation of one vacancy, published as the walks publish them; the writer fixes what the CRM lacks."""
    portal = event.portal
    nid = str(event.data.get("negotiation_id") or "")
    if nid:
        await publish_one(rt, portal, nid, "replay")
        return
    vacancy_id = str(event.data.get("vacancy_id") or "")
    if not vacancy_id:
        rt.log.warning("reimport of portal %s names no negotiation or vacancy: ignored", portal)
        return
    tokens = TokenSource(rt, portal)
    vacancy = await tokens.call(rt.hh.vacancy, vacancy_id)
    published = 0
    with budget.bulk():  # a vacancy's worth of negotiations: live requests of every portal go first
        async for page in negotiation_pages(tokens, vacancy):
            await msg.in_progress()
            for item in page.items:
                found = NegotiationFound(
                    portal=portal, negotiation_id=str(item["id"]), vacancy_id=page.vacancy_id,
                    vacancy_name=page.vacancy_name, employer_state=enum_id(item.get("employer_state")),
                    updated_at=item.get("updated_at"), source="replay", hh_source=enum_id(item.get("source")),
                    item=item,
                )
                await publish_found(rt, found, new_trace=True, bulk=True)
                published += 1
    rt.log.info("reimport of vacancy %s of portal %s: %d negotiations published", vacancy_id, portal, published)


# A PUT replaces the subscription's whole action list: this is every action the product needs (reference §5.1).
RESPONSE_ONLY_ACTION = "NEW_NEGOTIATION_VACANCY"
WEBHOOK_ACTIONS = ["NEW_RESPONSE_OR_INVITATION_VACANCY", "NEGOTIATION_EMPLOYER_STATE_CHANGE", RESPONSE_ONLY_ACTION,
                   "CHAT_MESSAGE_CREATED", "VACANCY_ARCHIVATION"]


async def ensure_subscription(rt: Runtime, portal: str) -> None:
    """One subscription per user and app (reference §5.1): create it, or point the existing one at us."""
    record = await rt.store.get_portal(portal)
    if record is None or not record.webhook_secret:
        return
    url = f"{rt.settings.PUBLIC_URL.rstrip('/')}/hh/webhook/{record.webhook_secret}"
    tokens = TokenSource(rt, portal)
    current = await tokens.call(rt.hh.subscriptions)
    for sub in current:
        if sub.get("url") == url and {a.get("type") for a in sub.get("actions", [])} >= set(WEBHOOK_ACTIONS):
            await rt.store.update_hh(portal, subscription_id=str(sub["id"]))
            return
    if current:
        sub_id = str(current[0]["id"])
        await tokens.call(rt.hh.update_subscription, sub_id, url, WEBHOOK_ACTIONS)
    else:
        sub_id = await tokens.call(rt.hh.subscribe, url, WEBHOOK_ACTIONS)
    await rt.store.update_hh(portal, subscription_id=sub_id)
    rt.log.info("webhook subscription %s of portal %s points at the ui", sub_id, portal)


async def repoint_subscription(rt: Runtime, portal: str) -> None:
    """After a reinstall (a new webhook secret): point a connected account's subscription at the new URL."""
    account = await rt.store.get_hh(portal)
    if account is None or not account.access_token or account.relogin_required:
        return
    await ensure_subscription(rt, portal)


async def connected(rt: Runtime, event: AppEvent, msg: NatsMessage) -> None:
    """hh_connected: point the webhook at us; after a re-login resume parked work and catch up on
    what arrived meanwhile (the password change dropped the subscription, so no webhook came)."""
    from rabota_poller.reconcile import reconcile
    from rabota_poller.relogin import unpark

    portal = event.portal
    await ensure_subscription(rt, portal)
    await rt.store.clear_relogin_notice(portal=portal)
    await unpark(rt, portal)
    if not event.data.get("relogin"):
        return
    progress = await rt.store.get_import(portal)
    if progress.state == "running" and not progress.listing_done:
        return  # the resumed import walks everything again; a second walk would only race it
    await reconcile(rt, portal, full=True, heartbeat=msg.in_progress)
    from rabota_poller.chats import reconcile_chats

    await reconcile_chats(rt, portal)  # chat messages written while the account was cut off
