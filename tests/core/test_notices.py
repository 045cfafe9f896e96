"""Administrator notices: one row per problem, counted, resolved, reopened."""

from __future__ import annotations

import pytest

from zhiwang.core import services
from zhiwang.core.models import AdminNotice, NoticeLevel
from zhiwang.core.selectors import admin_notice_open_list
from zhiwang.core.services import admin_notice_raise, admin_notice_resolve

pytestmark = pytest.mark.django_db


def test_raising_twice_keeps_one_row_and_counts():
    # given a notice raised once
    first = admin_notice_raise(key="sharing.feed_down", message="Feed down", level=NoticeLevel.ERROR)
    # when the same problem is raised again with a newer message
    second = admin_notice_raise(key="sharing.feed_down", message="Feed still down", level=NoticeLevel.ERROR)
    # then there is one notice, counted twice, with the newest message
    assert AdminNotice.objects.count() == 1
    assert second.pk == first.pk
    assert second.count == 2
    assert second.message == "Feed still down"
    assert second.last_seen_at >= first.last_seen_at


def test_resolve_and_reopen():
    admin_notice_raise(key="x", message="m")
    assert admin_notice_resolve(key="x") is True
    assert admin_notice_resolve(key="x") is False  # already resolved
    assert not AdminNotice.objects.get(key="x").is_open
    # the problem comes back: the notice reopens
    assert admin_notice_raise(key="x", message="m").is_open


def test_unknown_level_is_a_programming_error():
    with pytest.raises(ValueError):
        admin_notice_raise(key="x", message="m", level="panic")


def test_losing_the_insert_race_counts_on_the_winners_row(monkeypatch):
    # given another process inserted the notice between our update (which found nothing) and our insert
    AdminNotice.objects.create(key="race", message="first")
    real_bump = services._notice_bump
    calls = []

    def bump_missing_the_row_once(**kwargs):
        calls.append(kwargs)
        return 0 if len(calls) == 1 else real_bump(**kwargs)

    monkeypatch.setattr(services, "_notice_bump", bump_missing_the_row_once)
    # when we raise it
    notice = admin_notice_raise(key="race", message="second")
    # then the unique key stopped our insert, our savepoint absorbed it, and the count went up
    assert notice.count == 2
    assert AdminNotice.objects.count() == 1  # and the caller's transaction is still usable


def test_only_staff_see_open_notices(django_user_model):
    admin_notice_raise(key="open", message="m")
    admin_notice_raise(key="closed", message="m")
    admin_notice_resolve(key="closed")
    staff = django_user_model.objects.create_user(username="ops", password="x", is_staff=True)
    clerk = django_user_model.objects.create_user(username="clerk", password="x")
    assert [n.key for n in admin_notice_open_list(user=staff)] == ["open"]
    assert list(admin_notice_open_list(user=clerk)) == []
    assert list(admin_notice_open_list(user=None)) == []
