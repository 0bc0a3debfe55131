"""HeadHunter ids are data, never paths: only their documented forms pass."""

from __future__ import annotations

import pytest
from rabota_common.hh_ids import is_message_id, is_numeric_id, is_resume_id


@pytest.mark.parametrize("value", ["1", "4000000501", "9" * 20])
def test_numeric_ids(value: str) -> None:
    assert is_numeric_id(value)


@pytest.mark.parametrize("value", ["", "9" * 21, "-1", "1.5", " 1", "1 ", "../1", "１２", "1\n", None, 1, b"1"])
def test_anything_else_is_not_a_numeric_id(value: object) -> None:
    assert not is_numeric_id(value)


def test_resume_and_message_ids() -> None:
    assert is_resume_id("0123456789abcdef0123456789abcdef012345") and is_resume_id("ABCDEF")
    for bad in ("", "g" * 10, "a" * 65, "../resumes/x", "ab cd", None, 5):
        assert not is_resume_id(bad), bad
    assert is_message_id("123") and is_message_id("a-b_c.d:e") and is_message_id("x" * 128)
    for bad in ("", "a b", "x" * 129, "a\r\nb", "a/b", None):
        assert not is_message_id(bad), bad
