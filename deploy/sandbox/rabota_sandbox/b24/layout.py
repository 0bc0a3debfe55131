"""Validation of the configurable activity layout (LayoutDto) the way the crm module's DTO validator
does it: required keys, redundant keys, enums, key symbols, item limits (TOO_MANY_ITEMS)."""

from __future__ import annotations

import re
from typing import Any

from .portal import RestError

KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")
# A link's text is plain text (reference §5.2 "no HTML"): a tag, a comment or a character reference is refused.
HTML_RE = re.compile(r"<\s*/?\s*[A-Za-z!?]|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
HEX_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")

ICON_CODES = sorted({
    "info", "attention", "call", "call-completed", "call-incoming", "call-outgoing", "comment", "document",
    "email", "mail", "mail-outcome", "check", "circle-check", "calendar", "task", "sms", "visit", "zoom",
    "meeting", "form", "tag", "robot", "bank-card", "wallet", "pipeline", "store", "clock", "video", "link",
    "IM", "chat", "user", "person", "notification", "bell", "upload", "download", "search", "settings", "edit",
    "warning", "payment", "cash", "sign", "document-sign", "goods", "delivery", "open-line", "star", "lock",
})
LOGO_CODES = sorted({
    "notification", "call", "call-incoming", "call-outgoing", "call-default", "document", "doc", "comment",
    "email", "mail-incoming", "mail-outgoing", "sms", "zoom", "meeting", "task", "calendar", "client", "check",
    "list-check", "note", "open-line", "robot", "waiting", "warning", "bank-card", "cash", "pay", "form", "info",
    "user", "person", "tag", "visit", "camera", "channel-chat", "telegram", "whatsapp", "viber", "vk", "sign",
    "document-sign", "activity", "attention", "search", "resume", "vacancy",
})
SCOPES = ("web", "mobile")
TEXT_COLORS = ("base_50", "base_60", "base_70", "base_90")
TAG_TYPES = ("warning", "success", "failure", "primary", "secondary")
BUTTON_TYPES = ("primary", "secondary")
ACTION_TYPES = ("redirect", "restEvent", "openRestApp")
ANIMATION_TYPES = ("loader", "disable")
LABEL_BG = ("aqua", "green", "orange", "brown", "pink", "blue", "grey", "violet")
BLOCK_TYPES = ("text", "largeText", "link", "withTitle", "lineOfBlocks", "deadline")
INNER_BLOCK_TYPES = ("text", "link", "deadline")

MESSAGES = {
    "FIELD_IS_REQUIRED": "Не заполнено обязательное поле {field} объекта {parent}",
    "FIELD_IS_REDUNDANT": "Объект {parent} не может содержать поле {field}",
    "ENUM_FIELD": 'Поле {field} объекта {parent} содержит недопустимое значение "{value}"',
    "TOO_MANY_ITEMS": "Поле {field} объекта {parent} может содержать не более {count} значений",
    "KEY_CONTAIN_WRONG_SYMBOLS": 'Ключ "{value}" поля {field} объекта {parent} может содержать только латинские '
                                 'буквы, цифры, символы "_" и "-"',
    "WRONG_FIELD_VALUE": "Поле {field} объекта {parent} содержит неверное значение",
}


def fail(code: str, field: str, parent: str, value: Any = "", count: int = 0) -> RestError:
    return RestError(code, MESSAGES[code].format(field=field, parent=parent, value=value, count=count), 400)


# field spec: (kind, arg). kinds: dto, map, text, plaintext, str, bool, int, enum, params, block, blockmap, hex
Spec = tuple[str, Any]
DTOS: dict[str, tuple[dict[str, Spec], set[str]]] = {
    "LayoutDto": ({"icon": ("dto", "IconDto"), "header": ("dto", "HeaderDto"), "body": ("dto", "BodyDto"),
                   "footer": ("dto", "FooterDto")}, {"icon", "header", "body"}),
    "IconDto": ({"code": ("enum", ICON_CODES)}, {"code"}),
    "HeaderDto": ({"title": ("text", None), "titleAction": ("dto", "ActionDto"), "tags": ("map", ("TagDto", 2))},
                  {"title"}),
    "TagDto": ({"title": ("text", None), "type": ("enum", TAG_TYPES), "action": ("dto", "ActionDto"),
                "scope": ("enum", SCOPES), "hideIfReadonly": ("bool", None)}, {"title", "type"}),
    "BodyDto": ({"logo": ("dto", "LogoDto"), "blocks": ("blockmap", (BLOCK_TYPES, 20))}, {"logo", "blocks"}),
    "LogoDto": ({"code": ("enum", LOGO_CODES), "action": ("dto", "ActionDto")}, {"code"}),
    "FooterDto": ({"buttons": ("map", ("ButtonDto", 2)), "menu": ("dto", "MenuDto")}, set()),
    "ButtonDto": ({"title": ("text", None), "action": ("dto", "ActionDto"), "type": ("enum", BUTTON_TYPES),
                   "scope": ("enum", SCOPES), "hideIfReadonly": ("bool", None)}, {"title", "action", "type"}),
    "MenuDto": ({"showPinItem": ("bool", None), "showPostponeItem": ("bool", None), "showDeleteItem": ("bool", None),
                 "items": ("map", ("MenuItemDto", 10))}, set()),
    "MenuItemDto": ({"title": ("text", None), "action": ("dto", "ActionDto"), "scope": ("enum", SCOPES),
                     "hideIfReadonly": ("bool", None)}, {"title", "action"}),
    "ActionDto": ({"type": ("enum", ACTION_TYPES), "uri": ("str", None), "id": ("str", None),
                   "actionParams": ("params", 20), "animationType": ("enum", ANIMATION_TYPES),
                   "sliderParams": ("dto", "ActionSliderParamsDto")}, {"type"}),
    "ActionSliderParamsDto": ({"width": ("int", None), "leftBoundary": ("int", None), "title": ("str", None),
                               "labelText": ("str", None), "labelBgColor": ("enum", LABEL_BG),
                               "labelColor": ("hex", None)}, set()),
    "ContentBlockDto": ({"type": ("enum", BLOCK_TYPES), "properties": ("props", None)}, {"type"}),
    # properties of the content blocks
    "TextDto": ({"value": ("text", None), "multiline": ("bool", None), "title": ("text", None),
                 "bold": ("bool", None), "size": ("enum", ("xs", "sm", "md")), "color": ("enum", TEXT_COLORS),
                 "scope": ("enum", SCOPES)}, {"value"}),
    "LargeTextDto": ({"value": ("text", None), "scope": ("enum", SCOPES)}, {"value"}),
    "LinkDto": ({"text": ("plaintext", None), "action": ("dto", "ActionDto"), "bold": ("bool", None),
                 "scope": ("enum", SCOPES)}, {"text", "action"}),
    "WithTitleDto": ({"title": ("text", None), "block": ("innerblock", None), "inline": ("bool", None),
                      "scope": ("enum", SCOPES)}, {"title", "block"}),
    "LineOfBlocksDto": ({"blocks": ("blockmap", (INNER_BLOCK_TYPES, 20)), "scope": ("enum", SCOPES)}, {"blocks"}),
    "DeadlineDto": ({"readonly": ("bool", None), "scope": ("enum", SCOPES)}, set()),
}
PROPS_DTO = {"text": "TextDto", "largeText": "LargeTextDto", "link": "LinkDto", "withTitle": "WithTitleDto",
             "lineOfBlocks": "LineOfBlocksDto", "deadline": "DeadlineDto"}
ACTION_REQUIRED = {"redirect": ("uri",), "restEvent": ("id",), "openRestApp": ()}


def _as_map(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return None


def _is_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return True
    if isinstance(v, int) and v in (0, 1):
        return True
    return isinstance(v, str) and v.strip().lower() in ("y", "n", "1", "0", "true", "false", "")


def _is_scalar(v: Any) -> bool:
    return (isinstance(v, str | int | float) and not isinstance(v, bool)) or isinstance(v, bool)


def validate_dto(name: str, value: Any, field: str, parent: str, block_types: tuple[str, ...] = BLOCK_TYPES) -> None:
    obj = _as_map(value)
    if obj is None:
        raise fail("WRONG_FIELD_VALUE", field, parent)
    specs, required = DTOS[name]
    for key in obj:
        if key not in specs:
            raise fail("FIELD_IS_REDUNDANT", key, name)
    for key in specs:
        if key in required and key not in obj:
            raise fail("FIELD_IS_REQUIRED", key, name)
    if name == "ActionDto":
        atype = obj.get("type")
        if atype not in ACTION_TYPES:
            raise fail("ENUM_FIELD", "type", name, atype)
        for key in ACTION_REQUIRED[str(atype)]:
            if key not in obj:
                raise fail("FIELD_IS_REQUIRED", key, name)
    if name == "ContentBlockDto":
        btype = obj.get("type")
        if btype not in block_types:
            raise fail("ENUM_FIELD", "type", name, btype)
        props_name = PROPS_DTO[str(btype)]
        props = obj.get("properties", {})
        if props in ([], None):
            props = {}
        validate_dto(props_name, props, "properties", name)
        return
    for key, (kind, arg) in specs.items():
        if key not in obj:
            continue
        _validate_field(kind, arg, obj[key], key, name)


def _validate_field(kind: str, arg: Any, v: Any, key: str, parent: str) -> None:
    if kind == "dto":
        validate_dto(arg, v, key, parent)
    elif kind == "map":
        dto, limit = arg
        m = _as_map(v)
        if m is None:
            raise fail("WRONG_FIELD_VALUE", key, parent)
        _check_keys(m, key, parent)
        if len(m) > limit:
            raise fail("TOO_MANY_ITEMS", key, parent, count=limit)
        for item in m.values():
            validate_dto(dto, item, key, parent)
    elif kind == "blockmap":
        types, limit = arg
        m = _as_map(v)
        if m is None:
            raise fail("WRONG_FIELD_VALUE", key, parent)
        _check_keys(m, key, parent)
        if len(m) > limit:
            raise fail("TOO_MANY_ITEMS", key, parent, count=limit)
        for item in m.values():
            validate_dto("ContentBlockDto", item, key, parent, types)
    elif kind == "innerblock":
        validate_dto("ContentBlockDto", v, key, parent, INNER_BLOCK_TYPES)
    elif kind in ("text", "plaintext"):
        _validate_text(v, key, parent, plain=kind == "plaintext")
    elif kind == "str":
        if v is None or isinstance(v, dict | list | bool):
            raise fail("WRONG_FIELD_VALUE", key, parent)
    elif kind == "bool":
        if not _is_bool(v):
            raise fail("WRONG_FIELD_VALUE", key, parent)
    elif kind == "int":
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit())):
            raise fail("WRONG_FIELD_VALUE", key, parent)
    elif kind == "enum":
        if v not in arg:
            raise fail("ENUM_FIELD", key, parent, v)
    elif kind == "hex":
        if not isinstance(v, str) or not HEX_RE.match(v):
            raise fail("WRONG_FIELD_VALUE", key, parent)
    elif kind == "params":
        m = _as_map(v)
        if m is None:
            raise fail("WRONG_FIELD_VALUE", key, parent)
        _check_keys(m, key, parent)
        if len(m) > arg:
            raise fail("TOO_MANY_ITEMS", key, parent, count=arg)
        for item in m.values():
            if item is None or isinstance(item, dict | list):
                raise fail("WRONG_FIELD_VALUE", key, parent)


def _validate_text(v: Any, key: str, parent: str, plain: bool) -> None:
    """textWithTranslation: a scalar or `{"ru": …, "en": …}`; `plain` (a link's text): non-empty, no HTML."""
    if isinstance(v, dict):
        if not v or not all(isinstance(x, str) for x in v.values()):
            raise fail("WRONG_FIELD_VALUE", key, parent)
        values = [str(x) for x in v.values()]
    elif v is None or isinstance(v, bool | list) or not _is_scalar(v):
        raise fail("WRONG_FIELD_VALUE", key, parent)
    else:
        values = [str(v)]
    if plain and any(not x.strip() for x in values):
        raise fail("FIELD_IS_REQUIRED", key, parent)  # «не заполнено»: a link needs its text
    if plain and any(HTML_RE.search(x) for x in values):
        raise fail("WRONG_FIELD_VALUE", key, parent)


def _check_keys(m: dict[str, Any], key: str, parent: str) -> None:
    for k in m:
        if not KEY_RE.match(str(k)):
            raise fail("KEY_CONTAIN_WRONG_SYMBOLS", key, parent, k)


def validate_layout(layout: Any) -> dict[str, Any]:
    if layout in (None, "", [], {}):
        raise RestError("ERROR_EMPTY_LAYOUT", "Не передан layout", 400)
    validate_dto("LayoutDto", layout, "layout", "LayoutDto")
    m = _as_map(layout)
    assert m is not None
    return m
