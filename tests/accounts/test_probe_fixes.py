"""``POST /api/v1/accounts/tokens``: field errors carry the documented stable codes (``field.…``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from zhiwang.accounts import services
from zhiwang.accounts.models import ApiToken

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/tokens"


def _issue(client, body, **headers):
    return client.post(URL, body, content_type="application/json", headers=headers)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "cli", "expires_at": "2020-01-01T00:00:00+08:00"}, "field.too_small"),
        ({"name": "cli", "expires_at": "2101-01-01T00:00:00+08:00"}, "field.too_large"),
        ({"name": "cli", "expires_at": "2030-01-01T00:00:00"}, "field.bad_format"),
        ({"name": "   "}, "field.required"),
    ],
    ids=["past", "after-2100", "no-offset", "blank-name"],
)
def test_a_broken_rule_names_its_field_with_a_stable_code(client, nanshan_dispatcher, body, code):
    client.force_login(nanshan_dispatcher)
    answer = _issue(client, body)
    assert answer.status_code == 400, answer.json()
    error = answer.json()["error"]
    field = "name" if "expires_at" not in body else "expires_at"
    assert error["code"] == "validation_failed" and error["field"] == field
    assert [(f["field"], f["code"]) for f in error["fields"]] == [(field, code)]
    assert error["message"] == error["fields"][0]["message"] != ""
    assert not ApiToken.objects.filter(user=nanshan_dispatcher).exists()


def test_a_token_that_would_outlive_its_parent_is_too_large(client, nanshan_dispatcher):
    parent = services.api_token_create(
        user=nanshan_dispatcher, name="parent", expires_at=timezone.now() + timedelta(days=1)
    )
    later = (timezone.now() + timedelta(days=30)).isoformat()
    answer = _issue(client, {"name": "child", "expires_at": later}, Authorization=f"Bearer {parent.key}")
    assert answer.status_code == 400
    assert [(f["field"], f["code"]) for f in answer.json()["error"]["fields"]] == [
        ("expires_at", "field.too_large")
    ]


def test_the_command_line_still_reads_the_message(nanshan_dispatcher):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        services.api_token_create(user=nanshan_dispatcher, name=" ")
    assert list(refused.value.message_dict) == ["name"]
