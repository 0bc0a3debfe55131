"""Bitrix24 REST commands for one CRM command: entity, contact, activity (reference §3–§5).

Every entity type (leads 1, deals 2, contacts 3, smart processes) goes through `crm.item.*`: the old
`crm.lead.*`/`crm.deal.*`/`crm.contact.*` are "development discontinued" (b24restdocs, August 2026). What
differs per type is one row of `KINDS`."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

from rabota_common.b24_client import BatchRef, batch_ref
from rabota_common.card_fields import (
    BADGE_CODE,
    SOURCE_STATUS_ID,
    UF_CREATED,
    UF_RESUME,
    UF_STATUS,
    UF_VACANCY,
    card_values,
)
from rabota_common.entity_ref import CONTACT, DEAL, LEAD
from rabota_common.models import CrmCommand
from rabota_common.phones import normalize_email, normalize_phone

from rabota_crm_writer.layout import activity_layout

ORIGINATOR = "rabota.by"
__all__ = ["UF_CREATED", "UF_RESUME", "UF_STATUS", "UF_VACANCY"]
# crm.duplicate.findbycomm takes at most 20 values a call (crm-duplicate-find-by-comm.md).
FIND_VALUES_MAX = 20

Cmd = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """What `crm.item.*` takes for one kind of entity (`object-fields.md`): the one mapping table of the writer.

    `origin`: how an entity names its negotiation or applicant, `originatorId`/`originId` (leads, deals,
    contacts) or `xmlId` (smart processes have no origin fields). `person`: name fields and the `fm`
    multifield (leads, contacts). `client`: the applicant's contact linked by `contactIds` (deals, smart
    processes). `pipeline`: `categoryId`. `type_ufs`: user fields named `UF_CRM_{type id}_…`."""

    entity_type_id: int | None  # None: the smart process the command names
    origin: Literal["origin", "xml"]
    person: bool = False
    client: bool = False
    pipeline: bool = False
    comments: bool = True
    type_ufs: bool = False

    def type_id(self, cmd: CrmCommand) -> int:
        return self.entity_type_id if self.entity_type_id is not None else cmd.entity_type_id

    @property
    def commands_per_new(self) -> int:
        """Entity, activity, and the contact it may need."""
        return 3 if self.client else 2


KINDS: dict[str, Kind] = {
    "lead": Kind(LEAD, "origin", person=True),
    "deal": Kind(DEAL, "origin", client=True, pipeline=True),
    "smart_process": Kind(None, "xml", client=True, pipeline=True, comments=False, type_ufs=True),
}
CONTACT_KIND = Kind(CONTACT, "origin", person=True, comments=False)


def kind_of(cmd: CrmCommand) -> Kind:
    return KINDS[cmd.entity_type]


def uf_camel(name: str) -> str:
    """A user field's name in `crm.item.*` (camelCase, `crm/universal/index.md`): `UF_CRM_7_RABOTABY_STATUS`
    -> `ufCrm7RabotabyStatus`, `UF_CRM_RABOTABY_STATUS` -> `ufCrmRabotabyStatus`; digits-only parts keep
    their underscore (`UF_CRM_3_1747309727` -> `ufCrm3_1747309727`), mixed ones keep the name
    (`UF_CRM_3_DIGIT10` -> `ufCrm_3_DIGIT10`)."""
    rest = name.removeprefix("UF_CRM_")
    number, _, tail = rest.partition("_") if "_" in rest and rest.split("_", 1)[0].isdigit() else ("", "", rest)
    parts = [p for p in tail.split("_") if p]
    if parts and all(p.isalpha() for p in parts):
        return "ufCrm" + number + "".join(p.capitalize() for p in parts)
    if parts and all(p.isdigit() for p in parts) and number:
        return f"ufCrm{number}_{tail}"
    return "ufCrm_" + (f"{number}_" if number else "") + tail


def spa_uf(spa_type_id: int, name: str) -> str:
    """`UF_CRM_RABOTABY_STATUS` as a smart process of type `id` names it: `UF_CRM_{id}_RABOTABY_STATUS`."""
    return name.replace("UF_CRM_", f"UF_CRM_{spa_type_id}_", 1)


def uf(name: str, spa_type_id: int | None) -> str:
    """An app field's `crm.item.*` key: `ufCrmRabotabyStatus` (leads, deals), `ufCrm7RabotabyStatus` (type 7)."""
    return uf_camel(spa_uf(spa_type_id, name) if spa_type_id is not None else name)


def origin(kind: Kind, key: str) -> dict[str, Any]:
    """The fields naming an entity's source: the negotiation's (or applicant's) id."""
    if kind.origin == "xml":
        return {"xmlId": f"{ORIGINATOR}:{key}"}
    return {"originatorId": ORIGINATOR, "originId": key}


def person(cmd: CrmCommand) -> dict[str, Any]:
    """Name and the `fm` multifield (phone and e-mail) of a lead or contact. The city has no `crm.item` field
    (`address` is a legacy, response-only field): it stays in the timeline activity."""
    fields: dict[str, Any] = {"name": cmd.contact.name}
    if cmd.contact.last_name:
        fields["lastName"] = cmd.contact.last_name
    if cmd.contact.second_name:
        fields["secondName"] = cmd.contact.second_name
    fm = []
    if cmd.contact.phone:
        fm.append({"typeId": "PHONE", "valueType": "MOBILE", "value": cmd.contact.phone})
    if cmd.contact.email:
        fm.append({"typeId": "EMAIL", "valueType": "WORK", "value": cmd.contact.email})
    if fm:
        fields["fm"] = fm
    return fields


def app_fields(cmd: CrmCommand, pdf: bytes | None, spa_type_id: int | None = None) -> dict[str, Any]:
    """The app fields (the four of the manual and the screening ones, F18); a smart process's under their
    `UF_CRM_{id}_…` names, all in camelCase."""
    fields: dict[str, Any] = {
        uf(UF_CREATED, spa_type_id): cmd.created_date,
        uf(UF_STATUS, spa_type_id): cmd.status_name,
        uf(UF_VACANCY, spa_type_id): cmd.vacancy_name,
    }
    if cmd.card is not None:
        fields.update({uf(name, spa_type_id): value for name, value in card_values(cmd.card).items()
                       if value is not None})
    if pdf:
        fields[uf(UF_RESUME, spa_type_id)] = [cmd.resume_filename or "resume.pdf", base64.b64encode(pdf).decode()]
    return fields


def entity_add(cmd: CrmCommand, pdf: bytes | None, contact_ref: str | int | None,
               spa_type_id: int | None = None) -> Cmd:
    kind = kind_of(cmd)
    fields: dict[str, Any] = {"title": cmd.title, "assignedById": cmd.responsible_id, "sourceId": SOURCE_STATUS_ID,
                              **origin(kind, cmd.negotiation_id), **app_fields(cmd, pdf, spa_type_id)}
    if kind.comments:
        fields["comments"] = cmd.comments
    if kind.person:
        fields.update(person(cmd))
    if kind.pipeline and cmd.category_id is not None:
        fields["categoryId"] = cmd.category_id
    if cmd.stage_id:
        fields["stageId"] = cmd.stage_id
    if (kind.client or kind.person) and contact_ref is not None:
        # A lead bound to a contact already in the CRM is a repeat lead (Bitrix24 sets isReturnCustomer).
        fields["contactIds"] = [contact_ref]
    return "crm.item.add", {"entityTypeId": kind.type_id(cmd), "fields": fields}


def contact_add(cmd: CrmCommand) -> Cmd:
    fields = {**person(cmd), "assignedById": cmd.responsible_id, **origin(CONTACT_KIND, cmd.applicant_key)}
    return "crm.item.add", {"entityTypeId": CONTACT, "fields": fields}


def activity_add(cmd: CrmCommand, owner_ref: str | int) -> Cmd:
    return "crm.activity.configurable.add", {
        "ownerTypeId": cmd.entity_type_id,
        "ownerId": owner_ref,
        # Open, with the «Новый отклик» badge on the kanban card, until a recruiter opens the response
        # (the app completes it then). A command from before F18 keeps the completed activity it had.
        "fields": {"completed": "N" if cmd.card is not None else "Y", "responsibleId": cmd.responsible_id,
                   "originatorId": ORIGINATOR, "originId": cmd.negotiation_id,
                   **({"badgeCode": BADGE_CODE} if cmd.card is not None else {})},
        "layout": activity_layout(cmd.activity, cmd.card),
    }


def entity_update(cmd: CrmCommand, entity_id: int, spa_type_id: int | None = None) -> Cmd:
    fields: dict[str, Any] = {uf(UF_STATUS, spa_type_id): cmd.status_name}
    if cmd.stage_id:
        fields["stageId"] = cmd.stage_id
    return "crm.item.update", {"entityTypeId": kind_of(cmd).type_id(cmd), "id": entity_id, "fields": fields}


def link_contact(cmd: CrmCommand, entity_id: int, contact_id: int) -> Cmd:
    """Binds an entity to a contact already in the CRM (F17)."""
    return "crm.item.update", {"entityTypeId": kind_of(cmd).type_id(cmd), "id": entity_id,
                               "fields": {"contactIds": [contact_id]}}


def _origin_filter(kind: Kind, keys: list[str]) -> dict[str, Any]:
    if kind.origin == "xml":
        return {"@xmlId": [f"{ORIGINATOR}:{k}" for k in keys]}
    return {"originatorId": ORIGINATOR, "@originId": keys}


def _item_list(entity_type_id: int, flt: dict[str, Any], select: list[str], **extra: Any) -> Cmd:
    return "crm.item.list", {"entityTypeId": entity_type_id, "filter": flt, "select": select, **extra}


def lookup(entity_type: str, entity_type_id: int, negotiation_ids: list[str]) -> Cmd:
    """One list call that finds entities already created for these negotiations (≤ 50), whether the old
    `crm.lead.add`/`crm.deal.add` (ORIGIN_ID is `originId`) or `crm.item.add` made them."""
    kind = KINDS[entity_type]
    return _item_list(entity_type_id, _origin_filter(kind, negotiation_ids),
                      ["id", "xmlId" if kind.origin == "xml" else "originId"])


def probe(entity_type: str, entity_type_id: int) -> Cmd:
    """Any entity of ours at all of this type (an empty answer means an empty ledger is complete)."""
    flt = {"=%xmlId": f"{ORIGINATOR}:%"} if KINDS[entity_type].origin == "xml" else {"originatorId": ORIGINATOR}
    return _item_list(entity_type_id, flt, ["id"], start=-1)


def probe_empty(entity_type: str, result: Any) -> bool:
    return not _items(result)


def _items(result: Any) -> list[dict[str, Any]]:
    items = (result or {}).get("items") if isinstance(result, dict) else None
    return [row for row in items or [] if isinstance(row, dict)]


def lookup_activities(negotiation_ids: list[str]) -> Cmd:
    """Our timeline activities of these negotiations (≤ 50), found by their originId."""
    return "crm.activity.list", {"filter": {"ORIGINATOR_ID": ORIGINATOR, "@ORIGIN_ID": negotiation_ids},
                                 "select": ["ID", "ORIGIN_ID", "OWNER_ID", "OWNER_TYPE_ID"]}


def lookup_contacts(applicant_keys: list[str]) -> Cmd:
    """Contacts created for these applicants (≤ 50), found by `originId` = applicant key."""
    return _item_list(CONTACT, _origin_filter(CONTACT_KIND, applicant_keys), ["id", "originId"])


def lookup_values(cmd: CrmCommand) -> tuple[list[str], list[str]]:
    """The applicant's phones (as Bitrix24's duplicate search compares them) and e-mails."""
    phones = [p for p in (normalize_phone(x) for x in [cmd.contact.phone, *cmd.contact.phones]) if p]
    emails = [e for e in (normalize_email(x) for x in [cmd.contact.email, *cmd.contact.emails]) if e]
    return list(dict.fromkeys(phones)), list(dict.fromkeys(emails))


def find_by_comm(comm_type: str, values: list[str]) -> Cmd:
    """Contacts holding any of these phones or e-mails (≤ 20 values)."""
    return "crm.duplicate.findbycomm", {"entity_type": "CONTACT", "type": comm_type,
                                        "values": values[:FIND_VALUES_MAX]}


def found_by_comm(result: Any) -> list[int]:
    """Contact ids of a `crm.duplicate.findbycomm` answer (`{"CONTACT": [..]}`, or `[]` when none)."""
    ids = result.get("CONTACT") if isinstance(result, dict) else None
    return sorted({int(i) for i in ids or [] if str(i).isdigit()})


def found_activities(result: Any) -> dict[tuple[str, int, int], int]:
    """(negotiation id, owner type id, owner id) -> activity id from a `lookup_activities` answer."""
    out: dict[tuple[str, int, int], int] = {}
    for row in result or []:
        key = (str(row.get("ORIGIN_ID")), int(row.get("OWNER_TYPE_ID") or 0), int(row.get("OWNER_ID") or 0))
        out.setdefault(key, int(row["ID"]))
    return out


def found_contacts(result: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in _items(result):
        out.setdefault(str(row.get("originId")), int(row["id"]))
    return out


def activity_id_of(result: Any) -> int:
    return int((result or {}).get("activity", {}).get("id") or 0)


def found_ids(entity_type: str, result: Any) -> dict[str, int]:
    """negotiation id -> entity id from a `lookup` answer."""
    out: dict[str, int] = {}
    xml = KINDS[entity_type].origin == "xml"
    for row in _items(result):
        key = str(row.get("xmlId") or "") if xml else str(row.get("originId") or "")
        if xml and not key.startswith(f"{ORIGINATOR}:"):
            continue
        out.setdefault(key.split(":", 1)[1] if xml else key, int(row["id"]))
    return out


def entity_id_of(result: Any) -> int:
    """The id in a `crm.item.add` answer (`{"item": {"id": …}}`)."""
    return int(result["item"]["id"])


def entity_ref(key: str) -> BatchRef:
    """The id an earlier `crm.item.add` of this batch will have made."""
    return batch_ref(key, "item", "id")
