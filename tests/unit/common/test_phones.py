"""Phones and e-mails as Bitrix24's duplicate search compares them (F17)."""

from __future__ import annotations

import pytest
from rabota_common.phones import normalize_email, normalize_phone


@pytest.mark.parametrize(("raw", "expected"), [
    ("+375 (29) 123-45-67", "+375291234567"),
    ("8 029 123 45 67", "+375291234567"),
    ("80291234567", "+375291234567"),
    ("(029) 1234567", "+375291234567"),
    ("29 123-45-67", "+375291234567"),
    ("+7 (916) 123-45-67", "+79161234567"),
    ("8 (916) 123-45-67", "+79161234567"),
    ("+375 29 123-45-67 доб. 12", "+375291234567"),
    ("12-34", None),
    (None, None),
])
def test_phones_compare_as_bitrix24_keeps_them(raw: str | None, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_emails_compare_trimmed_and_lowercase() -> None:
    assert normalize_email("  Anna@Mail.TEST ") == "anna@mail.test"
    assert normalize_email("no-at-sign") is None
