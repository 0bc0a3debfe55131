"""The crm-writer's write of one portal's group (`write_group`), against the Bitrix24 emulator over HTTP and a
real Redis: copies of one negotiation in a batch are written once, the copy HeadHunter saw last winning; an
older copy never moves the entity back; an entity whose ledger entry was lost is found, not made again; one
contact per applicant; Bitrix24's command errors become permanent or transient causes."""

from __future__ import annotations

from typing import Any

from rabota_common.errors import PermanentError, TransientError
from rabota_crm_writer.writer import command_error, hh_time, write_group

from tests.integration.conftest import Sandbox
from tests.integration.crm_writer.test_writer_crm_item import PORTAL, command


def at(cmd: Any, updated_at: str) -> Any:
    return cmd.model_copy(update={"updated_at": updated_at})


async def test_copies_in_one_batch_are_written_once_the_latest_winning(sandbox: Sandbox, rt: Any) -> None:
    older = at(command("31", status="invitation"), "2026-11-02T10:00:00+03:00")
    newer = at(command("31"), "2026-11-02T11:00:00+03:00")
    outcomes = await write_group(rt, PORTAL, [(newer, 1), (older, 1)])  # the webhook's copy came first
    assert outcomes[0] == outcomes[1] and outcomes[0].ok and outcomes[0].created
    lead, = await sandbox.entities(1)
    assert lead["UF_CRM_RABOTABY_STATUS"] == "Отклик"


async def test_an_older_copy_never_moves_the_entity_back(sandbox: Sandbox, rt: Any) -> None:
    first = at(command("32", status="invitation"), "2026-11-02T12:00:00+03:00")
    [created] = await write_group(rt, PORTAL, [(first, 1)])
    late = at(command("32"), "2026-11-02T09:00:00+03:00")  # an import's listing, overtaken by a webhook
    [outcome] = await write_group(rt, PORTAL, [(late, 1)])
    assert outcome.ok and outcome.stale and outcome.entity_id == created.entity_id and not outcome.created
    lead, = await sandbox.entities(1)
    assert lead["UF_CRM_RABOTABY_STATUS"] == "Приглашение"
    [moved] = await write_group(rt, PORTAL, [(at(command("32"), "2026-11-02T13:00:00+03:00"), 1)])
    assert moved.ok and not moved.stale and (await sandbox.entities(1))[0]["UF_CRM_RABOTABY_STATUS"] == "Отклик"


async def test_a_lost_ledger_finds_the_entity_and_one_contact_serves_an_applicant(sandbox: Sandbox,
                                                                                   rt: Any) -> None:
    group = [(command("33", "deal", applicant="r7", stage="NEW", category=0), 1),
             (command("34", "deal", applicant="r7", stage="NEW", category=0), 1)]
    created = await write_group(rt, PORTAL, group)
    assert all(o.created for o in created)
    await rt.store.redis.flushdb()  # Redis lost (restored from an old backup): the redelivery finds them
    again = await write_group(rt, PORTAL, [(cmd, 2) for cmd, _ in group])
    assert [(o.entity_id, o.created) for o in again] == [(o.entity_id, False) for o in created]
    assert len(await sandbox.entities(2)) == 2 and len(await sandbox.entities(3)) == 1


def test_command_errors_become_causes() -> None:
    required = command_error({"error": "CRM_FIELD_ERROR_REQUIRED", "error_description": "Поле X обязательно"},
                             "Сделка")
    assert isinstance(required, PermanentError) and required.code == "CRM_FIELD_ERROR_REQUIRED"
    assert required.reason.startswith("Битрикс24 отклонил запись (сделка): ")
    throttled = command_error({"error": "QUERY_LIMIT_EXCEEDED"})
    assert isinstance(throttled, TransientError) and "ограничил" in (throttled.cause or "")
    assert isinstance(command_error({"error": "SOMETHING_NEW"}), TransientError)


def test_hh_time() -> None:
    assert hh_time(at(command("1"), "2026-11-02T10:00:00+03:00")) == 1793602800.0
    assert hh_time(command("1")) is None and hh_time(at(command("1"), "yesterday")) is None
