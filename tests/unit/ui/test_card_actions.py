"""The ui's part of acting from the card (F16) that needs no stack: the confirmation's wording."""

from __future__ import annotations

from rabota_ui.card_actions import applicants_dative


def test_the_confirmation_counts_in_russian() -> None:
    assert [applicants_dative(n) for n in (1, 2, 5, 11, 21, 111, 0)] == [
        "соискателю", "соискателям", "соискателям", "соискателям", "соискателю", "соискателям", "соискателям"]
