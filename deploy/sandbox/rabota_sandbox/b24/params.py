"""Request parameters the way Bitrix24 (PHP) sees them: query string, form bodies with nested keys
like `fields[PHONE][0][VALUE]`, multipart bodies and JSON bodies, all merged into one structure;
plus the value coercions the REST methods apply."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, quote

from .portal import RestError

_KEY_RE = re.compile(r"\[([^\]]*)\]")


def split_key(key: str) -> list[str]:
    """`fields[PHONE][0][VALUE]` -> `["fields", "PHONE", "0", "VALUE"]`; `a[]` -> `["a", ""]`."""
    pos = key.find("[")
    if pos <= 0:
        return [key]
    head = key[:pos]
    rest = key[pos:]
    parts = [head]
    consumed = 0
    for m in _KEY_RE.finditer(rest):
        if m.start() != consumed:
            break
        parts.append(m.group(1))
        consumed = m.end()
    if consumed != len(rest):  # PHP ignores the tail after a malformed bracket
        pass
    return parts


def php_parse(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build the nested PHP array from flat `key=value` pairs (parse_str semantics)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        if not key:
            continue
        parts = split_key(key)
        cur: dict[str, Any] = root
        for i, part in enumerate(parts):
            if part == "":
                nums = [int(k) for k in cur if k.lstrip("-").isdigit()]
                part = str(max(nums) + 1 if nums else 0)
            if i == len(parts) - 1:
                cur[part] = value
            else:
                nxt = cur.get(part)
                if not isinstance(nxt, dict):
                    nxt = {}
                    cur[part] = nxt
                cur = nxt
    out: dict[str, Any] = normalize(root)
    return out


def normalize(value: Any) -> Any:
    """PHP arrays with keys 0..n-1 in order are lists (that is how PHP encodes them to JSON)."""
    if isinstance(value, dict):
        out = {str(k): normalize(v) for k, v in value.items()}
        keys = list(out.keys())
        if keys and keys == [str(i) for i in range(len(keys))]:
            return [out[k] for k in keys]
        return out
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def parse_query(qs: str) -> dict[str, Any]:
    return php_parse(parse_qsl(qs, keep_blank_values=True))


def parse_json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RestError("INVALID_REQUEST", "Invalid JSON in the request body", 400) from exc
    if not isinstance(data, dict):
        raise RestError("INVALID_REQUEST", "The JSON body must be an object", 400)
    out: dict[str, Any] = normalize(data)
    return out


def http_build_query(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """PHP http_build_query as pairs (used to form-encode events)."""
    out: list[tuple[str, str]] = []
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = [(str(i), v) for i, v in enumerate(data)]
    else:
        return [(prefix, scalar_str(data))]
    for k, v in items:
        key = f"{prefix}[{k}]" if prefix else str(k)
        if isinstance(v, dict | list):
            out.extend(http_build_query(v, key))
        else:
            out.append((key, scalar_str(v)))
    return out


def urlencode_php(data: Any) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in http_build_query(data))


def scalar_str(v: Any) -> str:
    if v is None:
        return ""
    if v is True:
        return "1"
    if v is False:
        return "0"
    return str(v)


# ---------------------------------------------------------------------------------------- coercion
def as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        return list(v.values())
    return [v]


def to_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
        return int(v)
    return None


def to_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("y", "1", "true", "yes"):
            return True
        if s in ("n", "0", "false", "no", ""):
            return False
    return None


def yn(v: Any, default: str = "N") -> str:
    b = to_bool(v)
    if b is None:
        return default
    return "Y" if b else "N"


def get_ci(params: dict[str, Any], *names: str) -> Any:
    """A parameter by any of its names; Bitrix accepts e.g. `fields` and `FIELDS`."""
    for n in names:
        if n in params:
            return params[n]
    lower = {k.lower(): v for k, v in params.items()}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None
