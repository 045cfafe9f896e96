"""Rotating SECRET_KEY: the old key in ZHIWANG_SECRET_KEY_FALLBACKS keeps people signed in."""

import pytest
from django.core import signing
from django.test import Client

OLD = "old-" + "o" * 60
NEW = "new-" + "n" * 60


def signed_in_client(settings, user) -> Client:
    settings.SECRET_KEY = OLD
    settings.SECRET_KEY_FALLBACKS = []
    client = Client()
    client.force_login(user)
    assert signed_in(client)
    return client


def signed_in(client: Client) -> bool:
    return client.get("/").wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_a_session_survives_a_rotation_with_the_old_key_as_fallback(settings, nanshan_dispatcher):
    client = signed_in_client(settings, nanshan_dispatcher)
    settings.SECRET_KEY = NEW
    settings.SECRET_KEY_FALLBACKS = [OLD]
    response = client.get("/")
    assert response.wsgi_request.user == nanshan_dispatcher


@pytest.mark.django_db
def test_without_the_fallback_a_rotation_signs_everyone_out(settings, nanshan_dispatcher):
    # the fallback is what keeps them in: without it the session's hash no longer verifies
    client = signed_in_client(settings, nanshan_dispatcher)
    settings.SECRET_KEY = NEW
    settings.SECRET_KEY_FALLBACKS = []
    assert not signed_in(client)


def test_signed_values_verify_under_a_fallback_only(settings):
    settings.SECRET_KEY = OLD
    value = signing.dumps({"form": 1})
    settings.SECRET_KEY = NEW
    settings.SECRET_KEY_FALLBACKS = [OLD]
    assert signing.loads(value) == {"form": 1}
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(signing.BadSignature):
        signing.loads(value)
