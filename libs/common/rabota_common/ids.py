"""Identifiers that arrive from outside and end up in Redis keys, NATS subjects and URLs (issue 14).

A Bitrix24 `member_id` is exactly 32 lowercase hex characters (an MD5 digest). Anything else, in particular
`*`, `?`, `[`, `.` or `>`, would be a pattern in Redis or a wildcard/extra token in a NATS subject, so it is
refused wherever it enters."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_MEMBER_ID = re.compile(r"[0-9a-f]{32}")


class BadMemberId(ValueError):
    """A value that is not a Bitrix24 member_id."""


def is_member_id(value: object) -> bool:
    return isinstance(value, str) and _MEMBER_ID.fullmatch(value) is not None


def member_id(value: object) -> str:
    """`value` itself when it is a member_id, else BadMemberId (a ValueError, so pydantic reports it)."""
    if not is_member_id(value):
        raise BadMemberId("member_id должен состоять из 32 шестнадцатеричных символов (0-9, a-f)")
    assert isinstance(value, str)
    return value


MemberId = Annotated[str, AfterValidator(member_id)]
