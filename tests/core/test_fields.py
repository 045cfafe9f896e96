"""Model fields that store ID numbers and credit codes in canonical form."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from zhiwang.core.fields import CreditCodeField, IdNumberField


def test_id_number_field_cleans_to_the_canonical_form():
    # given what a clerk might type
    field = IdNumberField()
    # when a form or full_clean() cleans it
    value = field.clean("１１０１０５ 19491231002x", None)
    # then the stored value is canonical, and lookups are normalized the same way
    assert value == "11010519491231002X"
    assert field.get_prep_value("11010519491231002x") == "11010519491231002X"


def test_id_number_field_refuses_a_bad_number_with_the_validator_code():
    with pytest.raises(ValidationError) as caught:
        IdNumberField().clean("110105194912310021", None)
    assert caught.value.error_list[0].code == "id_number.check_digit"


def test_blank_stays_blank():
    assert IdNumberField(blank=True).clean("", None) == ""


def test_credit_code_field():
    field = CreditCodeField()
    assert field.clean("91350100m000100y43", None) == "91350100M000100Y43"
    with pytest.raises(ValidationError):
        field.clean("91350100M000100Y44", None)
    assert field.deconstruct()[3]["max_length"] == 18
