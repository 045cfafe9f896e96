"""An alert's ticket count as its reader may know it (issue 5).

An alert can count tickets outside the jurisdiction of somebody who may open it (a caller whose
tickets moved to another district since, a cluster reaching past it). Its count on the alerts
page and in the API is the number of its tickets the reader may see — what its link lists —
counted in the database in the page's one query. Such a reader is told that the alert counts
others too, never how many: not by the count, not by the explanation's figure ("250 tickets in
30 days"), not by ``observed``. A reader who sees every ticket (the city's leader) reads the
figures the alert was raised on, its statistical evidence, unchanged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.analytics.test_alert_membership import clone
from zhiwang.analytics import services
from zhiwang.analytics.finding import Finding
from zhiwang.analytics.models import AlertKind

pytestmark = pytest.mark.django_db

API = "/api/v1/analytics/alerts"


def _raise(*args, **kwargs):
    alert, created = raise_finding(*args, **kwargs)
    assert created
    return alert


def raise_finding(kind, key, ticket_ids, division_id, explain=None, **extra):
    """Raise (or widen) an alert counting ``ticket_ids``: ``(alert, created)``, as the service answers."""
    now = timezone.now()
    return services.alert_raise(
        finding=Finding(
            kind=kind,
            key=key,
            explanation="stored sentence",
            window_start=now - timedelta(days=30),
            window_end=now,
            observed=len(ticket_ids),
            division_id=division_id,
            ticket_ids=sorted(ticket_ids),
            detail={"explain": explain} if explain is not None else {},
            **extra,
        )
    )


@pytest.fixture
def spanning(make_ticket, luohu_building, frozen_now):
    """A repeated caller about Nanshan: 150 tickets in Nanshan, 100 now in Luohu (250 in all)."""
    nanshan = make_ticket(external_id="sp-n")
    luohu = make_ticket(external_id="sp-l", address_code=luohu_building.code)
    in_nanshan = [nanshan.pk, *clone(nanshan, 149, "spn")]
    in_luohu = [luohu.pk, *clone(luohu, 99, "spl")]
    return _raise(
        AlertKind.REPEAT_CALLER,
        "caller:spanning",
        in_nanshan + in_luohu,
        nanshan.district_id,
        explain={"phone": "138****8000", "observed": 250, "days": 30},
    )


def _row_html(html, alert):
    start = html.index(f'data-testid="alert-{alert.pk}"')
    return html[start : html.index("</tr>", start)]


def test_a_district_viewer_is_told_their_count_and_not_the_outside_one(spanning, client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    row = _row_html(client.get(reverse("analytics:alerts")).content.decode(), spanning)
    assert 'data-testid="alert-count"' in row and ">150</a>" in row
    assert 'data-testid="alert-count-scope"' in row and "in your jurisdiction" in row
    assert "Caller 138****8000: 150 tickets in 30 days" in row
    assert "the alert also counts tickets outside it" in row
    assert "250" not in row and "100" not in row  # neither the whole count nor the outside one
    [item] = client.get(API, {"kind": "repeat_caller"}).json()["items"]
    assert (item["ticket_count"], item["observed"], item["tickets_outside"]) == (150, None, True)
    assert "150 tickets" in item["explanation"] and "250" not in item["explanation"]
    assert 250 not in item.values() and 100 not in item.values()
    # the link lists the same 150
    assert client.get("/api/v1/tickets/", {"alert": spanning.pk, "limit": 1}).json()["count"] == 150
    # the answer to a decision is read as the list reads it
    decided = client.post(
        f"{API}/{spanning.pk}/decide", {"status": "handled"}, content_type="application/json"
    )
    assert decided.status_code == 200, decided.content
    body = decided.json()
    assert (body["ticket_count"], body["observed"], body["tickets_outside"]) == (150, None, True)
    assert "250" not in body["explanation"]


def test_the_city_leader_reads_the_alerts_whole_evidence(spanning, client, city_leader):
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    row = _row_html(client.get(reverse("analytics:alerts")).content.decode(), spanning)
    assert ">250</a>" in row and "Caller 138****8000: 250 tickets in 30 days" in row
    assert "alert-count-scope" not in row and "outside" not in row
    [item] = client.get(API, {"kind": "repeat_caller"}).json()["items"]
    assert (item["ticket_count"], item["observed"], item["tickets_outside"]) == (250, 250, False)
    assert item["explanation"] == "Caller 138****8000: 250 tickets in 30 days"


def test_a_viewer_who_sees_every_ticket_reads_the_figures_unchanged(
    make_ticket, frozen_now, client, nanshan_dispatcher
):
    """All of the alert's tickets in Nanshan: the Nanshan dispatcher reads what the city reads
    (the explanation's figure is the detector's, here not even the number of members)."""
    made = [make_ticket(external_id=f"in-{i}") for i in range(4)]
    alert = _raise(
        AlertKind.TOPIC_CLUSTER,
        "topic:inside",
        [t.pk for t in made],
        made[0].district_id,
        explain={"observed": 14, "days": 3, "words": ["噪音", "工地"]},
    )
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    [item] = client.get(API, {"kind": "topic_cluster"}).json()["items"]
    assert (item["ticket_count"], item["observed"], item["tickets_outside"]) == (4, 4, False)
    assert item["explanation"] == "14 tickets in 3 days about “噪音、工地”"
    row = _row_html(client.get(reverse("analytics:alerts")).content.decode(), alert)
    assert "14 tickets in 3 days" in row and "alert-count-scope" not in row


def test_kinds_without_a_ticket_count_say_only_the_viewers_count(
    make_ticket, luohu_building, frozen_now, client, nanshan_dispatcher
):
    """A reopened ticket now in Luohu (its number and rework count are no count of tickets) and an
    alert raised before the explanation's parameters were kept: the reader's count alone."""
    moved = make_ticket(external_id="mv", address_code=luohu_building.code)
    nanshan = make_ticket(external_id="ns-old")
    nanshan_district = nanshan.district_id
    reopen = _raise(
        AlertKind.REPEAT_REOPEN,
        "reopen:moved",
        [moved.pk],
        nanshan_district,
        explain={"number": moved.number, "category": "噪音", "n": 3},
    )
    old = _raise(AlertKind.ADDRESS_CLUSTER, "address:old", [nanshan.pk, moved.pk], nanshan_district)
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    items = {i["id"]: i for i in client.get(API).json()["items"]}
    assert items[reopen.pk]["explanation"] == (
        "0 tickets in your jurisdiction; the alert also counts tickets outside it."
    )
    assert moved.number not in items[reopen.pk]["explanation"]
    assert items[old.pk]["explanation"] == (
        "1 tickets in your jurisdiction; the alert also counts tickets outside it."
    )
    assert "stored sentence" not in items[old.pk]["explanation"]
    assert items[old.pk]["observed"] is None and items[old.pk]["ticket_count"] == 1


def test_a_page_of_alerts_counts_in_one_query(
    make_ticket, luohu_building, frozen_now, client, nanshan_dispatcher
):
    """The count in the jurisdiction is a subquery of the page's query: a page of 12 alerts costs
    the same queries as a page of 1."""
    nanshan = [make_ticket(external_id=f"q-n{i}") for i in range(3)]
    luohu = make_ticket(external_id="q-l", address_code=luohu_building.code)

    def alerts(n, start):
        for i in range(start, start + n):
            _raise(
                AlertKind.REPEAT_CALLER,
                f"caller:q{i}",
                [*(t.pk for t in nanshan[: 1 + i % 3]), luohu.pk],
                nanshan[0].district_id,
                explain={"phone": "138****8000", "observed": 9, "days": 30},
            )

    client.force_login(nanshan_dispatcher)

    def queries(url, query=None):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, query or {}).status_code == 200
        return len(captured)

    alerts(1, 0)
    one_page, one_api = queries(reverse("analytics:alerts")), queries(API)
    alerts(11, 1)
    assert queries(reverse("analytics:alerts")) == one_page
    assert queries(API) == one_api
    counts = sorted(i["ticket_count"] for i in client.get(API).json()["items"])
    assert counts == sorted(1 + i % 3 for i in range(12))


def test_an_alert_that_kept_only_part_of_its_tickets_does_not_reveal_its_whole_count(
    make_ticket, frozen_now, client, nanshan_dispatcher
):
    """Alerts raised before migration 0008 kept at most 200 of their tickets: a district viewer who
    sees every kept one has not seen every counted one, so the whole figure stays hidden."""
    from zhiwang.analytics.models import Alert

    kept = [make_ticket(external_id=f"legacy-{i}") for i in range(3)]
    alert = _raise(
        AlertKind.ADDRESS_CLUSTER,
        "address:legacy",
        [t.pk for t in kept],
        kept[0].district_id,
        explain={"address": "某大厦", "observed": 1000, "days": 7, "expected": 2},
    )
    Alert.objects.filter(pk=alert.pk).update(observed=1000)  # as the detector counted it
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    [item] = client.get(API, {"kind": "address_cluster"}).json()["items"]
    assert (item["ticket_count"], item["observed"], item["tickets_outside"]) == (3, None, True)
    assert "1000" not in item["explanation"] and "3 tickets in 7 days" in item["explanation"]
