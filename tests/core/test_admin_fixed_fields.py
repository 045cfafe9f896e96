# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""Codes that other records, files and models refer to are fixed once saved in the admin, and
requests written by the workflow are shown only (zhiwang.core.admin_mixins)."""

from __future__ import annotations

import pytest

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    accepted,
    dispatched,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)
from zhiwang.accounts.models import OrgUnit
from zhiwang.core.models import CalendarYear
from zhiwang.tickets.models import Category

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "model", "field"),
    [
        ("tickets/category", Category, "code"),
        ("accounts/orgunit", OrgUnit, "code"),
        ("core/calendaryear", CalendarYear, "year"),
    ],
)
def test_a_code_is_read_only_once_saved(client, admin_user, path, model, field):
    client.force_login(admin_user)
    row = model.objects.order_by("pk").first()
    assert row is not None
    page = client.get(f"/admin/{path}/{row.pk}/change/").content.decode()
    assert f'name="{field}"' not in page  # shown as text, not an input
    assert (
        client.get(f"/admin/{path}/add/").content.decode().count(f'name="{field}"') == 1
    )  # set when created


def test_a_posted_category_code_is_ignored(client, admin_user):
    client.force_login(admin_user)
    category = Category.objects.filter(parent__isnull=False).order_by("pk").first()
    page = client.get(f"/admin/tickets/category/{category.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else ("on" if v is True else v)) for k, v in data.items() if v is not False}
    data["code"] = "999999"
    data["name"] = category.name + "（改）"
    response = client.post(f"/admin/tickets/category/{category.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    category.refresh_from_db()
    assert category.code != "999999" and category.name.endswith("（改）")


def test_ticket_requests_are_view_only(client, admin_user, accepted, sub_handler):
    from zhiwang.tickets.models import RequestKind
    from zhiwang.tickets.services import ticket_request

    request = ticket_request(
        ticket=accepted(),
        kind=RequestKind.RETURN,
        reason="不属于本单位职责",
        wrong_dispatch=True,
        actor=sub_handler,
    )
    client.force_login(admin_user)
    assert client.get("/admin/tickets/ticketrequest/add/").status_code == 403
    page = client.get(f"/admin/tickets/ticketrequest/{request.pk}/change/").content.decode()
    assert 'name="status"' not in page
    assert (
        client.post(f"/admin/tickets/ticketrequest/{request.pk}/delete/", {"post": "yes"}).status_code == 403
    )
