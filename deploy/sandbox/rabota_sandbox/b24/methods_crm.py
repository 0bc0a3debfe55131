"""CRM REST methods: leads, deals, contacts, crm.item.*, pipelines, stages, SPA types, CRM mode,
user fields (`crm.*.userfield.*`, `userfieldconfig.*`)."""

from __future__ import annotations

import re
from typing import Any

from . import crm_store as cs
from .params import as_list, get_ci, to_int, yn
from .portal import CONTACT, DEAL, LEAD, RestError, UserField
from .registry import Ctx, MethodResult, method

OLD = {"lead": LEAD, "deal": DEAL, "contact": CONTACT}


def _fields_param(params: dict[str, Any], name: str = "fields") -> dict[str, Any]:
    f = get_ci(params, name)
    if f is None:
        f = {}
    if not isinstance(f, dict):
        if isinstance(f, list) and not f:
            return {}
        raise RestError("", f"Parameter '{name}' must be array.", 400)
    return f


def _id_param(params: dict[str, Any], api: str = "old") -> int:
    v = to_int(get_ci(params, "id"))
    if v is None or v <= 0:
        if api == "item":
            raise RestError("100", "Не заполнено обязательное поле: id", 400)
        raise RestError("", "ID is not defined or invalid.", 400)
    return v


def _select(params: dict[str, Any]) -> list[str] | None:
    s = get_ci(params, "select")
    if s is None or s == "":
        return None
    return [str(x) for x in as_list(s)]


def _filter(params: dict[str, Any]) -> dict[str, Any]:
    f = get_ci(params, "filter")
    if isinstance(f, list):
        return {str(i): v for i, v in enumerate(f)} if f else {}
    return f if isinstance(f, dict) else {}


# ------------------------------------------------------------------------------------- old methods
def _register_old(entity: str, etid: int) -> None:
    @method(f"crm.{entity}.add")
    def add(ctx: Ctx, params: dict[str, Any]) -> Any:
        rec = cs.create_entity(ctx, etid, _fields_param(params), "old")
        return rec["ID"]

    @method(f"crm.{entity}.update")
    def update(ctx: Ctx, params: dict[str, Any]) -> Any:
        eid = _id_param(params)
        cs.update_entity(ctx, etid, eid, _fields_param(params), "old")
        return True

    @method(f"crm.{entity}.delete")
    def delete(ctx: Ctx, params: dict[str, Any]) -> Any:
        cs.delete_entity(ctx, etid, _id_param(params), "old")
        return True

    @method(f"crm.{entity}.get")
    def get(ctx: Ctx, params: dict[str, Any]) -> Any:
        eid = _id_param(params)
        rec = ctx.portal.entities[etid].get(eid)
        if rec is None:
            raise cs.not_found("old", etid, eid)
        _require_read(ctx, rec)
        return cs.old_view(ctx, etid, rec, None)

    @method(f"crm.{entity}.list")
    def lst(ctx: Ctx, params: dict[str, Any]) -> Any:
        std = cs.std_fields(ctx.portal, etid)
        ufs = {u.field_name for u in ctx.portal.ufs_for(etid)}

        def resolve(name: str) -> str | None:
            up = name.upper()
            return up if up in std or up in ufs or up in cs.MULTI_FIELDS else None

        flt = _filter(params)
        recs = [r for r in ctx.portal.entities[etid].values() if ctx.user.reads(r) and cs.matches(r, flt, resolve)]
        recs = cs.sort_records(recs, get_ci(params, "order"), resolve)
        chunk, total, nxt = cs.page(recs, get_ci(params, "start"))
        sel = _select(params) or ["*"]
        return MethodResult([cs.old_view(ctx, etid, r, sel) for r in chunk], total, nxt)

    @method(f"crm.{entity}.fields")
    def fields(ctx: Ctx, params: dict[str, Any]) -> Any:
        out: dict[str, Any] = {}
        required = set(cs.mandatory_names(ctx, etid))
        for k, t in cs.std_fields(ctx.portal, etid).items():
            out[k] = {"type": {"str": "string", "int": "integer", "user": "user", "bool": "char", "money": "double",
                               "date": "date", "list": "integer", "ro": "string"}[t],
                      "isRequired": k in required, "isReadOnly": t == "ro", "isImmutable": k == "CATEGORY_ID",
                      "isMultiple": t == "list", "isDynamic": False, "title": cs.TITLES.get(k, k)}
        if cs.kind_of(ctx.portal, etid) in cs.HAS_MULTI:
            for m in cs.MULTI_FIELDS:
                out[m] = {"type": "crm_multifield", "isRequired": m in required, "isReadOnly": False,
                          "isImmutable": False, "isMultiple": True, "isDynamic": False, "title": cs.TITLES.get(m, m)}
        for uf in ctx.portal.ufs_for(etid):
            out[uf.field_name] = {"type": uf.user_type_id, "isRequired": uf.field_name in required,
                                  "isReadOnly": False, "isImmutable": False, "isMultiple": uf.multiple,
                                  "isDynamic": True, "title": uf.field_name, "listLabel": uf.label_text(),
                                  "formLabel": uf.label_text(), "filterLabel": uf.label_text()}
        return out

    @method(f"crm.{entity}.userfield.add")
    def uf_add(ctx: Ctx, params: dict[str, Any]) -> Any:
        return _old_uf_add(ctx, etid, _fields_param(params))

    @method(f"crm.{entity}.userfield.list")
    def uf_list(ctx: Ctx, params: dict[str, Any]) -> Any:
        flt = _filter(params)
        rows = [u.old_row() for u in ctx.portal.ufs_for(etid)]

        def resolve(name: str) -> str:
            return name.upper()

        rows = [r for r in rows if cs.matches(r, flt, resolve)]
        return MethodResult(rows, len(rows))

    @method(f"crm.{entity}.userfield.get")
    def uf_get(ctx: Ctx, params: dict[str, Any]) -> Any:
        fid = _id_param(params)
        for u in ctx.portal.ufs_for(etid):
            if u.id == fid:
                return u.old_row()
        raise RestError("", "The entity with ID '" + str(fid) + "' is not found.", 400)


for _entity_name, _entity_type in OLD.items():
    _register_old(_entity_name, _entity_type)


# ------------------------------------------------------------------------------------- user fields
UF_TYPES = {"string", "integer", "double", "boolean", "datetime", "date", "money", "url", "address",
            "enumeration", "file", "employee", "crm_status", "iblock_section", "iblock_element", "crm",
            "resourcebooking", "hlblock"}
NAME_RE = re.compile(r"^[A-Z0-9_]+$")


def _check_name(ctx: Ctx, entity_id: str, name: str) -> None:
    if len(name) > 50:
        raise RestError("ERROR_CORE", "Field name is too long (more than 50 characters).", 400)
    if not NAME_RE.match(name):
        raise RestError("ERROR_CORE", "Field name contains invalid characters. Allowed characters are: A-Z, 0-9 and _.",
                        400)
    if any(u.entity_id == entity_id and u.field_name == name for u in ctx.portal.userfields):
        raise RestError("ERROR_CORE", f'A user field named "{name}" already exists for the object "{entity_id}".', 400)


def _enum_items(ctx: Ctx, raw: Any, upper: bool) -> list[dict[str, Any]]:
    items = []
    seen: set[str] = set()
    for i, it in enumerate(as_list(raw)):
        if not isinstance(it, dict):
            continue
        g = (lambda k, it=it: it.get(k.upper() if upper else k, it.get(k)))  # noqa: E731
        value = g("value")
        if value in (None, ""):
            continue
        xml = str(g("xmlId") if not upper else it.get("XML_ID") or "") or str(ctx.portal.new_id("enumxml"))
        if xml in seen:
            raise RestError("ERROR_CORE", f"List item with XML_ID={xml} already exists.", 400)
        seen.add(xml)
        items.append({"ID": str(ctx.portal.new_id("enum")), "SORT": str(to_int(g("sort")) or (i + 1) * 10),
                      "VALUE": str(value), "DEF": yn(g("def")), "XML_ID": xml})
    return items


def _old_uf_add(ctx: Ctx, etid: int, f: dict[str, Any]) -> int:
    entity_id = ctx.portal.uf_entity_id(etid) or ""
    raw_name = f.get("FIELD_NAME")
    if raw_name in (None, ""):
        raise RestError("", "The 'FIELD_NAME' field is not found.", 400)
    utype = f.get("USER_TYPE_ID")
    if utype in (None, ""):
        raise RestError("", "The 'USER_TYPE_ID' field is not found.", 400)
    name = str(raw_name).upper()
    if not name.startswith("UF_CRM_"):
        name = "UF_CRM_" + (name[3:] if name.startswith("UF_") else name)
    _check_name(ctx, entity_id, name)
    if str(utype) not in UF_TYPES:
        raise RestError("ERROR_CORE", "Invalid custom type specified.", 400)
    multiple = yn(f.get("MULTIPLE")) == "Y"
    if str(utype) == "boolean":
        multiple = False
    label = f.get("EDIT_FORM_LABEL") or f.get("LABEL") or name
    raw_settings = f.get("SETTINGS")
    settings: dict[str, Any] = raw_settings if isinstance(raw_settings, dict) else {}
    uf = UserField(id=ctx.portal.new_id("uf"), entity_id=entity_id, field_name=name, user_type_id=str(utype),
                   multiple=multiple, mandatory=yn(f.get("MANDATORY")) == "Y", label=label,
                   xml_id=str(f.get("XML_ID") or ""), sort=to_int(f.get("SORT")) or 100, settings=settings or {},
                   extra={k: yn(f.get(k), d) for k, d in (("SHOW_FILTER", "N"), ("SHOW_IN_LIST", "Y"),
                                                            ("EDIT_IN_LIST", "Y"), ("IS_SEARCHABLE", "N"))})
    if uf.user_type_id == "enumeration":
        uf.items = _enum_items(ctx, f.get("LIST"), True)
    ctx.portal.userfields.append(uf)
    _backfill(ctx, etid, uf)
    return uf.id


def _backfill(ctx: Ctx, etid: int, uf: UserField) -> None:
    for rec in ctx.portal.entities.get(etid, {}).values():
        rec.setdefault(uf.field_name, [] if uf.multiple else None)


@method("userfieldconfig.add")
def userfieldconfig_add(ctx: Ctx, params: dict[str, Any]) -> Any:
    module = get_ci(params, "moduleId")
    if module in (None, ""):
        raise RestError("100", "Required parameter \"moduleId\" is missing", 400)
    if module != "crm":
        raise RestError("ACCESS_DENIED", "Access denied", 400)
    f = get_ci(params, "field")
    if not isinstance(f, dict):
        raise RestError("100", "Required parameter \"field\" is missing", 400)
    entity_id = str(f.get("entityId") or "")
    etid = _etid_for_uf_entity(ctx, entity_id)
    if etid is None:
        raise RestError("ACCESS_DENIED", "You cannot create custom fields", 400)
    utype = f.get("userTypeId")
    if utype in (None, ""):
        raise RestError("ERROR_CORE", "The 'USER_TYPE_ID' field is not found.", 400)
    name = str(f.get("fieldName") or "")
    if not name:
        raise RestError("ERROR_CORE", "The 'FIELD_NAME' field is not found.", 400)
    if name != name.upper() and NAME_RE.match(name.upper()):
        name = name.upper()
    prefix = f"UF_{entity_id}_"
    if not name.startswith(prefix):
        raise RestError("ERROR_CORE", f'Field name must start with "{prefix}".', 400)
    _check_name(ctx, entity_id, name)
    if str(utype) not in UF_TYPES:
        raise RestError("ERROR_CORE", "Invalid custom type specified.", 400)
    label = f.get("editFormLabel") or name
    uf = UserField(id=ctx.portal.new_id("uf"), entity_id=entity_id, field_name=name, user_type_id=str(utype),
                   multiple=yn(f.get("multiple")) == "Y" and str(utype) != "boolean",
                   mandatory=yn(f.get("mandatory")) == "Y", label=label, xml_id=str(f.get("xmlId") or ""),
                   sort=to_int(f.get("sort")) or 100,
                   settings=_settings(f.get("settings")),
                   extra={"SHOW_FILTER": yn(f.get("showFilter")), "SHOW_IN_LIST": "Y",
                          "EDIT_IN_LIST": yn(f.get("editInList"), "Y"), "IS_SEARCHABLE": yn(f.get("isSearchable"))})
    if uf.user_type_id == "enumeration":
        uf.items = _enum_items(ctx, f.get("enum"), False)
    ctx.portal.userfields.append(uf)
    _backfill(ctx, etid, uf)
    return {"field": uf.config_row()}


def _settings(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _etid_for_uf_entity(ctx: Ctx, entity_id: str) -> int | None:
    for etid in (LEAD, DEAL, CONTACT):
        if ctx.portal.uf_entity_id(etid) == entity_id:
            return etid
    for t in ctx.portal.spa_types:
        if f"CRM_{t.id}" == entity_id:
            return t.entity_type_id
    return None


@method("userfieldconfig.list")
def userfieldconfig_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    flt = _filter(params)
    rows = [u.config_row() for u in ctx.portal.userfields]
    rows = [r for r in rows if cs.matches(r, flt, lambda n: n)]
    chunk, total, nxt = cs.page(rows, get_ci(params, "start"))
    return MethodResult({"fields": chunk}, total, nxt)


@method("userfieldconfig.get")
def userfieldconfig_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    fid = to_int(get_ci(params, "id"))
    for u in ctx.portal.userfields:
        if u.id == fid:
            return {"field": u.config_row()}
    raise RestError("NOT_FOUND", "Поле не найдено", 400)


# ------------------------------------------------------------------------------------- crm.item.*
def _etid(ctx: Ctx, params: dict[str, Any]) -> int:
    etid = to_int(get_ci(params, "entityTypeId"))
    if etid is None:
        raise RestError("100", "Не заполнено обязательное поле: entityTypeId", 400)
    if etid not in (LEAD, DEAL, CONTACT) and not ctx.portal.spa_by_etid(etid):
        raise RestError("NOT_FOUND", "Смарт-процесс не найден", 400)
    return etid


def _require_read(ctx: Ctx, rec: dict[str, Any]) -> None:
    """A user whose role may not read this entity gets Bitrix24's access error (lists simply leave it out)."""
    if not ctx.user.reads(rec):
        raise RestError("ACCESS_DENIED", "Access denied", 403)


def _orig(params: dict[str, Any]) -> bool:
    return yn(get_ci(params, "useOriginalUfNames")) == "Y"


@method("crm.item.add")
def item_add(ctx: Ctx, params: dict[str, Any]) -> Any:
    etid = _etid(ctx, params)
    fields = get_ci(params, "fields")
    if not isinstance(fields, dict):
        raise RestError("100", "Не заполнено обязательное поле: fields", 400)
    orig = _orig(params)
    rec = cs.create_entity(ctx, etid, fields, "item", orig)
    return {"item": cs.item_view(ctx, etid, rec, None, orig)}


@method("crm.item.update")
def item_update(ctx: Ctx, params: dict[str, Any]) -> Any:
    etid = _etid(ctx, params)
    eid = _id_param(params, "item")
    fields = get_ci(params, "fields")
    if not isinstance(fields, dict):
        raise RestError("100", "Не заполнено обязательное поле: fields", 400)
    orig = _orig(params)
    rec = cs.update_entity(ctx, etid, eid, fields, "item", orig)
    return {"item": cs.item_view(ctx, etid, rec, None, orig)}


@method("crm.item.delete")
def item_delete(ctx: Ctx, params: dict[str, Any]) -> Any:
    etid = _etid(ctx, params)
    cs.delete_entity(ctx, etid, _id_param(params, "item"), "item")
    return []


@method("crm.item.get")
def item_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    etid = _etid(ctx, params)
    eid = _id_param(params, "item")
    rec = ctx.portal.entities[etid].get(eid)
    if rec is None:
        raise cs.not_found("item", etid, eid)
    _require_read(ctx, rec)
    return {"item": cs.item_view(ctx, etid, rec, None, _orig(params))}


@method("crm.item.list")
def item_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    etid = _etid(ctx, params)
    orig = _orig(params)
    names = cs.item_name_map(ctx.portal, etid, orig)
    names.update(cs.item_name_map(ctx.portal, etid, not orig))  # filters take either UF spelling

    def resolve(name: str) -> str | None:
        if name in names:
            return names[name]
        return None

    flt = _filter(params)
    order = get_ci(params, "order")
    for key in [*flt, *(order if isinstance(order, dict) else {})]:
        if cs.split_filter_key(str(key))[1] in ("fm", "entityTypeId", "contacts", "companies"):
            raise RestError("100", f'Field "{key}" cannot be used in filter or order', 400)
    recs = [r for r in ctx.portal.entities[etid].values() if ctx.user.reads(r) and cs.matches(r, flt, resolve)]
    recs = cs.sort_records(recs, order, resolve)
    chunk, total, nxt = cs.page(recs, get_ci(params, "start"))
    sel = _select(params)
    return MethodResult({"items": [cs.item_view(ctx, etid, r, sel, orig) for r in chunk]}, total, nxt)


@method("crm.item.fields")
def item_fields(ctx: Ctx, params: dict[str, Any]) -> Any:
    etid = _etid(ctx, params)
    orig = _orig(params)
    kind = cs.kind_of(ctx.portal, etid)
    required = set(cs.mandatory_names(ctx, etid))
    out: dict[str, Any] = {}
    for k, t in cs.std_fields(ctx.portal, etid).items():
        out[cs.item_name(kind, k)] = {
            "type": {"str": "string", "int": "integer", "user": "user", "bool": "boolean", "money": "double",
                     "date": "date", "list": "integer", "ro": "string"}[t],
            "isRequired": k in required, "isReadOnly": t == "ro", "isImmutable": False, "isMultiple": t == "list",
            "isDynamic": False, "title": cs.TITLES.get(k, k), "upperName": k}
    if kind in cs.HAS_MULTI:
        out["fm"] = {"type": "crm_multifield", "isRequired": False, "isReadOnly": False, "isImmutable": False,
                     "isMultiple": True, "isDynamic": False, "title": "Мультиполя", "upperName": "FM"}
    for uf in ctx.portal.ufs_for(etid):
        out[uf.field_name if orig else cs.uf_camel(uf.field_name)] = {
            "type": uf.user_type_id, "isRequired": uf.field_name in required, "isReadOnly": False,
            "isImmutable": False, "isMultiple": uf.multiple, "isDynamic": True, "title": uf.label_text(),
            "upperName": uf.field_name}
    return {"fields": out}


# ------------------------------------------------------------------------------------- directories
@method("crm.settings.mode.get")
def settings_mode(ctx: Ctx, params: dict[str, Any]) -> Any:
    return ctx.portal.crm_mode


@method("crm.category.list")
def category_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    etid = to_int(get_ci(params, "entityTypeId"))
    if etid is None:
        raise RestError("100", "Не заполнено обязательное поле: entityTypeId", 400)
    if etid in (LEAD, CONTACT, 4):
        raise RestError("ENTITY_TYPE_NOT_SUPPORTED", "Тип сущности не поддерживает направления", 400)
    if etid not in ctx.portal.categories:
        raise RestError("NOT_FOUND", "Смарт-процесс не найден", 400)
    cats = sorted(ctx.portal.categories[etid], key=lambda c: c["sort"])
    return MethodResult({"categories": [dict(c) for c in cats]}, len(cats))


@method("crm.category.get")
def category_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    etid = to_int(get_ci(params, "entityTypeId")) or 0
    cid = to_int(get_ci(params, "id"))
    for c in ctx.portal.categories.get(etid, []):
        if c["id"] == cid:
            return {"category": dict(c)}
    raise RestError("NOT_FOUND", "Направление не найдено", 400)


@method("crm.status.list")
def status_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    flt = _filter(params)
    rows = [r for r in ctx.portal.statuses if cs.matches(r, flt, lambda n: n.upper())]
    order = get_ci(params, "order") or {"SORT": "ASC"}
    rows = cs.sort_records(rows, order, lambda n: n.upper())
    return MethodResult([dict(r) for r in rows], len(rows))


@method("crm.status.entity.items")
def status_entity_items(ctx: Ctx, params: dict[str, Any]) -> Any:
    eid = get_ci(params, "entityId")
    rows = [r for r in ctx.portal.statuses if r["ENTITY_ID"] == eid]
    if not eid or not rows:
        raise RestError("", "The parameter entityId is not defined or invalid.", 400)
    return [{k: r[k] for k in ("NAME", "SORT", "STATUS_ID", "COLOR", "SEMANTICS", "CATEGORY_ID")} for r in rows]


@method("crm.type.list")
def type_list(ctx: Ctx, params: dict[str, Any]) -> Any:
    if not ctx.user.admin:
        raise RestError("ACCESS_DENIED", "Доступ запрещён", 400)
    rows = [t.row() for t in ctx.portal.spa_types]
    rows = [r for r in rows if cs.matches(r, _filter(params), lambda n: n)]
    chunk, total, nxt = cs.page(rows, get_ci(params, "start"))
    return MethodResult({"types": chunk}, total, nxt)


@method("crm.type.get")
def type_get(ctx: Ctx, params: dict[str, Any]) -> Any:
    tid = to_int(get_ci(params, "id"))
    for t in ctx.portal.spa_types:
        if t.id == tid:
            return {"type": t.row()}
    raise RestError("NOT_FOUND", "Смарт-процесс не найден", 400)
