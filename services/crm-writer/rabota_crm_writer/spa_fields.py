"""The app's four user fields on a smart process, created lazily the first time a portal writes its items.

Smart processes are chosen in the settings after install, so the installer cannot know them. Fields
are created with `userfieldconfig.add` (entityId `CRM_{type id}`, reference §4.2); "already exists"
counts as done. Redis remembers the type id once the fields exist, so this costs two requests per
portal and smart process, once.
"""

from __future__ import annotations

from typing import Any, Protocol

from rabota_common.b24_client import BatchResult
from rabota_common.card_fields import APP_FIELDS
from rabota_common.errors import PermanentError, TransientError
from rabota_common.runtime import Runtime

from rabota_crm_writer import commands as c


class Batcher(Protocol):
    async def batch(self, cmds: dict[str, c.Cmd]) -> BatchResult: ...


def _already(error: dict[str, Any]) -> bool:
    text = str(error.get("error_description", "")).lower()
    return "already exists" in text or "уже существует" in text


async def ensure_spa_fields(rt: Runtime, session: Batcher, portal: str, entity_type_id: int) -> int:
    """The smart process's type `id` (for `UF_CRM_{id}_…`), its app fields made sure to exist."""
    cached = await rt.store.spa_fields_type(portal=portal, entity_type_id=entity_type_id)
    if cached:
        return cached
    found = await session.batch({"types": ("crm.type.list", {"filter": {"entityTypeId": entity_type_id}})})
    if found.errors:
        raise TransientError(f"crm.type.list failed: {found.errors}")
    types = [t for t in (found.result.get("types") or {}).get("types", [])
             if int(t.get("entityTypeId") or 0) == entity_type_id]
    if not types:
        raise PermanentError(f"Смарт-процесс {entity_type_id} не найден на портале: выберите его заново в настройках",
                             code="spa_not_found")
    type_id = int(types[0]["id"])
    entity_id = f"CRM_{type_id}"
    cmds: dict[str, c.Cmd] = {
        f"f{n}": ("userfieldconfig.add", {"moduleId": "crm", "field": {
            "entityId": entity_id, "fieldName": c.spa_uf(type_id, f.name), "userTypeId": f.user_type,
            "multiple": "Y" if f.multiple else "N", "mandatory": "N", "showFilter": "Y", "isSearchable": "N",
            "editFormLabel": {"ru": f.label, "en": f.label}, "listColumnLabel": {"ru": f.label, "en": f.label}}})
        for n, f in enumerate(APP_FIELDS)
    }
    made = await session.batch(cmds)
    problems = {k: v for k, v in made.errors.items() if not _already(v)}
    if problems:
        text = "; ".join(str(v.get("error_description") or v.get("error")) for v in problems.values())
        raise PermanentError(f"Не удалось создать поля rabota.by в смарт-процессе: {text}", code="spa_fields")
    await rt.store.remember_spa_fields(portal=portal, entity_type_id=entity_type_id, type_id=type_id)
    return type_id
