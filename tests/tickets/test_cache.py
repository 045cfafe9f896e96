"""The routing snapshot per process (``tickets.cache``) and the cost of one submission."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from tests.tickets.conftest import RUBBISH, SANITATION
from zhiwang.accounts.models import OrgUnit
from zhiwang.core.workcalendar.services import work_calendar, work_calendar_reset
from zhiwang.tickets import cache
from zhiwang.tickets.models import Category, ConfigVersion, RoutingRule, TicketStatus
from zhiwang.tickets.routing import route
from zhiwang.tickets.services import ticket_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiet_cache(settings):
    """A snapshot checked once an hour, read from committed data (as in a long-running server)."""
    settings.ZHIWANG_TICKETS_CACHE_CHECK_SECONDS = 3600
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 3600  # the work calendar's own cache, likewise
    work_calendar_reset()
    work_calendar()
    cache.routing_config_reset()
    cache._state["dirty"] = False
    yield settings
    cache.routing_config_reset()


@pytest.fixture
def no_save_hooks(monkeypatch):
    """Mute post_save receivers: other apps' hooks on timeline rows are theirs to count."""
    monkeypatch.setattr(post_save, "receivers", [])
    monkeypatch.setattr(post_save, "sender_receivers_cache", {})


def test_routing_reads_no_table_once_the_snapshot_is_warm(quiet_cache, nanshan_community):
    category = Category.objects.get(code=SANITATION)
    route(category=category, place=nanshan_community)
    with CaptureQueriesContext(connection) as queries:
        decided = route(category=category, place=nanshan_community)
    assert decided.unit is not None and decided.dispatch_center is not None
    assert len(queries) == 0


def test_a_saved_rule_is_seen_at_once_in_this_process(quiet_cache, nanshan_community):
    category = Category.objects.get(code=SANITATION)
    before = cache.routing_config()
    unit = OrgUnit.objects.create(code="T-CACHE", name="缓存测试单位", kind="department")
    RoutingRule.objects.create(category=category, division=nanshan_community, unit=unit)
    assert cache.routing_config() is not before
    assert route(category=category, place=nanshan_community).unit == unit


def test_another_process_change_is_seen_after_the_check_interval(quiet_cache, nanshan_community):
    category = Category.objects.get(code=SANITATION)
    warm = cache.routing_config()
    unit = OrgUnit.objects.bulk_create([OrgUnit(code="T-ELSEWHERE", name="别处单位", kind="department")])[0]
    # what another process's admin edit leaves behind: rows and a version bump, no signal here
    RoutingRule.objects.bulk_create([RoutingRule(category=category, division=nanshan_community, unit=unit)])
    ConfigVersion.objects.update_or_create(key=cache.ROUTING, defaults={"version": 10**9})
    assert cache.routing_config() is warm  # not checked again within the interval
    quiet_cache.ZHIWANG_TICKETS_CACHE_CHECK_SECONDS = 0
    assert route(category=category, place=nanshan_community).unit == unit


def test_a_deactivated_unit_is_not_routed_to(quiet_cache, nanshan_community):
    category = Category.objects.get(code=SANITATION)
    unit = route(category=category, place=nanshan_community).unit
    unit.is_active = False
    unit.save()
    assert route(category=category, place=nanshan_community).unit != unit
    unit.is_active = True
    unit.save()


def test_an_automatic_dispatch_costs_a_handful_of_queries(
    quiet_cache, no_save_hooks, nanshan_building, sub_handler
):
    data = {
        "channel": "patrol",
        "kind": "incident",
        "category": RUBBISH,
        "address_code": nanshan_building.code,
    }
    warm_up = {**data, "kind": "complaint", "channel": "hotline", "category": SANITATION}
    ticket_submit(**warm_up, description="垃圾站满溢，请清运。", external_id="warm-up")
    with CaptureQueriesContext(connection) as queries:
        result = ticket_submit(**data, description="又有一堆暴露垃圾。", external_id="P-1")
    ticket = result.ticket
    assert ticket.status == TicketStatus.DISPATCHED and ticket.version == 2
    assert ticket.handling_unit == sub_handler.org_unit
    assert [e.action for e in ticket.events.order_by("pk")] == ["receive", "dispatch"]
    own = [q["sql"] for q in queries.captured_queries]
    # category, address, 2 × duplicates, counter, ticket, 2 × timeline, notification (+ BEGIN/COMMIT
    # or savepoints, depending on the backend and the test's transaction)
    assert len([q for q in own if not q.upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN"))]) <= 9, (
        "\n".join(own)
    )
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.DISPATCHED and ticket.version == 2
    assert ticket.accept_due_at and ticket.due_at and ticket.warn_at and ticket.dispatched_at
