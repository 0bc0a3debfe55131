"""The poller's actions from the CRM card (F16) against a real NATS and Redis, HeadHunter scripted: the listing with
prefilled texts, an action performed once (a repeat sends nothing), HeadHunter's refusals in Russian, the archivation
offer of the open applicants the app wrote, and a bulk run that counts and continues where it stopped."""

from __future__ import annotations

from typing import Any

from rabota_common.hh_client import HhError
from rabota_common.models import AppEvent, HhWebhookEvent, NegotiationActionRequest
from rabota_common.runtime import Runtime
from rabota_poller import actions

from tests.integration.poller.support import P1, FakeHh, last_found, with_hh

BASE = "https://api.hh.ru"


def negotiation(nid: str, state: str = "response", vacancy: str = "900") -> dict[str, Any]:
    acts = [{"id": sid, "name": name, "enabled": True, "hidden": False, "url": f"{BASE}/negotiations/{sid}/{nid}",
             "resulting_employer_state": {"id": sid, "name": name},
             "arguments": [{"id": "message", "required": False}],
             "templates": [{"id": tid, "name": tid, "url": f"{BASE}/message_templates/{tid}?topic_id={nid}"}]}
            for sid, name, tid in (("interview", "Собеседование", "invite_after_response"),
                                   ("discard_by_employer", "Отказ", "discard_after_response"),
                                   ("discard_vacancy_closed", "Вакансия закрыта", "discard_after_response"))
            if sid != state]
    return {"id": nid, "employer_state": {"id": state, "name": state}, "updated_at": "2026-11-02T10:00:00+0300",
            "vacancy": {"id": vacancy, "name": "Курьер"}, "actions": acts}


class ActingHh(FakeHh):
    def __init__(self, negotiations: dict[str, Any]) -> None:
        super().__init__(negotiations)
        self.sent: list[tuple[str, dict[str, str] | None]] = []
        self.refuse: HhError | None = None

    async def negotiation_action(self, token: str, url: str, arguments: dict[str, str] | None = None) -> None:
        self.calls.append(f"put {url}")
        if self.refuse is not None:
            raise self.refuse
        self.sent.append((url, arguments))
        nid, state = url.rsplit("/", 1)[-1], url.rsplit("/", 2)[-2]
        self.negotiations[nid] = negotiation(nid, state)

    async def message_template(self, token: str, url: str) -> str:
        self.calls.append(f"template {url}")
        return f"Иван, текст {url.rsplit('/', 1)[-1].split('?')[0]}"

    async def mail_templates(self, token: str, employer_id: str) -> list[dict[str, Any]]:
        self.calls.append("mail_templates")
        return [{"id": "discard_after_response", "name": "Отказ", "text": "{{applicant_first_name}}, нет.",
                 "type": "EMAIL", "employer_state": {"id": "discard_by_employer"}},
                {"id": "sms", "name": "СМС", "text": "x", "type": "SMS"}]

    async def negotiation_collections(self, token: str, vacancy_id: str) -> dict[str, Any]:
        return {"collections": [{"id": "all", "url": f"{BASE}/negotiations/all?vacancy_id={vacancy_id}",
                                 "counters": {"total": len(self.negotiations)}}]}

    async def collection_page(self, token: str, url: str, page: int) -> dict[str, Any]:
        return {"items": list(self.negotiations.values()), "pages": 1}


def req(op: str, nid: str = "501", **kw: Any) -> NegotiationActionRequest:
    return NegotiationActionRequest(portal=P1, negotiation_id=nid, op=op, **kw)  # type: ignore[arg-type]


async def test_listing_prefills_each_action_from_its_template(bus_rt: Runtime) -> None:
    with_hh(bus_rt, ActingHh({"501": negotiation("501")}))
    reply = await actions.answer(bus_rt, req("list"))
    assert reply.ok and reply.state == "response"
    by_id = {a.id: a for a in reply.actions}
    assert by_id["interview"].kind == "invite" and by_id["interview"].text == "Иван, текст invite_after_response"
    assert by_id["discard_by_employer"].kind == "discard"
    assert [t.id for t in reply.templates] == ["discard_after_response"]  # e-mail ones only


async def test_an_action_is_sent_once_and_moves_the_entity_through_the_mapper(bus_rt: Runtime) -> None:
    hh = with_hh(bus_rt, ActingHh({"501": negotiation("501")}))
    first = await actions.answer(bus_rt, req("perform", action_id="interview", message="Ждём вас", user_id=2))
    assert first.ok and not first.already and first.state == "interview"
    assert hh.sent == [(f"{BASE}/negotiations/interview/501", {"message": "Ждём вас"})]
    found = await last_found(bus_rt)
    assert found is not None and found.negotiation_id == "501" and found.employer_state == "interview"
    again = await actions.answer(bus_rt, req("perform", action_id="interview", message="Ждём вас"))
    assert again.ok and again.already and len(hh.sent) == 1
    # Taken on rabota.by itself meanwhile (the negotiation is in the action's state): done, nothing sent.
    hh.negotiations["502"] = negotiation("502", "discard_by_employer")
    taken = await actions.answer(bus_rt, req("perform", "502", action_id="discard_by_employer"))
    assert taken.ok and taken.already and len(hh.sent) == 1


async def test_refusals_answer_in_russian(bus_rt: Runtime) -> None:
    hh = with_hh(bus_rt, ActingHh({"501": negotiation("501")}))
    hh.refuse = HhError(403, [{"type": "negotiations", "value": "invalid_vacancy"}], "r1")
    reply = await actions.answer(bus_rt, req("perform", action_id="interview"))
    assert not reply.ok and reply.error == "invalid_vacancy" and "архиве" in (reply.message or "")
    unknown = await actions.answer(bus_rt, req("perform", action_id="hired"))
    assert unknown.error == "action_unavailable"
    hh.negotiations["503"] = HhError(404, [{"type": "not_found"}], None)
    assert (await actions.answer(bus_rt, req("list", "503"))).error == "not_found"
    assert await bus_rt.store.action_done(P1, "501", "interview") is None


async def test_archivation_offers_the_open_applicants_and_the_bulk_run_counts(bus_rt: Runtime) -> None:
    from rabota_common.entity_ref import EntityRef, LedgerRef

    negs = {"601": negotiation("601"), "602": negotiation("602", "consider"),
            "603": negotiation("603", "discard_by_employer"), "604": negotiation("604")}
    hh = with_hh(bus_rt, ActingHh(negs))
    for nid in ("601", "602", "603"):  # 604 never reached the CRM
        await bus_rt.store.set_entity(P1, nid, LedgerRef(EntityRef(1, int(nid)), "response"))
    event = HhWebhookEvent.model_validate({"id": "w9", "subscription_id": "1", "user_id": "2",
                                           "action_type": "VACANCY_ARCHIVATION", "payload": {"vacancy_id": "900"}})
    assert await actions.vacancy_archived(bus_rt, P1, event) == 2
    offer = await bus_rt.store.bulk_offer(P1, "vacancy-900")
    assert offer is not None and offer["negotiation_ids"] == ["601", "602"] and offer["vacancy_name"] == "Курьер"
    await bus_rt.store.bulk_progress(P1, "run1", total=2)
    progress = await actions.bulk_reject(bus_rt, AppEvent(portal=P1, event="bulk_reject_requested", data={
        "run_id": "run1", "negotiation_ids": ["601", "602"], "action_id": "discard_vacancy_closed",
        "template_id": "discard_after_response", "offer_id": "vacancy-900"}))
    assert progress == {"total": 2, "done": 2}
    assert [args for _, args in hh.sent] == [{"message": "Иван, текст discard_after_response"}] * 2
    assert await bus_rt.store.bulk_offer(P1, "vacancy-900") is None
    # Delivered again: the run continues where it stopped, nothing is sent twice.
    again = await actions.bulk_reject(bus_rt, AppEvent(portal=P1, event="bulk_reject_requested", data={
        "run_id": "run1", "negotiation_ids": ["601", "602"], "action_id": "discard_vacancy_closed"}))
    assert again == {"total": 2, "done": 2} and len(hh.sent) == 2
