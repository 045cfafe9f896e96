"""The submit pipeline: validation, idempotency, locating, deadlines, routing hand-off, duplicates."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from tests.tickets.conftest import ILLEGAL_BUILDING, MONDAY_10, RUBBISH, SANITATION, TZ, events
from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import ServiceError
from zhiwang.core.workcalendar.services import due
from zhiwang.geo.models import Division, Grid
from zhiwang.tickets.cache import routing_config_changed
from zhiwang.tickets.models import (
    Category,
    KindDeadline,
    Notification,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketStatus,
)
from zhiwang.tickets.services import ticket_submit
from zhiwang.tickets.services.submit import deadline_rule

pytestmark = pytest.mark.django_db


def _counts():
    return (Ticket.objects.count(), TicketEvent.objects.count(), TicketCounter.objects.count())


def _submit(**overrides):
    data = {
        "channel": "web",
        "kind": "complaint",
        "category": SANITATION,
        "description": "小区门口的垃圾几天没有清运了。",
    }
    data.update(overrides)
    return ticket_submit(**data)


# --- validation ----------------------------------------------------------------


def test_every_invalid_field_is_reported_at_once_and_nothing_is_written(nanshan_building):
    before = _counts()
    with pytest.raises(ServiceError) as caught:
        _submit(
            channel="fax",
            kind="gossip",
            urgency="now",
            category="NO-SUCH",
            description="脏",
            title="标" * 201,
            reporter_phone="call me",
            address_code=nanshan_building.code,
        )
    error = caught.value
    assert error.code == "tickets.invalid"
    assert error.status == 400
    assert {(f.field, f.code) for f in error.fields} == {
        ("channel", "tickets.channel_unknown"),
        ("kind", "tickets.kind_unknown"),
        ("urgency", "tickets.urgency_unknown"),
        ("category", "tickets.category_unknown"),
        ("description", "tickets.description_short"),
        ("title", "tickets.title_long"),
        ("reporter_phone", "tickets.phone_invalid"),
    }
    assert all(f.message for f in error.fields)
    assert _counts() == before


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"category": "01"}, "category", "tickets.category_not_leaf"),
        ({"category": RUBBISH, "kind": "inquiry"}, "kind", "tickets.kind_not_allowed"),
        ({"description": "说" * 4001}, "description", "tickets.description_long"),
        ({"reporter_name": "名" * 65}, "reporter_name", "tickets.reporter_name_long"),
        ({"external_id": "x" * 121}, "external_id", "tickets.external_id_long"),
        ({"received_at": datetime(2026, 1, 1, 9, 0)}, "received_at", "tickets.received_naive"),
        ({"received_at": datetime(2099, 1, 1, 9, 0, tzinfo=TZ)}, "received_at", "tickets.received_in_future"),
    ],
)
def test_field_rules(nanshan_building, overrides, field, code):
    before = _counts()
    with pytest.raises(ServiceError) as caught:
        _submit(address_code=nanshan_building.code, **overrides)
    assert (caught.value.field, caught.value.fields[0].code) == (field, code)
    assert _counts() == before


def test_an_inactive_category_is_unknown(nanshan_building):
    Category.objects.filter(code=SANITATION).update(is_active=False)
    with pytest.raises(ServiceError) as caught:
        _submit(address_code=nanshan_building.code)
    assert caught.value.fields[0].code == "tickets.category_unknown"


def test_phone_is_stored_normalized(nanshan_building):
    ticket = _submit(address_code=nanshan_building.code, reporter_phone="+86 138-0013-8000").ticket
    assert ticket.reporter_phone == "13800138000"


# --- idempotency -----------------------------------------------------------------


def test_same_channel_and_external_id_returns_the_same_ticket(nanshan_building):
    first = _submit(channel="hotline", external_id="CALL-1", address_code=nanshan_building.code)
    again = _submit(
        channel="hotline",
        external_id=" CALL-1 ",
        address_code=nanshan_building.code,
        description="不同的描述内容",
    )
    assert first.created and not again.created
    assert again.ticket.pk == first.ticket.pk
    assert Ticket.objects.filter(idempotency_key="hotline:CALL-1").count() == 1
    assert first.ticket.events.count() == 1
    # the retry gave its number back: the next ticket has the next one
    third = _submit(channel="hotline", external_id="CALL-2", address_code=nanshan_building.code)
    assert int(third.ticket.number[-6:]) == int(first.ticket.number[-6:]) + 1


def test_a_retry_gets_its_ticket_even_if_the_place_no_longer_resolves(nanshan_building):
    first = _submit(channel="hotline", external_id="CALL-9", address_code=nanshan_building.code)
    again = _submit(channel="hotline", external_id="CALL-9", address_code="NO-SUCH-ADDRESS")
    assert (again.created, again.ticket.pk) == (False, first.ticket.pk)
    with pytest.raises(ServiceError) as caught:
        _submit(channel="hotline", external_id="CALL-10", address_code="NO-SUCH-ADDRESS")
    assert caught.value.code == "tickets.address_unknown"


def test_the_same_external_id_on_another_channel_is_another_ticket(nanshan_building):
    a = _submit(channel="hotline", external_id="42", address_code=nanshan_building.code)
    b = _submit(channel="open311", external_id="42", address_code=nanshan_building.code)
    assert a.ticket.pk != b.ticket.pk


def test_without_external_id_every_call_is_new(nanshan_building):
    a = _submit(address_code=nanshan_building.code)
    b = _submit(address_code=nanshan_building.code)
    assert a.ticket.pk != b.ticket.pk


def test_numbers_count_up_per_day(frozen_now, nanshan_building):
    a = _submit(address_code=nanshan_building.code).ticket
    b = _submit(address_code=nanshan_building.code).ticket
    assert a.number.startswith("ZW20261123") and len(a.number) == 16
    assert int(b.number[-6:]) == int(a.number[-6:]) + 1


# --- locating ----------------------------------------------------------------------


def test_a_room_code_gives_the_whole_chain(nanshan_room):
    ticket = _submit(address_code=nanshan_room.code).ticket
    community = nanshan_room.community
    assert ticket.address == nanshan_room
    assert ticket.grid == nanshan_room.grid
    assert (ticket.community, ticket.subdistrict, ticket.district) == (
        community,
        community.parent,
        community.parent.parent,
    )
    assert ticket.division == community
    assert ticket.address_text == nanshan_room.full_name
    assert ticket.events.get().payload["located_by"] == "address"


def test_an_unknown_address_code_names_the_field():
    with pytest.raises(ServiceError) as caught:
        _submit(address_code="440305-NOPE")
    assert (caught.value.code, caught.value.field) == ("tickets.address_unknown", "address_code")


def test_a_point_is_located_to_its_grid(db):
    grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    ticket = _submit(lon=grid.lon, lat=grid.lat).ticket
    assert ticket.grid == grid
    assert ticket.division == grid.community
    assert ticket.district.code == "440305000000"
    assert (ticket.lon, ticket.lat) == (pytest.approx(grid.lon), pytest.approx(grid.lat))


@pytest.mark.parametrize(
    ("point", "code", "field"),
    [
        ({"lon": 120.0, "lat": 30.0}, "geo.outside_city", "lon"),
        ({"lon": 114.0}, "tickets.point_incomplete", "lat"),
        ({"lon": "abc", "lat": 22.5}, "geo.not_a_number", "lon"),
    ],
)
def test_bad_points_are_refused_with_their_field(db, point, code, field):
    before = _counts()
    with pytest.raises(ServiceError) as caught:
        _submit(**point)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert _counts() == before


def test_free_text_naming_a_standard_address_finds_it(nanshan_building):
    ticket = _submit(address_text=nanshan_building.full_name).ticket
    assert ticket.address == nanshan_building
    assert ticket.events.get().payload["located_by"] == "text:address"


def test_free_text_naming_only_a_district_locates_to_the_district(db):
    nanshan = Division.objects.get(code="440305000000")
    ticket = _submit(address_text=f"{nanshan.name}某条小路边上").ticket
    assert ticket.community is None and ticket.subdistrict is None
    assert ticket.district == nanshan
    assert ticket.division == nanshan
    assert ticket.events.get().payload["located_by"] == "text:district"


@pytest.mark.parametrize("kind", ["complaint", "report", "help", "incident"])
def test_kinds_about_a_place_need_one(db, kind):
    category = RUBBISH if kind == "incident" else SANITATION
    with pytest.raises(ServiceError) as caught:
        _submit(kind=kind, category=category, address_text="我家楼下")
    assert (caught.value.code, caught.value.field) == ("tickets.place_required", "address_text")
    assert not Ticket.objects.filter(description__startswith="小区门口").exists()


def test_an_inquiry_needs_no_place_and_goes_to_the_city_queue(db):
    ticket = _submit(kind="inquiry", description="请问社保卡补办需要带什么材料？").ticket
    assert ticket.division is None
    assert ticket.dispatch_center.code == "DEMO-CITY-CC"
    assert ticket.status == TicketStatus.PENDING_DISPATCH


# --- deadlines ---------------------------------------------------------------------


def test_the_category_limit_applies_from_dispatch(frozen_now, nanshan_building):
    ticket = _submit(kind="incident", category=RUBBISH, address_code=nanshan_building.code).ticket
    assert (ticket.deadline_amount, ticket.deadline_unit) == (Decimal(4), "working_hours")
    assert ticket.status == TicketStatus.DISPATCHED  # auto-dispatched at Monday 10:00
    # 10–12 and 14–16: four working hours.
    assert ticket.due_at == MONDAY_10.replace(hour=16)
    assert ticket.accept_due_at == MONDAY_10.replace(hour=12)
    assert MONDAY_10 < ticket.warn_at < ticket.due_at


def test_urgent_tickets_use_the_urgent_limit(frozen_now, nanshan_building):
    ticket = _submit(
        kind="incident", category=RUBBISH, urgency="urgent", address_code=nanshan_building.code
    ).ticket
    assert (ticket.deadline_amount, ticket.deadline_unit) == (Decimal(2), "working_hours")
    assert ticket.due_at == MONDAY_10.replace(hour=12)


def test_a_leaf_without_a_limit_inherits_its_ancestors(db):
    parent = Category.objects.create(
        code="T1", name="测试大类", deadline_amount=3, deadline_unit="working_days"
    )
    leaf = Category.objects.create(code="T101", name="测试小类", parent=parent)
    assert deadline_rule(category=leaf, kind="complaint", urgency="normal") == (Decimal(3), "working_days")
    # the urgent variant is looked for up the tree too, before the kind's default
    parent.urgent_deadline_amount, parent.urgent_deadline_unit = Decimal(3), "working_hours"
    parent.save()
    assert deadline_rule(category=leaf, kind="complaint", urgency="urgent") == (Decimal(3), "working_hours")


def test_without_any_category_limit_the_kind_default_applies(db):
    category = Category.objects.get(code=SANITATION)
    assert deadline_rule(category=category, kind="complaint", urgency="normal") == (
        Decimal(15),
        "working_days",
    )
    assert deadline_rule(category=category, kind="inquiry", urgency="normal") == (Decimal(2), "working_days")
    assert deadline_rule(category=category, kind="help", urgency="normal") == (Decimal(10), "working_days")
    assert deadline_rule(category=category, kind="complaint", urgency="urgent") == (
        Decimal(2),
        "working_hours",
    )
    # an administrator's edit of the default table is what counts (the admin saves the row)
    row = KindDeadline.objects.get(kind="complaint", urgency="normal")
    row.amount = 12
    row.save()
    assert deadline_rule(category=category, kind="complaint", urgency="normal") == (
        Decimal(12),
        "working_days",
    )
    # a bulk edit says so, and is seen as well
    KindDeadline.objects.filter(kind="help", urgency="normal").update(amount=7)
    routing_config_changed()
    assert deadline_rule(category=category, kind="help", urgency="normal") == (Decimal(7), "working_days")


def test_dispatcher_dispatch_starts_the_kind_default_clock(frozen_now, make_ticket, nanshan_dispatcher):
    from zhiwang.tickets.services import ticket_dispatch

    ticket = make_ticket()
    assert ticket.due_at is None  # no clock while it waits in the queue
    ticket_dispatch(ticket=ticket, unit=None, actor=nanshan_dispatcher)
    assert ticket.due_at == due(start=MONDAY_10, amount=15, unit="working_days")


# --- routing hand-off ----------------------------------------------------------------


def test_a_certain_rule_dispatches_at_once_by_the_system(frozen_now, nanshan_building, sub_handler):
    result = _submit(kind="incident", channel="patrol", category=RUBBISH, address_code=nanshan_building.code)
    ticket = result.ticket
    assert ticket.status == TicketStatus.DISPATCHED
    assert ticket.handling_unit == sub_handler.org_unit
    receive, dispatch = events(ticket)
    assert (receive.action, receive.from_state, receive.to_state) == ("receive", "", "pending_dispatch")
    assert (dispatch.action, dispatch.actor, dispatch.to_state) == ("dispatch", None, "dispatched")
    assert Notification.objects.filter(unit=sub_handler.org_unit, ticket=ticket, kind="dispatched").exists()


def test_an_uncertain_rule_waits_in_the_district_queue(nanshan_building, sub_handler):
    ticket = _submit(address_code=nanshan_building.code).ticket
    assert ticket.status == TicketStatus.PENDING_DISPATCH
    assert ticket.handling_unit is None
    assert ticket.suggested_unit == sub_handler.org_unit
    assert ticket.dispatch_center.code == "DEMO-NS-CC"
    assert "#" in ticket.route_explanation


def test_illegal_structures_in_nanshan_go_to_the_urban_bureau(nanshan_building, handler):
    ticket = _submit(kind="report", category=ILLEGAL_BUILDING, address_code=nanshan_building.code).ticket
    assert ticket.handling_unit == handler.org_unit
    assert ticket.status == TicketStatus.DISPATCHED


def test_illegal_structures_in_luohu_go_to_the_luohu_subdistrict_office(luohu_building):
    ticket = _submit(kind="report", category=ILLEGAL_BUILDING, address_code=luohu_building.code).ticket
    office = OrgUnit.objects.get(kind="division_office", division=luohu_building.community.parent)
    assert ticket.handling_unit == office
    assert ticket.dispatch_center.code == "DEMO-LH-CC"


# --- duplicates ------------------------------------------------------------------------


def test_an_open_ticket_at_the_same_building_is_a_duplicate(nanshan_building, nanshan_room):
    first = _submit(address_code=nanshan_building.code).ticket
    second = _submit(address_code=nanshan_room.code)
    assert [d.pk for d in second.duplicates] == [first.pk]
    assert second.ticket.events.get().payload["duplicates"] == [first.number]


def test_duplicates_stop_automatic_dispatch(nanshan_building):
    first = _submit(kind="incident", category=RUBBISH, address_code=nanshan_building.code).ticket
    second = _submit(kind="incident", category=RUBBISH, address_code=nanshan_building.code)
    assert first.status == TicketStatus.DISPATCHED
    assert second.ticket.status == TicketStatus.PENDING_DISPATCH  # the dispatcher looks first
    assert second.duplicates == [first]


def test_other_categories_and_closed_tickets_are_not_duplicates(nanshan_building):
    other = _submit(kind="report", category=ILLEGAL_BUILDING, address_code=nanshan_building.code).ticket
    closed = _submit(address_code=nanshan_building.code).ticket
    Ticket.objects.filter(pk=closed.pk).update(status=TicketStatus.CLOSED)
    result = _submit(address_code=nanshan_building.code)
    assert other not in result.duplicates and closed not in result.duplicates
    assert result.duplicates == []


def test_a_ticket_near_the_point_within_the_window_is_a_duplicate(frozen_now, settings, db):
    settings.ZHIWANG_DUPLICATE_RADIUS_M = 100
    grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    first = _submit(lon=grid.lon, lat=grid.lat).ticket
    near = _submit(lon=grid.lon + 0.0003, lat=grid.lat)  # about 31 m east
    assert near.duplicates == [first]
    frozen_now(MONDAY_10 + timedelta(days=8))  # outside the 7-day window
    later = _submit(lon=grid.lon, lat=grid.lat)
    assert first not in later.duplicates


def test_a_ticket_far_away_is_not_a_duplicate(db):
    grid = Grid.objects.filter(code__startswith="440305").order_by("code").first()
    _submit(lon=grid.lon, lat=grid.lat)
    far = _submit(lon=grid.lon + 0.01, lat=grid.lat)  # about 1 km
    assert [d for d in far.duplicates if d.lon and abs(d.lon - far.ticket.lon) > 0.005] == []
