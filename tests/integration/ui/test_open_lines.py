"""Open Lines in the settings: the portal's lines as the form lists them, and the «rabota.by» connector put on
the chosen line and taken off the one chosen before (against the Bitrix24 emulator)."""

from __future__ import annotations

from typing import Any

import pytest
from rabota_ui.errors import ApiError
from rabota_ui.open_lines import CONNECTOR_ID, activate_line, connector_commands, open_lines

from tests.integration.conftest import Sandbox

PORTAL = "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7"  # a member_id (the rt fixture's token serves the sandbox's portal)


def test_lines_as_the_form_lists_them() -> None:
    rows = [{"ID": "1", "LINE_NAME": "Кандидаты"}, {"ID": "2"}, {"ID": "x"}, {"LINE_NAME": "без id"}, None]
    assert open_lines(rows) == [{"id": 1, "name": "Кандидаты"}, {"id": 2, "name": "Линия 2"}]
    assert open_lines({"error": "ACCESS_DENIED"}) == [] and open_lines(None) == []


def test_the_connector_points_at_the_deployment(rt: Any) -> None:
    cmds = connector_commands(rt)
    assert cmds["connector"][1]["ID"] == CONNECTOR_ID
    assert cmds["connector"][1]["PLACEMENT_HANDLER"].endswith("/b24/app")
    assert cmds["bind_onimconnectormessageadd"][1]["handler"].endswith("/b24/events")


async def test_the_connector_moves_to_the_chosen_line(sandbox: Sandbox, rt: Any) -> None:
    lines = open_lines(await sandbox.rest("imopenlines.config.list.get", {}))
    assert lines, "the emulator's portal has an open line"
    line = lines[0]["id"]
    await activate_line(rt, PORTAL, line, None)
    assert {"imconnector.register", "event.bind", "imconnector.activate",
            "imconnector.connector.data.set"} <= await sandbox.methods()
    await activate_line(rt, PORTAL, None, line)  # chats off: the connector leaves the line
    await activate_line(rt, PORTAL, None, None)  # nothing chosen before or now: no request
    with pytest.raises(ApiError) as caught:  # a line the portal does not have: refused, in Russian
        await activate_line(rt, PORTAL, 4242, line)
    assert caught.value.status == 422 and "не подключён к открытой линии" in caught.value.message
