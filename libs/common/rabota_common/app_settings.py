"""The portal's sync settings (DESIGN §7 settings body) and the stage they give a negotiation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rabota_common.models import EXTENDED_STATUSES, SIMPLE_STATUSES, EntityType
from rabota_common.negotiation_kind import Kind, enum_id, kind_of

__all__ = ["SyncSettings", "kind_of", "status_key"]


class SyncSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    responsible_id: int = Field(gt=0)
    entity_type: EntityType
    smart_process_type_id: int | None = Field(
        default=None, description="entityTypeId of the smart process (crm.type.list `entityTypeId`)")
    category_id: int | None = Field(default=None, ge=0)
    extended: bool = False
    stage_map: dict[str, str]
    back_sync: bool = False
    open_line_id: int | None = Field(
        default=None, gt=0, description="the Open Line that carries chats with applicants (F15); null: chats off")
    existing_contacts: Literal["link", "create"] = Field(
        default="link", description="an applicant already in the CRM (a contact with the same phone or e-mail, "
        "F17): link that contact (link) or always create a new one (create)")

    @model_validator(mode="after")
    def _consistent(self) -> SyncSettings:
        if self.entity_type == "smart_process" and not self.smart_process_type_id:
            raise ValueError("для смарт-процесса укажите smart_process_type_id")
        expected = set(EXTENDED_STATUSES if self.extended else SIMPLE_STATUSES)
        missing = expected - set(self.stage_map)
        extra = set(self.stage_map) - expected
        if missing:
            raise ValueError(f"в stage_map не хватает статусов {', '.join(sorted(missing))}")
        if extra:
            raise ValueError(f"в stage_map лишние статусы {', '.join(sorted(extra))}")
        return self

    @property
    def entity_type_id(self) -> int:
        if self.entity_type == "lead":
            return 1
        if self.entity_type == "deal":
            return 2
        assert self.smart_process_type_id is not None
        return self.smart_process_type_id


def status_key(settings: SyncSettings, employer_state: Any, source: Any = None, kind: Kind | None = None) -> str:
    """The stage_map key for a negotiation: simple mode by kind (the decided one when given), extended mode by
    employer state family (every `discard_*` sub-state is `discard`, «Отказ»; an invitation not yet moved, and a
    state HeadHunter adds later, count as a response)."""
    if not settings.extended:
        return kind or kind_of(employer_state, source)
    state = enum_id(employer_state) or "response"
    if state.startswith("discard"):
        return "discard"
    if state in EXTENDED_STATUSES:
        return state
    return "response"
