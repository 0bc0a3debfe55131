"""F17: the two-step contact lookup (`crm.duplicate.findbycomm`, 20 values a command)."""

from __future__ import annotations

from typing import Any

from rabota_common.b24_client import BatchResult
from rabota_crm_writer.people import Wanted, find_contacts


class FakeCrm:
    """`crm.duplicate.findbycomm` over a few contacts; records each batch."""

    def __init__(self, contacts: dict[int, set[str]]) -> None:
        self.contacts = contacts
        self.batches: list[dict[str, Any]] = []

    async def batch(self, cmds: dict[str, Any]) -> BatchResult:
        self.batches.append(cmds)
        result: dict[str, Any] = {}
        for key, (method, params) in cmds.items():
            assert method == "crm.duplicate.findbycomm" and params["entity_type"] == "CONTACT"
            assert len(params["values"]) <= 20
            found = sorted(cid for cid, values in self.contacts.items() if values & set(params["values"]))
            result[key] = {"CONTACT": found} if found else []
        return BatchResult({"result": {"result": result, "result_error": {}}})


async def test_nobody_in_the_crm_costs_one_request() -> None:
    crm = FakeCrm({})
    wanted = {f"r{i}": Wanted([f"+37529000{i:04d}"], [f"a{i}@mail.test"]) for i in range(50)}
    assert await find_contacts(crm, wanted) == {}
    assert len(crm.batches) == 1 and len(crm.batches[0]) == 6  # 50 phones and 50 e-mails, 20 a command


async def test_a_hit_among_many_is_told_apart_in_a_second_request() -> None:
    crm = FakeCrm({7: {"+375290000003"}, 9: {"a5@mail.test"}, 11: {"+375290000005", "a5@mail.test"}})
    wanted = {f"r{i}": Wanted([f"+37529000{i:04d}"], [f"a{i}@mail.test"]) for i in range(10)}
    found = await find_contacts(crm, wanted)
    # r5: 11 holds both its phone and its e-mail, 9 only the e-mail.
    assert found == {"r3": 7, "r5": 11}
    assert len(crm.batches) == 2


async def test_one_applicant_needs_no_second_request() -> None:
    crm = FakeCrm({4: {"+375291234567"}, 2: {"+375291234567"}})
    assert await find_contacts(crm, {"r": Wanted(["+375291234567"], [])}) == {"r": 2}  # the oldest
    assert len(crm.batches) == 1
