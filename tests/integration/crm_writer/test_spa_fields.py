"""The app's user fields on a smart process, made once per portal and smart process (against a real Redis; the
Bitrix24 batch scripted): "already exists" counts as done, an unknown smart process or a refused field is a
permanent error with a Russian reason, a failed type lookup a transient one."""

from __future__ import annotations

from typing import Any

import pytest
from rabota_common.b24_client import BatchResult
from rabota_common.card_fields import APP_FIELDS
from rabota_common.crypto import Crypto
from rabota_common.errors import PermanentError, TransientError
from rabota_common.store import Store
from rabota_crm_writer import commands as c
from rabota_crm_writer.spa_fields import ensure_spa_fields

P1 = "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5"  # a member_id


class FakeSession:
    def __init__(self, types: list[dict[str, Any]], field_errors: dict[str, Any] | None = None,
                 type_errors: dict[str, Any] | None = None) -> None:
        self.types = types
        self.field_errors = field_errors or {}
        self.type_errors = type_errors or {}
        self.batches: list[dict[str, c.Cmd]] = []

    async def batch(self, cmds: dict[str, c.Cmd]) -> BatchResult:
        self.batches.append(cmds)
        if "types" in cmds:
            return BatchResult({"result": {"result": {"types": {"types": self.types}},
                                           "result_error": self.type_errors}})
        return BatchResult({"result": {"result": {k: {"id": 1} for k in cmds if k not in self.field_errors},
                                       "result_error": self.field_errors}})


@pytest.fixture
def rt(redis_client: Any) -> Any:
    class Rt:
        store = Store(redis_client, Crypto("k"))
    return Rt()


async def test_fields_are_made_once_and_remembered(rt: Any) -> None:
    session = FakeSession([{"id": 7, "entityTypeId": 1038}, {"id": 8, "entityTypeId": 1040}],
                          field_errors={"f1": {"error_description": "Field already exists"}})
    assert await ensure_spa_fields(rt, session, P1, 1038) == 7
    [_, fields] = session.batches
    names = sorted(cmd[1]["field"]["fieldName"] for cmd in fields.values())
    # The manual's four and the screening fields (F18), skills a multiple field.
    assert names == sorted(c.spa_uf(7, f.name) for f in APP_FIELDS)
    assert {c.spa_uf(7, c.UF_CREATED), c.spa_uf(7, c.UF_RESUME)} <= set(names)
    multiple = {cmd[1]["field"]["fieldName"] for cmd in fields.values() if cmd[1]["field"]["multiple"] == "Y"}
    assert multiple == {"UF_CRM_7_RABOTABY_SKILLS"}
    assert {cmd[1]["field"]["entityId"] for cmd in fields.values()} == {"CRM_7"}
    assert await ensure_spa_fields(rt, session, P1, 1038) == 7 and len(session.batches) == 2  # remembered


async def test_an_unknown_smart_process_or_a_refused_field_is_permanent(rt: Any) -> None:
    with pytest.raises(PermanentError) as caught:
        await ensure_spa_fields(rt, FakeSession([{"id": 8, "entityTypeId": 1040}]), P1, 1038)
    assert caught.value.code == "spa_not_found" and "не найден" in caught.value.reason
    refused = FakeSession([{"id": 7, "entityTypeId": 1038}], field_errors={"f2": {"error_description": "no access"}})
    with pytest.raises(PermanentError) as caught:
        await ensure_spa_fields(rt, refused, P1, 1038)
    assert caught.value.code == "spa_fields" and "no access" in caught.value.reason
    with pytest.raises(TransientError):
        await ensure_spa_fields(rt, FakeSession([], type_errors={"types": {"error": "INTERNAL"}}), P1, 1038)
    assert await rt.store.spa_fields_type(portal=P1, entity_type_id=1038) is None  # nothing remembered
