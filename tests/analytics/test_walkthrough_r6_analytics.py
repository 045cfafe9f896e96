"""Walkthrough round 6 (demo city, zh-hans):

1. a topic alert was "resolved by itself, all its tickets closed" while its six tickets were merged
   into a master ticket still being handled: a merged ticket now counts by its master;
2. every stuck report said "no progress for 15 minutes" (the threshold), however long it had
   stalled: it says the real stall, in hours once long;
3. ASCII brackets and a space between two sentences on Chinese pages: the related alert's status
   and the disputes note are one translatable text each;
4. a Nanshan dispatcher read "no index has been computed yet" of a month computed for the city:
   the index page's empty ranking is decided over the city's rows, worded for the viewer;
5. on a phone the reports list's status (downloads, the stuck hint, the button) sat off-screen:
   the list is a "stack" table, a card per report.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import trans_real

from tests.analytics.test_disputes_as_of_labels import OCTOBER, october  # noqa: F401
from tests.analytics.test_report_stuck import _running, _status
from tests.disputes.conftest import agreed_case, assigned_case, make_case, mediating_case, world  # noqa: F401
from zhiwang.analytics import services
from zhiwang.analytics.finding import local_midnight
from zhiwang.analytics.models import Alert, AlertKind, AlertStatus, AlertTicket, GovernanceIndex
from zhiwang.geo.models import Division
from zhiwang.tickets.models import Ticket

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def zh_catalog(entries: dict):
    """The zh-hans catalog with ``entries`` (msgid, or "context\\x04msgid": translation) added for
    the block: the lead supplies the .po; the test checks how the page puts the text together."""
    catalog = trans_real.translation("zh-hans")._catalog._catalogs[0]
    saved = {key: catalog[key] for key in entries if key in catalog}
    catalog.update(entries)
    try:
        yield
    finally:
        for key in entries:
            catalog.pop(key, None)
        catalog.update(saved)


# --- 1. a merged ticket counts by its master ---------------------------------------------------------


def _caller_alert(make_ticket) -> Alert:
    for i in range(4):
        make_ticket(external_id=f"mg-{i}")
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    return Alert.objects.get(kind=AlertKind.REPEAT_CALLER, status=AlertStatus.OPEN)


def _merge(alert: Alert, master: Ticket) -> None:
    Ticket.objects.filter(pk__in=alert.ticket_ids).update(status="merged", merged_into=master)


def test_an_alert_whose_tickets_were_merged_into_an_open_master_stays_open(make_ticket, frozen_now):
    """All the alert's tickets merged into a master still being handled: the matter is not over,
    the alert stays for a person; once the master is closed it resolves, saying a merged ticket
    counted by its master."""
    alert = _caller_alert(make_ticket)
    master = make_ticket(external_id="mg-master", reporter_phone="13700000000")
    _merge(alert, master)
    assert Ticket.objects.get(pk=master.pk).status in ("pending_dispatch", "dispatched")
    frozen_now(frozen_now.initial + timedelta(days=31))  # the caller's window is over
    counts = services.alerts_detect(today=timezone.localdate(), kinds=["repeat_caller"])
    alert.refresh_from_db()
    assert counts["resolved"] == 0 and alert.status == AlertStatus.OPEN
    Ticket.objects.filter(pk=master.pk).update(status="accepted")  # 办理中, as in the demo
    assert services.alerts_resolve(kind=AlertKind.REPEAT_CALLER, today=timezone.localdate()) == 0
    Ticket.objects.filter(pk=master.pk).update(status="closed")
    assert services.alerts_resolve(kind=AlertKind.REPEAT_CALLER, today=timezone.localdate()) == 1
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.detail["resolved"] == "tickets_closed"
    with translation.override("en"):
        assert "master ticket" in alert.resolution_text and "still being handled" in alert.resolution_text
    with translation.override("zh-hans"):
        assert "主工单" in alert.resolution_text


def test_a_merged_ticket_among_closed_ones_keeps_the_alert_open_while_its_master_is(make_ticket, frozen_now):
    """One ticket merged into an open master, the others closed: open. The master not accepted
    (rejected) or merged itself elsewhere is not open: resolved."""
    alert = _caller_alert(make_ticket)
    master = make_ticket(external_id="mg-master-2", reporter_phone="13700000001")
    first, *rest = alert.ticket_ids
    Ticket.objects.filter(pk__in=rest).update(status="closed")
    Ticket.objects.filter(pk=first).update(status="merged", merged_into=master)
    later = timezone.localdate() + timedelta(days=31)
    Alert.objects.filter(pk=alert.pk).update(window_end=local_midnight(later))
    assert services.alerts_resolve(kind=AlertKind.REPEAT_CALLER, today=later) == 0
    Ticket.objects.filter(pk=master.pk).update(status="rejected")
    assert services.alerts_resolve(kind=AlertKind.REPEAT_CALLER, today=later) == 1


def test_a_reopened_ticket_merged_into_an_open_master_keeps_its_alert(make_ticket, frozen_now):
    """The repeatedly reopened ticket's alert: merged into a master still open, it stays."""
    ticket = make_ticket(external_id="rr-1")
    Ticket.objects.filter(pk=ticket.pk).update(rework_count=2)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    alert = Alert.objects.get(kind=AlertKind.REPEAT_REOPEN)
    master = make_ticket(external_id="rr-master", reporter_phone="13700000002")
    Ticket.objects.filter(pk=ticket.pk).update(status="merged", merged_into=master)
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    Ticket.objects.filter(pk=master.pk).update(status="closed")
    services.alerts_detect(today=timezone.localdate(), kinds=["repeat_reopen"])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.detail["resolved"] == "ticket_closed"


# --- 2. the real stall ------------------------------------------------------------------------------


def test_a_stuck_report_says_how_long_it_has_really_stalled(client, city_leader, admin_user):
    sixteen = _running(city_leader, minutes=16, key="sixteen")
    page = _status(client, city_leader, sixteen)
    assert "no progress for 16 minutes." in page and "15 minutes" not in page
    hours = _running(city_leader, minutes=3 * 60 + 20, key="hours")
    for user in (city_leader, admin_user):
        page = _status(client, user, hours)
        assert "no progress for 3 hours" in page and "minutes" not in page.split("report-stuck")[1]
    ninety = _running(city_leader, minutes=90, key="ninety")
    assert "no progress for 90 minutes" in _status(client, city_leader, ninety)
    # the list says the same as the polled cell
    client.force_login(city_leader)
    listing = unescape(client.get(reverse("analytics:reports")).content.decode())
    assert "no progress for 3 hours" in listing and "no progress for 16 minutes" in listing


def test_a_stuck_report_in_chinese_says_the_hours(client, city_leader):
    hours = _running(city_leader, minutes=3 * 60 + 5, key="zh-hours")
    entries = {
        (
            "This report appears stuck: it has shown no progress for %(duration)s. Run it again; if "
            "it stays stuck, tell the administrator."
        ): "该报表似乎卡住了：已有 %(duration)s没有进展。请重新生成；如仍然卡住，请告知管理员。",
        ("%(count)s hour", 0): "%(count)s 小时",
        ("%(count)s minute", 0): "%(count)s 分钟",
    }
    with zh_catalog(entries):
        page = _status(client, city_leader, hours, language="zh-hans")
    assert "已有 3 小时没有进展" in page and "15 分钟" not in page


# --- 3. Chinese punctuation -------------------------------------------------------------------------


def test_a_related_alerts_status_is_one_translatable_text(make_ticket, client, city_leader):
    """ "同一主题聚集 #9（已自动解除）": the brackets are the translation's (full-width in Chinese)."""
    alert = _caller_alert(make_ticket)
    other = Alert.objects.create(
        kind=AlertKind.TOPIC_CLUSTER,
        key="topic:test",
        status=AlertStatus.RESOLVED,
        division=alert.division,
        window_start=alert.window_start,
        window_end=alert.window_end,
        observed=4,
        explanation="x",
        detail={"resolved": "tickets_closed"},
        decided_at=timezone.now(),
    )
    AlertTicket.objects.bulk_create(AlertTicket(alert=other, ticket_id=t) for t in alert.ticket_ids)
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    page = unescape(client.get(reverse("analytics:alerts"), {"alert": alert.pk}).content.decode())
    related = page[page.index('data-testid="alert-related"') :]
    related = related[: related.index("</small>")]
    assert f"#{other.pk} (Resolved automatically)</a>" in related
    entries = {
        "a related alert: its kind, number and status\x04%(kind)s #%(number)s (%(status)s)": (
            "%(kind)s #%(number)s（%(status)s）"
        )
    }
    client.cookies["django_language"] = "zh-hans"
    with zh_catalog(entries):
        page = unescape(client.get(reverse("analytics:alerts"), {"alert": alert.pk}).content.decode())
    related = page[page.index('data-testid="alert-related"') :]
    related = related[: related.index("</small>")]
    assert f"#{other.pk}（" in related and "（已自动解除）" in related
    assert " (" not in related and ")" not in related


def test_the_disputes_note_is_one_text_without_a_space_between_chinese_sentences(client, october):  # noqa: F811
    entries = {
        (
            "Open and closed as of the end of %(day)s: a case closed after that day counts as open "
            "here. The cases are those received in the period."
        ): "在办、结案数按 %(day)s 期末状态统计：此后结案的案件在此仍计为在办。统计对象为本期受理的案件。",
    }
    client.force_login(october.ns_dispatcher)
    client.cookies["django_language"] = "zh-hans"
    with zh_catalog(entries):
        html = client.get(reverse("analytics:dashboard"), OCTOBER).content.decode()
    note = html[html.index('data-testid="disputes-as-of"') :]
    note = note[: note.index("</p>")]
    assert "仍计为在办。统计对象为本期受理的案件。" in note and "。 " not in note


# --- 4. the index's empty ranking, worded for the viewer -----------------------------------------------

MONTH = date(2026, 9, 1)
FORMULA = {
    "name": "f",
    "weights": {"on_time_closure_rate": 1},
    "red_count": 1,
    "black_count": 1,
    "black_below": None,
    "min_volume": 10,
}


def _rows(places, *, rank=None):
    GovernanceIndex.objects.bulk_create(
        GovernanceIndex(
            month=MONTH,
            division=place,
            level="subdistrict",
            score=90.0,
            rank=rank,
            standing="",
            values={},
            formula_used=FORMULA,
            volume=2,
        )
        for place in places
    )


def _empty(client, user) -> tuple[str, str]:
    client.force_login(user)
    client.cookies["django_language"] = "en"
    html = unescape(client.get(reverse("analytics:index"), {"month": "2026-09"}).content.decode())
    if 'data-testid="index-empty"' not in html:
        return "", ""
    cell = html[html.index('data-testid="index-empty"') :]
    state = cell[cell.index('data-state="') + 12 :].split('"')[0]
    return state, cell[cell.index(">") + 1 : cell.index("</span>")]


def test_a_month_computed_without_a_place_of_the_viewer_is_not_called_uncomputed(
    client, nanshan_dispatcher, city_leader
):
    luohu = list(Division.objects.filter(code__startswith="440303", level="subdistrict")[:3])
    _rows(luohu)
    state, text = _empty(client, nanshan_dispatcher)
    assert state == "none_in_scope"
    assert text == "The index of this month was computed, but none of its places is in your jurisdiction."
    assert "No index has been computed yet." not in text
    state, text = _empty(client, city_leader)
    assert (state, text) == ("none_ranked", "No place had enough tickets to be ranked this month.")
    # the month is the one the menu shows, though none of its rows is the dispatcher's
    client.force_login(nanshan_dispatcher)
    html = client.get(reverse("analytics:index"), {"month": "2026-09"}).content.decode()
    assert '<option value="2026-09" selected>' in html


def test_a_viewer_whose_places_are_all_unranked_is_told_so_of_their_jurisdiction(
    client, nanshan_dispatcher, city_leader
):
    nanshan = list(Division.objects.filter(code__startswith="440305", level="subdistrict")[:2])
    luohu = list(Division.objects.filter(code__startswith="440303", level="subdistrict")[:1])
    _rows(nanshan)
    _rows(luohu, rank=1)
    state, text = _empty(client, nanshan_dispatcher)
    assert state == "none_ranked_in_scope"
    assert text == (
        "The index of this month was computed, but no place in your jurisdiction had enough tickets to be ranked."
    )
    assert _empty(client, city_leader) == ("", "")  # the leader's ranking has Luohu's place


def test_a_month_not_computed_is_said_so(client, nanshan_dispatcher):
    state, text = _empty(client, nanshan_dispatcher)
    assert (state, text) == ("not_computed", "No index has been computed yet.")


# --- 5. the reports list on a phone ---------------------------------------------------------------------


def test_the_reports_list_is_a_card_per_report_on_a_phone(client, city_leader):
    """The list is a "stack" table: the status cell has its column's name (a card's line on a
    phone) and one block for its content; the CSS keeps the bar and button within the card."""
    from django.contrib.staticfiles import finders

    stuck = _running(city_leader, minutes=30, key="phone")
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("analytics:reports")).content.decode()
    table = html[html.index('data-testid="report-table"') - 60 :]
    assert 'class="data stack report-list"' in table
    cell = table[table.index(f'id="report-{stuck.pk}"') :]
    assert (
        'data-label="Status"' in cell[: cell.index(">")]
        and 'class="report-status"' in cell[: cell.index(">")]
    )
    assert cell.index('class="report-status-body"') < cell.index('data-testid="report-rerun"')
    assert 'data-label="Period"' in table and 'data-label="Requested"' in table
    css = open(finders.find("analytics/analytics.css"), encoding="utf-8").read()
    phone = css[css.index("table.data.stack.report-list") - 40 :]
    assert "@media (max-width: 700px)" in phone and ".report-status-body" in phone
