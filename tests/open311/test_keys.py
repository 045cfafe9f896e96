"""Open311 client keys: `zhiwang open311-key create|list|revoke` and the admin, each showing a new
key once; revocation takes effect at once."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from zhiwang.cli import main as zhiwang_main
from zhiwang.open311.models import Open311Client

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("open311_key", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def accepted(o311, rubbish, key) -> int:
    return o311.post(**{**rubbish, "api_key": key}).status_code


# --- command ---------------------------------------------------------------------------------


def test_create_prints_the_key_once_and_list_never_shows_it(o311, rubbish):
    key, err = run("create", "FixMyStreet 深圳", "--contact", "ops@example.org")
    assert key.startswith("o311_") and "\n" not in key
    assert "only once" in err
    assert accepted(o311, rubbish, key) == 200
    listing, _ = run("list")
    assert "FixMyStreet 深圳" in listing and "ops@example.org" in listing
    assert key not in listing
    assert key[:12] in listing


@pytest.mark.parametrize("how", ["name", "id", "prefix"])
def test_revoke_by_name_id_or_prefix(o311, rubbish, how):
    key, _ = run("create", "Reporter app")
    client = Open311Client.objects.get(name="Reporter app")
    out, _ = run("revoke", {"name": client.name, "id": str(client.pk), "prefix": client.key_prefix}[how])
    assert "revoked" in out
    assert accepted(o311, rubbish, key) == 403
    assert "revoked" in run("list")[0]


def test_command_errors_name_the_problem():
    run("create", "Twice")
    with pytest.raises(CommandError, match="Twice"):
        run("create", "Twice")
    with pytest.raises(CommandError, match="matches 0"):
        run("revoke", "nobody")


def test_the_console_maps_the_hyphenated_name(monkeypatch):
    # `zhiwang open311-key …` reaches this command (run_from_argv would close the test's connection,
    # so the hand-over is checked, and the command is run as the console would name it)
    import django.core.management

    seen = []
    monkeypatch.setattr(django.core.management, "execute_from_command_line", seen.append)
    assert zhiwang_main(["zhiwang", "open311-key", "list"]) == 0
    assert seen == [["zhiwang", "open311_key", "list"]]
    key, _ = run("create", "Console app")
    assert key.startswith("o311_")


# --- admin -----------------------------------------------------------------------------------


def test_admin_issues_a_key_and_shows_it_once(admin_client, o311, rubbish):
    add = reverse("admin:open311_open311client_add")
    assert admin_client.get(add).status_code == 200
    response = admin_client.post(add, {"name": "Admin-issued app", "contact": "张工"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    client = Open311Client.objects.get(name="Admin-issued app")
    key = response.context["key"]
    assert key.startswith(client.key_prefix) and key.encode() in response.content
    assert accepted(o311, rubbish, key) == 200
    # the key is never shown again
    for url in (
        reverse("admin:open311_open311client_changelist"),
        reverse("admin:open311_open311client_change", args=[client.pk]),
    ):
        page = admin_client.get(url)
        assert page.status_code == 200
        assert key.encode() not in page.content


def test_admin_refuses_a_duplicate_name(admin_client):
    add = reverse("admin:open311_open311client_add")
    admin_client.post(add, {"name": "Same"})
    response = admin_client.post(add, {"name": "Same"})
    assert response.status_code == 200
    assert "key" not in response.context
    assert Open311Client.objects.filter(name="Same").count() == 1


def test_admin_reissue_asks_first_then_replaces_the_key(admin_client, o311, rubbish, issued):
    changelist = reverse("admin:open311_open311client_changelist")
    action = {"action": "reissue_key", "_selected_action": [issued.client.pk]}
    confirm = admin_client.post(changelist, action)
    assert confirm.status_code == 200 and "key" not in confirm.context
    assert accepted(o311, rubbish, issued.key) == 200
    response = admin_client.post(changelist, {**action, "confirm": "yes"})
    new_key = response.context["key"]
    assert new_key != issued.key
    assert accepted(o311, rubbish, issued.key) == 403
    assert accepted(o311, rubbish, new_key) == 200


def test_admin_revoke_action(admin_client, o311, rubbish, issued):
    changelist = reverse("admin:open311_open311client_changelist")
    admin_client.post(changelist, {"action": "revoke_keys", "_selected_action": [issued.client.pk]})
    assert accepted(o311, rubbish, issued.key) == 403


@pytest.mark.parametrize("model", ["serviceattribute", "open311submission"])
def test_other_admin_pages_render(admin_client, o311, rubbish, model):
    o311.post(**rubbish)
    assert admin_client.get(reverse(f"admin:open311_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:open311_serviceattribute_add")).status_code == 200
