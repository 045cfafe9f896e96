"""Phone numbers: the one rule by which the platform reads a phone somebody typed.

A phone is read the same way everywhere it is entered (ticket intake, Open311, the registry,
disputes):

- full-width digits count as digits (NFKC: typed with a Chinese input method), and spaces, ``-``,
  ``(`` and ``)`` are dropped: "１３８ 1234-5678", "(0755) 8888 8888";
- the mainland country prefix goes: "+86 138…", "0086 138…" (also "+0086…"), when at least 7
  digits remain; "86138…" without ``+`` keeps its digits (it is not unambiguously a prefix);
- a number of another country keeps its ``+``: "+44 20 7946 0958" is "+442079460958";
- 7 to 15 digits (E.164 allows 15; a local landline has 7 or 8);
- a mainland number that begins with 1 is a mobile and has exactly 11 digits: "1381234567" is a
  mistyped mobile, not a landline (no landline begins with 1; an area code begins with 0, a local
  number with 2–9).

``normalize_phone`` answers "" when the value is not a phone, so callers tell "none given" (empty
input) from "invalid" (non-empty input, "" out) and report it with their own code.
``validate_phone`` is the rule as a Django field validator (``accounts.User.phone``).

Two more forms keep stored data stable:

- ``comparable_phone``: the spelling without the mobile rule, to *find* numbers stored before the
  rule existed (a ticket reported as "1381234567" is still found by the number its reporter types);
  never to accept a new number.
- ``phone_digits``: ``normalize_phone`` without the ``+`` of a foreign number, the form the
  registry stores and hashes (``registry.hashing.phone_hash``); it has always dropped the ``+``, and
  changing it would orphan every stored ``phone_hash`` (look-ups by phone would find nobody).
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

#: The fewest and most digits of a phone number (a local landline; E.164).
MIN_DIGITS = 7
MAX_DIGITS = 15
#: A mainland mobile number: 11 digits from 1 (after the +86 / 0086 prefix, if any).
MOBILE_DIGITS = 11

_SEPARATORS = "-()"
_COUNTRY_PREFIXES = ("86", "0086")


def _spelled(value) -> tuple[bool, str]:
    """(foreign, digits): the number without separators and mainland prefix, or (False, "") when
    it is not 7–15 ASCII digits after an optional ``+``. ``foreign``: it keeps a ``+``."""
    text = "".join(unicodedata.normalize("NFKC", str(value or "")).split())
    for separator in _SEPARATORS:
        text = text.replace(separator, "")
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isdigit() or not digits.isascii():
        return False, ""
    for prefix in _COUNTRY_PREFIXES:
        # "86…" is the prefix only after "+"; "0086…" is the international call prefix either way
        if (
            (plus or prefix == "0086")
            and digits.startswith(prefix)
            and len(digits) - len(prefix) >= MIN_DIGITS
        ):
            digits, plus = digits[len(prefix) :], False
            break
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return False, ""
    return plus, digits


def is_mistyped_mobile(digits: str) -> bool:
    """A mainland number (no ``+``) from 1 without its 11 digits: a mobile with a digit missing or
    too many, since no landline begins with 1."""
    return digits.startswith("1") and len(digits) != MOBILE_DIGITS


def normalize_phone(value) -> str:
    """A phone number as stored and compared ("13812345678", "075588888888", "+442079460958"),
    or "" when ``value`` is not a phone (the module's rule, the mobile rule included)."""
    plus, digits = _spelled(value)
    if not digits or (not plus and is_mistyped_mobile(digits)):
        return ""
    return ("+" if plus else "") + digits


def comparable_phone(value) -> str:
    """``normalize_phone`` without the mobile rule: the spelling numbers stored before the rule
    were kept in, to find them again (a citizen's look-up, a caller's history). Never accept a new
    number with it."""
    plus, digits = _spelled(value)
    return ("+" if plus else "") + digits if digits else ""


def phone_digits(value) -> str:
    """``normalize_phone`` without the ``+`` of a foreign number: the registry's stored and hashed
    form ("+44 20 7946 0958" → "442079460958"), kept so every existing ``phone_hash`` still matches."""
    return normalize_phone(value).removeprefix("+")


def validate_phone(value) -> None:
    """Django validator of a phone field by this rule: a value that is not a phone is refused
    (``phone_invalid``), naming the field; empty passes (whether one is required is the field's
    business). It checks, it does not rewrite: the model stores ``normalize_phone``'s form."""
    text = str(value or "").strip()
    if text and not normalize_phone(text):
        raise ValidationError(
            _(
                "The phone number “%(value)s” is not valid: a mobile number has 11 digits, "
                "a landline needs its area code."
            ),
            code="phone_invalid",
            params={"value": text},
        )
