"""The portal's Open Lines for chats with applicants (DESIGN F15): the lines the settings offer, and activating the
«rabota.by» connector on the chosen one (and off the previous one)."""

from __future__ import annotations

from typing import Any

from rabota_common.chats import CONNECTOR_ICON, CONNECTOR_ID, CONNECTOR_NAME
from rabota_common.runtime import Runtime

from rabota_ui.errors import ApiError, portal_batch

LINES_COMMAND = ("imopenlines.config.list.get",
                 {"PARAMS": {"select": ["ID", "LINE_NAME", "ACTIVE"], "filter": {"ACTIVE": "Y"}, "limit": 200}})
NO_LINES_NOTE = ("На портале нет открытых линий. Создайте открытую линию в Битрикс24 (Контакт-центр), "
                 "чтобы переписываться с соискателями из Битрикс24.")


CONNECTOR_MESSAGE_EVENT = "ONIMCONNECTORMESSAGEADD"


def connector_commands(rt: Runtime) -> dict[str, tuple[str, dict[str, Any]]]:
    """Register the «rabota.by» connector and bind the operators' replies to the events endpoint (at install, and
    again when a line is chosen, so a portal installed before chats existed gets them without a reinstall)."""
    base = rt.settings.PUBLIC_URL.rstrip("/")
    return {
        "connector": ("imconnector.register", {
            "ID": CONNECTOR_ID, "NAME": CONNECTOR_NAME, "ICON": {"DATA_IMAGE": CONNECTOR_ICON, "COLOR": "#d6001c"},
            "PLACEMENT_HANDLER": f"{base}/b24/app", "CHAT_GROUP": "N"}),
        "bind_onimconnectormessageadd": ("event.bind", {"event": CONNECTOR_MESSAGE_EVENT,
                                                         "handler": f"{base}/b24/events"}),
    }


def open_lines(rows: Any) -> list[dict[str, Any]]:
    """`[{"id": int, "name": str}]` from imopenlines.config.list.get (nothing when the portal has none or the
    call failed)."""
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            out.append({"id": int(row["ID"]), "name": str(row.get("LINE_NAME") or f"Линия {row['ID']}")})
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _commands(rt: Runtime, portal: str, new: int | None, old: int | None) -> dict[str, tuple[str, dict[str, Any]]]:
    cmds: dict[str, tuple[str, dict[str, Any]]] = connector_commands(rt) if new else {}
    if old and old != new:
        cmds["off"] = ("imconnector.activate", {"CONNECTOR": CONNECTOR_ID, "LINE": old, "ACTIVE": "0"})
    if new:
        cmds["on"] = ("imconnector.activate", {"CONNECTOR": CONNECTOR_ID, "LINE": new, "ACTIVE": "1"})
        cmds["data"] = ("imconnector.connector.data.set", {
            "CONNECTOR": CONNECTOR_ID, "LINE": new,
            "DATA": {"ID": f"{CONNECTOR_ID}_line{new}", "NAME": CONNECTOR_NAME,
                     "URL": f"https://{rt.settings.HH_HOST}/", "URL_IM": f"https://{rt.settings.HH_HOST}/"}})
    return cmds


async def activate_line(rt: Runtime, portal: str, new: int | None, old: int | None) -> None:
    """The connector on the chosen line (activate, channel data) and off the one chosen before; a refusal is
    told in Russian and nothing is saved."""
    cmds = _commands(rt, portal, new, old)
    if not cmds:
        return
    result = await portal_batch(rt, portal, cmds)
    # The old line may be gone, and the connector and its event binding exist already: no matter.
    failed = {k: v for k, v in result.errors.items() if k in ("on", "data")}
    if failed:
        code = next(iter(failed.values())).get("error", "")
        raise ApiError(422, "validation_error",
                       f"Настройки не сохранены: коннектор «{CONNECTOR_NAME}» не подключён к открытой линии ({code}).")
