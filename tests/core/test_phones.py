"""The platform's one phone rule (``zhiwang.core.phones``) and the stability of stored forms."""

from __future__ import annotations

import itertools
import random
import unicodedata

import pytest
from django.test import override_settings

from zhiwang.core.phones import comparable_phone, normalize_phone, phone_digits
from zhiwang.registry.hashing import hasher, phone_hash

CASES = [
    # (typed, normalize_phone, phone_digits)
    ("13812345678", "13812345678", "13812345678"),  # 11-digit mobile
    ("１３８１２３４５６７８", "13812345678", "13812345678"),  # full-width digits (Chinese input method)
    ("138 1234 5678", "13812345678", "13812345678"),  # spaces
    (" 138\u00a01234\u30005678 ", "13812345678", "13812345678"),  # no-break and ideographic spaces
    ("138-1234-5678", "13812345678", "13812345678"),  # dashes
    ("+86 138 1234 5678", "13812345678", "13812345678"),  # +86 prefix
    ("+86-138-1234-5678", "13812345678", "13812345678"),
    ("008613812345678", "13812345678", "13812345678"),  # 0086 prefix
    ("+44 20 7946 0958", "+442079460958", "442079460958"),  # foreign: "+" kept, dropped by the registry
    ("+1 650 253 0000", "+16502530000", "16502530000"),  # foreign from 1: no mobile rule
    ("0755-8888 8888", "075588888888", "075588888888"),  # landline with area code
    ("(0755) 8888 8888", "075588888888", "075588888888"),
    ("+86 755 8888 8888", "75588888888", "75588888888"),  # +86 then the area code without its 0
    ("2688 1234", "26881234", "26881234"),  # 8-digit local landline
    ("2688123", "2688123", "2688123"),  # 7-digit local landline
    ("8613812345678", "8613812345678", "8613812345678"),  # "86" without "+" is not a prefix
    ("1381234567", "", ""),  # 10 digits from 1: a mistyped mobile, not a landline
    ("138 1234 567", "", ""),
    ("+86 138 1234 567", "", ""),  # the mobile rule applies after the prefix goes
    ("0086 1381234567", "", ""),
    ("138123456789", "", ""),  # 12 digits from 1
    ("1234567", "", ""),  # 7 digits from 1: no local number begins with 1
    ("12345", "", ""),  # a service number, too short
    ("268812", "", ""),  # 6 digits
    ("1" * 16, "", ""),  # too long
    ("2" * 16, "", ""),
    ("+" + "4" * 16, "", ""),
    ("abc", "", ""),  # letters
    ("138abcd5678", "", ""),
    ("138.1234.5678", "", ""),  # dots are not separators
    ("++8613812345678", "", ""),
    ("+", "", ""),
    ("", "", ""),
    (None, "", ""),
    ("一三八一二三四五六七八", "", ""),  # Chinese numerals are not digits
    ("١٣٨١٢٣٤٥٦٧٨", "", ""),  # non-ASCII digits that NFKC keeps
]


@pytest.mark.parametrize(("typed", "normalized", "digits"), CASES)
def test_the_rule(typed, normalized, digits):
    assert normalize_phone(typed) == normalized
    assert phone_digits(typed) == digits


@pytest.mark.parametrize(
    ("typed", "comparable"),
    [("1381234567", "1381234567"), ("+86 138 1234 567", "1381234567"), ("138123456789", "138123456789")],
)
def test_comparable_phone_still_reads_numbers_stored_before_the_mobile_rule(typed, comparable):
    assert normalize_phone(typed) == ""
    assert comparable_phone(typed) == comparable


def test_numbers_are_read_the_same_by_every_app():
    from zhiwang.registry.hashing import normalize_phone as registry_normalize_phone
    from zhiwang.tickets.models import normalize_phone as tickets_normalize_phone

    assert tickets_normalize_phone is normalize_phone
    assert registry_normalize_phone is phone_digits


# --- stability: what the three normalisers answered before this module --------------------------


def _old_tickets_normalize_phone(value) -> str:
    """``tickets.models.normalize_phone`` as it was before ``core.phones`` (verbatim)."""
    text = "".join(unicodedata.normalize("NFKC", str(value or "")).split())
    for separator in "-()":
        text = text.replace(separator, "")
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isdigit() or not digits.isascii():
        return ""
    for prefix in ("86", "0086"):
        if (plus or prefix == "0086") and digits.startswith(prefix) and len(digits) - len(prefix) >= 7:
            digits, plus = digits[len(prefix) :], False
            break
    if not 7 <= len(digits) <= 15:
        return ""
    return ("+" if plus else "") + digits


def _old_registry_normalize_phone(value) -> str:
    """``registry.hashing.normalize_phone`` as it was before ``core.phones`` (verbatim)."""
    text = "".join(unicodedata.normalize("NFKC", str(value or "")).split())
    for separator in "-()":
        text = text.replace(separator, "")
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isdigit() or not digits.isascii():
        return ""
    for prefix in ("86", "0086"):
        if (plus or prefix == "0086") and digits.startswith(prefix) and len(digits) - len(prefix) >= 7:
            digits = digits[len(prefix) :]
            break
    return digits if 7 <= len(digits) <= 15 else ""


def _samples() -> list[str]:
    """Typed numbers of every shape: prefixes, separators, lengths 5–17, from every first digit."""
    rng = random.Random(20240601)
    out = [typed for typed, _n, _d in CASES if typed is not None]
    prefixes = ["", "+", "+86", "0086", "86", "+0086", "+44", "+1", "0"]
    for prefix, length, first in itertools.product(prefixes, range(5, 18), "0123456789"):
        number = first + "".join(rng.choice("0123456789") for _ in range(length - 1))
        out.append(prefix + number)
        out.append(f"{prefix} {number[:3]}-{number[3:7]} {number[7:]}")
    return out


def test_every_accepted_number_keeps_the_form_it_was_stored_in_before():
    """Nothing stored changes: a number accepted now is spelled as before (tickets with "+",
    the registry without); the one difference is that a mistyped mobile is refused."""
    refused = 0
    for typed in _samples():
        old_tickets, old_registry = _old_tickets_normalize_phone(typed), _old_registry_normalize_phone(typed)
        assert comparable_phone(typed) == old_tickets, typed
        if normalize_phone(typed):
            assert normalize_phone(typed) == old_tickets, typed
            assert phone_digits(typed) == old_registry, typed
        else:
            assert phone_digits(typed) == "", typed
            if old_tickets:  # newly refused: only a mainland number from 1 that is not 11 digits
                refused += 1
                assert old_tickets.startswith("1") and len(old_tickets) != 11, typed
    assert refused > 50  # the samples do reach the new rule


@override_settings(ZHIWANG_REGISTRY_HASH_KEY="phones-stability-test-key")
@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # HMAC-SHA256(key, "phone:" + the old ``registry.hashing.normalize_phone`` of the number)
        ("138 1234 5678", "6e2e6c14ab59142b23244c799237a28f693bb6a3e37a56ebb3bdf6d51f03215e"),
        ("+86 13812345678", "6e2e6c14ab59142b23244c799237a28f693bb6a3e37a56ebb3bdf6d51f03215e"),
        ("0755-8888 8888", "a04ad19a7188c20e50bd68fe85e475ad9822ef5c1695b2a819045ba43d7f7462"),
        ("+44 20 7946 0958", "d31faf8ba71fa3dd11910c3557071ba05b71eafeb4b56fbd4cea5eae52826361"),
    ],
)
def test_registry_phone_hash_is_the_one_stored_before(typed, expected):
    assert phone_hash(phone_digits(typed)) == expected


@override_settings(ZHIWANG_REGISTRY_HASH_KEY="phones-stability-test-key")
@pytest.mark.parametrize(
    "typed",
    [
        "13812345678",
        "+86 138-1234-5678",
        "0086 13812345678",
        "１３８ １２３４ ５６７８",
        "0755-8888 8888",
        "26881234",
        "+44 20 7946 0958",
        "+1 650 253 0000",
    ],
)
def test_registry_phone_hash_of_existing_style_numbers_is_unchanged(typed):
    old = _old_registry_normalize_phone(typed)
    assert old and phone_digits(typed) == old
    assert phone_hash(phone_digits(typed)) == phone_hash(old)
    assert hasher("phone")(phone_digits(typed)) == phone_hash(old)
