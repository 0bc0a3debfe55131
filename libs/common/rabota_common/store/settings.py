"""The portal's sync settings (DESIGN §7 settings body): stored as validated, read back typed."""

from __future__ import annotations

import json
from typing import Any

from rabota_common.app_settings import SyncSettings
from rabota_common.store._base import StoreBase


class SettingsStore(StoreBase):
    async def put_settings(self, portal: str, settings: SyncSettings | dict[str, Any]) -> None:
        """Store the settings; a dict is validated first (nothing invalid is ever stored)."""
        model = settings if isinstance(settings, SyncSettings) else SyncSettings.model_validate(settings)
        await self.redis.set(self.key(portal, "settings"), json.dumps(model.model_dump(mode="json")))

    async def get_settings(self, portal: str) -> dict[str, Any] | None:
        """The settings as stored (the ui's GET /api/settings answers exactly this body)."""
        raw = await self.redis.get(self.key(portal, "settings"))
        return json.loads(raw) if raw else None

    async def sync_settings(self, *, portal: str) -> SyncSettings | None:
        """The settings, typed; None before they are saved. Settings that no longer validate (stored by an
        older version) raise pydantic's ValidationError: a permanent cause for whoever needs them."""
        raw = await self.get_settings(portal)
        return None if raw is None else SyncSettings.model_validate(raw)
