"""Timeline: configurable activities (`crm.activity.configurable.*`), `crm.activity.list|get|delete`,
icon and logo directories."""

from __future__ import annotations

import re
from typing import Any

from .crm_store import decode_base64, matches, page, parse_date, sort_records
from .layout import ICON_CODES, LOGO_CODES, validate_layout
from .params import as_list, get_ci, to_bool, to_int
from .portal import RestError, StoredFile
from .registry import Ctx, MethodResult, method, now_iso

FIELD_KEYS = ("typeId", "completed", "deadline", "pingOffsets", "isIncomingChannel", "responsibleId", "badgeCode",
              "originatorId", "originId")


def _owner(ctx: Ctx, params: dict[str, Any]) -> tuple[int, int]:
    ot = to_int(get_ci(params, "ownerTypeId"))
    oid = to_int(get_ci(params, "ownerId"))
    if ot is None or oid is None:
        raise RestError("100", "Не заполнены обязательные поля: ownerTypeId, ownerId", 400)
    ents = ctx.portal.entities.get(ot)
    if ents is None or oid not in ents:
        raise RestError("NOT_FOUND", "Элемент не найден", 400)
    return ot, oid


def _wrong(field: str) -> RestError:
    return RestError("WRONG_FIELD_VALUE", f"Поле {field} содержит неверное значение", 400)


def _fields(ctx: Ctx, raw: Any, current: dict[str, Any] | None) -> dict[str, Any]:
    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, dict):
        raise RestError("100", "Не заполнено обязательное поле: fields", 400)
    out: dict[str, Any] = dict(current) if current else {
        "typeId": "CONFIGURABLE", "completed": False, "deadline": None, "pingOffsets": [],
        "isIncomingChannel": False, "responsibleId": ctx.user_id, "badgeCode": "", "originatorId": "",
        "originId": ""}
    for key, v in raw.items():
        if key not in FIELD_KEYS:
            continue
        if key == "typeId":
            if str(v) != "CONFIGURABLE":
                raise _wrong("typeId")
            out[key] = "CONFIGURABLE"
        elif key in ("completed", "isIncomingChannel"):
            b = to_bool(v)
            if b is None:
                raise _wrong(key)
            out[key] = b
        elif key == "deadline":
            d = parse_date(v) if v not in (None, "") else None
            if d == "invalid":
                raise _wrong("deadline")
            out[key] = d
        elif key == "pingOffsets":
            vals = [to_int(x) for x in as_list(v)]
            if any(x is None or x < 0 for x in vals):
                raise _wrong("pingOffsets")
            out[key] = vals
        elif key == "responsibleId":
            r = to_int(v)
            if r is None or r <= 0 or r not in ctx.portal.users:
                raise _wrong("responsibleId")
            out[key] = r
        elif key == "badgeCode":
            if v not in (None, "") and str(v) not in ctx.portal.badges:
                raise RestError("WRONG_FIELD_VALUE", f'Бейдж с кодом "{v}" не зарегистрирован', 400)
            out[key] = "" if v is None else str(v)
        else:
            out[key] = "" if v is None else str(v)
    if out["isIncomingChannel"] and out["deadline"]:
        raise RestError("INCOMING_ACTIVITY_CAN_NOT_BE_WITH_DEADLINE",
                        "Входящее дело не может иметь крайний срок", 400)
    return out


def _view(act: dict[str, Any]) -> dict[str, Any]:
    return {"id": act["id"], "ownerTypeId": act["ownerTypeId"], "ownerId": act["ownerId"],
            "fields": {k: act["fields"].get(k) for k in FIELD_KEYS}, "layout": act["layout"]}


def _require_app(ctx: Ctx) -> None:
    # Every token this emulator issues is an application OAuth token; webhooks do not exist here.
    if ctx.token is None:
        raise RestError("ERROR_WRONG_CONTEXT", "Метод можно вызывать только в контексте приложения", 400)


@method("crm.activity.configurable.add")
def configurable_add(ctx: Ctx, params: dict[str, Any]) -> Any:
    _require_app(ctx)
    ot, oid = _owner(ctx, params)
    fields = _fields(ctx, get_ci(params, "fields"), None)
    layout = get_ci(params, "layout")
    if layout in (None, "", [], {}):
        raise RestError("ERROR_EMPTY_LAYOUT", "Не передан layout", 400)
    layout = validate_layout(layout)
    aid = ctx.portal.new_id("activity")
    now = now_iso()
    ctx.portal.activities[aid] = {
        "id": aid, "ownerTypeId": ot, "ownerId": oid, "fields": fields, "layout": layout, "created": now,
        "updated": now, "authorId": ctx.user_id, "locked": False, "app": ctx.config.client_id}
    return {"activity": {"id": aid}}


@method("crm.activity.configurable.update")
def configurable_update(ctx: Ctx, params: dict[str, Any]) -> Any:
    _require_app(ctx)
    aid = to_int(get_ci(params, "id"))
    if aid is None:
        raise RestError("100", "Не заполнено обязательное поле: id", 400)
    act = ctx.portal.activities.get(aid)
    if act is None:
        raise RestError("NOT_FOUND", "Дело не найдено", 400)
    if act["app"] != ctx.config.client_id:
        raise RestError("ERROR_WRONG_APPLICATION", "Дело создано другим приложением", 400)
    fields = _fields(ctx, get_ci(params, "fields"), act["fields"])
    layout = get_ci(params, "layout")
    if layout not in (None, "", [], {}):
        act["layout"] = validate_layout(layout)
    act["fields"] = fields
    act["updated"] = now_iso()
    act["locked"] = False
    return {"activity": {"id": aid}}


@method("crm.activity.configurable.get")
def configurable_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    _require_app(ctx)
    aid = to_int(get_ci(params, "id"))
    act = ctx.portal.activities.get(aid or 0)
    if act is None:
        raise RestError("NOT_FOUND", "Дело не найдено", 400)
    return {"activity": _view(act)}


def _title(layout: dict[str, Any]) -> str:
    t = (layout.get("header") or {}).get("title")
    if isinstance(t, dict):
        return str(t.get("ru") or t.get("en") or next(iter(t.values()), ""))
    return str(t or "")


def activity_row(act: dict[str, Any]) -> dict[str, Any]:
    f = act["fields"]
    return {
        "ID": str(act["id"]), "OWNER_ID": str(act["ownerId"]), "OWNER_TYPE_ID": str(act["ownerTypeId"]),
        "TYPE_ID": "6", "PROVIDER_ID": "CONFIGURABLE_REST_APP", "PROVIDER_TYPE_ID": f["typeId"],
        "SUBJECT": _title(act["layout"]), "COMPLETED": "Y" if f["completed"] else "N",
        "RESPONSIBLE_ID": str(f["responsibleId"]), "AUTHOR_ID": str(act["authorId"]), "CREATED": act["created"],
        "LAST_UPDATED": act["updated"], "DEADLINE": f["deadline"], "ORIGINATOR_ID": f["originatorId"] or None,
        "ORIGIN_ID": f["originId"] or None, "DIRECTION": "1" if f["isIncomingChannel"] else "0",
    }


@method("crm.activity.list")
def activity_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    flt = get_ci(params, "filter")
    flt = flt if isinstance(flt, dict) else {}
    rows = [activity_row(a) for a in ctx.portal.activities.values()]
    rows = [r for r in rows if matches(r, flt, lambda n: n.upper())]
    rows = sort_records(rows, get_ci(params, "order"), lambda n: n.upper())
    chunk, total, nxt = page(rows, get_ci(params, "start"))
    sel = get_ci(params, "select")
    if sel:
        keys = ["ID"] + [str(s).upper() for s in as_list(sel) if str(s) != "*"]
        if "*" not in [str(s) for s in as_list(sel)]:
            chunk = [{k: r.get(k) for k in keys if k in r} for r in chunk]
    return MethodResult(chunk, total, nxt)


@method("crm.activity.get")
def activity_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    aid = to_int(get_ci(params, "id"))
    act = ctx.portal.activities.get(aid or 0)
    if act is None:
        raise RestError("", "Not found", 400)
    return activity_row(act)


@method("crm.activity.delete")
def activity_delete(ctx: Ctx, params: dict[str, Any]) -> Any:
    aid = to_int(get_ci(params, "id"))
    if aid is None or aid not in ctx.portal.activities:
        raise RestError("", "Not found", 400)
    del ctx.portal.activities[aid]
    return True


TIMELINE_ENTITY_TYPES = {"lead": 1, "deal": 2, "contact": 3, "company": 4}


@method("crm.timeline.comment.add")
def comment_add(ctx: Ctx, params: dict[str, Any]) -> Any:
    f = get_ci(params, "fields")
    if not isinstance(f, dict):
        raise RestError("100", "Не заполнены обязательные поля: fields", 400)
    etype = str(f.get("ENTITY_TYPE") or "").lower()
    eid = to_int(f.get("ENTITY_ID"))
    if not etype or eid is None:
        raise RestError("100", "Не заполнены обязательные поля: ENTITY_ID, ENTITY_TYPE", 400)
    m = re.fullmatch(r"dynamic_(\d+)", etype)
    etid = TIMELINE_ENTITY_TYPES.get(etype) or (int(m.group(1)) if m else None)
    if etid is None or etid not in ctx.portal.entities or eid not in ctx.portal.entities[etid]:
        raise RestError("OWNER_NOT_FOUND", "Владелец не найден", 400)
    comment = str(f.get("COMMENT") or "").strip()
    if not comment:
        raise RestError("INVALID_ARG_VALUE", "Комментарий не может быть пустым", 400)
    files = []
    for item in as_list(f.get("FILES")):
        pair = as_list(item)
        if len(pair) != 2 or not str(pair[1]).strip():
            raise RestError("INVALID_ARG_VALUE", "Неверный формат файла", 400)
        fid = ctx.portal.new_id("file")
        ctx.portal.files[fid] = StoredFile(fid, str(pair[0]) or f"file_{fid}", decode_base64(str(pair[1])), etid, eid)
        files.append(fid)
    cid = ctx.portal.new_id("comment")
    ctx.portal.comments.append({"id": cid, "entityTypeId": etid, "entityId": eid, "comment": comment,
                                "files": files, "authorId": ctx.user_id, "created": now_iso()})
    return cid


@method("crm.timeline.icon.list")
def icon_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    return [{"code": c, "isSystem": True, "fileUri": ""} for c in ICON_CODES]


@method("crm.timeline.logo.list")
def logo_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    return [{"code": c, "isSystem": True, "fileUri": ""} for c in LOGO_CODES]


