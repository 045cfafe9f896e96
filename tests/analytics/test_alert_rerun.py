"""Re-running the detectors over past days (the demo replays its 60 days; a window overlapping an
earlier run) adds to an alert's tickets and never drops one an earlier run counted: the alert,
its count, its sentence and its link name the same tickets. An alert a person decided (handled,
false alarm) is not raised again by a re-run that brings no ticket it did not already list; a
genuinely new ticket after the cool-down raises a new alert, as the de-duplication rule says."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse

from zhiwang.analytics import selectors, services
from zhiwang.analytics.finding import local_midnight
from zhiwang.analytics.models import Alert, AlertKind, AlertStatus
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db

#: For each kind: the day (after ``DAY0``) of each of the five calls a, b, c, d, e; the two days
#: whose runs see a–d and b–e (overlapping windows: a falls out of the later one); the days the
#: five span (the sentence's days); how many new calls raise the alert again after a decision.
PLANS = {
    # 30-day window: day 29 sees a (day 0) and b–d (day 15), day 35 sees b–d and e (day 35)
    AlertKind.REPEAT_CALLER: {"days": [0, 15, 15, 15, 35], "runs": (29, 35), "span": 36, "new": 1},
    # 3-day window at one building: day 2 sees a (day 0), b, c (day 1) and d (day 2); day 3 sees b–e
    AlertKind.ADDRESS_CLUSTER: {"days": [0, 1, 1, 2, 3], "runs": (2, 3), "span": 4, "new": 4},
}
#: The first day of the calls: weeks before the fixtures' Monday, so every run is of a past day.
DAY0 = date(2026, 10, 5)


def at(frozen_now, day: int):
    """Move the clock to 10:00 on ``DAY0`` + ``day``."""
    return frozen_now(local_midnight(DAY0 + timedelta(days=day)) + timedelta(hours=10))


def calls(make_ticket, frozen_now, kind) -> list[int]:
    """The five calls of ``kind``'s plan, from one phone at one building; their ids a–e."""
    made = []
    for i, day in enumerate(PLANS[kind]["days"]):
        at(frozen_now, day)
        made.append(make_ticket(external_id=f"rerun-{kind}-{i}").pk)
    return made


def run(kind, day: int) -> dict[str, int]:
    return services.alerts_detect(today=DAY0 + timedelta(days=day), kinds=[kind])


@pytest.mark.parametrize("kind", sorted(PLANS))
def test_a_rerun_adds_to_the_alerts_tickets_and_never_drops_one(
    kind, make_ticket, frozen_now, client, nanshan_dispatcher
):
    """Day 35's run of a caller (or day 3's of a building) no longer sees call a, which day 29's
    run counted: the alert still lists a, counts 5, and its sentence says 5 tickets over the days
    of all five. Re-running day 29 (the demo replays its past days) changes nothing."""
    a, b, c, d, e = calls(make_ticket, frozen_now, kind)
    first, second = PLANS[kind]["runs"]
    at(frozen_now, second + 1)
    assert run(kind, first)["created"] == 1
    alert = Alert.objects.get(kind=kind)
    assert alert.ticket_ids == [a, b, c, d]
    for day in (second, first, second, first):
        counts = run(kind, day)
        assert counts["created"] == 0 and counts["updated"] == 1, (day, counts)
        alert.refresh_from_db()
        assert alert.status == AlertStatus.OPEN
        assert alert.ticket_ids == [a, b, c, d, e], day
        # the count and the sentence name the tickets listed, over their days
        assert alert.observed == alert.ticket_count == 5
        params = alert.detail["explain"]
        assert params["observed"] == 5
        assert (params["first"], params["last"]) == (
            (DAY0 + timedelta(days=PLANS[kind]["days"][0])).isoformat(),
            (DAY0 + timedelta(days=PLANS[kind]["days"][-1])).isoformat(),
        )
        assert params.get("ticket_days", params.get("days")) == PLANS[kind]["span"]
        assert "5" in alert.explanation_text
        # the window holds every ticket it lists (never narrowed by the past day's run)
        received = Ticket.objects.filter(pk__in=[a, e]).values_list("received_at", flat=True)
        assert alert.window_start <= min(received) and alert.window_end > max(received)
    assert Alert.objects.count() == 1
    client.force_login(nanshan_dispatcher)
    listed = client.get(selectors.alert_tickets_link(alert))
    assert listed.context["page"].paginator.count == 5
    page = client.get(reverse("analytics:alerts")).content.decode()
    assert f'{selectors.alert_tickets_link(alert).replace("&", "&amp;")}">5</a>' in page


@pytest.mark.parametrize("decision", [AlertStatus.HANDLED, AlertStatus.FALSE])
@pytest.mark.parametrize("kind", sorted(PLANS))
def test_a_rerun_of_past_days_does_not_raise_a_decided_alert_again(
    kind, decision, make_ticket, frozen_now, nanshan_dispatcher
):
    """The analyst decides the alert after days 29 and 35 ran; a week later the past days are run
    again (the same days, twice). They bring no ticket the alert did not list: nothing is raised,
    the decision stands. (Before, day 35's run had dropped call a, so day 29's run found it "new"
    and raised the alert again.) A new call after the cool-down is new evidence: a new alert."""
    a, b, c, d, e = calls(make_ticket, frozen_now, kind)
    first, second = PLANS[kind]["runs"]
    at(frozen_now, second + 1)
    run(kind, first)
    run(kind, second)
    alert = Alert.objects.get(kind=kind)
    services.alert_decide(alert_id=alert.pk, user=nanshan_dispatcher, status=decision, note="已核实")
    at(frozen_now, second + 8)  # past the cool-down: only new evidence raises it again
    for day in (first, second, first, second):
        counts = run(kind, day)
        assert counts["created"] == 0 and counts["suppressed"] == 1, (day, counts)
    assert list(Alert.objects.values_list("pk", "status")) == [(alert.pk, decision)]
    assert alert.ticket_ids == [a, b, c, d, e]

    # genuinely new calls (the caller calls again; four more households at the building): the
    # run of their day raises a new alert
    at(frozen_now, second + 9)
    new = [make_ticket(external_id=f"rerun-{kind}-new-{i}").pk for i in range(PLANS[kind]["new"])]
    assert run(kind, second + 9)["created"] == 1
    again = Alert.objects.get(status=AlertStatus.OPEN)
    assert again.pk != alert.pk and set(new) <= set(again.ticket_ids)
    alert.refresh_from_db()
    assert alert.status == decision and alert.ticket_ids == [a, b, c, d, e]
