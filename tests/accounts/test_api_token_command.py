"""`zhiwang api-token`: the key is printed once, clients get a scoped service user."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from zhiwang.accounts.models import ApiToken, IntegrationClient

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_create_for_user_prints_the_key_once(client):
    key, err = run("create", "--user", "demo_ns_dispatcher", "--name", "nightly export")
    assert key.startswith("zw_")
    assert "only once" in err
    assert client.get("/api/v1/accounts/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listing, _ = run("list")
    assert key not in listing and "nightly export" in listing


def test_create_for_new_client_with_jurisdiction(client):
    key, _ = run("create", "--client", "12345平台", "--name", "push", "--division", "440305000000")
    integration = IntegrationClient.objects.get(name="12345平台")
    assert integration.service_user.jurisdictions.get().code == "440305000000"
    response = client.get("/api/v1/geo/divisions?level=district", headers={"Authorization": f"Bearer {key}"})
    assert [d["code"] for d in response.json()["items"]] == ["440305000000"]


def test_errors_name_the_problem():
    with pytest.raises(CommandError, match="no user named"):
        run("create", "--user", "ghost", "--name", "x")
    with pytest.raises(CommandError, match="--division 999"):
        run("create", "--client", "c", "--name", "x", "--division", "999")
    assert not IntegrationClient.objects.filter(name="c").exists()


def test_revoke(client):
    key, _ = run("create", "--user", "demo_ns_dispatcher", "--name", "x")
    token = ApiToken.objects.get(name="x")
    run("revoke", str(token.pk))
    assert client.get("/api/v1/accounts/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401
