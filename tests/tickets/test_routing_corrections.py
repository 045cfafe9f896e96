"""Routes the dispatchers keep correcting (tickets.routing_corrections): which rule, how often,
where the tickets went instead; scoped, refused to roles that do not own routes."""

from __future__ import annotations

import pytest

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.tickets.routing_corrections import route_corrections
from zhiwang.tickets.services import ticket_dispatch

API = "/api/v1/tickets/routing/corrections"


@pytest.fixture
def corrected(make_ticket, nanshan_dispatcher):
    """Five Nanshan tickets the rules send to the subdistrict office: four went to the district's
    urban management bureau instead, one where the rules said."""
    urban = OrgUnit.objects.get(code="DEMO-NS-URBAN")
    office = OrgUnit.objects.get(code="DEMO-SUB-OFFICE")
    for n in range(5):
        ticket = make_ticket()
        assert ticket.suggested_unit == office
        ticket_dispatch(ticket=ticket, unit=urban if n < 4 else office, actor=nanshan_dispatcher)
    return urban, office


@pytest.mark.django_db
def test_a_route_mostly_corrected_is_shown_with_its_rule_and_the_units_chosen(corrected, nanshan_dispatcher):
    urban, office = corrected
    (found,) = route_corrections(user=nanshan_dispatcher)
    assert (found.category.code, found.subdistrict.code) == ("010214", "440305001000")
    assert (found.suggested_unit, found.to_unit) == (office, urban)
    assert (found.tickets, found.moved, found.to_count, found.share_percent) == (5, 4, 4, 80.0)
    assert found.rule is not None and found.rule.unit_id in (office.pk, None)


@pytest.mark.django_db
def test_the_link_lists_the_tickets_that_went_elsewhere(corrected, nanshan_dispatcher, client):
    (found,) = route_corrections(user=nanshan_dispatcher)
    client.force_login(nanshan_dispatcher)
    page = client.get(found.link)
    assert page.status_code == 200 and page.context["page"].paginator.count == found.to_count == 4


@pytest.mark.django_db
def test_bars_of_volume_and_share(corrected, nanshan_dispatcher):
    assert route_corrections(user=nanshan_dispatcher, min_tickets=6) == []
    assert route_corrections(user=nanshan_dispatcher, min_share=0.81) == []
    assert len(route_corrections(user=nanshan_dispatcher, min_share=0.8)) == 1


@pytest.mark.django_db
def test_other_jurisdictions_and_roles_see_nothing(corrected, luohu_dispatcher, sub_handler):
    assert route_corrections(user=luohu_dispatcher) == []
    with pytest.raises(PermissionDeniedError):
        route_corrections(user=sub_handler)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 367}, "days"),
        ({"min_tickets": 0}, "min_tickets"),
        ({"min_share": 1.5}, "min_share"),
    ],
)
def test_bad_parameters_name_the_field(nanshan_dispatcher, params, field):
    with pytest.raises(ServiceError) as refused:
        route_corrections(user=nanshan_dispatcher, **params)
    assert (refused.value.code, refused.value.field) == ("tickets.corrections_invalid", field)


@pytest.mark.django_db
def test_the_api_answers_the_routes_and_refuses_handlers(corrected, as_user, nanshan_dispatcher, sub_handler):
    body = as_user(nanshan_dispatcher).get(f"{API}?days=30").json()
    assert body == [
        {
            "category": {"code": "010214", "name": body[0]["category"]["name"]},
            "subdistrict": {"code": "440305001000", "name": body[0]["subdistrict"]["name"]},
            "suggested_unit": {"code": "DEMO-SUB-OFFICE", "name": body[0]["suggested_unit"]["name"]},
            "tickets": 5,
            "moved": 4,
            "share": 0.8,
            "to_unit": {"code": "DEMO-NS-URBAN", "name": body[0]["to_unit"]["name"]},
            "to_count": 4,
            "rule": body[0]["rule"],
            "link": body[0]["link"],
        }
    ]
    assert isinstance(body[0]["rule"], int)
    refused = as_user(sub_handler).get(API)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.forbidden"
    bad = as_user(nanshan_dispatcher).get(f"{API}?min_share=2")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "min_share"


@pytest.mark.django_db
def test_the_administrator_page_lists_the_route_with_its_rule(corrected, admin_user, client):
    (found,) = route_corrections(user=admin_user)
    client.force_login(admin_user)
    page = client.get("/smart-dispatch/").content.decode()
    section = page[page.index('data-testid="route-corrections"') :]
    assert f"/admin/tickets/routingrule/{found.rule.pk}/change/" in section
    assert "4 (80.0%)" in section and found.to_unit.name in section


@pytest.mark.django_db
def test_the_administrator_page_says_when_no_route_is_corrected(admin_user, client):
    client.force_login(admin_user)
    page = client.get("/smart-dispatch/").content.decode()
    assert 'data-testid="route-corrections"' in page and "/admin/tickets/routingrule/" not in page
