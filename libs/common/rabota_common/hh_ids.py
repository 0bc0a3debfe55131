"""HeadHunter identifiers are data, never paths: their documented forms (reference/hh-api.md §4–§6).

Negotiation ("topic"), vacancy, employer, manager, user and webhook subscription ids are decimal digits sent
as strings; a resume id is a hash of hex digits (38 of them on hh.ru). Anything else is refused before it
reaches a request path, a NATS message id or a Redis key."""

from __future__ import annotations

import re

NUMERIC_ID = re.compile(r"[0-9]{1,20}")
RESUME_ID = re.compile(r"[0-9a-fA-F]{1,64}")
# A webhook message id: only deduplication uses it (Nats-Msg-Id), so anything printable without spaces.
MESSAGE_ID = re.compile(r"[0-9A-Za-z._:-]{1,128}")


def is_numeric_id(value: object) -> bool:
    return isinstance(value, str) and NUMERIC_ID.fullmatch(value) is not None


def is_resume_id(value: object) -> bool:
    return isinstance(value, str) and RESUME_ID.fullmatch(value) is not None


def is_message_id(value: object) -> bool:
    return isinstance(value, str) and MESSAGE_ID.fullmatch(value) is not None
