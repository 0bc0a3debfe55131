"""A Bitrix24 member_id is exactly 32 lowercase hex characters: nothing that could be a Redis pattern or a NATS
wildcard gets into a key or a subject."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError
from rabota_common.ids import BadMemberId, MemberId, is_member_id, member_id

GOOD = "0123456789abcdef0123456789abcdef"


class Portal(BaseModel):
    portal: MemberId


@pytest.mark.parametrize("bad", ["", GOOD.upper(), GOOD[:-1], GOOD + "0", "*" * 32, GOOD[:31] + ">",
                                 GOOD[:31] + ".", GOOD[:31] + "?", None, 12])
def test_only_member_ids_pass(bad: object) -> None:
    assert not is_member_id(bad)
    with pytest.raises(BadMemberId) as caught:
        member_id(bad)
    assert isinstance(caught.value, ValueError) and "32 шестнадцатеричных" in str(caught.value)
    with pytest.raises(ValidationError):
        Portal.model_validate({"portal": bad})


def test_a_member_id_passes_unchanged() -> None:
    assert is_member_id(GOOD) and member_id(GOOD) == GOOD and Portal(portal=GOOD).portal == GOOD
