"""`batch`: up to 50 commands run sequentially, `$result|$next|$total|$time|$error[key][...]` references matched as
Bitrix24 does (case-insensitive match, case-sensitive lookup, a whole-value reference takes what it found), `halt`,
result shape `{result, result_error, result_total, result_next, result_time}` (empty maps as `[]`)."""

from __future__ import annotations

import re
from typing import Any

from .params import as_list, parse_query, to_bool
from .portal import RestError
from .registry import METHODS, NOT_IN_BATCH, Ctx

MAX_COMMANDS = 50
# CRestUtil::processBatchElement: /\$(result|next|total|time|error)([^\s]*)/i over every decoded value; the matched
# name is then looked up case-sensitively in the map of the five, so `$RESULT[x]` finds nothing.
REF_RE = re.compile(r"\$(result|next|total|time|error)([^ \t\n\r\f\v]*)", re.IGNORECASE)
PATH_RE = re.compile(r"\[([^\]]+)\]")
_MISSING = object()


def _isset_get(cur: Any, key: str) -> Any:
    """PHP `isset($r[$key]) ? $r[$key] : <missing>` for the values a batch can hold."""
    if isinstance(cur, dict):
        value = cur.get(key, _MISSING)
        return _MISSING if value is None else value
    if isinstance(cur, list | str) and key.lstrip("-").isdigit():
        index = int(key)
        return cur[index] if 0 <= index < len(cur) else _MISSING
    return _MISSING


def _resolve(sources: dict[str, Any], name: str, path: str) -> Any:
    current = sources.get(name)  # case-sensitive: `RESULT` is no key, PHP gives null
    for key in PATH_RE.findall(path):
        found = _isset_get(current, key)
        if found is _MISSING:
            break  # PHP stops walking and keeps what it had: `$result[unknown]` is the whole results map
        current = found
    return current


def _element(value: str, sources: dict[str, Any]) -> Any:
    query: Any = value
    for match in REF_RE.finditer(value):
        if not PATH_RE.search(match.group(2)):
            continue  # no `[key]`: Bitrix24 leaves the text as it is
        resolved = _resolve(sources, match.group(1), match.group(2))
        if match.group(0) == value:
            # The whole value is the reference: it becomes what was found (a map, a scalar, or null: empty).
            return "" if resolved is None else resolved
        if isinstance(resolved, bool):
            continue  # PHP: neither numeric nor a string
        if isinstance(resolved, int | float):
            resolved = str(resolved)
        if not isinstance(resolved, str) or not isinstance(query, str):
            continue
        query = query.replace(match.group(0), resolved)
    return query


def substitute(value: Any, sources: dict[str, Any]) -> Any:
    """Reference substitution of one command's parameters; `sources` maps result/next/total/time/error to the
    maps of the commands run so far."""
    if isinstance(value, dict):
        return {k: substitute(v, sources) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, sources) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    return _element(value, sources)


def php_map(d: dict[str, Any]) -> Any:
    """PHP json_encode: empty arrays and 0..n-1 keyed arrays become JSON lists."""
    if not d:
        return []
    keys = list(d.keys())
    if keys == [str(i) for i in range(len(keys))]:
        return [d[k] for k in keys]
    return d


async def run_batch(ctx: Ctx, params: dict[str, Any], knobs: dict[str, Any]) -> tuple[dict[str, Any], int]:
    from .rest import normalize_method, run_method

    cmd = params.get("cmd")
    if isinstance(cmd, list):
        commands = [(str(i), c) for i, c in enumerate(cmd)]
    elif isinstance(cmd, dict):
        commands = [(str(k), c) for k, c in cmd.items()]
    else:
        commands = []
    halt = bool(to_bool(params.get("halt")))
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    stats = ctx.portal.stats
    for index, (key, command) in enumerate(commands):
        err: RestError | None = None
        name = ""
        try:
            if index >= MAX_COMMANDS:
                raise RestError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400)
            if not isinstance(command, str) or not command.strip():
                raise RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
            method_part, _, query = command.partition("?")
            name = normalize_method(method_part)
            stats.batched_commands[name] += 1
            if name in NOT_IN_BATCH:
                raise RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)
            if name not in METHODS:
                raise RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
            cmd_params = parse_query(query)
            cmd_params.pop("auth", None)
            cmd_params = substitute(cmd_params, {"result": results, "next": nexts, "total": totals, "time": times,
                                                 "error": errors})
            res, tobj = run_method(ctx, name, cmd_params, knobs)
            results[key] = res.result
            times[key] = tobj
            if res.total is not None:
                totals[key] = res.total
            if res.next is not None:
                nexts[key] = res.next
        except RestError as e:
            err = e
        if err is not None:
            errors[key] = err.body()
            stats.errors[err.error] += 1
            if halt:
                break
    out = {
        "result": php_map(results),
        "result_error": php_map(errors),
        "result_total": php_map(totals),
        "result_next": php_map(nexts),
        "result_time": php_map(times),
    }
    return out, len(commands)


_ = as_list


def _batch_entry(ctx: Ctx, params: dict[str, Any]) -> Any:  # dispatched specially by rest.py
    raise RestError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)


METHODS["batch"] = _batch_entry
