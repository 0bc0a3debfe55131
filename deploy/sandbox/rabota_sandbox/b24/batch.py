"""`batch`: up to 50 commands run sequentially, `$result[key][...]` references, `halt`,
result shape `{result, result_error, result_total, result_next, result_time}` (empty maps as `[]`)."""

from __future__ import annotations

import re
from typing import Any

from .params import as_list, parse_query, to_bool
from .portal import RestError
from .registry import METHODS, NOT_IN_BATCH, Ctx

MAX_COMMANDS = 50
REF_RE = re.compile(r"\$result\[([^\]]+)\]((?:\[[^\]]*\])*)")
FULL_REF_RE = re.compile(r"^\$result\[([^\]]+)\]((?:\[[^\]]*\])*)$")


def _lookup(results: dict[str, Any], key: str, path: str) -> tuple[bool, Any]:
    if key not in results:
        return False, None
    cur = results[key]
    for part in re.findall(r"\[([^\]]*)\]", path):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return False, None
    return True, cur


def substitute(value: Any, results: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: substitute(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, results) for v in value]
    if not isinstance(value, str) or "$result" not in value:
        return value
    m = FULL_REF_RE.match(value)
    if m:
        found, v = _lookup(results, m.group(1), m.group(2))
        return v if found else ""

    def repl(mm: re.Match[str]) -> str:
        found, v = _lookup(results, mm.group(1), mm.group(2))
        if not found or isinstance(v, dict | list):
            return ""
        if v is True:
            return "1"
        if v is False or v is None:
            return ""
        return str(v)

    return REF_RE.sub(repl, value)


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
            cmd_params = substitute(cmd_params, results)
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
