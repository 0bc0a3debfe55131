"""What a portal user may see of the app's CRM entities (issue 14, roles).

The app writes entities with the installing administrator's token, so its own records (the ledger, the
applicant index) say nothing about who may read an entity. A portal administrator reads every entity; any
other user sees an entity only if the portal, asked under that user's own token (the frame's AUTH_ID, carried
encrypted in the session), lists it: `crm.item.list` with `@id`, which Bitrix24 answers with the entities the
user's CRM role lets them read, and leaves the others out."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from rabota_common.b24_client import BATCH_MAX, B24Error
from rabota_common.b24_session import B24Session
from rabota_common.crypto import TOKENS, TokenError
from rabota_common.entity_ref import EntityRef
from rabota_common.errors import TransientError
from rabota_common.runtime import Runtime

from rabota_ui.deps import Session
from rabota_ui.errors import ApiError

IDS_PER_LIST = 50  # crm.item.list answers at most 50 items a page
SESSION_ENDED = "Сессия истекла: откройте приложение в Битрикс24 заново."


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def list_commands(refs: Iterable[EntityRef]) -> dict[str, tuple[str, dict[str, Any]]]:
    """`crm.item.list` commands naming the given entities by id, at most 50 ids each, keyed `t{type}_{n}`."""
    ids: dict[int, list[int]] = defaultdict(list)
    for ref in refs:
        if ref.known and ref.entity_id not in ids[ref.entity_type_id]:
            ids[ref.entity_type_id].append(ref.entity_id)
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    for etid, entity_ids in sorted(ids.items()):
        for n, chunk in enumerate(_chunks(sorted(entity_ids), IDS_PER_LIST)):
            commands[f"t{etid}_{n}"] = ("crm.item.list", {"entityTypeId": etid, "filter": {"@id": chunk},
                                                          "select": ["id"]})
    return commands


def listed(key: str, answer: Any) -> set[EntityRef]:
    """The entities one `t{type}_{n}` command's answer lists."""
    etid = int(key[1:].split("_", 1)[0])
    items = answer.get("items") if isinstance(answer, dict) else None
    out: set[EntityRef] = set()
    for item in items if isinstance(items, list) else []:
        raw = item.get("id") if isinstance(item, dict) else None
        if isinstance(raw, int | str) and str(raw).isdigit():
            out.add(EntityRef(etid, int(raw)))
    return out


def _user_token(rt: Runtime, session: Session) -> str:
    if not session.user_token or session.user_token_expires_at <= time.time():
        raise ApiError(401, "session_ended", SESSION_ENDED)
    try:
        return rt.crypto.decrypt(session.user_token, TOKENS)
    except TokenError as exc:
        raise ApiError(401, "session_ended", SESSION_ENDED) from exc


def _refused(exc: B24Error) -> ApiError:
    if exc.expired_token or exc.code in ("invalid_token", "NO_AUTH_FOUND"):
        return ApiError(401, "session_ended", SESSION_ENDED)
    if exc.transient:
        return ApiError(503, "portal_unavailable", "Битрикс24 сейчас не отвечает. Попробуйте через минуту.")
    return ApiError(502, "portal_error", f"Битрикс24 ответил ошибкой: {exc.code}")


async def readable(rt: Runtime, session: Session, refs: Iterable[EntityRef]) -> set[EntityRef]:
    """Those of `refs` the session's user may read in the CRM (all of them for an administrator)."""
    wanted = set(refs)
    if session.is_admin:
        return wanted
    token = _user_token(rt, session)
    portal = await rt.store.get_portal(session.portal)
    if portal is None or not portal.client_endpoint:
        raise ApiError(401, "portal_unknown", "Приложение не установлено на этом портале: откройте его заново.")
    commands = list_commands(wanted)
    visible: set[EntityRef] = set()
    keys = list(commands)
    b24 = B24Session.for_user(rt.b24, session.portal, portal.client_endpoint, token)
    for part in _chunks(keys, BATCH_MAX):
        try:
            result = await b24.batch({k: commands[k] for k in part})
        except TransientError as exc:  # throttled, or the portal paused (PAYMENT_REQUIRED)
            raise ApiError(503, "portal_unavailable", "Битрикс24 сейчас не отвечает. Попробуйте через минуту.") \
                from exc
        except B24Error as exc:
            raise _refused(exc) from exc
        for key, answer in result.result.items():
            if key in commands:
                visible |= listed(key, answer)
        for key, error in result.errors.items():
            code = str(error.get("error", "")) if isinstance(error, dict) else ""
            if code != "ACCESS_DENIED":  # a role with no read right at all for a type: none of it is visible
                raise _refused(B24Error(400, code or "BATCH_ERROR", f"{key}: {error}"))
    return visible & wanted
