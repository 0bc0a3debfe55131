"""Bitrix24 REST commands for one CRM command: entity, contact, activity (reference §3–§5)."""

from __future__ import annotations

import base64
from typing import Any

from rabota_common.b24_client import BatchRef, batch_ref
from rabota_common.models import CrmCommand

from rabota_crm_writer.layout import activity_layout

ORIGINATOR = "rabota.by"
UF_CREATED = "UF_CRM_RABOTABY_CREATED_AT"
UF_STATUS = "UF_CRM_RABOTABY_STATUS"
UF_VACANCY = "UF_CRM_RABOTABY_VACANCIES"
UF_RESUME = "UF_CRM_RABOTABY_RESUME"

Cmd = tuple[str, dict[str, Any]]


def multifields(cmd: CrmCommand) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cmd.contact.phone:
        out["PHONE"] = [{"VALUE": cmd.contact.phone, "VALUE_TYPE": "MOBILE"}]
    if cmd.contact.email:
        out["EMAIL"] = [{"VALUE": cmd.contact.email, "VALUE_TYPE": "WORK"}]
    return out


def person(cmd: CrmCommand) -> dict[str, Any]:
    fields: dict[str, Any] = {"NAME": cmd.contact.name}
    if cmd.contact.last_name:
        fields["LAST_NAME"] = cmd.contact.last_name
    if cmd.contact.second_name:
        fields["SECOND_NAME"] = cmd.contact.second_name
    if cmd.contact.city:
        fields["ADDRESS_CITY"] = cmd.contact.city
    return fields


def spa_uf(spa_type_id: int, name: str) -> str:
    """`UF_CRM_RABOTABY_STATUS` as a smart process of type `id` names it: `UF_CRM_{id}_RABOTABY_STATUS`."""
    return name.replace("UF_CRM_", f"UF_CRM_{spa_type_id}_", 1)


def app_fields(cmd: CrmCommand, pdf: bytes | None, spa_type_id: int | None = None) -> dict[str, Any]:
    """The four app fields; for a smart process under their `UF_CRM_{id}_…` names (useOriginalUfNames=Y)."""
    def name(base: str) -> str:
        return spa_uf(spa_type_id, base) if spa_type_id is not None else base

    fields: dict[str, Any] = {
        name(UF_CREATED): cmd.created_date,
        name(UF_STATUS): cmd.status_name,
        name(UF_VACANCY): cmd.vacancy_name,
    }
    if pdf:
        file = [cmd.resume_filename or "resume.pdf", base64.b64encode(pdf).decode()]
        fields[name(UF_RESUME)] = file if spa_type_id is not None else {"fileData": file}
    return fields


def entity_add(cmd: CrmCommand, pdf: bytes | None, contact_ref: str | int | None,
               spa_type_id: int | None = None) -> Cmd:
    common = {
        "TITLE": cmd.title,
        "COMMENTS": cmd.comments,
        "ASSIGNED_BY_ID": cmd.responsible_id,
        "ORIGINATOR_ID": ORIGINATOR,
        "ORIGIN_ID": cmd.negotiation_id,
        **app_fields(cmd, pdf),
    }
    if cmd.entity_type == "lead":
        fields = {**common, **person(cmd), **multifields(cmd)}
        if cmd.stage_id:
            fields["STATUS_ID"] = cmd.stage_id
        return "crm.lead.add", {"fields": fields, "params": {"REGISTER_SONET_EVENT": "N"}}
    if cmd.entity_type == "deal":
        fields = dict(common)
        if cmd.category_id is not None:
            fields["CATEGORY_ID"] = cmd.category_id
        if cmd.stage_id:
            fields["STAGE_ID"] = cmd.stage_id
        if contact_ref is not None:
            fields["CONTACT_ID"] = contact_ref
        return "crm.deal.add", {"fields": fields, "params": {"REGISTER_SONET_EVENT": "N"}}
    item: dict[str, Any] = {
        "title": cmd.title,
        "xmlId": f"{ORIGINATOR}:{cmd.negotiation_id}",
        "assignedById": cmd.responsible_id,
    }
    if cmd.category_id is not None:
        item["categoryId"] = cmd.category_id
    if cmd.stage_id:
        item["stageId"] = cmd.stage_id
    if contact_ref is not None:
        item["contactId"] = contact_ref
    params: dict[str, Any] = {"entityTypeId": cmd.entity_type_id, "fields": item}
    if spa_type_id is not None:
        item.update(app_fields(cmd, pdf, spa_type_id))
        params["useOriginalUfNames"] = "Y"
    return "crm.item.add", params


def contact_add(cmd: CrmCommand) -> Cmd:
    fields = {**person(cmd), **multifields(cmd), "ASSIGNED_BY_ID": cmd.responsible_id,
              "ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": cmd.applicant_key}
    return "crm.contact.add", {"fields": fields, "params": {"REGISTER_SONET_EVENT": "N"}}


def activity_add(cmd: CrmCommand, owner_ref: str | int) -> Cmd:
    return "crm.activity.configurable.add", {
        "ownerTypeId": cmd.entity_type_id,
        "ownerId": owner_ref,
        "fields": {"completed": "Y", "responsibleId": cmd.responsible_id,
                   "originatorId": ORIGINATOR, "originId": cmd.negotiation_id},
        "layout": activity_layout(cmd.activity),
    }


def entity_update(cmd: CrmCommand, entity_id: int, spa_type_id: int | None = None) -> Cmd:
    if cmd.entity_type == "lead":
        fields: dict[str, Any] = {UF_STATUS: cmd.status_name}
        if cmd.stage_id:
            fields["STATUS_ID"] = cmd.stage_id
        return "crm.lead.update", {"id": entity_id, "fields": fields}
    if cmd.entity_type == "deal":
        fields = {UF_STATUS: cmd.status_name}
        if cmd.stage_id:
            fields["STAGE_ID"] = cmd.stage_id
        return "crm.deal.update", {"id": entity_id, "fields": fields}
    item: dict[str, Any] = {}
    if cmd.stage_id:
        item["stageId"] = cmd.stage_id
    params: dict[str, Any] = {"entityTypeId": cmd.entity_type_id, "id": entity_id, "fields": item}
    if spa_type_id is not None:
        item[spa_uf(spa_type_id, UF_STATUS)] = cmd.status_name
        params["useOriginalUfNames"] = "Y"
    return "crm.item.update", params


def lookup(entity_type: str, entity_type_id: int, negotiation_ids: list[str]) -> Cmd:
    """One list call that finds entities already created for these negotiations (≤ 50)."""
    if entity_type == "lead":
        return "crm.lead.list", {"filter": {"ORIGINATOR_ID": ORIGINATOR, "@ORIGIN_ID": negotiation_ids},
                                 "select": ["ID", "ORIGIN_ID", "STATUS_ID"]}
    if entity_type == "deal":
        return "crm.deal.list", {"filter": {"ORIGINATOR_ID": ORIGINATOR, "@ORIGIN_ID": negotiation_ids},
                                 "select": ["ID", "ORIGIN_ID", "STAGE_ID"]}
    return "crm.item.list", {"entityTypeId": entity_type_id,
                             "filter": {"@xmlId": [f"{ORIGINATOR}:{n}" for n in negotiation_ids]},
                             "select": ["id", "xmlId"]}


def probe(entity_type: str, entity_type_id: int) -> Cmd:
    """Any entity of ours at all of this type (an empty answer means an empty ledger is complete)."""
    if entity_type in ("lead", "deal"):
        return f"crm.{entity_type}.list", {"filter": {"ORIGINATOR_ID": ORIGINATOR}, "select": ["ID"], "start": -1}
    return "crm.item.list", {"entityTypeId": entity_type_id, "filter": {"=%xmlId": f"{ORIGINATOR}:%"},
                             "select": ["id"], "start": -1}


def probe_empty(entity_type: str, result: Any) -> bool:
    rows = result if entity_type in ("lead", "deal") else (result or {}).get("items")
    return not rows


def lookup_activities(negotiation_ids: list[str]) -> Cmd:
    """Our timeline activities of these negotiations (≤ 50), found by their originId."""
    return "crm.activity.list", {"filter": {"ORIGINATOR_ID": ORIGINATOR, "@ORIGIN_ID": negotiation_ids},
                                 "select": ["ID", "ORIGIN_ID", "OWNER_ID", "OWNER_TYPE_ID"]}


def lookup_contacts(applicant_keys: list[str]) -> Cmd:
    """Contacts created for these applicants (≤ 50), found by ORIGIN_ID = applicant key."""
    return "crm.contact.list", {"filter": {"ORIGINATOR_ID": ORIGINATOR, "@ORIGIN_ID": applicant_keys},
                                "select": ["ID", "ORIGIN_ID"]}


def found_activities(result: Any) -> dict[tuple[str, int, int], int]:
    """(negotiation id, owner type id, owner id) -> activity id from a `lookup_activities` answer."""
    out: dict[tuple[str, int, int], int] = {}
    for row in result or []:
        key = (str(row.get("ORIGIN_ID")), int(row.get("OWNER_TYPE_ID") or 0), int(row.get("OWNER_ID") or 0))
        out.setdefault(key, int(row["ID"]))
    return out


def found_contacts(result: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in result or []:
        out.setdefault(str(row.get("ORIGIN_ID")), int(row["ID"]))
    return out


def activity_id_of(result: Any) -> int:
    return int((result or {}).get("activity", {}).get("id") or 0)


def found_ids(entity_type: str, result: Any) -> dict[str, int]:
    """negotiation id -> entity id from a `lookup` answer."""
    out: dict[str, int] = {}
    if entity_type in ("lead", "deal"):
        for row in result or []:
            out[str(row.get("ORIGIN_ID"))] = int(row["ID"])
    else:
        for row in (result or {}).get("items", []):
            xml = str(row.get("xmlId") or "")
            if xml.startswith(f"{ORIGINATOR}:"):
                out[xml.split(":", 1)[1]] = int(row["id"])
    return out


def entity_id_of(entity_type: str, result: Any) -> int:
    if entity_type == "smart_process":
        return int(result["item"]["id"])
    return int(result)


def entity_ref(entity_type: str, key: str) -> BatchRef:
    return batch_ref(key, "item", "id") if entity_type == "smart_process" else batch_ref(key)


COMMANDS_PER_NEW = {"lead": 2, "deal": 3, "smart_process": 3}
