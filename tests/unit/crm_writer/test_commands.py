"""The crm-writer's Bitrix24 commands: names, requests and how answers read."""

from __future__ import annotations

from rabota_crm_writer import commands as c


def test_spa_user_field_names_and_file_format() -> None:
    assert c.spa_uf(1, c.UF_STATUS) == "UF_CRM_1_RABOTABY_STATUS"
    method, params = c.lookup_activities(["1", "2"])
    assert method == "crm.activity.list" and params["filter"]["@ORIGIN_ID"] == ["1", "2"]
    assert c.found_activities([{"ID": "9", "ORIGIN_ID": "1", "OWNER_TYPE_ID": "2", "OWNER_ID": "4"}]) == {
        ("1", 2, 4): 9}
