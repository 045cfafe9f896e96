"""ID card numbers (GB 11643) and unified social credit codes (GB 32100)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from zhiwang.core.errors import ServiceError
from zhiwang.core.validators import (
    credit_code_check_char,
    credit_code_field_validator,
    id_number_birth_date,
    id_number_check_char,
    id_number_field_validator,
    id_number_gender,
    validate_credit_code,
    validate_id_number,
)

#: The example printed in GB 11643-1999 itself.
STANDARD_EXAMPLE = "11010519491231002X"


def with_check_char(first17: str) -> str:
    return first17 + id_number_check_char(first17)


def error_code(validator, value) -> str:
    with pytest.raises(ServiceError) as caught:
        validator(value)
    return caught.value.code


# --- ID numbers ------------------------------------------------------------------


def test_standard_example_is_valid_and_normalized():
    # given the standard's own example, typed in lower case with full-width digits and spaces
    typed = "１１０１０５ 19491231 002x"
    # when it is validated
    number = validate_id_number(typed)
    # then it comes back canonical
    assert number == STANDARD_EXAMPLE


def test_full_width_capital_x_and_ideographic_space_are_normalized():
    assert validate_id_number("\u3000110105194912310０2Ｘ ") == STANDARD_EXAMPLE


@pytest.mark.parametrize(
    "number",
    [
        STANDARD_EXAMPLE,
        "110101199003074477",  # widely used test number (Dongcheng, Beijing, 1990-03-07)
        "11010119900307803X",  # same area and birth date, check character X
        with_check_char("81000019900101123"),  # residence permit of a Hong Kong resident
    ],
)
def test_valid_numbers(number):
    assert validate_id_number(number) == number


def test_birth_date_and_gender_of_the_standard_example():
    # the 17th digit 2 is even: a woman born on 31 December 1949
    assert id_number_birth_date(STANDARD_EXAMPLE) == date(1949, 12, 31)
    assert id_number_gender(STANDARD_EXAMPLE) == "female"
    assert id_number_gender("110101199003074477") == "male"


def test_helpers_refuse_invalid_numbers():
    with pytest.raises(ServiceError):
        id_number_gender("110105194912310021")


@pytest.mark.parametrize("value", ["", None, "11010519491231002", "11010519491231002X1", "110105491231002"])
def test_wrong_length(value):
    assert error_code(validate_id_number, value) == "id_number.length"


@pytest.mark.parametrize(
    "value", ["1101051949123100XX", "11010519491231002Y", "A1010519491231002X", "1101051949-231002X"]
)
def test_wrong_alphabet(value):
    assert error_code(validate_id_number, value) == "id_number.alphabet"


@pytest.mark.parametrize("prefix", ["00", "10", "19", "99", "72"])
def test_unknown_province(prefix):
    assert (
        error_code(validate_id_number, with_check_char(prefix + "010519491231002")) == "id_number.area_code"
    )


@pytest.mark.parametrize(
    "birth",
    [
        "20230230",
        "19490230",
        "19491332",
        "19491200",
        "18991231",
    ],  # 30 Feb, 30 Feb, month 13, day 0, before 1900
)
def test_impossible_birth_dates(birth):
    assert error_code(validate_id_number, with_check_char("110105" + birth + "002")) == "id_number.birth_date"


def test_birth_date_in_the_future():
    tomorrow = timezone.localdate() + timedelta(days=1)
    number = with_check_char("110105" + tomorrow.strftime("%Y%m%d") + "002")
    assert error_code(validate_id_number, number) == "id_number.birth_date"


def test_born_today_is_accepted():
    number = with_check_char("110105" + timezone.localdate().strftime("%Y%m%d") + "002")
    assert validate_id_number(number) == number


def test_wrong_check_digit_does_not_name_the_expected_one():
    # given two numbers with a wrong last character: the standard example (the right one is X)
    # and one whose right one is a digit
    other = with_check_char("44030519800101123")
    wrong_other = other[:-1] + ("0" if other[-1] != "0" else "1")
    for language in ("en", "zh-hans"):
        messages = []
        for number in ("110105194912310021", wrong_other):
            with translation.override(language), pytest.raises(ServiceError) as caught:
                validate_id_number(number)
            # then the error is stable and translatable...
            assert caught.value.code == "id_number.check_digit"
            messages.append(caught.value.message)
        # ...and never completes a made-up number: the same words whatever the right character
        assert messages[0] == messages[1]
        assert "X" not in messages[0] and other[-1] not in messages[0]


def test_the_1880_example_of_the_standard_has_a_good_check_digit_but_is_before_1900():
    # GB 11643's second example (born 1880) passes the checksum; people born before 1900
    # are not expected on this platform, so the date rule rejects it on purpose.
    assert id_number_check_char("44052418800101001") == "4"
    assert error_code(validate_id_number, "440524188001010014") == "id_number.birth_date"


def test_field_is_named_when_asked():
    with pytest.raises(ServiceError) as caught:
        validate_id_number("123", field="id_number")
    assert caught.value.field == "id_number"
    assert caught.value.as_dict()["fields"][0]["code"] == "id_number.length"


def test_message_is_translated_from_an_english_msgid():
    with translation.override("en"):
        with pytest.raises(ServiceError) as caught:
            validate_id_number("123")
    assert "18 characters" in caught.value.message


def test_django_field_validator_raises_validation_error_with_the_same_code():
    id_number_field_validator(STANDARD_EXAMPLE)
    with pytest.raises(ValidationError) as caught:
        id_number_field_validator("110105194912310021")
    assert caught.value.code == "id_number.check_digit"


# --- Credit codes -----------------------------------------------------------------

#: Codes published on the National Enterprise Credit Information Publicity System;
#: each one's check character was verified with the GB 32100 algorithm.
PUBLIC_CREDIT_CODES = [
    "91350100M000100Y43",  # the example used in GB 32100 explanations
    "914403001922038216",  # Huawei Technologies Co., Ltd. (Shenzhen)
    "91440300708461136T",  # Shenzhen Tencent Computer Systems Co., Ltd.
    "91440300192317458F",  # BYD Co., Ltd. (Shenzhen)
    "9144030027939873X7",  # ZTE Corporation (Shenzhen)
    "91440300100012316L",  # Ping An Insurance (Group) Co. of China (Shenzhen)
    "911100007109250324",  # China Mobile Communications Group Co., Ltd.
    "91330100799655058B",  # Alibaba (China) Co., Ltd.
]


@pytest.mark.parametrize("code", PUBLIC_CREDIT_CODES)
def test_public_credit_codes_are_valid(code):
    assert validate_credit_code(code) == code


def test_credit_code_is_normalized():
    assert validate_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"
    assert validate_credit_code("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"


def test_check_char_31_becomes_0():
    # a sum that is a multiple of 31 gives 31 - 0 = 31, written 0
    assert credit_code_check_char("00000000000000000") == "0"


@pytest.mark.parametrize("value", ["", "91350100M000100Y4", "91350100M000100Y433"])
def test_credit_code_wrong_length(value):
    assert error_code(validate_credit_code, value) == "credit_code.length"


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_letters_not_in_the_code_alphabet(letter):
    # given a public code with one character of the organization code replaced by a forbidden letter
    value = "91350100M000100Y43".replace("M", letter)
    with pytest.raises(ServiceError) as caught:
        validate_credit_code(value)
    assert caught.value.code == "credit_code.alphabet"
    assert letter in caught.value.message


def test_unknown_registration_authority():
    first17 = "B1350100M000100Y4"
    assert (
        error_code(validate_credit_code, first17 + credit_code_check_char(first17)) == "credit_code.authority"
    )


def test_unknown_organization_type():
    first17 = "90350100M000100Y4"
    assert error_code(validate_credit_code, first17 + credit_code_check_char(first17)) == "credit_code.type"


def test_area_code_must_be_digits():
    first17 = "9135A100M000100Y4"
    assert (
        error_code(validate_credit_code, first17 + credit_code_check_char(first17)) == "credit_code.area_code"
    )


@pytest.mark.parametrize("code", PUBLIC_CREDIT_CODES)
def test_every_other_check_character_is_refused(code):
    wrong = "1" if code[17] != "1" else "2"
    with pytest.raises(ServiceError) as caught:
        validate_credit_code(code[:17] + wrong)
    assert caught.value.code == "credit_code.check_digit"
    assert code[17] in caught.value.message


def test_credit_code_field_validator():
    credit_code_field_validator("91350100M000100Y43")
    with pytest.raises(ValidationError) as caught:
        credit_code_field_validator("91350100M000100Y44")
    assert caught.value.code == "credit_code.check_digit"
