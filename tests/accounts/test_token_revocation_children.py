"""A token issued with a token dies with it: revoked (API, command, admin) or deleted, at any depth."""

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from zhiwang.accounts import services
from zhiwang.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def issue_with(client, key, name="child"):
    """``POST /accounts/tokens`` called with the bearer ``key``: the new key."""
    answer = client.post(
        "/api/v1/accounts/tokens", {"name": name}, content_type="application/json", headers=bearer(key)
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


def works(client, key) -> bool:
    status = client.get("/api/v1/accounts/me", headers=bearer(key)).status_code
    assert status in (200, 401)
    return status == 200


def test_a_token_issued_with_a_revoked_token_stops_working(client, nanshan_dispatcher):
    # given a token, and a token its bearer issued with it (the review's reproduction)
    parent = services.api_token_create(user=nanshan_dispatcher, name="parent")
    child = issue_with(client, parent.key)
    assert ApiToken.objects.get(pk=child["id"]).parent_id == parent.token.pk
    assert works(client, child["key"])
    # when the parent is revoked
    services.api_token_revoke(token=parent.token)
    # then the child is revoked too
    assert not works(client, child["key"])
    assert ApiToken.objects.get(pk=child["id"]).revoked_at is not None


def test_revoking_through_the_api_reaches_every_depth_and_nothing_else(client, nanshan_dispatcher):
    root = services.api_token_create(user=nanshan_dispatcher, name="root")
    sibling = services.api_token_create(user=nanshan_dispatcher, name="sibling")
    child = issue_with(client, root.key, "child")
    grandchild = issue_with(client, child["key"], "grandchild")
    cousin = issue_with(client, sibling.key, "cousin")
    # a session issues tokens of no parent: they answer to nobody's revocation
    client.force_login(nanshan_dispatcher)
    from_session = client.post("/api/v1/accounts/tokens", {"name": "web"}, content_type="application/json")
    assert from_session.status_code == 201
    assert ApiToken.objects.get(pk=from_session.json()["id"]).parent_id is None
    client.logout()

    answer = client.delete(f"/api/v1/accounts/tokens/{root.token.pk}", headers=bearer(sibling.key))
    assert answer.status_code == 204

    assert not works(client, root.key)
    assert not works(client, child["key"])
    assert not works(client, grandchild["key"])
    assert works(client, sibling.key) and works(client, cousin["key"])
    assert works(client, from_session.json()["key"])


def test_revoking_a_child_leaves_its_parent(client, nanshan_dispatcher):
    parent = services.api_token_create(user=nanshan_dispatcher, name="parent")
    child = issue_with(client, parent.key)
    services.api_token_revoke(token=ApiToken.objects.get(pk=child["id"]))
    assert works(client, parent.key) and not works(client, child["key"])


def test_a_revoked_child_keeps_its_revocation_time(client, nanshan_dispatcher):
    parent = services.api_token_create(user=nanshan_dispatcher, name="parent")
    child = issue_with(client, parent.key)
    first = services.api_token_revoke(token=ApiToken.objects.get(pk=child["id"])).revoked_at
    services.api_token_revoke(token=parent.token)
    assert ApiToken.objects.get(pk=child["id"]).revoked_at == first


def test_the_command_revokes_the_tokens_issued_with_it(client, nanshan_dispatcher):
    parent = services.api_token_create(user=nanshan_dispatcher, name="parent")
    child = issue_with(client, parent.key)
    call_command("api_token", "revoke", str(parent.token.pk), stdout=StringIO())
    assert not works(client, child["key"])


def test_the_admin_revokes_the_tokens_issued_with_it(client, admin_user, nanshan_dispatcher):
    parent = services.api_token_create(user=nanshan_dispatcher, name="parent")
    child = issue_with(client, parent.key)
    client.force_login(admin_user)
    answer = client.post(
        f"/admin/accounts/apitoken/{parent.token.pk}/change/",
        {
            "user": nanshan_dispatcher.pk,
            "client": "",
            "name": "parent",
            "expires_at_0": "",
            "expires_at_1": "",
            "revoked_at_0": "2026-01-02",
            "revoked_at_1": "08:00:00",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    client.logout()
    assert ApiToken.objects.get(pk=parent.token.pk).revoked_at is not None
    assert not works(client, child["key"])


def test_deleting_a_token_deletes_the_tokens_issued_with_it(client, nanshan_dispatcher):
    parent = services.api_token_create(user=nanshan_dispatcher, name="parent")
    child = issue_with(client, parent.key)
    parent.token.delete()
    assert not ApiToken.objects.filter(pk=child["id"]).exists()
    assert not works(client, child["key"])


def test_a_revoked_token_issues_nothing(nanshan_dispatcher):
    """The service refuses a revoked parent (the API never gets this far with one: its key is
    refused first; this is the revocation that lands while the new token is being issued)."""
    parent = services.api_token_create(user=nanshan_dispatcher, name="parent")
    services.api_token_revoke(token=parent.token)
    with pytest.raises(PermissionDenied):
        services.api_token_create_own(user=nanshan_dispatcher, name="late", parent=parent.token)
    assert not ApiToken.objects.filter(name="late").exists()
