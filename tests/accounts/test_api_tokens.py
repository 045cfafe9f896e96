"""Token authentication for the API: per user and per integration client."""

from datetime import timedelta

import pytest
from django.utils import timezone

from zhiwang.accounts import services
from zhiwang.accounts.models import ApiToken
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def test_token_authenticates_and_only_its_hash_is_stored(client, nanshan_dispatcher):
    issued = services.api_token_create(user=nanshan_dispatcher, name="script")
    stored = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.key not in (stored.key_hash, stored.prefix)
    response = client.get("/api/v1/accounts/me", headers=bearer(issued.key))
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "demo_ns_dispatcher"
    assert body["role"] == "dispatcher"
    assert [j["code"] for j in body["jurisdictions"]] == ["440305000000"]
    stored.refresh_from_db()
    assert stored.last_used_at is not None


@pytest.mark.parametrize("key", ["", "zw_wrong", "not-a-token"])
def test_bad_tokens_are_refused_with_a_stable_code(client, key):
    response = client.get("/api/v1/accounts/me", headers=bearer(key))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.required"


def test_revoked_and_expired_tokens_are_refused(client, nanshan_dispatcher):
    revoked = services.api_token_create(user=nanshan_dispatcher, name="old")
    services.api_token_revoke(token=revoked.token)
    expired = services.api_token_create(
        user=nanshan_dispatcher, name="expired", expires_at=timezone.now() - timedelta(minutes=1)
    )
    for issued in (revoked, expired):
        assert client.get("/api/v1/accounts/me", headers=bearer(issued.key)).status_code == 401


def test_token_of_a_deactivated_user_is_refused(client, nanshan_dispatcher):
    issued = services.api_token_create(user=nanshan_dispatcher, name="t")
    nanshan_dispatcher.is_active = False
    nanshan_dispatcher.save()
    assert client.get("/api/v1/accounts/me", headers=bearer(issued.key)).status_code == 401


def test_integration_client_token_is_scoped_to_the_client_jurisdiction(client):
    luohu = Division.objects.get(code="440303000000")
    integration = services.integration_client_create(name="罗湖区城管系统", jurisdictions=[luohu])
    issued = services.api_token_create(user=integration.service_user, client=integration, name="push")
    response = client.get("/api/v1/geo/divisions?level=district", headers=bearer(issued.key))
    assert response.status_code == 200
    assert [d["code"] for d in response.json()["items"]] == ["440303000000"]
    integration.is_active = False
    integration.save()
    assert client.get("/api/v1/geo/divisions", headers=bearer(issued.key)).status_code == 401


def test_user_manages_own_tokens_over_the_api(client, nanshan_dispatcher, luohu_dispatcher):
    client.force_login(nanshan_dispatcher)
    created = client.post("/api/v1/accounts/tokens", {"name": "cli"}, content_type="application/json")
    assert created.status_code == 201, created.content
    key = created.json()["key"]
    assert key.startswith("zw_")
    listed = client.get("/api/v1/accounts/tokens").json()
    assert [t["name"] for t in listed] == ["cli"]
    assert "key" not in listed[0]
    # Another user cannot revoke it.
    other = services.api_token_create(user=luohu_dispatcher, name="x")
    response = client.delete(f"/api/v1/accounts/tokens/{other.token.pk}")
    assert response.status_code == 404
    assert client.delete(f"/api/v1/accounts/tokens/{created.json()['id']}").status_code == 204
    client.logout()
    assert client.get("/api/v1/accounts/me", headers=bearer(key)).status_code == 401


def test_missing_token_name_is_a_field_error(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    response = client.post("/api/v1/accounts/tokens", {}, content_type="application/json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "request.invalid"
    assert error["field"] == "name"


def test_a_post_with_a_revoked_token_is_401_not_a_csrf_refusal(nanshan_dispatcher):
    """ninja tries the next authentication when one answers nothing: a POST with a dead token
    went on to the session and met its CSRF check (403 ``auth.csrf``), which tells a script
    nothing about its token."""
    from django.test import Client

    issued = services.api_token_create(user=nanshan_dispatcher, name="old")
    services.api_token_revoke(token=issued.token)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/accounts/tokens",
        {"name": "again"},
        content_type="application/json",
        headers=bearer(issued.key),
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.required"
    assert ApiToken.objects.filter(user=nanshan_dispatcher, name="again").count() == 0


def test_a_signed_in_session_with_a_bad_token_is_refused(client, nanshan_dispatcher):
    """The token sent is what is checked: a browser session beside it does not rescue it."""
    client.force_login(nanshan_dispatcher)
    assert client.get("/api/v1/accounts/me").status_code == 200
    response = client.get("/api/v1/accounts/me", headers=bearer("zw_wrong"))
    assert response.status_code == 401


def test_a_post_with_no_credential_at_all_is_401_with_its_scheme():
    """Neither a token nor a session: the answer says a credential is missing (401), not that a
    CSRF token is (which only a signed-in browser session needs)."""
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/accounts/tokens", {"name": "x"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.required"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_session_without_its_csrf_token_is_still_a_csrf_refusal(nanshan_dispatcher):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(nanshan_dispatcher)
    response = client.post("/api/v1/accounts/tokens", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.csrf"
