"""Phone numbers as Bitrix24's duplicate search compares them (F17).

Bitrix24 keeps a phone in its duplicate index as international digits without the extension; a national
form is taken to the international one by the country's rules. The app sends `crm.duplicate.findbycomm`
the same form, so a contact typed by hand as `8 (029) 123-45-67` or `80291234567` is found by the
applicant's `+375 (29) 123-45-67`: Belarus `8 0XX …` → `+375 XX …`, Russia `8 XXX …` → `+7 XXX …`."""

from __future__ import annotations

import re

_EXTENSION = re.compile(r"(доб|ext|вн|#|x)\.?.*$", re.IGNORECASE)


def normalize_phone(raw: str | None) -> str | None:
    """`+375291234567` for `+375 (29) 123-45-67`, `8 029 123 45 67`, `80291234567`; `+79161234567` for
    `8 (916) 123-45-67`; None for a value with too few digits to be a phone."""
    if not raw:
        return None
    text = _EXTENSION.sub("", raw)
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < 7:
        return None
    if not text.lstrip().startswith("+"):
        if len(digits) == 11 and digits.startswith("80"):  # Belarus: trunk 8, then 0 and the operator code
            digits = "375" + digits[2:]
        elif len(digits) == 11 and digits.startswith("8"):  # Russia: trunk 8
            digits = "7" + digits[1:]
        elif len(digits) == 10 and digits.startswith("0"):  # Belarus: 0XX XXXXXXX
            digits = "375" + digits[1:]
        elif len(digits) == 9 and digits[0] in "1234":  # Belarus: the code and number alone
            digits = "375" + digits
    return "+" + digits


def normalize_email(raw: str | None) -> str | None:
    value = (raw or "").strip().lower()
    return value if "@" in value else None
