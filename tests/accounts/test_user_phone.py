"""A user's phone by the platform's one phone rule (``core.phones``): wherever it is written (the
``user_create`` service, the admin's user form), a number is stored in ``normalize_phone``'s form
and one that is not a phone is refused with the field named. A value stored before the rule stays
as it is, is shown, and does not stop anybody editing the user."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.forms import MultiWidget
from django.utils import translation

from zhiwang.accounts.models import User
from zhiwang.accounts.services import user_create
from zhiwang.core.phones import validate_phone

pytestmark = pytest.mark.django_db


def _make(username="t_phone", phone=""):
    return user_create(username=username, password="pw", role="handler", full_name="电话 测试", phone=phone)


# --- the service -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("138 1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # full-width digits (a Chinese input method)
        ("(0755) 8888-8888", "075588888888"),
        ("+44 20 7946 0958", "+442079460958"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_a_phone_is_stored_in_the_rules_form(typed, stored):
    assert _make(phone=typed).phone == stored
    assert User.objects.get(username="t_phone").phone == stored


@pytest.mark.parametrize("typed", ["1381234567", "138123456789", "12345", "电话13812345678", "abc"])
def test_a_value_that_is_not_a_phone_is_refused_naming_the_field(typed):
    with translation.override("en"), pytest.raises(ValidationError) as raised:
        _make(phone=typed)
    errors = raised.value.error_dict
    assert list(errors) == ["phone"]
    (error,) = errors["phone"]
    assert error.code == "phone_invalid"
    with translation.override("en"):  # the message is lazy: worded when read
        (message,) = error.messages
    assert message.startswith("The phone number “") and "11 digits" in message
    with translation.override("zh-hans"):
        (chinese,) = error.messages
    assert chinese == f"电话号码“{typed}”无效：手机号码为 11 位数字，固定电话请加区号。"
    assert not User.objects.filter(username="t_phone").exists()


def test_the_validator_lets_an_empty_value_through_and_refuses_a_mistyped_mobile():
    validate_phone("")
    validate_phone(None)
    validate_phone("13812345678")
    with pytest.raises(ValidationError):
        validate_phone("1381234567")  # a mobile with a digit missing, not a landline


# --- the admin -----------------------------------------------------------------------------------------


def _change_url(user) -> str:
    return f"/admin/accounts/user/{user.pk}/change/"


def _posted(page) -> dict:
    """The admin change form's current values, as the browser would post them back."""
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):
            parts = field.widget.decompress(value)
            for index, part in enumerate(parts):
                text = "" if part is None else part.isoformat() if hasattr(part, "isoformat") else str(part)
                data[f"{name}_{index}"] = text
        elif value is True:
            data[name] = "on"
        elif value is False:
            continue
        elif value is None:
            data[name] = ""
        else:
            data[name] = value
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[f"{formset.prefix}-{name}"] = management[name].value()
    return data


def test_the_admin_refuses_a_bad_phone_and_stores_a_good_one_normalised(client, admin_user):
    user = _make(phone="13812345678")
    client.force_login(admin_user)
    client.cookies["django_language"] = "en"
    page = client.get(_change_url(user))
    data = _posted(page) | {"phone": "1381234567"}
    response = client.post(_change_url(user), data)
    assert response.status_code == 200  # the form again, with the error under the phone
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["phone"]
    assert "11 digits" in response.content.decode()  # the page, worded in the reader's language
    user.refresh_from_db()
    assert user.phone == "13812345678"

    response = client.post(_change_url(user), data | {"phone": "+86 139-0013-9002"})
    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert user.phone == "13900139002"


def test_an_old_bad_value_still_shows_and_the_user_stays_editable(client, admin_user):
    user = _make()
    User.objects.filter(pk=user.pk).update(phone="1381234567")  # stored before the rule
    client.force_login(admin_user)
    client.cookies["django_language"] = "en"
    page = client.get(_change_url(user))
    assert page.status_code == 200
    assert 'value="1381234567"' in page.content.decode()  # shown as stored

    # another field changed, the old phone left as it is: saved, the phone untouched
    response = client.post(_change_url(user), _posted(page) | {"full_name": "电话 改名"})
    assert response.status_code == 302, response.content.decode()[:2000]
    user.refresh_from_db()
    assert (user.full_name, user.phone) == ("电话 改名", "1381234567")
    user.full_clean(exclude=["password"])  # a service validating the user again: no error either

    # the phone itself changed: it must be a phone now
    page = client.get(_change_url(user))
    response = client.post(_change_url(user), _posted(page) | {"phone": "1391234567"})
    assert response.status_code == 200 and "phone" in response.context["adminform"].form.errors
    response = client.post(_change_url(user), _posted(page) | {"phone": "13912345678"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.phone == "13912345678"


def test_an_old_bad_value_shows_on_the_users_list(client, admin_user):
    user = _make()
    User.objects.filter(pk=user.pk).update(phone="电话待补")
    client.force_login(admin_user)
    assert client.get("/admin/accounts/user/", {"q": user.username}).status_code == 200
    assert client.get(_change_url(user)).status_code == 200
