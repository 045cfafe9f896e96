"""Validators for Chinese identifiers: ID card number (GB 11643) and credit code (GB 32100).

Each ``validate_*`` function normalizes its input (full-width characters, spaces,
lowercase letters) and returns the canonical form, or raises
``zhiwang.core.errors.ServiceError`` with a stable ``code`` and a translated message.
The ``*_field_validator`` wrappers raise Django's ``ValidationError`` instead, for model
and form fields (``core.fields`` has model fields that also normalize).
"""

from __future__ import annotations

import unicodedata
from datetime import date
from operator import mul
from typing import Literal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError

# --- ID card number, GB 11643-1999 ------------------------------------------------

ID_NUMBER_LENGTH = 18
ID_NUMBER_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_NUMBER_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
ID_NUMBER_EARLIEST_BIRTH = date(1900, 1, 1)
_ASCII_ZERO_SUM = 48 * sum(ID_NUMBER_WEIGHTS)

#: First two digits (GB/T 2260 provinces). 71 Taiwan; 81, 82, 83 are the residence permits
#: of Hong Kong, Macao and Taiwan residents, which use the same number format.
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)


def normalize_identifier(value) -> str:
    """Full-width to half-width (NFKC), no whitespace at all, upper case."""
    text = "" if value is None else str(value)
    if not text.isascii():  # NFKC leaves ASCII as it is
        text = unicodedata.normalize("NFKC", text)
    return "".join(text.split()).upper()


def id_number_check_char(first17: str) -> str:
    """The GB 11643 check character of 17 digits."""
    digits = first17.encode("ascii")
    if len(digits) != 17 or not digits.isdigit():
        raise ValueError(first17)
    # ASCII codes minus 48 are the digits: one C-level pass instead of 17 int() calls.
    total = sum(map(mul, digits, ID_NUMBER_WEIGHTS)) - _ASCII_ZERO_SUM
    return ID_NUMBER_CHECK_CHARS[total % 11]


def validate_id_number(value, *, field: str | None = None) -> str:
    """The normalized ID number (``X`` upper case), or ServiceError ``id_number.*``.

    Checked in order: length, alphabet, province code, birth date (a real date from
    1900-01-01 to today), check character.
    """
    number = normalize_identifier(value)
    if len(number) != ID_NUMBER_LENGTH:
        raise ServiceError(
            "id_number.length",
            _("An ID number has 18 characters; this one has %(length)d.") % {"length": len(number)},
            field=field,
        )
    if not (number.isascii() and number[:17].isdigit() and number[17] in "0123456789X"):
        raise ServiceError(
            "id_number.alphabet",
            _("An ID number is 17 digits followed by a digit or the letter X."),
            field=field,
        )
    if number[:2] not in PROVINCE_CODES:
        raise ServiceError(
            "id_number.area_code",
            _("The ID number starts with %(code)s, which is not a province code.") % {"code": number[:2]},
            field=field,
        )
    if _birth_date(number) is None:
        raise ServiceError(
            "id_number.birth_date",
            _("The birth date %(digits)s in the ID number is not a real date between 1900 and today.")
            % {"digits": number[6:14]},
            field=field,
        )
    if number[17] != id_number_check_char(number[:17]):
        # Never the expected character: the message would complete a made-up number for whoever
        # types one (a wrong digit elsewhere is the likelier mistake anyway).
        raise ServiceError(
            "id_number.check_digit",
            _("The check digit of the ID number does not match; check the number."),
            field=field,
        )
    return number


def _birth_date(number: str) -> date | None:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    if born < ID_NUMBER_EARLIEST_BIRTH:
        return None
    # Most birth dates are years in the past: only a date in this or last year needs the
    # local "today" (time-zone conversion, costly in bulk imports). ``timezone.now`` is read
    # (cheap), so a test that moves the clock still moves this check.
    if born.year >= timezone.now().year - 1 and born > timezone.localdate():
        return None
    return born


def id_number_birth_date(value) -> date:
    """The birth date encoded in a valid ID number (digits 7–14)."""
    born = _birth_date(validate_id_number(value))
    assert born is not None  # validate_id_number checked it
    return born


def id_number_gender(value) -> Literal["male", "female"]:
    """The gender encoded in a valid ID number: the 17th digit is odd for men, even for women."""
    return "male" if int(validate_id_number(value)[16]) % 2 else "female"


# --- Unified social credit code, GB 32100-2015 -------------------------------------

CREDIT_CODE_LENGTH = 18
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I O S V Z
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: Registration authorities: 1 establishment, 2 foreign affairs, 3 justice (law firms…),
#: 4 culture, 5 civil affairs, 6 tourism, 7 religion, 8 trade unions, 9 market regulation,
#: A military establishment, N agriculture (collective economic organizations), Y other.
CREDIT_CODE_AUTHORITIES = frozenset("123456789ANY")
#: Organization type codes are one digit 1–9 under every authority (9 = other).
CREDIT_CODE_TYPES = frozenset("123456789")


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character of 17 code characters."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(value, *, field: str | None = None) -> str:
    """The normalized credit code, or ServiceError ``credit_code.*``.

    Checked in order: length, alphabet, registration authority, organization type,
    area code (characters 3–8 are digits), check character.
    """
    code = normalize_identifier(value)
    if len(code) != CREDIT_CODE_LENGTH:
        raise ServiceError(
            "credit_code.length",
            _("A unified social credit code has 18 characters; this one has %(length)d.")
            % {"length": len(code)},
            field=field,
        )
    wrong = sorted({char for char in code if char not in CREDIT_CODE_ALPHABET})
    if wrong:
        raise ServiceError(
            "credit_code.alphabet",
            _(
                "A unified social credit code uses digits and capital letters except I, O, S, V and Z; "
                "it cannot contain %(chars)s."
            )
            % {"chars": " ".join(wrong)},
            field=field,
        )
    if code[0] not in CREDIT_CODE_AUTHORITIES:
        raise ServiceError(
            "credit_code.authority",
            _("The first character %(char)s of the credit code is not a registration authority code.")
            % {"char": code[0]},
            field=field,
        )
    if code[1] not in CREDIT_CODE_TYPES:
        raise ServiceError(
            "credit_code.type",
            _("The second character %(char)s of the credit code is not an organization type code.")
            % {"char": code[1]},
            field=field,
        )
    if not code[2:8].isdigit():
        raise ServiceError(
            "credit_code.area_code",
            _("Characters 3 to 8 of the credit code must be the digits of an area code."),
            field=field,
        )
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        raise ServiceError(
            "credit_code.check_digit",
            _("The check character of the credit code is wrong: expected %(expected)s.")
            % {"expected": expected},
            field=field,
        )
    return code


# --- Django field validators -------------------------------------------------------


def id_number_field_validator(value) -> None:
    """Model/form field validator: Django ``ValidationError`` with the same code and message."""
    try:
        validate_id_number(value)
    except ServiceError as error:
        raise ValidationError(error.message, code=error.code) from None


def credit_code_field_validator(value) -> None:
    """Model/form field validator: Django ``ValidationError`` with the same code and message."""
    try:
        validate_credit_code(value)
    except ServiceError as error:
        raise ValidationError(error.message, code=error.code) from None
