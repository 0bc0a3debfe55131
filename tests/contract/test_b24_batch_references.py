"""The Bitrix24 emulator's `batch` substitutes references exactly as Bitrix24's CRestUtil::processBatchElement does:
a case-insensitive match of `$(result|next|total|time|error)` followed by non-space characters, a case-sensitive
lookup of the matched name, a walk of `[key]` segments that stops at the first missing one, and a whole-value
reference taking whatever it found (a scalar, a whole map, or null)."""

from __future__ import annotations

from typing import Any

import httpx
from rabota_sandbox.b24 import B24SandboxConfig, create_app
from rabota_sandbox.b24.batch import substitute

BASE = "http://127.0.0.1:8020"

SOURCES: dict[str, Any] = {
    "result": {"e1": 42, "c0": {"item": {"id": 7}}, "s": "текст"},
    "next": {"l": 50}, "total": {"l": 120}, "time": {}, "error": {"x": {"error": "ERR"}},
}


def test_a_whole_value_reference_takes_what_it_found() -> None:
    assert substitute("$result[e1]", SOURCES) == 42
    assert substitute("$result[c0][item][id]", SOURCES) == 7
    assert substitute("$total[l]", SOURCES) == 120
    # An unknown key: the walk stops at the results map itself, which becomes the value (other commands' data).
    assert substitute("$result[unknown]", SOURCES) == SOURCES["result"]
    # The match is case-insensitive, the lookup case-sensitive: `$RESULT` and `$Next` find nothing, the field empties.
    assert substitute("$RESULT[e1]", SOURCES) == ""
    assert substitute("$Next[l]", SOURCES) == ""
    # A reference's tail runs to the next whitespace.
    assert substitute("$result[e1]abc", SOURCES) == 42


def test_a_reference_inside_text_is_replaced_only_by_a_string_or_number() -> None:
    assert substitute("id $result[e1] ok", SOURCES) == "id 42 ok"
    assert substitute("s=$result[s]", SOURCES) == "s=текст"
    assert substitute("map $result[c0] stays", SOURCES) == "map $result[c0] stays"
    assert substitute("up $RESULT[e1] stays", SOURCES) == "up $RESULT[e1] stays"
    assert substitute("no path $result here", SOURCES) == "no path $result here"
    assert substitute({"a": ["$result[e1]", "x"]}, SOURCES) == {"a": [42, "x"]}


def test_text_neutralised_by_the_product_is_left_alone() -> None:
    for text in ("$\u2060result[e1]", "$\u2060RESULT[x]", "$\u2060next[y]"):
        assert substitute(text, SOURCES) == text


async def test_batch_over_http_resolves_like_bitrix24() -> None:
    app = create_app(B24SandboxConfig(deliver_events=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        r = await c.post("/_sandbox/portals/demo/frame", json={"user_id": 1, "target": "app"})
        assert r.status_code == 200, r.text
        auth = r.json()["form"]["AUTH_ID"]
        cmd = {
            "a": "crm.item.add?entityTypeId=1&fields[title]=first",
            "b": "crm.item.add?entityTypeId=1&fields[title]=%24RESULT%5Ba%5D%5Bitem%5D%5Bid%5D",
            "c": "crm.item.add?entityTypeId=1&fields[title]=id%20%24result%5Ba%5D%5Bitem%5D%5Bid%5D",
        }
        r = await c.post("/portal/demo/rest/batch", json={"auth": auth, "halt": 0, "cmd": cmd})
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        assert not result["result_error"], result["result_error"]
        first = result["result"]["a"]["item"]["id"]
        # `$RESULT` finds nothing: the title is emptied, and Bitrix24 gives the lead its default title.
        b = result["result"]["b"]["item"]
        assert b["title"] == f"Лид #{b['id']}"
        assert result["result"]["c"]["item"]["title"] == f"id {first}"
