"""Token broker logic: hand out valid tokens, refresh single-flight, detect revocation."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from rabota_common import subjects
from rabota_common.b24_client import B24Error
from rabota_common.b24_session import PAYMENT_REQUIRED
from rabota_common.bus import publish
from rabota_common.hh_client import HhError, HhOAuthError
from rabota_common.models import AppEvent, B24Token, HhConnectReply, HhConnectRequest, HhToken, TokenRequest
from rabota_common.runtime import Runtime
from rabota_common.store import HhAccount, PortalRecord
from rabota_common.transience import REDIS_ERRORS

EXPIRY_MARGIN_S = 30.0
STORE_DOWN = "store_unavailable"
T = TypeVar("T")


async def store_guarded(work: Awaitable[T], unavailable: T) -> T:
    """Answer at once when Redis is down (the requester then waits on Redis, named as such) instead of
    leaving it without a reply until its request times out and blames the broker."""
    try:
        return await work
    except REDIS_ERRORS:
        return unavailable


def _paused(portal: PortalRecord) -> B24Token | None:
    """A paused portal's answer until its next probe (no request to Bitrix24 meanwhile)."""
    if portal.paused and time.time() < portal.probe_at:
        return B24Token(ok=False, error=f"paused: {portal.paused}")
    return None


async def b24_token(rt: Runtime, req: TokenRequest) -> B24Token:
    portal = await rt.store.get_portal(req.portal)
    if portal is None:
        return B24Token(ok=False, error="unknown_portal")
    if portal.status != "active":
        return B24Token(ok=False, error=f"inactive: {portal.status_reason}")
    if (waiting := _paused(portal)) is not None:
        return waiting
    must_refresh = portal.paused or (portal.expires_at and portal.expires_at < time.time())
    if not must_refresh and (req.stale_token is None or req.stale_token != portal.access_token):
        return B24Token(ok=True, access_token=portal.access_token, client_endpoint=portal.client_endpoint)
    async with rt.store.lock(f"b24-refresh:{req.portal}"):
        portal = await rt.store.get_portal(req.portal)
        assert portal is not None
        if (waiting := _paused(portal)) is not None:
            return waiting  # another request probed meanwhile
        if (not portal.paused and req.stale_token and portal.access_token != req.stale_token
                and portal.expires_at > time.time()):
            return B24Token(ok=True, access_token=portal.access_token, client_endpoint=portal.client_endpoint)
        return await _refresh_b24(rt, req.portal, portal)


async def _refresh_b24(rt: Runtime, member_id: str, portal: PortalRecord) -> B24Token:
    """The refresh itself, under the portal's lock: rotate and store the pair, or say why not."""
    try:
        body = await rt.b24.refresh(portal.refresh_token)
    except B24Error as exc:
        return await _refresh_refused(rt, member_id, exc)
    if body.get("member_id") and body.get("member_id") != member_id:
        # The OAuth server names another portal for this token: never store its endpoint or tokens here.
        rt.log.warning("refresh of portal %s answered another member_id", member_id)
        return B24Token(ok=False, error="transient")
    # The rotated refresh token is stored before anyone can use the new access token.
    endpoint = body.get("client_endpoint") or portal.client_endpoint
    # Bitrix24 has spent the old refresh token: the new one is confirmed on a Redis replica (failover-safe).
    await rt.store.rotate_portal_tokens(
        member_id,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        expires_at=time.time() + float(body.get("expires_in", 3600)) - EXPIRY_MARGIN_S,
        client_endpoint=endpoint,
    )
    if portal.paused and await rt.store.resume_portal(member_id):
        # The probe's refresh succeeded: the poller republishes the parked work and tells the user once.
        rt.log.warning("portal %s usable again after %s", member_id, portal.paused)
        await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="b24_resumed", portal=member_id),
                      AppEvent(portal=member_id, event="b24_resumed", data={"reason": portal.paused}))
    return B24Token(ok=True, access_token=body["access_token"], client_endpoint=endpoint)


async def _refresh_refused(rt: Runtime, member_id: str, exc: B24Error) -> B24Token:
    if exc.transient:
        return B24Token(ok=False, error="transient")
    if exc.code == PAYMENT_REQUIRED:
        # The subscription ended: paused, not inactive. One refresh per B24_PAUSE_PROBE_S tells when it was renewed
        # (a refused refresh does not use up the refresh token).
        probe_at = time.time() + rt.settings.B24_PAUSE_PROBE_S
        if await rt.store.pause_portal(member_id, reason=PAYMENT_REQUIRED, probe_at=probe_at):
            rt.log.warning("portal %s paused: Bitrix24 answers PAYMENT_REQUIRED", member_id)
        return B24Token(ok=False, error=f"paused: {PAYMENT_REQUIRED}")
    reason = "Приложение потеряло доступ к порталу Битрикс24 (нужна переустановка или оплата)"
    await rt.store.update_portal(member_id, status="inactive", status_reason=f"{reason}: {exc.code}")
    rt.log.warning("portal %s marked inactive after refresh error %s", member_id, exc.code)
    return B24Token(ok=False, error=f"inactive: {exc.code}")


def _hh_reply(account: HhAccount) -> HhToken:
    return HhToken(ok=True, access_token=account.access_token, employer_id=account.employer_id,
                   manager_id=account.manager_id, is_admin=account.is_admin)


async def hh_token(rt: Runtime, req: TokenRequest) -> HhToken:
    account = await rt.store.get_hh(req.portal)
    if account is None or not account.access_token:
        return HhToken(ok=False, error="not_connected")
    if account.relogin_required:
        return HhToken(ok=False, error="relogin_required")
    expired = account.expires_at < time.time()
    if not expired and (req.stale_token is None or req.stale_token != account.access_token):
        return _hh_reply(account)
    async with rt.store.lock(f"hh-refresh:{req.portal}"):
        account = await rt.store.get_hh(req.portal)
        assert account is not None
        if account.relogin_required:
            return HhToken(ok=False, error="relogin_required")
        if req.stale_token and account.access_token != req.stale_token and account.expires_at > time.time():
            return _hh_reply(account)
        try:
            body = await rt.hh.refresh(account.refresh_token)
        except HhOAuthError as exc:
            if exc.description == "token not expired":
                return _hh_reply(account)
            await mark_hh_revoked(rt, req.portal, f"{exc.error}: {exc.description}")
            return HhToken(ok=False, error="relogin_required")
        except HhError:
            return HhToken(ok=False, error="transient")
        await rt.store.rotate_hh_tokens(  # HeadHunter has spent the old refresh token (see _refresh_b24)
            req.portal,
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=time.time() + float(body.get("expires_in", 1209600)),
        )
        account = await rt.store.get_hh(req.portal)
        assert account is not None
        return _hh_reply(account)


async def hh_revoked(rt: Runtime, req: TokenRequest) -> HhToken:
    """A service met 403 token_revoked/bad_authorization with `stale_token`. Check it once with `/me`
    (a stray 403 must not log the account out) and mark the account relogin_required."""
    async with rt.store.lock(f"hh-refresh:{req.portal}"):
        account = await rt.store.get_hh(req.portal)
        if account is None or not account.access_token:
            return HhToken(ok=False, error="not_connected")
        if account.relogin_required:
            return HhToken(ok=False, error="relogin_required")
        if req.stale_token and req.stale_token != account.access_token:
            return _hh_reply(account)  # a newer token exists (refresh or re-login)
        try:
            await rt.hh.me(account.access_token)
        except HhError as exc:
            if exc.auth_lost:
                await mark_hh_revoked(rt, req.portal, str(exc))
                return HhToken(ok=False, error="relogin_required")
            return HhToken(ok=False, error="transient")
        return _hh_reply(account)


async def mark_hh_revoked(rt: Runtime, portal: str, reason: str) -> None:
    await rt.store.update_hh(portal, relogin_required=True)
    rt.log.warning("HeadHunter tokens of portal %s lost: %s", portal, reason)
    await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="hh_revoked", portal=portal),
                  AppEvent(portal=portal, event="hh_revoked", data={"reason": reason}))


async def hh_connect(rt: Runtime, req: HhConnectRequest) -> HhConnectReply:
    if await rt.store.get_portal(req.portal) is None:  # removed meanwhile (uninstall): nothing to connect to
        return HhConnectReply(ok=False, error="unknown_portal",
                              message="Приложение не установлено на этом портале Битрикс24. Установите его снова.")
    try:
        tokens = await rt.hh.exchange_code(req.code)
    except HhOAuthError as exc:
        return HhConnectReply(ok=False, error=exc.error,
                              message=f"rabota.by отклонил вход: {exc.description}. Попробуйте войти ещё раз.")
    except HhError:
        return HhConnectReply(ok=False, error="transient", message="rabota.by не отвечает. Попробуйте позже.")
    access = tokens["access_token"]
    me = await rt.hh.me(access)
    if not me.get("is_employer") or not me.get("employer"):
        try:
            await rt.hh.revoke(access)
        except HhError:
            pass
        return HhConnectReply(ok=False, error="not_employer",
                              message="Этот аккаунт rabota.by не является аккаунтом работодателя. "
                                      "Войдите под учётной записью работодателя.")
    employer = me["employer"]
    user_id = str(me.get("id", ""))
    owner = await rt.store.claim_hh_account(user_id, req.portal) if user_id else None
    if owner is not None:
        # One employer account per portal: refused here, not confirmed on the other portal (the other
        # portal's admin disconnects it there first). The new token stays unused: revoking it would drop
        # the account's webhook subscription, which serves the other portal.
        rt.log.info("HeadHunter user %s is connected to another portal: refused on portal %s", user_id, req.portal)
        return HhConnectReply(ok=False, error="account_taken",
                              message="Этот аккаунт rabota.by уже подключён к другому порталу Битрикс24. "
                                      "Отключите его там (кнопка «Выйти» в приложении) и войдите снова.")
    previous = await rt.store.get_hh(req.portal)
    # The account connected before (now, or until a logout): another one means its sync state goes.
    last = (previous.user_id, previous.employer_id) if previous else await rt.store.last_hh(req.portal)
    switched = bool(last and last[0] and last != (user_id, str(employer.get("id", ""))))
    if switched:
        await _drop_previous_account(rt, req.portal, previous)
    account = _account(me, tokens, subscription_id=previous.subscription_id if previous and not switched else "")
    await rt.store.save_hh(req.portal, account)
    # Every connect gives the portal a new webhook URL; hh_connected makes the poller point the subscription at it.
    await rt.store.rotate_webhook_secret(req.portal)
    await publish(rt.broker, subjects.subject(subjects.APP_EVENT, event="hh_connected", portal=req.portal),
                  AppEvent(portal=req.portal, event="hh_connected",
                           data={"relogin": bool(previous and previous.relogin_required and not switched),
                                 "switched": switched}))
    return HhConnectReply(ok=True, employer_name=account.employer_name, manager_name=account.manager_name)


def _account(me: dict[str, Any], tokens: dict[str, Any], subscription_id: str) -> HhAccount:
    """The portal's HeadHunter account record from /me and the token answer of a connect."""
    employer = me["employer"]
    manager = me.get("manager") or {}
    manager_name = " ".join(p for p in (me.get("last_name"), me.get("first_name")) if p) or str(me.get("email", ""))
    return HhAccount(
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        expires_at=time.time() + float(tokens.get("expires_in", 1209600)),
        user_id=str(me.get("id", "")),
        employer_id=str(employer.get("id", "")),
        employer_name=str(employer.get("name", "")),
        manager_id=str(manager.get("id") or employer.get("manager_id") or ""),
        manager_name=manager_name,
        is_admin=bool(manager.get("has_admin_rights", False)),
        subscription_id=subscription_id,
    )


async def _drop_previous_account(rt: Runtime, portal: str, previous: HhAccount | None) -> None:
    """Another HeadHunter account replaces the portal's: the old one's webhook subscription goes (best effort,
    with its own token), it no longer belongs to this portal, and what it synced is forgotten."""
    if previous is not None and previous.access_token and not previous.relogin_required:
        if previous.subscription_id:
            try:
                await rt.hh.unsubscribe(previous.access_token, previous.subscription_id)
            except HhError as exc:
                rt.log.info("unsubscribe of the previous account failed: %s", exc)
        try:
            await rt.hh.revoke(previous.access_token)
        except HhError as exc:
            rt.log.info("revoke of the previous account failed: %s", exc)
    if previous is not None:
        await rt.store.release_hh_account(portal, previous.user_id)
    await rt.store.reset_sync_state(portal)
    rt.log.info("portal %s switched HeadHunter accounts: sync state reset", portal)


async def hh_logout(rt: Runtime, req: TokenRequest) -> HhConnectReply:
    account = await rt.store.get_hh(req.portal)
    if account is None:
        return HhConnectReply(ok=True)
    if account.access_token and not account.relogin_required:
        if account.subscription_id:
            try:
                await rt.hh.unsubscribe(account.access_token, account.subscription_id)
            except HhError as exc:
                rt.log.info("unsubscribe failed: %s", exc)
        try:
            await rt.hh.revoke(account.access_token)
        except HhError as exc:
            rt.log.info("revoke failed: %s", exc)
    await rt.store.remember_last_hh(req.portal, account)
    await rt.store.delete_hh(req.portal)
    return HhConnectReply(ok=True)
