"""Text from applicants and vacancies never triggers Bitrix24's batch reference substitution (DESIGN §11)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from hypothesis import given
from hypothesis import strategies as st
from rabota_common.b24_client import BatchRef, batch_ref, encode_command, neutralise_references

# CRestUtil::processBatchElement's expression, as Bitrix24 applies it to every decoded value of a batch command.
BITRIX = re.compile(r"\$(result|next|total|time|error)([^\s]*)", re.IGNORECASE)
WORDS = ("result", "next", "total", "time", "error", "RESULT", "Next", "tOtAl", "TIME", "Error")


def _decoded_values(command: str) -> dict[str, str]:
    _, _, query = command.partition("?")
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}


def test_every_form_of_a_reference_is_neutralised_and_reads_the_same() -> None:
    for name in ("$result[e1]", "$result[unknown]", "$RESULT[x]", "$next[y]", "$Total[a][b]", "$time[c]",
                 "$error[e0]", "Иван $result[e1] Петров", "$$result[e1]", "цена $5, $résultat"):
        safe = neutralise_references(name)
        assert not BITRIX.search(safe), name
        assert safe.replace("\u2060", "") == name  # a person reads the same text


@given(st.lists(st.one_of(st.text(max_size=20), st.sampled_from(WORDS).map(lambda w: f"${w}[e1]"),
                          st.sampled_from(WORDS).map(lambda w: f"${w}")), max_size=6).map("".join))
def test_no_text_survives_as_a_reference(text: str) -> None:
    command = encode_command("crm.item.add", {"entityTypeId": 1, "fields": {"title": text, "name": text}})
    for value in _decoded_values(command).values():
        assert not BITRIX.search(value)
    assert _decoded_values(command)["fields[title]"].replace("\u2060", "") == text


def test_the_writers_own_references_pass_unchanged() -> None:
    ref = batch_ref("e3", "item", "id")
    assert isinstance(ref, BatchRef) and ref == "$result[e3][item][id]"
    command = encode_command("crm.activity.configurable.add", {"ownerId": ref, "fields": {"CONTACT_ID": batch_ref("c1"),
                                                                                          "NAME": "$result[c1]"}})
    values = _decoded_values(command)
    assert values["ownerId"] == "$result[e3][item][id]"
    assert values["fields[CONTACT_ID]"] == "$result[c1]"
    assert values["fields[NAME]"] == "$\u2060result[c1]"
