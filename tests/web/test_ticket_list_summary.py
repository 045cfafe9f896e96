# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.conftest)
"""The ticket list says how many tickets it found and, opened from a figure's or an alert's link,
what it is filtered by in words (choice labels, place names), with a link back to the whole list.

Was: no total, and the filters a link set were only readable by opening "More filters"."""

from __future__ import annotations

import pytest

from tests.tickets.conftest import (  # noqa: F401  (fixtures reused as they are)
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    return client


def _summary(response) -> str:
    html = response.content.decode()
    start = html.index('class="list-summary"')
    return html[start : html.index("</p>", start)]


def test_the_list_counts_its_tickets(make_ticket, viewer):
    make_ticket(), make_ticket(), make_ticket()
    response = viewer.get("/tickets/")
    summary = _summary(response)
    assert 'data-testid="ticket-count"' in summary and "3 tickets" in summary
    # nothing filtered: no "filtered by" line, no link to clear
    assert 'data-testid="active-filters"' not in summary


def test_a_link_s_filters_read_in_words(make_ticket, viewer, nanshan_community):
    from zhiwang.geo.models import Division

    make_ticket()
    district = Division.objects.get(code="440305000000")
    response = viewer.get(
        "/tickets/",
        {
            "division": district.code,
            "unlocated": "true",
            "event": "received",
            "event_from": "2026-11-01",
            "event_to": "2026-11-08",
            "overdue": "false",
        },
    )
    assert not response.context["form"].errors
    assert response.context["active_filters"] == [
        ("Overdue", "Not overdue"),  # the choice's label, though the link said "false"
        ("Division code", f"{district.name} ({district.code})"),  # the place's name (one query)
        ("Only those located in none of its parts", ""),  # a ticked box: its label says it all
        ("What happened", "Received"),
        ("Happened from", "2026-11-01"),
        ("Happened before", "2026-11-08"),
    ]
    summary = _summary(response)
    assert 'data-testid="active-filters"' in summary and district.name in summary
    assert 'href="/tickets/" data-testid="clear-filters"' in summary


def test_a_place_outside_the_viewer_s_scope_is_answered_like_an_unknown_one(make_ticket, viewer):
    response = viewer.get("/tickets/", {"division": "440303000000"})
    assert response.context["active_filters"] == []  # not described: the list did not apply it
    assert "440303000000" not in _summary(response)


def test_a_broken_filter_is_not_described(make_ticket, viewer):
    """The error shows at its field; the line does not claim a filter the list did not apply."""
    response = viewer.get("/tickets/", {"division": "999999999999", "kind": "complaint"})
    assert response.context["active_filters"] == []
    assert 'data-testid="active-filters"' not in response.content.decode()


def test_an_alert_s_tickets_say_so(make_ticket, viewer, nanshan_community):
    from datetime import timedelta

    from django.utils import timezone

    from zhiwang.analytics.alerts import Finding
    from zhiwang.analytics.services import alert_raise

    now = timezone.now()
    alert, _created = alert_raise(
        finding=Finding(
            kind="address_cluster",
            key="address:test",
            explanation="3 in 3 days",
            window_start=now - timedelta(days=3),
            window_end=now + timedelta(hours=1),
            observed=3,
            division_id=nanshan_community.pk,
        )
    )
    response = viewer.get("/tickets/", {"alert": alert.pk})
    assert response.context["active_filters"] == [("Alert number", str(alert.pk))]


def test_labels_end_with_the_readers_colon(client, nanshan_dispatcher):
    """Django's Chinese catalog keeps the ASCII colon; ours ends a Chinese label with "："."""
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/tickets/").content.decode()
    assert "：</label>" in html and ":</label>" not in html
    client.cookies["django_language"] = "en"
    assert ":</label>" in client.get("/tickets/").content.decode()


def test_the_dashboard_s_now_links_read_now_not_tomorrow_s_date(make_ticket, viewer):
    """The dashboard's "overdue now" / "open now" tiles pass tomorrow (a day not come yet reads as
    now in the selector); the summary said "Overdue at 00:00 of the day: <tomorrow>". A past day
    is still a date."""
    from datetime import timedelta

    from django.utils import timezone

    make_ticket()
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = viewer.get("/tickets/", {"overdue_at": tomorrow})
    assert response.context["active_filters"] == [("Overdue now", "")]
    assert tomorrow not in _summary(response)
    response = viewer.get("/tickets/", {"open_at": tomorrow})
    assert response.context["active_filters"] == [("Open now", "")]
    past = (timezone.localdate() - timedelta(days=3)).isoformat()
    response = viewer.get("/tickets/", {"overdue_at": past})
    [(label, value)] = response.context["active_filters"]
    assert value == past and label != "Overdue now"
