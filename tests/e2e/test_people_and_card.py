"""Issue 19 parts 2 and 3, end to end against the sandboxes.

People already in the CRM (F17): an applicant whose contact a person typed by hand, with the phone written
differently, is linked to that contact, not duplicated, in lead, deal and smart-process modes; with
`existing_contacts: create` a new contact is made. The card (F18): the screening fields are filled from the
resume and the response, hidden ones keep placeholders, the lead's source is the «rabota.by» one created at
install, and the «Новый отклик» badge stays on the kanban card until a recruiter opens the response."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import Driver

FAST = pytest.mark.stack_env({"HH_RATE": "60", "HH_BURST": "20"})
SPA_ETID = 1032
HIDDEN = "скрыто соискателем"


async def _hh(driver: Driver, method: str, path: str, **kw: Any) -> Any:
    r = await driver.http.request(method, f"{driver.stack.hh_url}/_sandbox{path}", **kw)
    assert r.status_code in (200, 201), r.text
    return r.json()


async def _b24(driver: Driver, method: str, path: str, **kw: Any) -> Any:
    r = await driver.http.request(method, f"{driver.stack.b24_url}/_sandbox/portals/demo{path}", **kw)
    assert r.status_code == 200, r.text
    return r.json()


async def _applicant(driver: Driver, **body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new response on rabota.by made before any account is connected (the import finds it)."""
    neg = await _hh(driver, "POST", "/negotiations", json=body)
    return neg, await _hh(driver, "GET", f"/resumes/{neg['resume_id']}")


async def _by_hand(driver: Driver, resume: dict[str, Any], phone: str) -> int:
    """A contact a person typed into the CRM: the applicant's name, the phone in their own format."""
    contact = await _b24(driver, "POST", "/entities/3", json={"fields": {
        "NAME": resume["first_name"], "LAST_NAME": resume["last_name"],
        "PHONE": [{"VALUE": phone, "VALUE_TYPE": "MOBILE"}]}})
    return int(contact["ID"])


def _settings(options: dict[str, Any], mode: str, existing: str = "link") -> dict[str, Any]:
    body: dict[str, Any] = {"responsible_id": options["users"][0]["id"], "entity_type": mode,
                            "smart_process_type_id": None, "category_id": None, "extended": False,
                            "existing_contacts": existing}
    if mode == "lead":
        stages = [s["id"] for s in options["lead_stages"]]
    elif mode == "deal":
        cat = next(c for c in options["deal_categories"] if c["id"] == 1)
        stages = [s["id"] for s in cat["stages"]]
        body["category_id"] = 1
    else:
        spa = next(s for s in options["smart_processes"] if s["id"] == SPA_ETID)
        cat = spa["categories"][0]
        stages = [s["id"] for s in cat["stages"]]
        body.update(smart_process_type_id=SPA_ETID, category_id=cat["id"])
    body["stage_map"] = {"response": stages[0], "invitation": stages[1]}
    return body


async def _import(driver: Driver, mode: str, existing: str = "link") -> None:
    await driver.install("demo")
    await driver.open_app("demo")
    assert (await driver.connect_hh()).status_code == 200
    options = (await driver.api("GET", "/options")).json()
    r = await driver.api("PUT", "/settings", json=_settings(options, mode, existing))
    assert r.status_code == 200, r.text
    assert r.json()["existing_contacts"] == existing
    assert (await driver.api("GET", "/settings")).json()["existing_contacts"] == existing
    assert (await driver.api("POST", "/import")).status_code == 202
    result = await driver.wait_import()
    assert result["failed"] == 0 and result["imported"] == result["found"], result


ETIDS = {"lead": 1, "deal": 2, "smart_process": SPA_ETID}


async def _entity_of(driver: Driver, mode: str, nid: str) -> dict[str, Any]:
    rows = await driver.entities("demo", ETIDS[mode])
    mine = [r for r in rows if r.get("ORIGIN_ID") == nid or r.get("XML_ID") == f"rabota.by:{nid}"]
    assert len(mine) == 1, f"negotiation {nid}: {len(mine)} entities"
    return mine[0]


def _uf(mode: str, name: str) -> str:
    return name.replace("UF_CRM_", "UF_CRM_1_", 1) if mode == "smart_process" else name


@FAST
@pytest.mark.parametrize("mode", ["lead", "deal", "smart_process"])
async def test_an_applicant_typed_in_by_hand_is_linked_not_duplicated(driver: Driver, mode: str) -> None:
    await _hh(driver, "POST", "/reset", json={"negotiations": 6})
    neg, resume = await _applicant(driver)
    # «+375 (29) 123-45-67» on rabota.by; the recruiter typed «8 029 1234567» (Belarus' national form).
    typed = f"8 0{resume['phone_city']} {resume['phone_number']}"
    hand = await _by_hand(driver, resume, typed)
    await _import(driver, mode)
    entity = await _entity_of(driver, mode, neg["id"])
    assert int(entity["CONTACT_ID"] or 0) == hand, entity
    contacts = await driver.entities("demo", 3)
    # No contact made for this applicant: the one typed by hand is theirs.
    assert not [c for c in contacts if c.get("ORIGIN_ID") == neg["resume_id"]], contacts
    assert len([c for c in contacts if int(c["ID"]) == hand]) == 1
    if mode == "lead":
        assert entity["IS_RETURN_CUSTOMER"] == "Y"  # a repeat lead, as Bitrix24 marks a lead with a contact
        assert entity["SOURCE_ID"] == "RABOTABY"
        sources = await _b24(driver, "GET", "/statuses", params={"entity_id": "SOURCE"})
        assert [s["NAME"] for s in sources if s["STATUS_ID"] == "RABOTABY"] == ["rabota.by"]
    # The other applicants, nobody's contact in the CRM, are created as before.
    if mode != "lead":
        others = [e for e in await driver.entities("demo", ETIDS[mode]) if int(e["ID"]) != int(entity["ID"])]
        assert others and all(int(e["CONTACT_ID"] or 0) not in (0, hand) for e in others)


@FAST
async def test_card_fields_placeholders_source_and_badge(driver: Driver) -> None:
    """Deal mode with `existing_contacts: create`: a new contact although one with the phone exists; the
    card's screening fields from the resume; an applicant hiding their experience keeps placeholders; the
    badge leaves the kanban when the response is opened from its card."""
    await _hh(driver, "POST", "/reset", json={"negotiations": 4})
    neg, resume = await _applicant(driver)
    hidden_neg, _ = await _applicant(driver, resume="hidden", hidden_fields=["experience"])
    hand = await _by_hand(driver, resume, f"+375{resume['phone_city']}{resume['phone_number']}")
    await _import(driver, "deal", existing="create")
    deal = await _entity_of(driver, "deal", neg["id"])
    assert int(deal["CONTACT_ID"] or 0) not in (0, hand), "«always create a new contact» linked the old one"
    assert deal["SOURCE_ID"] == "RABOTABY"
    assert deal["UF_CRM_RABOTABY_AGE"] == resume["age"]
    assert deal["UF_CRM_RABOTABY_SALARY"] == resume["salary"]
    assert deal["UF_CRM_RABOTABY_EXPERIENCE"] == resume["experience_months"]
    assert deal["UF_CRM_RABOTABY_CITY"] == resume["area_name"]
    if resume["companies"]:
        assert deal["UF_CRM_RABOTABY_LAST_POSITION"] == resume["title"]
        assert deal["UF_CRM_RABOTABY_LAST_COMPANY"] == resume["companies"][0]
    assert deal["UF_CRM_RABOTABY_SKILLS"] == ["Коммуникабельность", "Работа в команде"]
    assert deal["UF_CRM_RABOTABY_SOURCE"] == "Отклик на rabota.by"
    letter = deal["UF_CRM_RABOTABY_COVER_LETTER"]
    assert letter == ("не указано" if int(neg["id"]) % 5 == 0 else "Здравствуйте! Прошу рассмотреть мою кандидатуру.")
    # «Места работы» hidden: the employers' names are gone (positions and the total stay, as HeadHunter shows).
    hidden = await _entity_of(driver, "deal", hidden_neg["id"])
    hidden_resume = await _hh(driver, "GET", f"/resumes/{hidden_neg['resume_id']}")
    assert hidden["UF_CRM_RABOTABY_LAST_COMPANY"] == HIDDEN
    assert hidden["UF_CRM_RABOTABY_EXPERIENCE"] == hidden_resume["experience_months"]
    fields = await _b24(driver, "GET", "/userfields")
    skills = [f for f in fields if f.get("FIELD_NAME", f.get("fieldName")) == "UF_CRM_RABOTABY_SKILLS"]
    assert skills and all(f.get("MULTIPLE", f.get("multiple")) in ("Y", True) for f in skills), skills
    # The activity shows the same, and carries the badge until the response is opened.
    acts = {a["ownerId"]: a for a in await _b24(driver, "GET", "/activities") if a["ownerTypeId"] == 2}
    text = str(acts[int(hidden["ID"])]["layout"])
    assert "Последнее место" in text and HIDDEN in text
    assert str(resume["age"]) in str(acts[int(deal["ID"])]["layout"])
    kanban = await _b24(driver, "GET", f"/kanban/2/{deal['ID']}")
    assert [b["code"] for b in kanban["badges"]] == ["rabotabyNewResponse"]
    await driver.open_app("demo", placement_options={"view": "other_responses", "entityTypeId": 2,
                                                      "entityId": int(deal["ID"])})
    r = await driver.api("GET", "/other-responses", params={"entity_type": "deal", "entity_id": deal["ID"]})
    assert r.status_code == 200, r.text
    assert (await _b24(driver, "GET", f"/kanban/2/{deal['ID']}"))["badges"] == []
    assert (await _b24(driver, "GET", f"/kanban/2/{hidden['ID']}"))["badges"], "another card lost its badge"
