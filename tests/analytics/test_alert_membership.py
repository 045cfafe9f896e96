"""An alert knows every ticket it counted (issue 5): its membership is a table (``AlertTicket``),
not a list capped at 200 ids. A group incident of a thousand tickets links to a thousand tickets,
still only those the reader may see; a decision holds for exactly the tickets it was made on.
Migration analytics 0008: tests/analytics/test_migration_alert_tickets.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from zhiwang.analytics import selectors, services
from zhiwang.analytics.finding import Finding, local_midnight
from zhiwang.analytics.models import AddressDay, Alert, AlertKind, AlertTicket
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def clone(ticket: Ticket, n: int, tag: str, **changes) -> list[int]:
    """``n`` copies of ``ticket`` written in bulk (the same place, time and caller unless
    ``changes`` say otherwise), each with its own number; their ids in order."""
    row = Ticket.objects.filter(pk=ticket.pk).values().get()
    row.pop("id")
    row.update(changes)
    copies = [
        Ticket(**{**row, "number": f"T{tag}{i:07d}", "idempotency_key": f"clone:{tag}:{i}"}) for i in range(n)
    ]
    Ticket.objects.bulk_create(copies, batch_size=500)
    return sorted(
        Ticket.objects.filter(idempotency_key__startswith=f"clone:{tag}:").values_list("pk", flat=True)
    )


def listed(client, alert) -> tuple[int, dict]:
    """How many tickets the web list shows behind ``alert``'s link, and the list form's errors."""
    response = client.get(selectors.alert_tickets_link(alert))
    assert response.status_code == 200, response.status_code
    return response.context["page"].paginator.count, response.context["form"].errors


# --- every ticket, however many ---------------------------------------------------------------------


def test_a_group_incident_of_a_thousand_tickets_lists_every_one(
    make_ticket, nanshan_building, frozen_now, client, nanshan_dispatcher
):
    """A water cut in one block: a thousand households call within the hour. The alert counted a
    thousand and its link lists a thousand (it kept 200 before)."""
    first = [make_ticket(external_id=f"g-{i}", reporter_phone=f"1390000{i:04d}") for i in range(4)]
    copies = clone(first[0], 996, "g")
    # the copies were written without a timeline: count them in the building's rollup by hand
    AddressDay.objects.filter(address_id=nanshan_building.pk, day=timezone.localdate()).update(
        received=F("received") + 996
    )
    services.alerts_detect(today=timezone.localdate(), kinds=["address_cluster"])
    alert = Alert.objects.get(kind=AlertKind.ADDRESS_CLUSTER)
    everyone = sorted([t.pk for t in first] + copies)
    assert alert.observed == 1000 and alert.ticket_ids == everyone
    assert AlertTicket.objects.filter(alert=alert).count() == 1000
    client.force_login(nanshan_dispatcher)
    count, errors = listed(client, alert)
    assert count == 1000 and not errors
    api = client.get("/api/v1/tickets/", {"alert": alert.pk, "limit": 1}).json()
    assert api["count"] == 1000
    [row] = client.get("/api/v1/analytics/alerts", {"kind": "address_cluster"}).json()["items"]
    assert row["ticket_count"] == 1000
    page = client.get(reverse("analytics:alerts")).content.decode()
    assert f'{selectors.alert_tickets_link(alert).replace("&", "&amp;")}">1000</a>' in page


def test_the_link_lists_only_what_the_reader_may_see(
    make_ticket, luohu_building, frozen_now, client, nanshan_dispatcher, luohu_dispatcher, city_leader
):
    """An alert about Nanshan whose tickets include Luohu's (a caller's tickets moved since): the
    Nanshan dispatcher sees the alert and its 150 Nanshan tickets, none of the 100 in Luohu; the
    Luohu dispatcher may not open the alert and sees nothing; the city sees all 250."""
    nanshan = make_ticket(external_id="s-n")
    luohu = make_ticket(external_id="s-l", address_code=luohu_building.code)
    assert luohu.district_id != nanshan.district_id
    in_nanshan = [nanshan.pk, *clone(nanshan, 149, "sn")]
    in_luohu = [luohu.pk, *clone(luohu, 99, "sl")]
    now = timezone.now()
    alert, created = services.alert_raise(
        finding=Finding(
            kind=AlertKind.REPEAT_CALLER,
            key="caller:scoped",
            explanation="scoped",
            window_start=now - timedelta(days=30),
            window_end=now,
            observed=250,
            division_id=nanshan.district_id,
            ticket_ids=sorted(in_nanshan + in_luohu),
        )
    )
    assert created and alert.ticket_count == 250
    client.force_login(nanshan_dispatcher)
    response = client.get(reverse("web:ticket_list"), {"alert": alert.pk})
    assert not response.context["form"].errors
    assert response.context["page"].paginator.count == 150
    shown = client.get("/api/v1/tickets/", {"alert": alert.pk, "limit": 200}).json()
    assert shown["count"] == 150
    assert {t["number"] for t in shown["items"]} <= set(
        Ticket.objects.filter(pk__in=in_nanshan).values_list("number", flat=True)
    )
    client.force_login(luohu_dispatcher)
    response = client.get(reverse("web:ticket_list"), {"alert": alert.pk})
    assert "alert" in response.context["form"].errors and response.context["page"].paginator.count == 0
    assert client.get("/api/v1/tickets/", {"alert": alert.pk}).status_code == 400
    client.force_login(city_leader)
    assert client.get("/api/v1/tickets/", {"alert": alert.pk, "limit": 1}).json()["count"] == 250


def test_an_updated_alert_writes_only_the_tickets_it_gains(make_ticket, frozen_now):
    """The detector runs twice an hour over the whole city: an alert found again with the same
    tickets writes no membership; one whose finding changed gains exactly the new tickets and
    keeps those an earlier run counted (membership only grows: tests/analytics/test_alert_rerun.py)."""
    made = [make_ticket(external_id=f"u-{i}") for i in range(4)]
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert = Alert.objects.get(kind=AlertKind.REPEAT_CALLER)
    rows = dict(AlertTicket.objects.filter(alert=alert).values_list("ticket_id", "pk"))
    assert sorted(rows) == sorted(t.pk for t in made)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    assert dict(AlertTicket.objects.filter(alert=alert).values_list("ticket_id", "pk")) == rows
    Ticket.objects.filter(pk=made[0].pk).update(reporter_phone="13900000000")  # no longer the caller's
    late = make_ticket(external_id="u-late")
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    after = dict(AlertTicket.objects.filter(alert=alert).values_list("ticket_id", "pk"))
    assert sorted(after) == sorted([t.pk for t in made] + [late.pk])
    assert all(after[pk] == rows[pk] for pk in rows)  # kept rows stay as they were
    alert.refresh_from_db()
    assert alert.observed == 5


# --- a decision holds for exactly the tickets it was made on -----------------------------------------


def test_a_decided_alert_comes_back_only_with_a_ticket_it_did_not_count(
    make_ticket, frozen_now, nanshan_dispatcher
):
    """A caller behind 250 tickets, marked a false alarm. The same tickets found again raise
    nothing; one of them leaving (its phone corrected) and one new call keep the count at 250
    (the old rule, comparing the first 200 ids and the count, saw nothing new) and raise a new
    alert, which counts the new ticket."""
    first = make_ticket(external_id="d-0")
    copies = clone(first, 249, "d")
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert = Alert.objects.get(kind=AlertKind.REPEAT_CALLER)
    assert alert.ticket_count == 250
    services.alert_decide(alert_id=alert.pk, user=nanshan_dispatcher, status="false")
    frozen_now(frozen_now.initial + timedelta(days=4))  # past the cool-down, within the 30 days
    counts = services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    assert counts["suppressed"] == 1 and not Alert.objects.filter(status="open").exists()
    Ticket.objects.filter(pk=copies[-1]).update(reporter_phone="13900000000")
    new = make_ticket(external_id="d-new")
    counts = services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    assert counts["created"] == 1
    again = Alert.objects.get(status="open")
    assert again.observed == 250 and again.ticket_count == 250
    assert set(again.ticket_ids) - set(alert.ticket_ids) == {new.pk}
    assert alert.ticket_count == 250  # the decided alert keeps the tickets it was decided on


def test_a_resolved_alert_needs_every_one_of_its_tickets_closed(make_ticket, frozen_now):
    """An alert resolves itself once none of its tickets is open: all of them, the 201st too."""
    first = make_ticket(external_id="r-0")
    copies = clone(first, 209, "r")
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert = Alert.objects.get(kind=AlertKind.REPEAT_CALLER)
    Ticket.objects.filter(pk__in=[first.pk, *copies[:-1]]).update(status="closed")
    later = timezone.localdate() + timedelta(days=31)
    Alert.objects.filter(pk=alert.pk).update(window_end=local_midnight(later))
    assert services.alerts_resolve(kind=AlertKind.REPEAT_CALLER, today=later) == 0  # the last is open
    Ticket.objects.filter(pk=copies[-1]).update(status="closed")
    assert services.alerts_resolve(kind=AlertKind.REPEAT_CALLER, today=later) == 1
