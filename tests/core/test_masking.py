"""Masking (脱敏) of ID numbers, phone numbers and names."""

from __future__ import annotations

import pytest

from zhiwang.core.masking import mask_id_number, mask_middle, mask_name, mask_phone


def test_id_number_keeps_the_first_three_and_last_four():
    assert mask_id_number("440305199001011234") == "440***********1234"


def test_id_number_is_tidied_before_masking():
    assert mask_id_number(" 44030519900101123X ") == "440***********123X"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (None, ""),
        ("", ""),
        ("1234567", "*******"),  # too short to keep both ends and hide a birth date
        ("123456789012", "********9012"),  # the start gives way first, the birth date stays hidden
    ],
)
def test_id_number_short_values(value, masked):
    assert mask_id_number(value) == masked


def test_phone_number():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("138 1234 5678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_phone("0755-83456789") == "075*****6789"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (None, ""),
        ("", ""),
        ("110", "***"),
        ("12345", "****5"),
        ("83456789", "****6789"),
        (13812345678, "138****5678"),
    ],
)
def test_phone_short_and_odd_values(value, masked):
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三丰", "张**"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("张", "*"),
        ("", ""),
        (None, ""),
        (" 李四 ", "李*"),
    ],
)
def test_name(value, masked):
    assert mask_name(value) == masked


def test_mask_middle_never_shows_more_than_asked():
    assert mask_middle("abcdef", keep_start=2, keep_end=2) == "ab**ef"
    assert mask_middle("abcd", keep_start=2, keep_end=2) == "a*cd"
    assert mask_middle("ab", keep_start=2, keep_end=2) == "*b"
    assert mask_middle("ab", keep_start=2, keep_end=2, min_masked=2) == "**"
