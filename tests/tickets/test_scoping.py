"""Who sees which ticket, and the scoped selectors built on it (lists, queue, inbox, histories, public lookup)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import Http404

from tests.tickets.conftest import MONDAY_10, RUBBISH, SANITATION
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Division
from zhiwang.tickets import selectors, services
from zhiwang.tickets.models import Ticket, TicketStatus

pytestmark = pytest.mark.django_db
S = TicketStatus


def _visible(user) -> set[int]:
    return set(Ticket.objects.visible_to(user).values_list("pk", flat=True))


@pytest.fixture
def two_districts(make_ticket, luohu_building):
    """One ticket in Nanshan (the grid worker's grid), one in Luohu."""
    return make_ticket(), make_ticket(address_code=luohu_building.code)


# --- visible_to ----------------------------------------------------------------------


def test_district_dispatchers_see_their_district_only(two_districts, nanshan_dispatcher, luohu_dispatcher):
    nanshan, luohu = two_districts
    assert nanshan.pk in _visible(nanshan_dispatcher) and luohu.pk not in _visible(nanshan_dispatcher)
    assert luohu.pk in _visible(luohu_dispatcher) and nanshan.pk not in _visible(luohu_dispatcher)


def test_city_wide_roles_see_everything(two_districts, hotline, admin_user, city_leader):
    for user in (hotline, admin_user, city_leader):
        assert {t.pk for t in two_districts} <= _visible(user)


def test_a_subdistrict_dispatcher_sees_the_subdistrict_only(
    make_ticket, subdistrict_dispatcher, nanshan_community
):
    inside = make_ticket()
    other_sub = (
        Division.objects.filter(parent=nanshan_community.parent.parent, level="subdistrict")
        .exclude(pk=nanshan_community.parent_id)
        .order_by("code")
        .first()
    )
    outside = make_ticket(kind="inquiry", address_code="", address_text=f"{other_sub.name}某处")
    assert outside.division == other_sub
    assert inside.pk in _visible(subdistrict_dispatcher)
    assert outside.pk not in _visible(subdistrict_dispatcher)


def test_a_ticket_known_only_to_its_district_is_the_districts(
    make_ticket, nanshan_dispatcher, subdistrict_dispatcher
):
    nanshan = Division.objects.get(code="440305000000")
    vague = make_ticket(address_code="", address_text=f"{nanshan.name}沿海一带")
    assert vague.community is None and vague.division == nanshan
    assert vague.pk in _visible(nanshan_dispatcher)
    assert vague.pk not in _visible(subdistrict_dispatcher)


def test_a_ticket_without_a_place_is_city_wide_only(make_ticket, nanshan_dispatcher, hotline):
    nowhere = make_ticket(kind="inquiry", address_code="")
    assert nowhere.pk not in _visible(nanshan_dispatcher)
    assert nowhere.pk in _visible(hotline)


def test_grid_workers_see_their_grids(two_districts, grid_worker):
    nanshan, luohu = two_districts
    assert nanshan.pk in _visible(grid_worker) and luohu.pk not in _visible(grid_worker)


def test_a_handler_sees_the_units_tickets_beyond_the_jurisdiction(two_districts, handler, city_dispatcher):
    _nanshan, luohu = two_districts
    assert luohu.pk not in _visible(handler)
    # the city dispatcher may send a Luohu ticket to a Nanshan bureau (a district dispatcher may not)
    services.ticket_dispatch(ticket=luohu, unit=handler.org_unit, actor=city_dispatcher)
    assert luohu.pk in _visible(handler)


def test_citizens_see_their_own_reports_only(make_ticket, citizen):
    mine = make_ticket(reporter=citizen)
    other = make_ticket()
    assert mine.pk in _visible(citizen)
    assert other.pk not in _visible(citizen)


def test_anonymous_and_inactive_users_see_nothing(make_ticket, nanshan_dispatcher):
    from django.contrib.auth.models import AnonymousUser

    make_ticket()
    assert _visible(AnonymousUser()) == set()
    nanshan_dispatcher.is_active = False
    assert _visible(nanshan_dispatcher) == set()


# --- one ticket ------------------------------------------------------------------------


def test_ticket_get_is_404_outside_the_scope(two_districts, nanshan_dispatcher):
    nanshan, luohu = two_districts
    assert selectors.ticket_get(user=nanshan_dispatcher, number=nanshan.number.lower()) == nanshan
    with pytest.raises(Http404):
        selectors.ticket_get(user=nanshan_dispatcher, number=luohu.number)
    with pytest.raises(Http404):
        selectors.ticket_get(user=nanshan_dispatcher, number="ZW00000000000000")


def test_a_citizen_reads_the_public_part_of_the_timeline(accepted, citizen, sub_handler, nanshan_dispatcher):
    ticket = accepted(reporter=citizen)
    services.ticket_note(ticket=ticket, actor=sub_handler, note="内部备注")
    staff = [e.action for e in selectors.ticket_timeline(user=nanshan_dispatcher, ticket=ticket)]
    public = [e.action for e in selectors.ticket_timeline(user=citizen, ticket=ticket)]
    assert staff == ["receive", "dispatch", "accept", "note"]
    assert public == ["receive", "dispatch", "accept"]


# --- lists ---------------------------------------------------------------------------------


def test_ticket_list_filters(
    frozen_now, make_ticket, dispatched, nanshan_dispatcher, sub_handler, nanshan_community
):
    pending = make_ticket(title="井盖松动")
    working = dispatched(channel="web", urgency="urgent")
    incident = make_ticket(kind="incident", category=RUBBISH, channel="patrol")

    def numbers(**filters):
        return {t.number for t in selectors.ticket_list(user=nanshan_dispatcher, filters=filters)}

    assert numbers(status="pending_dispatch") >= {pending.number} and working.number not in numbers(
        status="pending_dispatch"
    )
    assert working.number in numbers(status="open")
    assert incident.number in numbers(kind="incident") and pending.number not in numbers(kind="incident")
    assert incident.number in numbers(category="GI") and pending.number not in numbers(category="GI")
    assert working.number in numbers(channel="web") and pending.number not in numbers(channel="web")
    assert working.number in numbers(urgency="urgent")
    assert numbers(handling_unit=sub_handler.org_unit.code) >= {working.number}
    assert pending.number not in numbers(handling_unit=sub_handler.org_unit.code)
    assert pending.number in numbers(division=nanshan_community.code)
    assert pending.number in numbers(grid=pending.grid.code) and pending.number in numbers(
        address=pending.address.code
    )
    with pytest.raises(ServiceError):  # another district answers like an unknown code
        numbers(division="440303000000")
    assert pending.number in numbers(q="井盖") and numbers(q=pending.number[:12]) >= {pending.number}
    assert working.number in numbers(due_before=working.due_at) and pending.number not in numbers(
        due_before=working.due_at
    )
    assert working.number not in numbers(overdue=True)
    frozen_now(working.due_at + timedelta(minutes=1))
    assert working.number in numbers(overdue=True)
    assert pending.number in numbers(received_from=MONDAY_10, received_to=MONDAY_10 + timedelta(seconds=1))
    assert pending.number not in numbers(received_to=MONDAY_10)
    ordered = list(selectors.ticket_list(user=nanshan_dispatcher, filters={"ordering": "number"}))
    assert [t.number for t in ordered] == sorted(t.number for t in ordered)


@pytest.mark.parametrize(
    ("filters", "code"),
    [
        ({"status": "lost"}, "tickets.status_unknown"),
        ({"category": "NOPE"}, "tickets.category_unknown"),
        ({"division": "999999999999"}, "tickets.division_unknown"),
        ({"handling_unit": "NOPE"}, "tickets.unit_unknown"),
        ({"grid": "440305999999999"}, "tickets.grid_unknown"),
        ({"address": "NOPE"}, "tickets.address_unknown"),
        ({"ordering": "title"}, "tickets.ordering_unknown"),
    ],
)
def test_a_filter_typo_is_an_error_not_an_empty_list(nanshan_dispatcher, filters, code):
    with pytest.raises(ServiceError) as caught:
        selectors.ticket_list(user=nanshan_dispatcher, filters=filters)
    assert caught.value.code == code and caught.value.field == next(iter(filters))


def test_the_dispatcher_queue(
    frozen_now,
    make_ticket,
    dispatched,
    accepted,
    in_follow_up,
    nanshan_dispatcher,
    luohu_dispatcher,
    sub_handler,
):
    pending = make_ticket(urgency="urgent")
    asking = accepted()
    request = services.ticket_request(
        ticket=asking, kind="extension", actor=sub_handler, reason="需勘察", extra_days=2
    )
    replied = services.ticket_reply(ticket=accepted(), actor=sub_handler, reply="好了")
    follow = in_follow_up()
    late = dispatched()
    frozen_now(MONDAY_10 + timedelta(hours=3))  # accept deadlines (2 working hours) have passed
    queue = selectors.dispatcher_queue(user=nanshan_dispatcher)
    assert pending in queue.pending and queue.pending[0].urgency == "urgent"
    assert request in queue.requests
    assert replied in queue.review and follow in queue.follow_up
    assert late in queue.breaching and asking not in queue.breaching
    other = selectors.dispatcher_queue(user=luohu_dispatcher)
    assert pending not in other.pending and request not in other.requests


def test_the_handler_inbox(dispatched, accepted, sub_handler, handler, nanshan_dispatcher):
    waiting = dispatched()
    sent_back = accepted()
    services.ticket_reply(ticket=sent_back, actor=sub_handler, reply="好了")
    services.ticket_review(ticket=sent_back, actor=nanshan_dispatcher, approve=False, note="缺照片")
    inbox = {t.number: t for t in selectors.handler_inbox(user=sub_handler)}
    assert {waiting.number, sent_back.number} <= set(inbox)
    assert inbox[sent_back.number].sent_back and not inbox[waiting.number].sent_back
    assert list(selectors.handler_inbox(user=handler)) == []
    due = [t.due_at for t in selectors.handler_inbox(user=sub_handler)]
    assert due == sorted(due)


# --- intake helpers --------------------------------------------------------------------------


def test_caller_history_finds_the_same_caller(make_ticket, hotline, nanshan_dispatcher, luohu_building):
    a = make_ticket(reporter_phone="139-1234-5678")
    b = make_ticket(reporter_phone="+8613912345678", address_code=luohu_building.code)
    make_ticket(reporter_phone="13700000000")
    assert [t.pk for t in selectors.caller_history(user=hotline, phone="13912345678")] == [b.pk, a.pk]
    assert [t.pk for t in selectors.caller_history(user=nanshan_dispatcher, phone="13912345678")] == [a.pk]
    assert selectors.caller_history(user=hotline, phone="not a phone") == []


def test_address_history_covers_the_whole_building(make_ticket, hotline, nanshan_building, nanshan_room):
    at_room = make_ticket(address_code=nanshan_room.code)
    at_building = make_ticket()
    found = selectors.address_history(user=hotline, address=nanshan_building.code)
    assert found.address == nanshan_building
    assert {t.pk for t in found.tickets} == {at_room.pk, at_building.pk}
    by_text = selectors.address_history(user=hotline, address_text=nanshan_room.full_name, exclude=at_room)
    assert by_text.address == nanshan_room and [t.pk for t in by_text.tickets] == [at_building.pk]
    assert selectors.address_history(user=hotline, address_text="某处") == (None, [])


def test_duplicate_candidates_are_scoped(make_ticket, nanshan_dispatcher, luohu_dispatcher):
    first = make_ticket()
    second = make_ticket()
    assert selectors.duplicate_candidates(user=nanshan_dispatcher, ticket=second) == [first]
    assert selectors.duplicate_candidates(user=luohu_dispatcher, ticket=second) == []


def test_visible_among_keeps_the_users_tickets_in_time_order(
    two_districts, make_ticket, nanshan_dispatcher, luohu_dispatcher, hotline, citizen
):
    nanshan, luohu = two_districts
    later = make_ticket()
    found = [later, luohu, nanshan]  # any order in
    assert selectors.visible_among(user=nanshan_dispatcher, tickets=found) == [nanshan, later]
    assert selectors.visible_among(user=luohu_dispatcher, tickets=found) == [luohu]
    assert selectors.visible_among(user=hotline, tickets=found) == [nanshan, luohu, later]
    assert selectors.visible_among(user=citizen, tickets=found) == []
    assert selectors.visible_among(user=nanshan_dispatcher, tickets=[]) == []


# --- public lookup --------------------------------------------------------------------------------


def test_public_lookup_needs_number_and_phone(in_follow_up, sub_handler):
    ticket = in_follow_up()
    assert selectors.public_ticket_lookup(number=ticket.number, phone="13900000000") is None
    assert selectors.public_ticket_lookup(number="ZW00000000000000", phone="13800138000") is None
    assert selectors.public_ticket_lookup(number=ticket.number, phone="") is None
    found = selectors.public_ticket_lookup(number=ticket.number.lower(), phone="+86 138 0013 8000")
    assert found.number == ticket.number and found.can_rate
    assert found.reply == "已安排清运，现场已清理干净。"
    assert [e.action for e in found.events] == ["receive", "dispatch", "accept", "reply", "approve_reply"]
    assert not hasattr(found, "reporter_phone") and not hasattr(found, "reporter_name")


def test_public_lookup_hides_the_reply_until_it_is_approved(accepted, sub_handler):
    ticket = services.ticket_reply(ticket=accepted(), actor=sub_handler, reply="草稿答复")
    found = selectors.public_ticket_lookup(number=ticket.number, phone="13800138000")
    assert found.reply == "" and not found.can_rate


# --- catalogue, units -------------------------------------------------------------------------------


def test_the_catalogue_in_tree_order(db):
    nodes = selectors.category_list()
    seen = set()
    for node in nodes:
        assert node.parent_code is None or node.parent_code in seen
        seen.add(node.code)
    leaf = next(n for n in nodes if n.code == SANITATION)
    assert leaf.is_leaf and leaf.depth == 2
    incidents = {n.code for n in selectors.category_list(kind="incident")}
    assert RUBBISH in incidents and "GI" in incidents


def test_category_suggestions_by_keyword(db):
    found = selectors.category_suggestions(text="小区门口有一堆垃圾没人清运", kind="incident")
    assert found[0].category.code == RUBBISH and found[0].score == 1.0
    assert "网格事件" in found[0].path
    assert selectors.category_suggestions(text="x") == []


def test_handling_unit_choices_are_scoped(nanshan_dispatcher, luohu_dispatcher, admin_user):
    mine = {u.code for u in selectors.handling_unit_choices(user=nanshan_dispatcher)}
    assert "DEMO-NS-URBAN" in mine and "DEMO-SUB-OFFICE" in mine
    assert not any(code.startswith("DEMO-GOV-440303") for code in mine)
    assert "DEMO-GOV-440303" in {u.code for u in selectors.handling_unit_choices(user=luohu_dispatcher)}
    assert [u.code for u in selectors.handling_unit_choices(user=admin_user, q="城市管理")] == [
        "DEMO-NS-URBAN"
    ]
