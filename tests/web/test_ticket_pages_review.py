# ruff: noqa: F811 (pytest fixtures imported from tests.web.test_ticket_pages and tests.tickets.conftest)
"""Regressions from the review of the ticket pages: odd query values, stale pages, idle buttons,
and an intake call id reused across jurisdictions.

Each test fails on the code before its fix: a 500 on a value nobody checked, a 403 where the
page was only stale, a button that always fails, a number shown outside the user's scope.
"""

from __future__ import annotations

import pytest

from tests.tickets.conftest import city_dispatcher, luohu_building  # noqa: F401 (fixtures)

# the pages' own fixtures (media in a temporary folder, personas, a Nanshan building, tickets)
from tests.web.test_ticket_pages import (  # noqa: F401 (fixtures)
    _media_and_cache,
    building,
    hotline,
    html_of,
    intake_data,
    make_ticket,
    persona,
    sub_handler,
)
from zhiwang.tickets import services
from zhiwang.tickets.models import Ticket, TicketStatus

pytestmark = pytest.mark.django_db

SANITATION = "010214"  # 环境卫生: via the dispatcher to the subdistrict office
INQUIRY_CATEGORY = "010201"


def flashed(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- bulk dispatch: the version of each row ------------------------------------------------------


@pytest.mark.parametrize("version", ["²", "", "abc", "1e3", "-1", " 1", "1234567890"])
def test_bulk_dispatch_refuses_a_missing_or_odd_version(client, nanshan_dispatcher, make_ticket, version):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    client.raise_request_exception = False
    item = ticket.number if version == "" else f"{ticket.number}:{version}"
    response = client.post("/dispatch/bulk/", {"only": item, "unit": "suggested"}, follow=True)
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.PENDING_DISPATCH  # never dispatched without the check
    assert any(ticket.number in m for m in flashed(response))  # the failure names the ticket


def test_bulk_dispatch_reports_every_row_when_one_version_is_odd(client, nanshan_dispatcher, make_ticket):
    good, odd = make_ticket(), make_ticket()
    client.force_login(nanshan_dispatcher)
    client.raise_request_exception = False
    items = [f"{good.number}:{good.version}", f"{odd.number}:²"]
    response = client.post("/dispatch/bulk/", {"tickets": items, "unit": "suggested"}, follow=True)
    assert response.status_code == 200
    good.refresh_from_db()
    odd.refresh_from_db()
    assert good.status == TicketStatus.DISPATCHED
    assert odd.status == TicketStatus.PENDING_DISPATCH
    messages = flashed(response)
    assert any(good.number in m for m in messages) and any(odd.number in m for m in messages)


def test_a_rows_button_dispatches_to_its_suggested_unit(client, nanshan_dispatcher, make_ticket):
    """The row's 派遣 button submits the bulk form: a unit picked in the bulk bar for the ticked rows
    must not redirect the row's ticket away from the unit suggested beside the button."""
    from zhiwang.web.tickets import actions

    ticket = make_ticket()
    assert ticket.suggested_unit is not None
    other = next(u for u in actions.unit_choices(user=nanshan_dispatcher) if u.pk != ticket.suggested_unit_id)
    client.force_login(nanshan_dispatcher)
    item = f"{ticket.number}:{ticket.version}"
    client.post("/dispatch/bulk/", {"only": item, "unit": str(other.pk)}, follow=True)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.DISPATCHED
    assert ticket.handling_unit_id == ticket.suggested_unit_id != other.pk


# --- the ticket list: dates outside any calendar a database keeps ---------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "received_from=0001-01-01",
        "received_to=0001-01-01",
        "received_to=9999-12-31",
        "received_from=1899-12-31",
    ],
)
def test_ticket_list_refuses_a_year_out_of_range(client, nanshan_dispatcher, make_ticket, query):
    make_ticket()
    client.force_login(nanshan_dispatcher)
    client.raise_request_exception = False
    response = client.get(f"/tickets/?{query}")
    assert response.status_code == 200
    name = query.split("=")[0]
    assert name in response.context["form"].errors


def test_ticket_list_keeps_a_sane_date_range(client, nanshan_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    response = client.get("/tickets/?received_from=1900-01-01&received_to=9998-12-31")
    assert response.status_code == 200 and not response.context["form"].errors
    assert ticket.number in html_of(response)


# --- the intake page's banner: only a ticket number is linked ------------------------------------


@pytest.mark.parametrize("outcome", ["recorded", "answered", "again"])
@pytest.mark.parametrize("value", ["a/b", "ZW/1", "<b>x</b>", " "])
def test_intake_banner_ignores_what_is_not_a_ticket_number(client, hotline, outcome, value):
    client.force_login(hotline)
    client.raise_request_exception = False
    response = client.get("/intake/", {outcome: value})
    assert response.status_code == 200
    assert 'data-testid="intake-done"' not in html_of(response)


def test_intake_banner_links_a_ticket_number(client, hotline):
    client.force_login(hotline)
    response = client.get("/intake/?recorded=ZW20261123000001")
    html = html_of(response)
    assert 'data-testid="intake-done"' in html and 'href="/tickets/ZW20261123000001/"' in html


# --- a stale page whose ticket moved to another state: the conflict, not "you may not" ------------


def test_stale_dispatch_after_another_dispatcher_dispatched_is_a_conflict(
    client, nanshan_dispatcher, city_dispatcher, make_ticket
):
    ticket = make_ticket()
    seen = ticket.version
    services.ticket_dispatch(ticket=ticket, unit=ticket.suggested_unit, actor=city_dispatcher)
    client.force_login(nanshan_dispatcher)
    data = {"dispatch-unit": ticket.suggested_unit_id, "dispatch-expected_version": seen}
    response = client.post(f"/tickets/{ticket.number}/act/dispatch/", data)
    assert response.status_code == 409
    assert 'data-testid="conflict"' in html_of(response)


def test_stale_decision_after_another_dispatcher_decided_is_a_conflict(
    client, nanshan_dispatcher, city_dispatcher, sub_handler, make_ticket
):
    ticket = make_ticket()
    ticket = services.ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    services.ticket_accept(ticket=ticket, actor=sub_handler)
    request = services.ticket_request(
        ticket=ticket, kind="extension", actor=sub_handler, reason="需要协调多个部门", extra_days=3
    )
    ticket.refresh_from_db()
    seen = ticket.version
    services.ticket_decide(request=request, approve=True, actor=city_dispatcher)
    client.force_login(nanshan_dispatcher)
    data = {"decide-decision": "yes", "decide-expected_version": seen, "next": "/dispatch/?tab=requests"}
    response = client.post(f"/tickets/{ticket.number}/act/decide/", data)
    assert response.status_code == 409
    assert 'data-testid="conflict"' in html_of(response)


def test_an_action_not_allowed_on_a_current_page_is_still_refused(client, nanshan_dispatcher, make_ticket):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    for version in (ticket.version, "", "x"):
        response = client.post(f"/tickets/{ticket.number}/act/accept/", {"accept-expected_version": version})
        assert response.status_code == 403


# --- "answer directly" only where the service accepts it ------------------------------------------


def test_answer_directly_is_offered_only_for_inquiries(client, nanshan_dispatcher, hotline, make_ticket):
    complaint = make_ticket()
    inquiry = make_ticket(kind="inquiry", category=INQUIRY_CATEGORY, description="请问垃圾几点清运")
    for user in (nanshan_dispatcher, hotline):
        client.force_login(user)
        assert 'data-testid="form-answer_directly"' not in html_of(
            client.get(f"/tickets/{complaint.number}/")
        )
        assert 'data-testid="form-answer_directly"' in html_of(client.get(f"/tickets/{inquiry.number}/"))


# --- an intake call id already used for a ticket out of the user's sight -------------------------


@pytest.mark.parametrize("intent", ["dispatch", "answer"])
def test_a_call_id_used_out_of_sight_is_a_field_error_and_reveals_nothing(
    client, nanshan_dispatcher, make_ticket, luohu_building, building, intent
):
    other = make_ticket(external_id="CALL-0001", address_code=luohu_building.code, description="罗湖某处垃圾")
    client.force_login(nanshan_dispatcher)
    assert client.get(f"/tickets/{other.number}/").status_code == 404
    before = Ticket.objects.count()
    data = intake_data(call_id="CALL-0001", address_text=building.full_name, intent=intent, reply="已告知")
    response = client.post("/intake/", data)
    assert response.status_code == 200
    assert "call_id" in response.context["form"].errors
    assert other.number not in html_of(response)
    assert Ticket.objects.count() == before
    other.refresh_from_db()
    assert other.status == TicketStatus.PENDING_DISPATCH


def test_a_call_id_retried_in_sight_is_recorded_before(client, hotline, make_ticket, building):
    first = make_ticket(external_id="CALL-0002")
    client.force_login(hotline)
    data = intake_data(call_id="CALL-0002", address_text=building.full_name, duplicates_seen=first.number)
    response = client.post("/intake/", data)
    assert response.status_code == 302 and response.url == f"/intake/?again={first.number}"
