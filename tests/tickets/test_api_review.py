"""The tickets API after review: dispatch targets, out-of-range times and lengths, list filters, follow-up."""

from __future__ import annotations

import pytest

from tests.tickets.test_api import _submit_body, post
from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import selectors, services
from zhiwang.tickets.models import Ticket, TicketRequest, TicketStatus

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets"
YEAR_1 = "0001-01-01T00:00:00%2B14:00"  # "+" escaped in a query string
YEAR_9999 = "9999-12-31T23:59:59-14:00"


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """Rate limits live in the cache."""


def error_of(answer) -> tuple[int, str, str | None]:
    error = answer.json()["error"]
    return answer.status_code, error["code"], error["field"]


# --- 1. dispatch targets: handling units in the dispatcher's jurisdiction (or the whole city) -----------

#: Active units a Nanshan dispatcher may not send tickets to: Luohu's district government (another
#: district), Luohu's and the city's command centres, a mediation body (not a handling unit).
NOT_MINE = ["DEMO-GOV-440303", "DEMO-LH-CC", "DEMO-CITY-CC", "DEMO-SUB-MEDIATION"]


@pytest.mark.parametrize("code", NOT_MINE)
def test_dispatch_refuses_a_unit_outside_the_dispatchers_choices(
    as_user, make_ticket, nanshan_dispatcher, code
):
    ticket = make_ticket()
    api = as_user(nanshan_dispatcher)
    assert code not in {u["code"] for u in api.get(f"{URL}/units?limit=500").json()["items"]}
    answer = post(api, f"/{ticket.number}/dispatch", {"unit": code})
    assert error_of(answer) == (400, "tickets.unit_not_allowed", "unit")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING_DISPATCH and ticket.handling_unit_id is None
    assert ticket.events.count() == 1


def test_dispatch_to_an_offered_unit_and_a_city_department_still_works(
    as_user, make_ticket, nanshan_dispatcher, handler
):
    api = as_user(nanshan_dispatcher)
    offered = {u["code"] for u in api.get(f"{URL}/units?limit=500").json()["items"]}
    assert {"DEMO-NS-URBAN", "DEMO-CITY-DATA"} <= offered
    for code in ("DEMO-NS-URBAN", "DEMO-CITY-DATA"):
        answer = post(api, f"/{make_ticket().number}/dispatch", {"unit": code})
        assert answer.status_code == 200, answer.json()
        assert answer.json()["handling_unit"]["code"] == code


def test_reassign_refuses_a_unit_outside_the_dispatchers_choices(as_user, accepted, nanshan_dispatcher):
    ticket = accepted()
    answer = post(
        as_user(nanshan_dispatcher), f"/{ticket.number}/reassign", {"unit": "DEMO-GOV-440303", "note": "x"}
    )
    assert error_of(answer) == (400, "tickets.unit_not_allowed", "unit")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ACCEPTED and ticket.handling_unit.code == "DEMO-SUB-OFFICE"


def test_bulk_dispatch_refuses_a_unit_outside_the_dispatchers_choices(
    as_user, make_ticket, nanshan_dispatcher
):
    ticket = make_ticket()
    answer = post(
        as_user(nanshan_dispatcher), "/bulk-dispatch", {"numbers": [ticket.number], "unit": "DEMO-LH-CC"}
    )
    assert answer.status_code == 200
    [result] = answer.json()
    assert result["ok"] is False and result["error"]["code"] == "tickets.unit_not_allowed"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING_DISPATCH


def test_the_service_keeps_the_rule_for_every_caller(
    make_ticket, nanshan_dispatcher, city_dispatcher, citizen
):
    """The web pages call the same service; the system (routing, sweep) and a city dispatcher are not limited
    by a district, and somebody who may not dispatch at all is refused for that, whatever the unit."""
    luohu_gov = OrgUnit.objects.get(code="DEMO-GOV-440303")
    with pytest.raises(ServiceError) as caught:
        services.ticket_dispatch(ticket=make_ticket(), unit=luohu_gov, actor=nanshan_dispatcher)
    assert (caught.value.code, caught.value.field) == ("tickets.unit_not_allowed", "unit")
    with pytest.raises(ServiceError) as caught:
        services.ticket_dispatch(ticket=make_ticket(), unit=luohu_gov, actor=citizen)
    assert caught.value.code == "workflow.permission_denied"
    # the routing rules' suggestion (no unit named) and the system
    assert services.ticket_dispatch(
        ticket=make_ticket(), unit=None, actor=nanshan_dispatcher
    ).handling_unit_id
    assert (
        services.ticket_dispatch(ticket=make_ticket(), unit=luohu_gov, actor=None).handling_unit == luohu_gov
    )
    ticket = services.ticket_dispatch(ticket=make_ticket(), unit=luohu_gov, actor=city_dispatcher)
    assert ticket.status == TicketStatus.DISPATCHED
    # not even a city dispatcher sends tickets to a command centre
    with pytest.raises(ServiceError) as caught:
        services.ticket_dispatch(
            ticket=make_ticket(), unit=OrgUnit.objects.get(code="DEMO-LH-CC"), actor=city_dispatcher
        )
    assert caught.value.code == "tickets.unit_not_allowed"


# --- 2. a time received long ago ------------------------------------------------------------------------


def test_submit_refuses_a_time_received_before_2000(as_user, hotline, nanshan_building):
    api = as_user(hotline)
    for value in ("0001-01-01T00:00:00+14:00", "1999-12-31T23:59:59+08:00"):
        answer = post(
            api, "/", _submit_body(nanshan_building, external_id=f"old-{value[:4]}", received_at=value)
        )
        assert answer.status_code == 400, answer.content
        assert [(f["field"], f["code"]) for f in answer.json()["error"]["fields"]] == [
            ("received_at", "tickets.received_too_old")
        ]
    assert not Ticket.objects.exists()
    answer = post(
        api, "/", _submit_body(nanshan_building, external_id="y2k", received_at="2000-01-02T00:00:00+08:00")
    )
    assert answer.status_code == 201, answer.json()


def test_a_batch_item_received_long_ago_does_not_stop_the_others(as_user, hotline, nanshan_building):
    good = _submit_body(nanshan_building, external_id="good-1")
    old = _submit_body(nanshan_building, external_id="old-1", received_at="0001-01-01T00:00:00+14:00")
    answer = post(as_user(hotline), "/batch", {"tickets": [good, old]})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["created"], body["refused"]) == (1, 1)
    assert [f["code"] for f in body["results"][1]["error"]["fields"]] == ["tickets.received_too_old"]
    assert Ticket.objects.count() == 1


# --- 3. a legal basis longer than its column ------------------------------------------------------------


def test_a_long_legal_basis_is_a_field_error(as_user, accepted, sub_handler):
    ticket = accepted()
    answer = post(
        as_user(sub_handler),
        f"/{ticket.number}/requests",
        {"kind": "return", "reason": "r", "legal_basis": "依据" * 200},
    )
    assert error_of(answer) == (400, "tickets.legal_basis_long", "legal_basis")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ACCEPTED and not TicketRequest.objects.filter(ticket=ticket).exists()
    answer = post(
        as_user(sub_handler),
        f"/{ticket.number}/requests",
        {"kind": "return", "reason": "r", "legal_basis": "依" * 255},
    )
    assert answer.status_code == 201, answer.json()


# --- 4. search texts and dates a database cannot take ---------------------------------------------------


@pytest.mark.parametrize("path", ["/?q=", "/units?q="])
def test_a_very_long_search_text_is_a_field_error(as_user, make_ticket, nanshan_dispatcher, path):
    make_ticket()
    answer = as_user(nanshan_dispatcher).get(f"{URL}{path}" + "x" * 60000)
    assert error_of(answer) == (400, "tickets.q_long", "q")
    assert as_user(nanshan_dispatcher).get(f"{URL}{path}" + "x" * 200).status_code == 200


@pytest.mark.parametrize(
    ("path", "field", "longest"),
    [("/categories/suggest?text=", "text", 4200), ("/history/address?address_text=", "address_text", 255)],
)
def test_intake_look_ups_refuse_texts_longer_than_a_ticket_keeps(
    as_user, nanshan_dispatcher, path, field, longest
):
    api = as_user(nanshan_dispatcher)
    answer = api.get(f"{URL}{path}" + "井" * 60000)
    assert error_of(answer) == (400, f"tickets.{field}_long", field)
    assert f"{longest:,}" in answer.json()["error"]["message"]
    assert api.get(f"{URL}{path}" + "井" * longest).status_code == 200


def test_the_suggestion_panels_read_only_the_first_part_of_a_pasted_text(db):
    """The as-you-type panels cut, not refuse: the keyword match at the start still counts and the
    keyword past the cut does not."""
    far = selectors.category_suggestions(text="x" * 5000 + "井盖丢了", kind="incident")
    near = selectors.category_suggestions(text="井盖丢了" + "x" * 60000, kind="incident")
    assert "GI0201" not in [s.category.code for s in far]
    assert near[0].category.code == "GI0201"


@pytest.mark.parametrize("param", ["received_from", "received_to", "due_before"])
@pytest.mark.parametrize("value", [YEAR_1, YEAR_9999, "0001-01-01T00:00:00"])
def test_list_dates_out_of_range_are_field_errors(as_user, nanshan_dispatcher, param, value):
    answer = as_user(nanshan_dispatcher).get(f"{URL}/?{param}={value}")
    assert error_of(answer) == (400, "tickets.date_out_of_range", param)


def test_list_dates_in_range_still_filter(as_user, make_ticket, nanshan_dispatcher):
    make_ticket()
    api = as_user(nanshan_dispatcher)
    assert api.get(f"{URL}/?received_from=1900-01-01T00:00:00%2B08:00").json()["count"] == 1
    assert api.get(f"{URL}/?received_to=1999-01-01T00:00:00%2B08:00").json()["count"] == 0


# --- 5. the grid and address filters --------------------------------------------------------------------


def test_list_filters_by_grid_and_address(as_user, make_ticket, nanshan_dispatcher, nanshan_building):
    ticket = make_ticket()
    api = as_user(nanshan_dispatcher)
    assert error_of(api.get(f"{URL}/?grid=NO-SUCH-GRID")) == (400, "tickets.grid_unknown", "grid")
    assert error_of(api.get(f"{URL}/?address=NO-SUCH-ADDR")) == (400, "tickets.address_unknown", "address")
    assert api.get(f"{URL}/?grid={nanshan_building.grid.code}").json()["count"] == 1
    assert api.get(f"{URL}/?address={nanshan_building.code}").json()["count"] == 1
    grids = type(nanshan_building.grid).objects.exclude(pk=ticket.grid_id).order_by("code")
    # another Nanshan grid: in scope, no ticket; a Luohu grid: answered like an unknown one
    assert api.get(f"{URL}/?grid={grids.filter(code__startswith='440305').first().code}").json()["count"] == 0
    luohu = grids.filter(code__startswith="440303").first().code
    assert error_of(api.get(f"{URL}/?grid={luohu}")) == (400, "tickets.grid_unknown", "grid")


# --- 6. a citizen rates, staff record "unreachable" -----------------------------------------------------


def test_a_citizen_cannot_close_their_ticket_as_unreachable(
    as_user, citizen, nanshan_dispatcher, sub_handler, nanshan_building
):
    answer = post(
        as_user(citizen),
        "/",
        {
            **_submit_body(nanshan_building, channel="web", external_id="c-1"),
            "reporter_name": "",
            "reporter_phone": "",
        },
    )
    assert answer.status_code == 201, answer.json()
    ticket = Ticket.objects.get(number=answer.json()["ticket"]["number"])
    ticket = services.ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    ticket = services.ticket_accept(ticket=ticket, actor=sub_handler)
    ticket = services.ticket_reply(ticket=ticket, actor=sub_handler, reply="已清运。")
    ticket = services.ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)

    answer = post(as_user(citizen), f"/{ticket.number}/follow-up", {"unreachable": True})
    assert error_of(answer) == (400, "tickets.unreachable_not_allowed", "unreachable")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.FOLLOW_UP and not ticket.unreachable
    # the citizen still rates, and staff still record an unreachable reporter
    rated = post(
        as_user(citizen), f"/{ticket.number}/follow-up", {"resolved": True, "satisfaction": "satisfied"}
    )
    assert rated.status_code == 200, rated.json()
    assert rated.json()["status"] == TicketStatus.CLOSED


def test_staff_still_record_an_unreachable_reporter(as_user, in_follow_up, nanshan_dispatcher):
    ticket = in_follow_up()
    answer = post(as_user(nanshan_dispatcher), f"/{ticket.number}/follow-up", {"unreachable": True})
    assert answer.status_code == 200, answer.json()
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.unreachable


# --- 7. unknown kind, urgency and channel ---------------------------------------------------------------


@pytest.mark.parametrize("param", ["kind", "urgency", "channel"])
def test_unknown_choice_filters_are_field_errors(as_user, make_ticket, nanshan_dispatcher, param):
    make_ticket()
    api = as_user(nanshan_dispatcher)
    assert error_of(api.get(f"{URL}/?{param}=zzz")) == (400, f"tickets.{param}_unknown", param)
    known = {"kind": "complaint", "urgency": "normal", "channel": "hotline"}[param]
    assert api.get(f"{URL}/?{param}={known}").json()["count"] == 1


def test_the_selector_checks_the_same_for_other_callers(nanshan_dispatcher):
    with pytest.raises(ServiceError) as caught:
        list(selectors.ticket_list(user=nanshan_dispatcher, filters={"urgency": "zzz"}))
    assert (caught.value.code, caught.value.field) == ("tickets.urgency_unknown", "urgency")
