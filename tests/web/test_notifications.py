"""The staff inbox (站内通知): notifications the services write, read by the user and their unit
only, over the API and on the page, with mark-as-read (a unit's notification is shared)."""

from __future__ import annotations

import pytest

from zhiwang.accounts.models import User
from zhiwang.tickets.models import Notification
from zhiwang.tickets.notify import notify_unit, notify_user

pytestmark = pytest.mark.django_db

API = "/api/v1/notifications"


@pytest.fixture
def handler():
    """Handler of Nanshan's urban management bureau."""
    return User.objects.get(username="demo_handler")


@pytest.fixture
def inbox(handler, luohu_dispatcher, nanshan_dispatcher):
    """Two to the handler's unit, one to the handler, one to another unit, one to another user."""
    rows = {
        "unit_a": Notification.objects.create(
            unit_id=handler.org_unit_id, kind="dispatched", message="甲：派遣"
        ),
        "unit_b": Notification.objects.create(unit_id=handler.org_unit_id, kind="urged", message="乙：催办"),
        "mine": Notification.objects.create(recipient=handler, kind="reopened", message="丙：重办"),
        "other_unit": Notification.objects.create(
            unit_id=luohu_dispatcher.org_unit_id, kind="overdue", message="罗湖：超期"
        ),
        "other_user": Notification.objects.create(recipient=nanshan_dispatcher, kind="replied", message="丁"),
    }
    assert handler.org_unit_id != luohu_dispatcher.org_unit_id
    return rows


def _ids(answer) -> set[int]:
    return {item["id"] for item in answer.json()["items"]}


def test_the_api_lists_mine_and_my_units_only(client, handler, inbox):
    client.force_login(handler)
    answer = client.get(f"{API}/")
    assert answer.status_code == 200
    assert _ids(answer) == {inbox["unit_a"].pk, inbox["unit_b"].pk, inbox["mine"].pk}
    items = {item["id"]: item for item in answer.json()["items"]}
    assert items[inbox["mine"].pk]["to"] == "me" and items[inbox["unit_a"].pk]["to"] == "unit"
    assert client.get(f"{API}/unread-count").json() == {"unread": 3}
    assert _ids(client.get(f"{API}/", {"kind": "urged"})) == {inbox["unit_b"].pk}


def test_marking_read_is_shared_by_the_unit_and_never_touches_others(client, handler, inbox):
    colleague = User.objects.create(username="ns_urban_2", role=handler.role, org_unit=handler.org_unit)
    client.force_login(handler)
    assert client.post(f"{API}/{inbox['unit_a'].pk}/read").json()["read_at"] is not None
    # somebody else's (another unit, another user): 404, and unchanged
    for key in ("other_unit", "other_user"):
        answer = client.post(f"{API}/{inbox[key].pk}/read")
        assert (
            answer.status_code == 404 and answer.json()["error"]["code"] == "tickets.notification_not_found"
        )
        inbox[key].refresh_from_db()
        assert inbox[key].read_at is None
    assert client.post(f"{API}/read-all").json() == {"marked": 2}
    assert client.post(f"{API}/read-all").json() == {"marked": 0}  # idempotent
    assert {n.read_at is None for n in Notification.objects.filter(pk__in=[inbox["other_unit"].pk])} == {True}
    # the unit's inbox is shared: read for the colleague too; the handler's own one is not theirs
    client.force_login(colleague)
    assert client.get(f"{API}/unread-count").json() == {"unread": 0}
    assert _ids(client.get(f"{API}/")) == {inbox["unit_a"].pk, inbox["unit_b"].pk}


def test_unread_filter_and_bounded_pages(client, handler, inbox):
    client.force_login(handler)
    client.post(f"{API}/{inbox['mine'].pk}/read")
    assert _ids(client.get(f"{API}/", {"unread": "true"})) == {inbox["unit_a"].pk, inbox["unit_b"].pk}
    assert client.get(f"{API}/", {"limit": 100000}).status_code == 422
    page = client.get(f"{API}/", {"limit": 1}).json()
    assert page["count"] == 3 and len(page["items"]) == 1


def test_a_citizen_has_no_staff_inbox(client, citizen, inbox):
    client.force_login(citizen)
    assert client.get(f"{API}/").json()["count"] == 0
    assert client.post(f"{API}/{inbox['unit_a'].pk}/read").status_code == 404
    assert client.get("/notifications/").status_code == 403


def test_the_bell_is_shown_to_whoever_has_an_inbox(client, citizen, handler):
    """The top bar's bell follows the inbox's own staff check: a superuser whose role is not a
    staff role has an inbox (and the bell); a citizen has neither."""
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root-bell", password="x" * 12, role="citizen")
    for user, bell in ((handler, True), (root, True), (citizen, False)):
        client.force_login(user)
        page = client.get("/").content.decode()
        assert ('data-testid="notifications-link"' in page) is bell, user


def test_the_page_shows_the_badge_lists_and_marks_read(client, handler, inbox):
    assert client.get("/notifications/").status_code == 302  # sign in first
    client.force_login(handler)
    page = client.get("/notifications/").content.decode()
    assert 'data-testid="unread-count">3<' in page
    assert "甲：派遣" in page and "丙：重办" in page and "罗湖：超期" not in page and "丁" not in page
    answer = client.post(f"/notifications/{inbox['unit_b'].pk}/read/", {"show": "unread"})
    assert answer.status_code == 302 and answer["Location"] == "/notifications/unread/"
    unread = client.get("/notifications/unread/").content.decode()
    assert "乙：催办" not in unread and "甲：派遣" in unread and 'data-testid="unread-count">2<' in unread
    assert client.post(f"/notifications/{inbox['other_unit'].pk}/read/").status_code == 404
    assert client.get("/notifications/read-all/").status_code == 405  # a change is a POST
    client.post("/notifications/read-all/")
    assert 'data-testid="unread-count"' not in client.get("/notifications/").content.decode()
    inbox["other_unit"].refresh_from_db()
    assert inbox["other_unit"].read_at is None


def test_what_the_services_notify_arrives_in_the_inbox(client, handler, nanshan_dispatcher):
    """The writers the workflow uses (a dispatch, an urge) reach the unit's members."""
    notify_unit(unit_id=handler.org_unit_id, ticket=None, kind="urged", message="ZW1: 请尽快办理")
    notify_user(user_id=nanshan_dispatcher.pk, ticket=None, kind="replied", message="给分拨员")
    client.force_login(handler)
    items = client.get(f"{API}/").json()["items"]
    assert [(i["kind"], i["message"]) for i in items] == [("urged", "ZW1: 请尽快办理")]
