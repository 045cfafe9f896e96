"""Ticket fixtures: places of the demo city, the staff personas, a frozen clock, a ticket factory.

The demo routing (``tickets.demo``): grid incidents go to the subdistrict office
automatically; illegal structures in Nanshan to the urban-management bureau
automatically; urban affairs ("01…") to the subdistrict office via the dispatcher;
anything else to the district government via the dispatcher.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from zhiwang.geo.models import AddressLevel, Division, DivisionLevel, StandardAddress

TZ = ZoneInfo("Asia/Shanghai")
#: A Monday morning in a week without holidays: deadlines are easy to reason about.
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)

#: Categories of the default catalogue used here (kind → routing in the demo city).
RUBBISH = "GI0101"  # 暴露垃圾: incident, 4 working hours (urgent 2), auto → subdistrict office
ILLEGAL_BUILDING = "GI0301"  # 违法搭建: 15 working days, auto → Nanshan urban management (in Nanshan)
SANITATION = "010214"  # 环境卫生 (城乡建设): no own limit, via the dispatcher → subdistrict office


def _persona(username: str):
    from zhiwang.accounts.models import User

    return User.objects.get(username=username)


@pytest.fixture
def handler(db):
    """Handler of Nanshan's urban-management bureau (district department)."""
    return _persona("demo_handler")


@pytest.fixture
def sub_handler(db):
    """Handler of the first Nanshan subdistrict office."""
    return _persona("demo_sub_handler")


@pytest.fixture
def hotline(db):
    """12345 intake operator, city-wide."""
    return _persona("demo_hotline")


@pytest.fixture
def city_dispatcher(db):
    return _persona("demo_city_dispatcher")


@pytest.fixture
def frozen_now(monkeypatch):
    """Freeze ``timezone.now()`` at a Monday 10:00; returns a setter.

    Seen by the services, by ``auto_now`` fields and by fields whose default is
    ``timezone.now`` (e.g. a timeline row's ``at``): those captured the real function
    when their model was defined, so their default callable is patched as well.
    """
    from django.apps import apps
    from django.utils import timezone

    real_now = timezone.now
    state = {"now": MONDAY_10}

    def frozen():
        return state["now"]

    monkeypatch.setattr(timezone, "now", frozen)
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.default is real_now:
                monkeypatch.setattr(field, "_get_default", frozen)

    def set_now(value: datetime) -> datetime:
        state["now"] = value
        return value

    set_now.initial = MONDAY_10
    return set_now


@pytest.fixture
def nanshan_community(db) -> Division:
    """The first community of Nanshan's first subdistrict (the grid worker's community)."""
    nanshan = Division.objects.get(code="440305000000")
    sub = (
        Division.objects.filter(parent=nanshan, level=DivisionLevel.SUBDISTRICT, special="")
        .order_by("code")
        .first()
    )
    return (
        Division.objects.filter(parent=sub, level=DivisionLevel.COMMUNITY, special="")
        .order_by("code")
        .first()
    )


@pytest.fixture
def nanshan_building(grid_worker, nanshan_community) -> StandardAddress:
    """A building in the first grid of the grid worker."""
    grid = grid_worker.grid_assignments.order_by("grid__code").first().grid
    return StandardAddress.objects.filter(grid=grid, level=AddressLevel.BUILDING).order_by("code").first()


@pytest.fixture
def nanshan_room(nanshan_building) -> StandardAddress:
    return StandardAddress.objects.filter(parent__parent=nanshan_building).order_by("code").first()


@pytest.fixture
def luohu_building(db) -> StandardAddress:
    return (
        StandardAddress.objects.filter(community__code__startswith="440303", level=AddressLevel.BUILDING)
        .order_by("code")
        .first()
    )


@pytest.fixture
def make_ticket(db, nanshan_building, hotline):
    """``make_ticket(**overrides)``: a complaint by phone at the Nanshan building, in the dispatcher queue."""
    from zhiwang.tickets.access import filing_channels
    from zhiwang.tickets.services import ticket_submit

    counter = {"n": 0}

    def make(**overrides):
        counter["n"] += 1
        data = {
            "channel": "hotline",
            "kind": "complaint",
            "category": SANITATION,
            "description": "楼下垃圾桶满了好几天没人清理，气味很大。",
            "address_code": nanshan_building.code,
            "reporter_name": "林晓",
            "reporter_phone": "13800138000",
            "external_id": f"call-{counter['n']}-{id(counter)}",
            "actor": hotline,
        }
        data.update(overrides)
        if "actor" not in overrides and data["channel"] not in filing_channels(hotline):
            # A channel the 12345 operator does not file through (a citizen's web report, a patrol
            # incident, an Open311 request): filed by the system, as those paths do without one.
            data["actor"] = None
        return ticket_submit(**data).ticket

    return make


@pytest.fixture
def dispatched(make_ticket, nanshan_dispatcher, sub_handler):
    """A complaint dispatched to the first subdistrict office (the sub handler's unit)."""
    from zhiwang.tickets.services import ticket_dispatch

    def make(**overrides):
        ticket = make_ticket(**overrides)
        return ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher)

    return make


@pytest.fixture
def accepted(dispatched, sub_handler):
    from zhiwang.tickets.services import ticket_accept

    def make(**overrides):
        return ticket_accept(ticket=dispatched(**overrides), actor=sub_handler)

    return make


@pytest.fixture
def in_follow_up(accepted, sub_handler, nanshan_dispatcher):
    """Replied and approved: waiting for the follow-up call."""
    from zhiwang.tickets.services import ticket_reply, ticket_review

    def make(**overrides):
        ticket = ticket_reply(
            ticket=accepted(**overrides), actor=sub_handler, reply="已安排清运，现场已清理干净。"
        )
        return ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)

    return make


def events(ticket) -> list:
    """The ticket's timeline rows, oldest first."""
    return list(ticket.events.order_by("at", "pk"))


def last_event(ticket):
    return ticket.events.order_by("-at", "-pk").first()


@pytest.fixture
def fresh_cache():
    """An empty cache before and after (rate limits and look-up failure counters live there)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def as_user(client):
    """The test client signed in as the given user."""

    def login(user):
        client.force_login(user)
        return client

    return login
