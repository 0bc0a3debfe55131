"""The crm-writer on `crm.item.*` for every entity type, against the Bitrix24 emulator (served over HTTP) and a
real Redis: leads, deals with their contacts, and a portal imported by the previous version (entities made by
`crm.lead.add`/`crm.deal.add`/`crm.contact.add`, ledger refs in the old `lead:5:…` form) that is upgraded."""

from __future__ import annotations

from typing import Any

from rabota_common.models import ActivityContent, ContactData, CrmCommand
from rabota_crm_writer import commands as c
from rabota_crm_writer.layout import activity_layout
from rabota_crm_writer.writer import write_group

from tests.integration.conftest import Sandbox

PORTAL = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"  # a member_id


def command(nid: str, entity_type: str = "lead", status: str = "response", applicant: str = "r1",
            stage: str | None = None, category: int | None = None) -> CrmCommand:
    etid = {"lead": 1, "deal": 2}[entity_type]
    word = "Приглашение" if status == "invitation" else "Отклик"
    return CrmCommand(
        portal=PORTAL, negotiation_id=nid, vacancy_id="100", kind="response", hh_status=status,
        entity_type=entity_type, entity_type_id=etid, category_id=category, stage_id=stage, responsible_id=1,
        title=f"{word}: Иван Петров", comments="Отклик на вакансию «Повар» на rabota.by",
        contact=ContactData(name="Иван", last_name="Петров", phone="+375291234567", email="ivan@example.by",
                            city="Минск"),
        created_date="01-12-2026", status_name=word, vacancy_name="Повар", applicant_key=applicant,
        resume_pdf=b"%PDF-1.4 resume", resume_filename="resume.pdf",
        activity=ActivityContent(title=word, vacancy="Повар", full_name="Иван Петров", applicant_key=applicant))


async def test_leads_and_deals_are_written_with_crm_item_fields(sandbox: Sandbox, rt: Any) -> None:
    outcomes = await write_group(rt, PORTAL, [(command("11"), 1), (command("12", "deal", applicant="r2",
                                                                           stage="NEW", category=0), 1)])
    assert all(o.ok and o.created for o in outcomes), outcomes
    lead, = await sandbox.entities(1)
    assert lead["ORIGINATOR_ID"] == "rabota.by" and lead["ORIGIN_ID"] == "11" and lead["NAME"] == "Иван"
    assert lead["LAST_NAME"] == "Петров" and lead["UF_CRM_RABOTABY_STATUS"] == "Отклик"
    assert [p["VALUE"] for p in lead["PHONE"]] == ["+375291234567"] and lead["EMAIL"][0]["VALUE"] == "ivan@example.by"
    assert lead["UF_CRM_RABOTABY_RESUME"] and lead["COMMENTS"].startswith("Отклик на вакансию")
    deal, = await sandbox.entities(2)
    contact, = await sandbox.entities(3)
    assert deal["ORIGIN_ID"] == "12" and str(deal["CONTACT_ID"]) == str(contact["ID"])
    assert contact["ORIGIN_ID"] == "r2" and contact["PHONE"][0]["VALUE"] == "+375291234567"
    assert deal["UF_CRM_RABOTABY_VACANCIES"] == "Повар" and deal["UF_CRM_RABOTABY_RESUME"]
    old = {m for m in await sandbox.methods()
           if m.startswith(("crm.lead.", "crm.deal.", "crm.contact.")) and ".userfield." not in m}
    assert not old, f"discontinued methods called: {old}"
    # A new status moves both with crm.item.update.
    outcomes = await write_group(rt, PORTAL, [(command("11", status="invitation"), 1),
                                              (command("12", "deal", "invitation", "r2", "PREPARATION", 0), 1)])
    assert all(o.ok and not o.created for o in outcomes), outcomes
    assert (await sandbox.entities(1))[0]["UF_CRM_RABOTABY_STATUS"] == "Приглашение"
    deal, = await sandbox.entities(2)
    assert deal["STAGE_ID"] == "PREPARATION" and deal["UF_CRM_RABOTABY_STATUS"] == "Приглашение"


async def _old_writer_import(sb: Sandbox, rt: Any) -> dict[str, int]:
    """What the previous version made: entities by the old methods (UPPER_CASE fields, ORIGIN_ID), the
    contact by `crm.contact.add`, activities, and ledger refs in the untyped `lead:{id}:{state}:{activity}`."""
    ids: dict[str, int] = {}
    lead = await sb.rest("crm.lead.add", {"fields": {
        "TITLE": "Отклик: Иван Петров", "NAME": "Иван", "ORIGINATOR_ID": "rabota.by", "ORIGIN_ID": "21",
        "UF_CRM_RABOTABY_STATUS": "Отклик", "PHONE": [{"VALUE": "+375291234567", "VALUE_TYPE": "MOBILE"}]}})
    contact = await sb.rest("crm.contact.add", {"fields": {"NAME": "Анна", "ORIGINATOR_ID": "rabota.by",
                                                            "ORIGIN_ID": "r9"}})
    deal = await sb.rest("crm.deal.add", {"fields": {"TITLE": "Отклик: Анна", "ORIGINATOR_ID": "rabota.by",
                                                      "ORIGIN_ID": "22", "CONTACT_ID": contact, "CATEGORY_ID": 0,
                                                      "UF_CRM_RABOTABY_STATUS": "Отклик"}})
    ids.update(lead=int(lead), deal=int(deal), contact=int(contact))
    for nid, etid, eid in (("21", 1, lead), ("22", 2, deal)):
        act = await sb.rest("crm.activity.configurable.add", {
            "ownerTypeId": etid, "ownerId": eid, "layout": activity_layout(command(nid).activity),
            "fields": {"completed": "Y", "responsibleId": 1, "originatorId": "rabota.by", "originId": nid}})
        ids[f"act{nid}"] = int(act["activity"]["id"])
    await rt.store.set_entity(PORTAL, "21", f"lead:{lead}:response:{ids['act21']}")
    await rt.store.set_contact(PORTAL, "r9", int(contact))
    return ids


async def test_a_portal_imported_by_the_previous_version_is_upgraded(sandbox: Sandbox, rt: Any) -> None:
    ids = await _old_writer_import(sandbox, rt)
    # The lead is in the old ledger; the deal's ref was lost (as after a Redis restore): it is found by its
    # ORIGIN_ID through crm.item.list, and the applicant's contact is reused, not made again.
    group = [(command("21", status="invitation"), 1),
             (command("22", "deal", "invitation", "r9", "PREPARATION", 0), 2),
             (command("23", "deal", applicant="r9", stage="NEW", category=0), 1)]
    outcomes = await write_group(rt, PORTAL, group)
    assert all(o.ok for o in outcomes), outcomes
    assert [(o.entity_id, o.created) for o in outcomes[:2]] == [(ids["lead"], False), (ids["deal"], False)]
    leads, deals, contacts = (await sandbox.entities(1), await sandbox.entities(2), await sandbox.entities(3))
    assert len(leads) == 1 and leads[0]["UF_CRM_RABOTABY_STATUS"] == "Приглашение"
    assert sorted(d["ORIGIN_ID"] for d in deals) == ["22", "23"], "an old deal was created again"
    old_deal = next(d for d in deals if d["ORIGIN_ID"] == "22")
    assert old_deal["STAGE_ID"] == "PREPARATION" and old_deal["UF_CRM_RABOTABY_STATUS"] == "Приглашение"
    assert len(contacts) == 1 and all(str(d["CONTACT_ID"]) == str(ids["contact"]) for d in deals)
    r = await sandbox.http.get(f"{sandbox.url}/_sandbox/portals/demo/activities")
    owners = sorted((int(a["ownerTypeId"]), int(a["ownerId"])) for a in r.json())
    new_deal = next(int(d["ID"]) for d in deals if d["ORIGIN_ID"] == "23")
    assert owners == sorted([(1, ids["lead"]), (2, ids["deal"]), (2, new_deal)]), "an activity was added twice"
    # The ledger now holds typed refs: the old `lead:` entry was rewritten.
    lead_ref = await rt.store.ledger_ref(portal=PORTAL, negotiation_id="21")
    deal_ref = await rt.store.ledger_ref(portal=PORTAL, negotiation_id="22")
    assert str(lead_ref).startswith(f"1:{ids['lead']}:invitation:")
    assert str(deal_ref).startswith(f"2:{ids['deal']}:invitation:{ids['act22']}")


def test_user_field_names_follow_the_documented_camel_case() -> None:
    """`crm/universal/index.md`'s table, and the app's own fields."""
    assert c.uf_camel("UF_CRM_3_DIGIT") == "ufCrm3Digit"
    assert c.uf_camel("UF_CRM_3_DIGIT10") == "ufCrm_3_DIGIT10"
    assert c.uf_camel("UF_CRM_3_DIGIT_10") == "ufCrm_3_DIGIT_10"
    assert c.uf_camel("UF_CRM_3_1747309727") == "ufCrm3_1747309727"
    assert c.uf_camel("UF_CRM_1747309879") == "ufCrm_1747309879"
    assert c.uf(c.UF_STATUS, None) == "ufCrmRabotabyStatus"
    assert c.uf(c.UF_CREATED, 7) == "ufCrm7RabotabyCreatedAt"


def test_one_code_path_every_type_through_crm_item() -> None:
    for entity_type in ("lead", "deal"):
        cmd = command("1", entity_type, stage="NEW", category=0 if entity_type == "deal" else None)
        method, params = c.entity_add(cmd, b"%PDF", "$result[c1][item][id]" if entity_type == "deal" else None)
        assert method == "crm.item.add" and params["entityTypeId"] == cmd.entity_type_id
        fields = params["fields"]
        assert fields["originatorId"] == "rabota.by" and fields["originId"] == "1" and fields["stageId"] == "NEW"
        assert fields["ufCrmRabotabyResume"] == ["resume.pdf", "JVBERg=="]
        assert ("fm" in fields) == (entity_type == "lead") and ("contactIds" in fields) == (entity_type == "deal")
        assert not [k for k in fields if k.isupper() or k.startswith("UF_")], fields
        assert c.entity_update(cmd, 5)[0] == "crm.item.update"
        assert c.lookup(entity_type, cmd.entity_type_id, ["1"])[0] == "crm.item.list"
    # A lead of an applicant already in the CRM (F17) is bound to that contact: a repeat lead.
    assert c.entity_add(command("1", "lead"), None, 77)[1]["fields"]["contactIds"] == [77]
    assert c.contact_add(command("1"))[1]["entityTypeId"] == 3
    assert c.lookup_contacts(["r1"]) == ("crm.item.list", {"entityTypeId": 3, "filter": {
        "originatorId": "rabota.by", "@originId": ["r1"]}, "select": ["id", "originId"]})


def test_create_requests_stay_within_the_file_budget() -> None:
    """One REST request may run at most 60 s: files are spread over requests of ≤ MAX_BATCH_FILE_BYTES."""
    from rabota_crm_writer.writer import MAX_BATCH_FILE_BYTES, GroupWrite, _by_size

    big = b"x" * (MAX_BATCH_FILE_BYTES // 2)  # base64 makes it two thirds of the budget
    parts = _by_size([1, 2, 3, 4], {1: big, 2: big, 3: None, 4: b"small"})
    assert parts == [[1], [2, 3, 4]]
    assert _by_size([1], {1: big + big}) == [[1]]  # one file larger than the budget still goes alone
    assert all(callable(getattr(GroupWrite, m)) for m in ("drop_existing", "create", "add_activities", "update"))
