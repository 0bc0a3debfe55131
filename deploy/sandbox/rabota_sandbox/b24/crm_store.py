"""CRM entity storage and the field logic shared by the old methods (`crm.lead.*`, `crm.deal.*`,
`crm.contact.*`, UPPER_CASE fields) and the universal `crm.item.*` methods (camelCase fields).

Records are stored flat with UPPER_CASE keys (user fields by their `UF_CRM_…` name, multifields
`PHONE`/`EMAIL`/`WEB`/`IM` as lists, files as file ids)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Any

from .params import as_list, to_bool, to_int, yn
from .portal import CONTACT, DEAL, LEAD, Portal, RestError, StoredFile, UserField
from .registry import Ctx, now_iso

MULTI_FIELDS = ("PHONE", "EMAIL", "WEB", "IM")
VALUE_TYPES = {
    "PHONE": {"WORK", "MOBILE", "FAX", "HOME", "PAGER", "MAILING", "OTHER"},
    "EMAIL": {"WORK", "HOME", "MAILING", "OTHER"},
    "WEB": {"WORK", "HOME", "FACEBOOK", "VK", "LIVEJOURNAL", "TWITTER", "OTHER"},
    "IM": {"TELEGRAM", "VK", "SKYPE", "VIBER", "BITRIX24", "OPENLINE", "IMOL", "ICQ", "MSN", "JABBER",
           "FACEBOOK", "INSTAGRAM", "OTHER"},
}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# field type codes: str, int, user, bool, money, date, datetime, list (int list), ro (read only)
COMMON: dict[str, str] = {
    "ID": "ro", "TITLE": "str", "ASSIGNED_BY_ID": "user", "CREATED_BY_ID": "ro", "MODIFY_BY_ID": "ro",
    "DATE_CREATE": "ro", "DATE_MODIFY": "ro", "OPENED": "bool", "COMMENTS": "str", "SOURCE_ID": "str",
    "SOURCE_DESCRIPTION": "str", "ORIGINATOR_ID": "str", "ORIGIN_ID": "str", "CURRENCY_ID": "str",
    "OPPORTUNITY": "money", "IS_MANUAL_OPPORTUNITY": "bool", "UTM_SOURCE": "str", "UTM_MEDIUM": "str",
    "UTM_CAMPAIGN": "str", "UTM_CONTENT": "str", "UTM_TERM": "str",
}
PERSON: dict[str, str] = {
    "HONORIFIC": "str", "NAME": "str", "SECOND_NAME": "str", "LAST_NAME": "str", "POST": "str",
    "BIRTHDATE": "date", "ADDRESS": "str", "ADDRESS_CITY": "str", "ADDRESS_COUNTRY": "str",
    "HAS_PHONE": "ro", "HAS_EMAIL": "ro", "HAS_IMOL": "ro", "COMPANY_ID": "int",
}
FIELDS: dict[str, dict[str, str]] = {
    "LEAD": {**COMMON, **PERSON, "STATUS_ID": "str", "STATUS_DESCRIPTION": "str", "STATUS_SEMANTIC_ID": "ro",
             "COMPANY_TITLE": "str", "CONTACT_ID": "int", "CONTACT_IDS": "list", "IS_RETURN_CUSTOMER": "ro",
             "DATE_CLOSED": "ro"},
    "DEAL": {**COMMON, "TYPE_ID": "str", "CATEGORY_ID": "int", "STAGE_ID": "str", "STAGE_SEMANTIC_ID": "ro",
             "IS_NEW": "ro", "PROBABILITY": "int", "CONTACT_ID": "int", "CONTACT_IDS": "list", "COMPANY_ID": "int",
             "LEAD_ID": "int", "BEGINDATE": "date", "CLOSEDATE": "date", "CLOSED": "bool",
             "ADDITIONAL_INFO": "str"},
    "CONTACT": {**{k: v for k, v in COMMON.items() if k not in ("TITLE", "OPPORTUNITY", "IS_MANUAL_OPPORTUNITY",
                                                              "CURRENCY_ID")},
                **PERSON, "TYPE_ID": "str", "EXPORT": "bool", "LEAD_ID": "int", "COMPANY_IDS": "list"},
    "DYNAMIC": {"ID": "ro", "XML_ID": "str", "TITLE": "str", "CREATED_BY_ID": "ro", "MODIFY_BY_ID": "ro",
                "DATE_CREATE": "ro", "DATE_MODIFY": "ro", "ASSIGNED_BY_ID": "user", "OPENED": "bool",
                "CATEGORY_ID": "int", "STAGE_ID": "str", "PREVIOUS_STAGE_ID": "ro", "BEGINDATE": "date",
                "CLOSEDATE": "date", "COMPANY_ID": "int", "CONTACT_ID": "int", "CONTACT_IDS": "list",
                "SOURCE_ID": "str", "SOURCE_DESCRIPTION": "str", "WEBFORM_ID": "ro", "OBSERVERS": "list"},
}
HAS_MULTI = {"LEAD", "CONTACT"}
# object-fields.md: leads' and contacts' `address` is a legacy field, response only in crm.item.* (the address
# parts have no crm.item field at all); `contacts`/`companies` are system fields that fail with error 100.
ITEM_RESPONSE_ONLY = {"ADDRESS", "ADDRESS_CITY", "ADDRESS_COUNTRY"}
ITEM_SYSTEM_FIELDS = {"contacts", "companies"}
TITLES = {
    "ID": "ID", "TITLE": "Название", "NAME": "Имя", "LAST_NAME": "Фамилия", "SECOND_NAME": "Отчество",
    "PHONE": "Телефон", "EMAIL": "E-mail", "STATUS_ID": "Стадия", "STAGE_ID": "Стадия сделки",
    "CATEGORY_ID": "Направление", "ASSIGNED_BY_ID": "Ответственный", "COMMENTS": "Комментарий",
    "SOURCE_ID": "Источник", "ORIGINATOR_ID": "Внешний источник", "ORIGIN_ID": "Идентификатор во внешнем источнике",
    "XML_ID": "Внешний код", "CONTACT_ID": "Контакт", "ADDRESS_CITY": "Город",
}
ITEM_RENAMES = {
    "DATE_CREATE": "createdTime", "DATE_MODIFY": "updatedTime", "CREATED_BY_ID": "createdBy",
    "MODIFY_BY_ID": "updatedBy", "PREVIOUS_STAGE_ID": "previousStageId",
}


def kind_of(portal: Portal, entity_type_id: int) -> str:
    if entity_type_id == LEAD:
        return "LEAD"
    if entity_type_id == DEAL:
        return "DEAL"
    if entity_type_id == CONTACT:
        return "CONTACT"
    if portal.spa_by_etid(entity_type_id):
        return "DYNAMIC"
    raise RestError("NOT_FOUND", "Смарт-процесс не найден", 400)


def camel(upper: str) -> str:
    parts = upper.lower().split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def item_name(kind: str, upper: str) -> str:
    if kind == "LEAD" and upper == "STATUS_ID":
        return "stageId"
    if upper in ITEM_RENAMES:
        return ITEM_RENAMES[upper]
    if upper.startswith("UF_"):
        return uf_camel(upper)
    return camel(upper)


def uf_camel(name: str) -> str:
    """`UF_CRM_3_DIGIT` -> `ufCrm3Digit`, `UF_CRM_3_1747309727` -> `ufCrm3_1747309727`,
    `UF_CRM_3_DIGIT10` -> `ufCrm_3_DIGIT10`, `UF_CRM_1747309879` -> `ufCrm_1747309879`,
    `UF_CRM_RABOTABY_STATUS` -> `ufCrmRabotabyStatus`."""
    if not name.startswith("UF_CRM_"):
        return name
    rest = name[len("UF_CRM_"):]
    m = re.match(r"^(\d+)_(.+)$", rest)
    num, tail = (m.group(1), m.group(2)) if m else ("", rest)
    parts = [p for p in tail.split("_") if p]
    if parts and all(p.isalpha() for p in parts):
        return "ufCrm" + num + "".join(p.capitalize() for p in parts)
    if parts and all(p.isdigit() for p in parts):
        return ("ufCrm" + num + "_" + tail) if num else ("ufCrm_" + tail)
    return "ufCrm_" + (num + "_" if num else "") + tail


def std_fields(portal: Portal, entity_type_id: int) -> dict[str, str]:
    kind = kind_of(portal, entity_type_id)
    out = dict(FIELDS[kind])
    if kind == "DEAL" or kind == "DYNAMIC":
        for t in portal.spa_types:
            if t.entity_type_id != entity_type_id:
                out[f"PARENT_ID_{t.entity_type_id}"] = "int"
    return out


def item_name_map(portal: Portal, entity_type_id: int, original_uf: bool) -> dict[str, str]:
    """camelCase (or original UF) name -> UPPER record key."""
    kind = kind_of(portal, entity_type_id)
    out = {item_name(kind, k): k for k in std_fields(portal, entity_type_id)}
    for uf in portal.ufs_for(entity_type_id):
        out[uf.field_name if original_uf else uf_camel(uf.field_name)] = uf.field_name
    return out


# ------------------------------------------------------------------------------------- files
def file_urls(ctx: Ctx, f: StoredFile) -> dict[str, str]:
    base = f"{ctx.config.public_url}/portal/{ctx.portal.code}/files/{f.id}/"
    return {"url": base, "urlMachine": f"{base}?auth={ctx.token.token}"}


def decode_base64(b64: str) -> bytes:
    s = b64.strip()
    try:
        return base64.b64decode(s + "=" * (-len(s) % 4), validate=False)
    except (binascii.Error, ValueError):
        return s.encode()  # a damaged base64 is stored as a damaged file


def _store_file(ctx: Ctx, name: str | None, b64: Any, uf: UserField, api: str) -> int:
    if not isinstance(b64, str) or not b64.strip():
        raise field_error(api, f'Файл в поле "{uf.label_text()}" пуст: передана пустая строка base64')
    fid = ctx.portal.new_id("file")
    fname = name or f"file_{fid}.bin"
    ctx.portal.files[fid] = StoredFile(fid, fname, decode_base64(b64), field_name=uf.field_name)
    return fid


def parse_file_value(ctx: Ctx, raw: Any, uf: UserField, api: str, existing: list[int]) -> int | str | None:
    """One file value. Returns a file id, None (clear) or "skip" (value not understood)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict):
        if "fileData" in raw:
            fd = raw["fileData"]
            if isinstance(fd, list):
                if len(fd) >= 2:
                    return _store_file(ctx, str(fd[0]) if fd[0] else None, fd[1], uf, api)
                if len(fd) == 1:
                    return _store_file(ctx, None, fd[0], uf, api)
                raise field_error(api, f'Файл в поле "{uf.label_text()}" пуст')
            return _store_file(ctx, None, fd, uf, api)
        fid = to_int(raw.get("id") if "id" in raw else raw.get("ID"))
        if fid is not None and fid in existing:
            return fid
        if fid is not None:
            return "skip"
        if to_bool(raw.get("del")):
            return None
        return "skip"
    if api == "item":
        if isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, str) for x in raw):
            return _store_file(ctx, raw[0] or None, raw[1], uf, api)
        if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], str):
            return _store_file(ctx, None, raw[0], uf, api)
        if isinstance(raw, str):
            return _store_file(ctx, None, raw, uf, api)
        if isinstance(raw, int):
            return raw if raw in existing else "skip"
    return "skip"


def field_error(api: str, text: str) -> RestError:
    if api == "item":
        return RestError("CRM_FIELD_ERROR_VALUE_NOT_VALID", text, 400)
    return RestError("", text, 400)


# ------------------------------------------------------------------------------------- values
DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                "%d.%m.%Y %H:%M:%S")


def parse_date(v: Any) -> str | None:
    if v is None or v == "":
        return None
    s = str(v).strip()
    for fmt in DATE_FORMATS:
        try:
            d = dt.datetime.strptime(s, fmt)
        except ValueError:
            continue
        if fmt in ("%Y-%m-%d", "%d.%m.%Y"):
            return d.date().isoformat()
        if d.tzinfo is None:
            d = d.replace(tzinfo=dt.timezone(dt.timedelta(hours=3)))
        return d.isoformat(timespec="seconds")
    try:
        return dt.datetime.fromisoformat(s).isoformat(timespec="seconds")
    except ValueError:
        return "invalid"


def uf_scalar(ctx: Ctx, uf: UserField, raw: Any, api: str, existing: list[int]) -> Any:
    t = uf.user_type_id
    if t == "file":
        return parse_file_value(ctx, raw, uf, api, existing)
    if raw is None or raw == "":
        return None
    if isinstance(raw, dict | list):
        if t in ("address", "money", "string", "url"):
            raise field_error(api, f'Неверное значение поля "{uf.label_text()}"')
        return "skip"
    if t in ("integer", "employee", "iblock_section", "iblock_element"):
        iv = to_int(raw)
        if iv is None:
            raise field_error(api, f'Значение поля "{uf.label_text()}" должно быть целым числом')
        return iv
    if t == "double":
        try:
            return float(str(raw).replace(",", "."))
        except ValueError as exc:
            raise field_error(api, f'Значение поля "{uf.label_text()}" должно быть числом') from exc
    if t == "boolean":
        b = to_bool(raw)
        if b is None:
            raise field_error(api, f'Неверное значение поля "{uf.label_text()}"')
        return 1 if b else 0
    if t in ("date", "datetime"):
        d = parse_date(raw)
        if d == "invalid":
            raise field_error(api, f'Неверный формат даты в поле "{uf.label_text()}"')
        return d
    if t == "enumeration":
        iv = to_int(raw)
        ids = {int(i["ID"]) for i in uf.items}
        if iv is None or iv not in ids:
            raise field_error(api, f'Неверное значение поля "{uf.label_text()}"')
        return iv
    return str(raw)


def set_uf(ctx: Ctx, rec: dict[str, Any], uf: UserField, raw: Any, api: str) -> None:
    cur = rec.get(uf.field_name)
    existing = [x for x in as_list(cur) if isinstance(x, int)] if uf.user_type_id == "file" else []
    if uf.multiple:
        if api == "item" and raw not in (None, "") and not isinstance(raw, list | dict):
            raise RestError("100", f'Expected iterable value for multiple field "{uf_camel(uf.field_name)}"', 400)
        if uf.user_type_id == "file" and isinstance(raw, list) and len(raw) == 2 and all(
                isinstance(x, str) for x in raw) and api == "item":
            raw = [raw]
        values = []
        for item in as_list(raw) if not isinstance(raw, dict) or "fileData" not in raw else [raw]:
            v = uf_scalar(ctx, uf, item, api, existing)
            if v not in (None, "skip"):
                values.append(v)
        rec[uf.field_name] = values
    else:
        v = uf_scalar(ctx, uf, raw, api, existing)
        if v == "skip":
            return
        rec[uf.field_name] = v


def set_std(ctx: Ctx, rec: dict[str, Any], key: str, ftype: str, raw: Any, api: str) -> None:
    if ftype == "ro":
        return
    if ftype in ("int", "user"):
        rec[key] = to_int(raw) if raw not in (None, "") else None
        if raw not in (None, "") and rec[key] is None:
            raise field_error(api, f'Неверное значение поля "{TITLES.get(key, key)}"')
    elif ftype == "bool":
        rec[key] = yn(raw)
    elif ftype == "money":
        try:
            rec[key] = float(str(raw).replace(",", ".")) if raw not in (None, "") else 0.0
        except ValueError as exc:
            raise field_error(api, f'Неверное значение поля "{TITLES.get(key, key)}"') from exc
    elif ftype == "date":
        d = parse_date(raw)
        if d == "invalid":
            raise field_error(api, f'Неверный формат даты в поле "{TITLES.get(key, key)}"')
        rec[key] = d
    elif ftype == "list":
        rec[key] = [i for i in (to_int(x) for x in as_list(raw)) if i is not None]
    else:
        rec[key] = None if raw is None else (raw if isinstance(raw, str) else str(raw))


def set_multi(ctx: Ctx, rec: dict[str, Any], type_id: str, raw: Any, api: str, replace: bool) -> None:
    """Multifield values: old style `[{"VALUE","VALUE_TYPE"}]` (also keyed maps; non-arrays skipped)."""
    if not isinstance(raw, list | dict):
        return
    cur: list[dict[str, Any]] = [] if replace else list(rec.get(type_id) or [])
    for item in as_list(raw):
        if not isinstance(item, dict):
            continue
        mid = to_int(item.get("ID"))
        if mid is not None:
            for ex in list(cur):
                if int(ex["ID"]) == mid:
                    if yn(item.get("DELETE")) == "Y" or item.get("VALUE") in (None, ""):
                        cur.remove(ex)
                    else:
                        ex["VALUE"] = str(item["VALUE"])
                        if item.get("VALUE_TYPE"):
                            ex["VALUE_TYPE"] = check_value_type(type_id, item["VALUE_TYPE"], api)
            continue
        value = item.get("VALUE")
        if value in (None, ""):
            continue
        vt = check_value_type(type_id, item.get("VALUE_TYPE") or "WORK", api)
        value = str(value).strip()
        if type_id == "EMAIL" and not EMAIL_RE.match(value):
            raise field_error(api, f'Неверный формат e-mail: "{value}"')
        cur.append({"ID": str(ctx.portal.new_id("fm")), "VALUE_TYPE": vt, "VALUE": value, "TYPE_ID": type_id})
    rec[type_id] = cur


def check_value_type(type_id: str, vt: Any, api: str) -> str:
    s = str(vt).upper()
    if s not in VALUE_TYPES[type_id]:
        raise field_error(api, f'Недопустимый тип значения "{vt}" для поля {type_id}: допустимы '
                          + ", ".join(sorted(VALUE_TYPES[type_id])))
    return s


def fm_to_multi(raw: Any) -> dict[str, list[dict[str, Any]]]:
    """crm.item `fm` -> old style lists per type."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in as_list(raw):
        if not isinstance(item, dict):
            continue
        tid = str(item.get("typeId") or "").upper()
        if tid not in MULTI_FIELDS:
            raise RestError("CRM_FIELD_ERROR_VALUE_NOT_VALID", f'Неверный тип мультиполя "{item.get("typeId")}"', 400)
        out.setdefault(tid, []).append({"VALUE": item.get("value"), "VALUE_TYPE": item.get("valueType") or "WORK"})
    return out


# ------------------------------------------------------------------------------------- mandatory
def _empty(v: Any) -> bool:
    return v is None or v == "" or v == [] or v == {}


def mandatory_names(ctx: Ctx, entity_type_id: int) -> list[str]:
    knobs = ctx.portal.effective_knobs(ctx.state.knobs)
    eid = ctx.portal.uf_entity_id(entity_type_id) or ""
    names = list(as_list((knobs.get("mandatory_fields") or {}).get(eid)))
    names += [u.field_name for u in ctx.portal.ufs_for(entity_type_id) if u.mandatory and u.field_name not in names]
    return [str(n) for n in names]


def check_mandatory(ctx: Ctx, entity_type_id: int, rec: dict[str, Any], api: str,
                    only: set[str] | None = None) -> None:
    for name in mandatory_names(ctx, entity_type_id):
        if only is not None and name not in only:
            continue
        if _empty(rec.get(name)):
            uf = ctx.portal.uf(entity_type_id, name)
            label = uf.label_text() if uf else TITLES.get(name, name)
            text = f'Не заполнено обязательное поле "{label}"'
            if api == "item":
                raise RestError("CRM_FIELD_ERROR_REQUIRED", text, 400)
            raise RestError("", text, 400)


# ------------------------------------------------------------------------------------- write
def apply_fields(ctx: Ctx, entity_type_id: int, rec: dict[str, Any], fields: dict[str, Any], api: str,
                 original_uf: bool = True, creating: bool = False) -> set[str]:
    """Write input fields into the record; returns the UPPER names written."""
    kind = kind_of(ctx.portal, entity_type_id)
    std = std_fields(ctx.portal, entity_type_id)
    written: set[str] = set()
    if api == "item":
        names = item_name_map(ctx.portal, entity_type_id, original_uf)
        for key, raw in fields.items():
            if key in ITEM_SYSTEM_FIELDS:
                raise RestError("100", f'Field "{key}" cannot be written: link contacts and companies with '
                                "contactIds and companyIds", 400)
            if key == "fm" and kind in HAS_MULTI:
                # object-fields.md: crm.item.update only adds multifield values (`id` is ignored).
                for tid, values in fm_to_multi(raw).items():
                    set_multi(ctx, rec, tid, values, api, replace=creating)
                    written.add(tid)
                continue
            upper = names.get(key)
            if upper is None or upper in ITEM_RESPONSE_ONLY:
                continue  # unknown and response-only fields are ignored
            written.add(upper)
            if upper.startswith("UF_"):
                uf = ctx.portal.uf(entity_type_id, upper)
                if uf:
                    set_uf(ctx, rec, uf, raw, api)
            else:
                set_std(ctx, rec, upper, std[upper], raw, api)
        return written
    for key, raw in fields.items():
        upper = key.upper()
        if upper in MULTI_FIELDS and kind in HAS_MULTI:
            set_multi(ctx, rec, upper, raw, api, replace=False)
            written.add(upper)
        elif upper.startswith("UF_"):
            uf = ctx.portal.uf(entity_type_id, upper)
            if uf:
                set_uf(ctx, rec, uf, raw, api)
                written.add(upper)
        elif upper in std:
            set_std(ctx, rec, upper, std[upper], raw, api)
            written.add(upper)
    return written


def validate_pipeline(ctx: Ctx, entity_type_id: int, rec: dict[str, Any], api: str, stage_given: bool,
                      creating: bool) -> None:
    p = ctx.portal
    kind = kind_of(p, entity_type_id)
    if kind == "LEAD":
        sid = rec.get("STATUS_ID") or "NEW"
        if sid not in p.stage_ids(LEAD, 0):
            raise field_error(api, f'Неверное значение поля "Стадия": статус "{sid}" не найден')
        rec["STATUS_ID"] = sid
        sem = next(r["SEMANTICS"] for r in p.stages(LEAD, 0) if r["STATUS_ID"] == sid)
        rec["STATUS_SEMANTIC_ID"] = {None: "P", "S": "S", "F": "F"}[sem]
        return
    if kind not in ("DEAL", "DYNAMIC"):
        return
    cat = rec.get("CATEGORY_ID")
    stage = rec.get("STAGE_ID")
    if cat is None and creating and stage and kind == "DEAL":
        m = re.match(r"^C(\d+):", str(stage))
        cat = int(m.group(1)) if m else 0
    if cat is None:
        cat = p.default_category(entity_type_id)
    if cat not in p.category_ids(entity_type_id):
        raise field_error(api, f'Неверное значение поля "Направление": направление {cat} не найдено')
    rec["CATEGORY_ID"] = cat
    stages = p.stage_ids(entity_type_id, cat)
    if not stage:
        rec["STAGE_ID"] = stages[0]
    elif stage not in stages:
        raise field_error(api, f'Неверное значение поля "Стадия": стадия "{stage}" не относится к направлению {cat}')
    sem = next(r["SEMANTICS"] for r in p.stages(entity_type_id, cat) if r["STATUS_ID"] == rec["STAGE_ID"])
    rec["STAGE_SEMANTIC_ID"] = {None: "P", "S": "S", "F": "F"}[sem]
    if kind == "DEAL":
        rec["CLOSED"] = "Y" if sem in ("S", "F") else "N"


def finalize(rec: dict[str, Any], kind: str) -> None:
    if kind in HAS_MULTI:
        rec["HAS_PHONE"] = "Y" if rec.get("PHONE") else "N"
        rec["HAS_EMAIL"] = "Y" if rec.get("EMAIL") else "N"
        rec["HAS_IMOL"] = "N"
    if rec.get("CONTACT_IDS") and not rec.get("CONTACT_ID"):
        rec["CONTACT_ID"] = rec["CONTACT_IDS"][0]
    elif rec.get("CONTACT_ID") and "CONTACT_IDS" in rec and not rec.get("CONTACT_IDS"):
        rec["CONTACT_IDS"] = [rec["CONTACT_ID"]]
    if kind == "LEAD":
        # A lead bound to an existing contact or company is a repeat lead (lead fields: IS_RETURN_CUSTOMER,
        # read-only, set by Bitrix24 itself).
        rec["IS_RETURN_CUSTOMER"] = "Y" if rec.get("CONTACT_ID") or rec.get("COMPANY_ID") else "N"


def create_entity(ctx: Ctx, entity_type_id: int, fields: dict[str, Any], api: str,
                  original_uf: bool = True) -> dict[str, Any]:
    p = ctx.portal
    kind = kind_of(p, entity_type_id)
    rec: dict[str, Any] = {k: None for k, t in std_fields(p, entity_type_id).items()}
    for k, t in std_fields(p, entity_type_id).items():
        if t == "list":
            rec[k] = []
    if kind in HAS_MULTI:
        for m in MULTI_FIELDS:
            rec[m] = []
    for uf in p.ufs_for(entity_type_id):
        rec[uf.field_name] = [] if uf.multiple else None
    rec["OPENED"] = "Y"
    if "OPPORTUNITY" in rec:
        rec["OPPORTUNITY"] = 0.0
        rec["IS_MANUAL_OPPORTUNITY"] = "N"
        rec["CURRENCY_ID"] = "BYN"
    written = apply_fields(ctx, entity_type_id, rec, fields, api, original_uf, creating=True)
    validate_pipeline(ctx, entity_type_id, rec, api, "STAGE_ID" in written or "STATUS_ID" in written, True)
    if not rec.get("ASSIGNED_BY_ID"):
        rec["ASSIGNED_BY_ID"] = ctx.user_id
    elif rec["ASSIGNED_BY_ID"] not in p.users:
        raise field_error(api, 'Неверное значение поля "Ответственный": '
                          f'пользователь {rec["ASSIGNED_BY_ID"]} не найден')
    if kind == "DEAL" and not rec.get("TYPE_ID"):
        rec["TYPE_ID"] = "SALE"
    if kind in ("LEAD", "DEAL") and not rec.get("SOURCE_ID"):
        rec["SOURCE_ID"] = "CALL" if kind == "LEAD" else None
    check_mandatory(ctx, entity_type_id, rec, api)
    new_id = p.new_id(f"entity{entity_type_id}")
    rec["ID"] = new_id
    if "TITLE" in rec and not rec.get("TITLE"):
        if kind == "LEAD":
            rec["TITLE"] = f"Лид #{new_id}"
        elif kind == "DEAL":
            rec["TITLE"] = f"Сделка #{new_id}"
        else:
            spa = p.spa_by_etid(entity_type_id)
            rec["TITLE"] = f"{spa.title if spa else 'Элемент'} #{new_id}"
    now = now_iso()
    rec["CREATED_BY_ID"] = ctx.user_id
    rec["MODIFY_BY_ID"] = ctx.user_id
    rec["DATE_CREATE"] = now
    rec["DATE_MODIFY"] = now
    finalize(rec, kind)
    p.entities[entity_type_id][new_id] = rec
    for fid in _file_ids(p, entity_type_id, rec):
        if fid in p.files:
            p.files[fid].entity_type_id = entity_type_id
            p.files[fid].entity_id = new_id
    raise_event(ctx, entity_type_id, new_id, "ADD")
    if kind == "LEAD" and p.crm_mode == 2:
        convert_lead(ctx, rec)
    return rec


def raise_event(ctx: Ctx, entity_type_id: int, entity_id: int, action: str) -> None:
    """ONCRMLEADADD, ONCRMDEALUPDATE, ONCRMDYNAMICITEMADD … (data `{"FIELDS": {"ID": …}}`)."""
    kind = kind_of(ctx.portal, entity_type_id)
    if kind == "DYNAMIC":
        ctx.events.append((f"ONCRMDYNAMICITEM{action}", {"FIELDS": {"ID": entity_id,
                                                                    "ENTITY_TYPE_ID": entity_type_id}}))
    else:
        ctx.events.append((f"ONCRM{kind}{action}", {"FIELDS": {"ID": entity_id}}))


def _file_ids(p: Portal, entity_type_id: int, rec: dict[str, Any]) -> list[int]:
    out: list[int] = []
    for uf in p.ufs_for(entity_type_id):
        if uf.user_type_id == "file":
            out += [x for x in as_list(rec.get(uf.field_name)) if isinstance(x, int)]
    return out


def convert_lead(ctx: Ctx, lead: dict[str, Any]) -> None:
    """Simple CRM mode: a new lead is converted to a deal (plus a contact) at once."""
    p = ctx.portal
    contact_id = None
    if lead.get("NAME") or lead.get("LAST_NAME") or lead.get("PHONE") or lead.get("EMAIL"):
        c_fields: dict[str, Any] = {k: lead.get(k) for k in ("NAME", "LAST_NAME", "SECOND_NAME", "POST",
                                                            "ADDRESS_CITY", "ASSIGNED_BY_ID", "SOURCE_ID")}
        for m in MULTI_FIELDS:
            c_fields[m] = [{"VALUE": x["VALUE"], "VALUE_TYPE": x["VALUE_TYPE"]} for x in lead.get(m) or []]
        c_fields["LEAD_ID"] = lead["ID"]
        contact = _raw_create(ctx, CONTACT, c_fields)
        contact_id = contact["ID"]
    d_fields: dict[str, Any] = {k: lead.get(k) for k in ("TITLE", "ASSIGNED_BY_ID", "SOURCE_ID", "SOURCE_DESCRIPTION",
                                                        "COMMENTS", "OPPORTUNITY", "CURRENCY_ID", "ORIGINATOR_ID",
                                                        "ORIGIN_ID")}
    d_fields["LEAD_ID"] = lead["ID"]
    d_fields["CONTACT_ID"] = contact_id
    for uf in p.ufs_for(LEAD):
        if p.uf(DEAL, uf.field_name):
            d_fields[uf.field_name] = lead.get(uf.field_name)
    deal = _raw_create(ctx, DEAL, d_fields)
    if contact_id:
        deal["CONTACT_IDS"] = [contact_id]
    lead["STATUS_ID"] = "CONVERTED"
    lead["STATUS_SEMANTIC_ID"] = "S"
    lead["CONTACT_ID"] = contact_id
    lead["DATE_CLOSED"] = now_iso()


def _raw_create(ctx: Ctx, entity_type_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Create without input parsing (conversion copies already-valid values)."""
    p = ctx.portal
    kind = kind_of(p, entity_type_id)
    rec: dict[str, Any] = {k: ([] if t == "list" else None) for k, t in std_fields(p, entity_type_id).items()}
    for uf in p.ufs_for(entity_type_id):
        rec[uf.field_name] = [] if uf.multiple else None
    if kind in HAS_MULTI:
        for m in MULTI_FIELDS:
            rec[m] = []
    for k, v in values.items():
        if k in MULTI_FIELDS and kind in HAS_MULTI:
            set_multi(ctx, rec, k, v, "old", replace=True)
        else:
            rec[k] = v
    rec["OPENED"] = "Y"
    validate_pipeline(ctx, entity_type_id, rec, "old", False, True)
    new_id = p.new_id(f"entity{entity_type_id}")
    rec["ID"] = new_id
    if kind == "DEAL" and not rec.get("TITLE"):
        rec["TITLE"] = f"Сделка #{new_id}"
    if kind == "DEAL":
        rec["TYPE_ID"] = rec.get("TYPE_ID") or "SALE"
    now = now_iso()
    rec.update({"CREATED_BY_ID": ctx.user_id, "MODIFY_BY_ID": ctx.user_id, "DATE_CREATE": now, "DATE_MODIFY": now})
    finalize(rec, kind)
    p.entities[entity_type_id][new_id] = rec
    raise_event(ctx, entity_type_id, new_id, "ADD")
    return rec


def update_entity(ctx: Ctx, entity_type_id: int, entity_id: int, fields: dict[str, Any], api: str,
                  original_uf: bool = True) -> dict[str, Any]:
    p = ctx.portal
    kind = kind_of(p, entity_type_id)
    cur = p.entities[entity_type_id].get(entity_id)
    if cur is None:
        raise not_found(api, entity_type_id, entity_id)
    rec = {k: (list(v) if isinstance(v, list) else v) for k, v in cur.items()}
    old_stage = rec.get("STAGE_ID") or rec.get("STATUS_ID")
    old_cat = rec.get("CATEGORY_ID")
    written = apply_fields(ctx, entity_type_id, rec, fields, api, original_uf, creating=False)
    if kind == "DEAL" and api == "old":
        rec["CATEGORY_ID"] = old_cat  # the pipeline of a deal is changed with crm.deal.category.*, not update
    validate_pipeline(ctx, entity_type_id, rec, api, bool(written & {"STAGE_ID", "STATUS_ID"}), False)
    if api == "item":
        new_stage = rec.get("STAGE_ID") or rec.get("STATUS_ID")
        if new_stage != old_stage:
            check_mandatory(ctx, entity_type_id, rec, api)
    else:
        check_mandatory(ctx, entity_type_id, rec, api, only=written)
    if rec.get("ASSIGNED_BY_ID") not in p.users:
        raise field_error(api, f'Неверное значение поля "Ответственный": пользователь {rec.get("ASSIGNED_BY_ID")} '
                          "не найден")
    rec["MODIFY_BY_ID"] = ctx.user_id
    rec["DATE_MODIFY"] = now_iso()
    if kind == "DYNAMIC" and rec.get("STAGE_ID") != old_stage:
        rec["PREVIOUS_STAGE_ID"] = old_stage
    finalize(rec, kind)
    cur.clear()
    cur.update(rec)
    for fid in _file_ids(p, entity_type_id, cur):
        if fid in p.files:
            p.files[fid].entity_type_id = entity_type_id
            p.files[fid].entity_id = entity_id
    raise_event(ctx, entity_type_id, entity_id, "UPDATE")
    return cur


def delete_entity(ctx: Ctx, entity_type_id: int, entity_id: int, api: str) -> None:
    p = ctx.portal
    if entity_id not in p.entities[entity_type_id]:
        raise not_found(api, entity_type_id, entity_id)
    del p.entities[entity_type_id][entity_id]
    for aid in [a["id"] for a in p.activities.values()
                if a["ownerTypeId"] == entity_type_id and a["ownerId"] == entity_id]:
        del p.activities[aid]
    p.comments[:] = [c for c in p.comments if not (c["entityTypeId"] == entity_type_id and c["entityId"] == entity_id)]
    raise_event(ctx, entity_type_id, entity_id, "DELETE")


def not_found(api: str, entity_type_id: int, entity_id: Any) -> RestError:
    if api == "item":
        return RestError("NOT_FOUND", "Элемент не найден", 400)
    return RestError("", "Not found", 400)


# ------------------------------------------------------------------------------------- read
def _old_scalar(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return "Y" if v else "N"
    if isinstance(v, float):
        return f"{v:.2f}"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return [_old_scalar(x) for x in v]
    return v


def _uf_out(ctx: Ctx, uf: UserField, v: Any, api: str) -> Any:
    if uf.user_type_id == "file":
        def one(fid: Any) -> Any:
            f = ctx.portal.files.get(fid) if isinstance(fid, int) else None
            if f is None:
                return None
            urls = file_urls(ctx, f)
            if api == "item":
                return {"id": f.id, **urls}
            return {"id": f.id, "showUrl": urls["url"], "downloadUrl": urls["urlMachine"]}

        if uf.multiple:
            return [one(x) for x in as_list(v)]
        return one(v) if v is not None else ("" if api == "old" else None)
    if api == "old":
        if uf.multiple:
            return [_old_scalar(x) for x in as_list(v)]
        return _old_scalar(v) if v is not None else ("" if uf.user_type_id != "boolean" else "0")
    return v


def old_view(ctx: Ctx, entity_type_id: int, rec: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    p = ctx.portal
    std = std_fields(p, entity_type_id)
    ufs = p.ufs_for(entity_type_id)
    kind = kind_of(p, entity_type_id)
    if select is None:
        keys = list(std) + ([m for m in MULTI_FIELDS if kind in HAS_MULTI]) + [u.field_name for u in ufs]
    else:
        keys = ["ID"]
        sel = [str(s).upper() for s in select]
        for s in sel:
            if s == "*":
                keys += [k for k in std if k not in keys]
            elif s == "UF_*":
                keys += [u.field_name for u in ufs if u.field_name not in keys]
            elif s in std or (s in MULTI_FIELDS and kind in HAS_MULTI) or any(u.field_name == s for u in ufs):
                if s not in keys:
                    keys.append(s)
    out: dict[str, Any] = {}
    for k in keys:
        if k in MULTI_FIELDS:
            vals = rec.get(k) or []
            if vals:
                out[k] = [dict(x) for x in vals]
            continue
        uf = next((u for u in ufs if u.field_name == k), None)
        if uf:
            out[k] = _uf_out(ctx, uf, rec.get(k), "old")
        elif k in ("CONTACT_IDS", "COMPANY_IDS", "OBSERVERS"):
            if select is not None:
                out[k] = [str(x) for x in rec.get(k) or []]
        else:
            out[k] = _old_scalar(rec.get(k))
    return out


def item_view(ctx: Ctx, entity_type_id: int, rec: dict[str, Any], select: list[str] | None,
              original_uf: bool) -> dict[str, Any]:
    p = ctx.portal
    kind = kind_of(p, entity_type_id)
    std = std_fields(p, entity_type_id)
    ufs = p.ufs_for(entity_type_id)
    full: dict[str, Any] = {}
    for k in std:
        if k in ("HAS_IMOL",):
            continue
        v = rec.get(k)
        full[item_name(kind, k)] = v
    full["entityTypeId"] = entity_type_id
    if kind == "LEAD":
        full["statusId"] = rec.get("STATUS_ID")
    for uf in ufs:
        full[uf.field_name if original_uf else uf_camel(uf.field_name)] = _uf_out(ctx, uf, rec.get(uf.field_name),
                                                                                   "item")
    if kind in HAS_MULTI:
        full["fm"] = [{"id": int(x["ID"]), "typeId": x["TYPE_ID"], "valueType": x["VALUE_TYPE"], "value": x["VALUE"]}
                      for m in MULTI_FIELDS for x in rec.get(m) or []]
    if select is None or "*" in select:
        out = dict(full)
        if select is not None:
            pass
        return out
    out = {"id": full["id"]}
    for s in select:
        if s == "fm":
            continue  # object-fields.md: `fm` arrives only when select is omitted or ["*"]
        if s in full:
            out[s] = full[s]
        elif s == "ufCrm*" or s == "UF_*":
            out.update({k: v for k, v in full.items() if k.startswith(("ufCrm", "UF_"))})
    return out


# ------------------------------------------------------------------------------------- filter
_PREFIXES = ("!=%", "!%=", ">=", "<=", "!@", "!%", "!=", "=%", "%=", ">", "<", "@", "%", "!", "=")


def split_filter_key(key: str) -> tuple[str, str]:
    for pre in _PREFIXES:
        if key.startswith(pre):
            return pre, key[len(pre):]
    return "", key


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _values_of(rec_value: Any) -> list[Any]:
    if isinstance(rec_value, list):
        out = []
        for x in rec_value:
            out.append(x["VALUE"] if isinstance(x, dict) and "VALUE" in x else x)
        return out or [None]
    return [rec_value]


def _eq(a: Any, b: Any) -> bool:
    if a is None:
        return b in (None, "", False)
    na, nb = _num(a), _num(b)
    if na is not None and nb is not None:
        return na == nb
    return str(a).lower() == str(b).lower() if isinstance(a, str) and isinstance(b, str) else str(a) == str(b)


def _cmp(a: Any, b: Any) -> int | None:
    if a is None:
        return None
    na, nb = _num(a), _num(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    sa, sb = str(a), str(b)
    return (sa > sb) - (sa < sb)


def _like(a: Any, pattern: str, raw_pattern: bool) -> bool:
    if a is None:
        return False
    s = str(a).lower()
    p = pattern.lower()
    if raw_pattern:
        rx = "^" + ".*".join(re.escape(x) for x in p.split("%")) + "$"
        return re.match(rx, s) is not None
    return p in s


def match_one(rec_value: Any, op: str, value: Any) -> bool:
    vals = _values_of(rec_value)
    if isinstance(value, list | dict) and op in ("", "=", "@", "!", "!=", "!@"):
        wanted = as_list(value)
        hit = any(_eq(v, w) for v in vals for w in wanted)
        return not hit if op.startswith("!") else hit
    if op in ("", "=", "@"):
        return any(_eq(v, value) for v in vals)
    if op in ("!", "!=", "!@"):
        return not any(_eq(v, value) for v in vals)
    if op in (">", ">=", "<", "<="):
        for v in vals:
            c = _cmp(v, value)
            if c is None:
                continue
            if (op == ">" and c > 0) or (op == ">=" and c >= 0) or (op == "<" and c < 0) or (op == "<=" and c <= 0):
                return True
        return False
    if op == "%":
        return any(_like(v, str(value), False) for v in vals)
    if op in ("=%", "%="):
        return any(_like(v, str(value), True) for v in vals)
    if op == "!%":
        return not any(_like(v, str(value), False) for v in vals)
    if op in ("!=%", "!%="):
        return not any(_like(v, str(value), True) for v in vals)
    return False


def matches(rec: dict[str, Any], flt: dict[str, Any], resolve: Any) -> bool:
    """`resolve(name) -> UPPER key or None`. Supports `{"logic":"OR", "0":{...}}` groups."""
    logic = str(flt.get("logic", flt.get("LOGIC", "AND"))).upper()
    results = []
    for key, value in flt.items():
        if key in ("logic", "LOGIC"):
            continue
        if isinstance(value, dict) and (key.isdigit() or "logic" in value or "LOGIC" in value):
            results.append(matches(rec, value, resolve))
            continue
        op, name = split_filter_key(key)
        upper = resolve(name)
        rv = rec.get(upper) if upper else None
        results.append(match_one(rv, op, value))
    if not results:
        return True
    return any(results) if logic == "OR" else all(results)


def sort_records(recs: list[dict[str, Any]], order: Any, resolve: Any) -> list[dict[str, Any]]:
    out = list(recs)
    items = list(order.items()) if isinstance(order, dict) else []
    for key, direction in reversed(items or [("ID", "ASC")]):
        upper = resolve(key) or "ID"
        rev = str(direction).upper() == "DESC"

        def k(r: dict[str, Any], upper: str = upper) -> tuple[int, Any]:
            v = r.get(upper)
            n = _num(v)
            return (0, n) if n is not None else (1 if v is not None else -1, str(v) if v is not None else "")

        out.sort(key=k, reverse=rev)
    return out


def page(recs: list[Any], start: Any) -> tuple[list[Any], int | None, int | None]:
    s = to_int(start) or 0
    if s < 0:
        return recs[:50], None, None
    chunk = recs[s:s + 50]
    nxt = s + 50 if s + 50 < len(recs) else None
    return chunk, len(recs), nxt
