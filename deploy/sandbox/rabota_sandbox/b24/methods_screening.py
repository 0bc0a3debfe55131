"""People already in the CRM and what a card is screened by: `crm.duplicate.findbycomm`, `crm.status.add`
(and get/update/delete) for directories such as SOURCE, and the configurable-activity badges
`crm.activity.badge.add/get/list/delete` (b24restdocs `api-reference/crm/duplicates/crm-duplicate-find-by-comm.md`,
`api-reference/crm/status/crm-status-add.md`, `…/timeline/activities/configurable/badges/*`).

Phones are compared the way Bitrix24's duplicate index stores them: the number reduced to its digits, the
extension dropped, and a national form taken to the international one by the portal's country rules (Belarus
`8 0XX …` → `375 XX …`, Russia `8 XXX …` → `7 XXX …`), so a contact typed by hand as `8 (029) 123-45-67`
is found by `+375291234567`. E-mails are compared case-insensitively, trimmed."""

from __future__ import annotations

import re
from typing import Any

from .params import as_list, get_ci, to_int
from .portal import CONTACT, LEAD, RestError
from .registry import Ctx, MethodResult, method

COMPANY = 4
FIND_TYPES = {"LEAD": LEAD, "CONTACT": CONTACT, "COMPANY": COMPANY}
MAX_VALUES = 20
# «If 20 or more duplicates are found for one object, the other types are not returned.»
TYPE_CAP = 20
_EXT = re.compile(r"(доб|ext|вн|#|x)\.?.*$", re.IGNORECASE)


def comparable_phone(raw: Any) -> str:
    """A phone as the duplicate index keeps it: international digits, no extension; "" when no digits."""
    text = _EXT.sub("", str(raw or ""))
    digits = "".join(ch for ch in text if ch.isdigit())
    if not digits:
        return ""
    if text.lstrip().startswith("+"):
        return digits
    if len(digits) == 11 and digits.startswith("80"):  # Belarus: trunk 8, then 0 and the code
        return "375" + digits[2:]
    if len(digits) == 11 and digits.startswith("8"):  # Russia: trunk 8
        return "7" + digits[1:]
    if len(digits) == 9 and digits[0] in "1234":  # Belarus local form: code and number (the portal's country)
        return "375" + digits
    if len(digits) == 10 and digits.startswith("0"):  # Belarus 0XX XXXXXXX
        return "375" + digits[1:]
    return digits


def comparable_email(raw: Any) -> str:
    return str(raw or "").strip().lower()


def _values(params: dict[str, Any]) -> list[str]:
    raw = get_ci(params, "values")
    values = [str(v) for v in as_list(raw) if v not in (None, "")] if raw not in (None, "") else []
    if not values:
        raise RestError("", "Communication values is not defined.", 400)
    return values[:MAX_VALUES]


@method("crm.duplicate.findbycomm")
def findbycomm(ctx: Ctx, params: dict[str, Any]) -> Any:
    ctype = get_ci(params, "type")
    if ctype in (None, ""):
        raise RestError("", "Communication type is not defined.", 400)
    ctype = str(ctype).upper()
    if ctype not in ("PHONE", "EMAIL"):
        raise RestError("", f"Communication type '{ctype}' is not supported in current context.", 400)
    values = _values(params)
    if ctx.user.crm_read == "none" and not ctx.user.admin:
        raise RestError("", "Access denied.", 403)
    norm = comparable_phone if ctype == "PHONE" else comparable_email
    wanted = {v for v in (norm(x) for x in values) if v}
    etype = get_ci(params, "entity_type")
    types = [str(etype).upper()] if etype not in (None, "") else list(FIND_TYPES)
    out: dict[str, list[int]] = {}
    for name in types:
        etid = FIND_TYPES.get(name)
        if etid is None:
            continue
        found = sorted(eid for eid, rec in ctx.portal.entities.get(etid, {}).items()
                       if ctx.user.reads(rec) and any(norm(m.get("VALUE")) in wanted for m in rec.get(ctype) or []))
        if found:
            out[name] = found
        if len(found) >= TYPE_CAP:
            break
    # An empty answer is PHP's empty array, `[]`.
    return out or []


# ------------------------------------------------------------------------------------- crm.status.*
_STAGE_ID = re.compile(r"^[A-Za-z0-9_:-]+$")


def _require_crm_admin(ctx: Ctx) -> None:
    if not ctx.user.admin:
        raise RestError("", "Access denied.", 400)


def _status_fields(params: dict[str, Any]) -> dict[str, Any]:
    f = get_ci(params, "fields")
    if not isinstance(f, dict):
        raise RestError("", "Invalid parameters.", 400)
    return {str(k).upper(): v for k, v in f.items()}


@method("crm.status.add")
def status_add(ctx: Ctx, params: dict[str, Any]) -> Any:
    _require_crm_admin(ctx)
    f = _status_fields(params)
    entity_id = str(f.get("ENTITY_ID") or "")
    if not entity_id:
        raise RestError("", "The field ENTITY_ID is required.", 400)
    if not any(r["ENTITY_ID"] == entity_id for r in ctx.portal.statuses):
        raise RestError("", "Specified entity type is not supported.", 400)
    status_id = str(f.get("STATUS_ID") or "")
    if not status_id:
        raise RestError("", "The field STATUS_ID is required.", 400)
    if not str(f.get("NAME") or ""):
        raise RestError("", "Не заполнено обязательное поле \"Название\"", 400)
    limit = 21 if entity_id == "STATUS" else 22 if entity_id.startswith("DEAL_STAGE") else 50
    if len(status_id) > limit or (limit < 50 and not _STAGE_ID.match(status_id)):
        raise RestError("", "Invalid parameters.", 400)
    if any(r["ENTITY_ID"] == entity_id and r["STATUS_ID"] == status_id for r in ctx.portal.statuses):
        raise RestError("", "Duplicate STATUS_ID.", 400)
    row = {"ID": str(ctx.portal.new_id("status") + 10_000), "ENTITY_ID": entity_id, "STATUS_ID": status_id,
           "NAME": str(f["NAME"]), "NAME_INIT": "", "SORT": str(to_int(f.get("SORT")) or 10), "SYSTEM": "N",
           "CATEGORY_ID": None, "COLOR": str(f.get("COLOR") or ""), "SEMANTICS": f.get("SEMANTICS") or None}
    ctx.portal.statuses.append(row)
    return int(str(row["ID"]))


def _status_by_id(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    sid = str(to_int(get_ci(params, "id")) or "")
    for r in ctx.portal.statuses:
        if r["ID"] == sid:
            return r
    raise RestError("", "Not found.", 400)


@method("crm.status.get")
def status_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    return dict(_status_by_id(ctx, params))


@method("crm.status.update")
def status_update(ctx: Ctx, params: dict[str, Any]) -> Any:
    _require_crm_admin(ctx)
    row = _status_by_id(ctx, params)
    f = _status_fields(params)
    for key in ("NAME", "SORT", "COLOR"):
        if key in f:
            row[key] = str(f[key])
    return True


@method("crm.status.delete")
def status_delete(ctx: Ctx, params: dict[str, Any]) -> Any:
    _require_crm_admin(ctx)
    row = _status_by_id(ctx, params)
    if row.get("SYSTEM") == "Y":
        raise RestError("", "Cannot delete a system status.", 400)
    ctx.portal.statuses.remove(row)
    return True


# ------------------------------------------------------------------------------------- badges
BADGE_TYPES = {"success", "failure", "warning", "primary", "secondary"}


def badge_registry(ctx: Ctx) -> dict[str, dict[str, Any]]:
    """Badges are registered per portal (per app in Bitrix24: the code must exist before `badgeCode` names it)."""
    return ctx.portal.badges


def _text(v: Any) -> bool:
    return (isinstance(v, str) and bool(v)) or (isinstance(v, dict) and bool(v)
                                                and all(isinstance(x, str) for x in v.values()))


@method("crm.activity.badge.add")
def badge_add(ctx: Ctx, params: dict[str, Any]) -> Any:
    if not ctx.user.admin:
        raise RestError("ACCESS_DENIED", "Access denied.", 400)
    code, title, value, btype = (get_ci(params, k) for k in ("code", "title", "value", "type"))
    if not code or not _text(title) or not _text(value) or not btype:
        raise RestError("REQUIRED_ARG_MISSING", "Required fields are not filled.", 400)
    if str(btype) not in BADGE_TYPES:
        raise RestError("ENUM_FIELD", f"Неверный тип бейджа: {btype}", 400)
    badge = {"code": str(code), "title": title, "value": value, "type": str(btype)}
    badge_registry(ctx)[str(code)] = badge
    return {"badge": dict(badge)}


@method("crm.activity.badge.get")
def badge_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    badge = badge_registry(ctx).get(str(get_ci(params, "code") or ""))
    if badge is None:
        raise RestError("NOT_FOUND", "Not found.", 400)
    return {"badge": dict(badge)}


@method("crm.activity.badge.list")
def badge_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    rows = [dict(b) for b in badge_registry(ctx).values()]
    return MethodResult({"badges": rows}, len(rows))


@method("crm.activity.badge.delete")
def badge_delete(ctx: Ctx, params: dict[str, Any]) -> Any:
    if not ctx.user.admin:
        raise RestError("ACCESS_DENIED", "Access denied.", 400)
    if badge_registry(ctx).pop(str(get_ci(params, "code") or ""), None) is None:
        raise RestError("NOT_FOUND", "Not found.", 400)
    return True


def kanban_badges(ctx_portal: Any, owner_type_id: int, owner_id: int) -> list[dict[str, Any]]:
    """The badge a kanban card shows: the last added among the owner's open configurable activities."""
    reg: dict[str, dict[str, Any]] = ctx_portal.badges
    acts = sorted((a for a in ctx_portal.activities.values()
                   if a["ownerTypeId"] == owner_type_id and a["ownerId"] == owner_id
                   and not a["fields"]["completed"] and a["fields"].get("badgeCode") in reg),
                  key=lambda a: a["id"])
    return [dict(reg[acts[-1]["fields"]["badgeCode"]])] if acts else []
