"""Fifth walkthrough, dashboard and reports.

The dashboard's rate cards count events (ratings, closures, reopenings, follow-ups) while the
list a number opens shows each ticket once: the cards say "1 unsatisfied rating" (不满意 1次) and
why the list may be shorter; the satisfaction rate names its formula, whose weight of "basically
satisfied" puts it below 1 − unsatisfied ÷ ratings; on a phone the parts do not break and the
wide tables say they scroll sideways.

The report's PDF keeps each heading with what follows it, writes shared ranks as the index page
does (并列1), prints the last day of the period, not the exclusive end, and no longer charts the
dispute counts its table already gives. The reports page says the files are in the city's
language, and a report queued for minutes says the task worker may not be running.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from tests.analytics.test_reports_r3 import disputes_in_october, index_rows, report  # noqa: F401
from tests.disputes.conftest import (  # noqa: F401  (fixtures reused as they are)
    agreed_case,
    assigned_case,
    make_case,
    mediating_case,
    world,
)
from tests.tickets.conftest import city_dispatcher, in_follow_up  # noqa: F401  (fixtures)
from tests.tickets.test_event_filters import NEXT_MON, rated_history  # noqa: F401
from zhiwang.analytics import reports
from zhiwang.analytics.models import GovernanceIndex, Report
from zhiwang.geo.models import Division
from zhiwang.tickets.notify import city_language

pytestmark = pytest.mark.django_db

DAY = NEXT_MON.date()
CSS = Path(reports.__file__).parent / "static" / "analytics" / "analytics.css"


def _dashboard(client, user, language="en") -> str:
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get("/analytics/", {"start": DAY.isoformat(), "end": (DAY + timedelta(1)).isoformat()})
    assert response.status_code == 200
    return response.content.decode()


def _part(html: str, testid: str) -> tuple[str, str]:
    """The text and the title of a card's part link."""
    match = re.search(rf'<a href="[^"]*" data-testid="{testid}" title="([^"]*)">([^<]*)</a>', html)
    assert match, testid
    return unescape(match[2]), unescape(match[1])


def _card(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[html.rindex("<div", 0, start) : html.index("</div>", start)]


# --- the dashboard's rate cards ------------------------------------------------------------------


def test_the_card_parts_count_ratings_closures_and_follow_ups_not_tickets(
    rated_history,  # noqa: F811
    nanshan_dispatcher,
    client,
):
    """Nanshan's day: one late closure, three on time (one answered directly, one unreachable);
    three ratings, one of them unsatisfied and not resolved, which reopened its ticket; four
    follow-ups."""
    html = _dashboard(client, nanshan_dispatcher)
    assert _part(html, "kpi-closed-late")[0] == "1 late closure"
    assert _part(html, "kpi-closed-on-time")[0] == "3 closures on time"
    assert _part(html, "kpi-unsatisfied")[0] == "1 unsatisfied rating"
    assert _part(html, "kpi-rated")[0] == "3 ratings"
    assert _part(html, "kpi-unresolved")[0] == "1 rating not resolved"
    assert _part(html, "kpi-rated-resolution")[0] == "3 ratings"
    assert _part(html, "kpi-reopened")[0] == "1 reopening"
    assert _part(html, "kpi-follow-ups")[0] == "4 follow-ups"
    # each part says what it counts and that the list it opens shows each ticket once
    for testid in ("kpi-unsatisfied", "kpi-rated", "kpi-unresolved", "kpi-reopened", "kpi-follow-ups"):
        title = _part(html, testid)[1]
        assert "counts twice" in title and "The list shows each ticket once." in title, testid
    assert "closed once" in _part(html, "kpi-closed-late")[1]
    assert "not tickets" in unescape(re.search(r'data-testid="satisfaction-hint">([^<]*)<', html)[1])


def test_the_parts_keep_their_number_on_one_line(rated_history, nanshan_dispatcher, client):  # noqa: F811
    """ "按期办结 / 28" broke between the label and its number at 390 px."""
    html = _dashboard(client, nanshan_dispatcher, language="zh-hans")
    for testid in ("kpi-on-time", "kpi-satisfaction", "kpi-resolution", "kpi-rework"):
        parts = re.search(r'<span class="kpi-parts">(.*?)</span>', _card(html, testid))
        assert parts and parts[1].count("<a ") == 2, testid
    css = CSS.read_text()
    assert re.search(r"\.kpi \.kpi-parts a \{[^}]*white-space: nowrap", css)


def test_the_satisfaction_card_and_note_give_the_formula(rated_history, nanshan_dispatcher, client, settings):  # noqa: F811
    """(satisfied 1 + basically satisfied 1 × 0.8) ÷ 3 ratings = 60.0 %, not 1 − 1/3 = 66.7 %."""
    html = _dashboard(client, nanshan_dispatcher)
    card = _card(html, "kpi-satisfaction")
    assert "<strong>60.0%</strong>" in card.replace(" ", "")
    formula = "Satisfaction rate = (satisfied + basically satisfied × 0.8) ÷ ratings."
    title = unescape(re.search(r'title="([^"]*)"', card)[1])
    assert formula in title and "lower than 1 − unsatisfied ÷ ratings" in title
    note = unescape(re.search(r'data-testid="satisfaction-hint">([^<]*)<', html)[1])
    assert formula in note
    # the weight the rate is computed with, not a fixed text
    settings.ZHIWANG_BASIC_SATISFACTION_WEIGHT = 0.5
    html = _dashboard(client, nanshan_dispatcher)
    assert "<strong>50.0%</strong>" in _card(html, "kpi-satisfaction").replace(" ", "")
    assert "basically satisfied × 0.5) ÷ ratings." in unescape(html)


def test_the_wide_tables_say_they_scroll_on_a_phone(rated_history, nanshan_dispatcher, client):  # noqa: F811
    html = _dashboard(client, nanshan_dispatcher)
    for table in ("children-table", "units-table"):
        tag = re.search(rf'<table class="([^"]*)" data-testid="{table}">', html)
        assert tag and {"figures", "scrolls"} <= set(tag[1].split()), table
        cue = html.rindex('class="hint scroll-cue"', 0, tag.start())
        assert "Swipe the table sideways" in html[cue : tag.start()]
    css = CSS.read_text()
    assert re.search(r"\.scroll-cue \{ display: none; \}", css)  # a wide screen shows the whole table
    phone = css[css.index("table.data.scrolls {") :]
    assert "background-attachment" in phone or "local" in phone.split("}")[0]


# --- the report's PDF ----------------------------------------------------------------------------


def _story(report, change=lambda figures: None) -> list:  # noqa: F811
    with city_language():
        figures = reports.report_figures(report)
        change(figures)
        return figures, reports.pdf_story(report, figures)


def _texts(story) -> list[str]:
    from reportlab.platypus import KeepTogether, Paragraph

    out = []
    for flowable in story:
        if isinstance(flowable, KeepTogether):
            out += _texts(flowable._content)
        elif isinstance(flowable, Paragraph):
            out.append(flowable.text)
    return out


def _laid_out(story) -> list[tuple[int, object]]:
    """``(page, flowable)`` of every flowable drawn, in order, laying ``story`` out on A4."""
    from io import BytesIO

    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    drawn = []

    class Recording(SimpleDocTemplate):
        def afterFlowable(self, flowable):
            drawn.append((self.page, flowable))

    Recording(BytesIO(), pagesize=A4).build(story)
    return drawn


def _category_figures(figures):
    figures["categories"] = [
        {"name": f"事项 {n}", "code": f"c{n}", "value": 20 - n, "link": None} for n in range(12)
    ]


def test_no_heading_ends_a_page_away_from_what_follows(report, index_rows, disputes_in_october):  # noqa: F811
    """A spacer of every height pushes the headings down the first page: each heading is always
    on the page its chart or table starts on (高发事项 sat alone at the foot of a page)."""
    from reportlab.graphics.shapes import Drawing
    from reportlab.platypus import Paragraph, Spacer, Table

    with city_language():
        headings = {
            translation.pgettext("report", "Summary"),
            translation.gettext("Volume and trend"),
            translation.gettext("Top categories"),
            translation.gettext("By division"),
            translation.gettext("Disputes"),
            translation.gettext("Governance index"),
        }
    checked = set()
    for push in range(0, 640, 12):
        _figures, story = _story(report, _category_figures)
        drawn = _laid_out([story[0], Spacer(1, push), *story[1:]])
        for position, (page, flowable) in enumerate(drawn):
            if isinstance(flowable, Paragraph) and flowable.text in headings:
                following = next(
                    p for p, f in drawn[position + 1 :] if isinstance(f, (Table, Drawing, Paragraph))
                )
                assert following == page, (push, flowable.text)
                checked.add(flowable.text)
    assert checked == headings - {translation.gettext("Volume and trend")} or checked == headings, checked


def test_a_long_table_starts_under_its_heading_when_there_is_room(report, index_rows):  # noqa: F811
    """Kept together with its heading, the index table (several pages) would always start on a
    new page; it starts on the heading's page, which it shares with what came before."""
    from reportlab.platypus import CondPageBreak, Paragraph, Table

    _figures, story = _story(report)
    with city_language():
        index_heading = reports._("Governance index")
    at = next(i for i, f in enumerate(story) if isinstance(f, Paragraph) and f.text == index_heading)
    assert isinstance(story[at - 1], CondPageBreak) and isinstance(story[at + 1], Table)
    drawn = _laid_out(list(story))  # reportlab's build empties the list it is given
    position = next(i for i, (_p, f) in enumerate(drawn) if f is story[at])
    before = [p for p, f in drawn[:position] if isinstance(f, (Table, Paragraph))]
    assert drawn[position][0] == before[-1]  # not a fresh page of its own
    assert drawn[-1][0] > drawn[position][0]  # the table runs on over the pages


def test_the_pdf_writes_shared_ranks_as_the_index_page_does(report, index_rows):  # noqa: F811
    """Equal scores share a rank: the index page says "并列1"; the PDF said "1" (17 places)."""
    communities = sorted((r for r in index_rows if r.level == "community"), key=lambda r: r.rank)
    first, second, third, fourth = communities[:4]
    GovernanceIndex.objects.filter(pk__in=[first.pk, second.pk]).update(rank=first.rank, score=first.score)
    # a Luohu community shares the third's rank: a rank is the city's, not the report's
    luohu = Division.objects.filter(code__startswith="440303", level="community").first()
    GovernanceIndex.objects.create(
        month=third.month, division=luohu, level="community", score=third.score, rank=third.rank, values={}
    )
    figures, story = _story(report)
    with city_language():
        ranks = {r.division_id: reports._pdf_rank(r, figures["index_tied"]) for r in figures["index"]}
        tied = translation.pgettext("a rank shared by equal scores", "%(rank)s (tied)")
    assert ranks[first.division_id] == ranks[second.division_id] == tied % {"rank": first.rank}
    assert ranks[third.division_id] == tied % {"rank": third.rank}
    assert ranks[fourth.division_id] == str(fourth.rank)
    # the web's words, "并列1" in the city's language
    with translation.override("zh-hans"):
        assert (
            translation.pgettext("a rank shared by equal scores", "%(rank)s (tied)") % {"rank": 1} == "并列1"
        )
    # the PDF's index table carries them
    from reportlab.platypus import Table

    index_table = [f for f in story if isinstance(f, Table)][-1]
    shown = {row[2]: row[4] for row in index_table._cellvalues[1:]}
    assert shown[first.division.name] == shown[second.division.name] == tied % {"rank": first.rank}
    assert shown[fourth.division.name] == str(fourth.rank)


def test_the_period_line_names_the_last_day_included(report):  # noqa: F811
    """ "2025-10-01 — 2025-11-01" read as including 1 November."""
    _figures, story = _story(report)
    texts = _texts(story)
    with city_language():
        line = translation.pgettext("a report's period: its first and last day", "%(first)s to %(last)s") % {
            "first": "2025-10-01",
            "last": "2025-10-31",
        }
    assert texts[1] == line
    assert not any("2025-11-01" in text for text in texts)
    with translation.override("en"):
        assert reports._period_line(report) == "2025-10-01 to 2025-10-31"


def test_the_dispute_counts_are_a_table_not_also_a_chart(report, disputes_in_october, monkeypatch):  # noqa: F811
    """The chart repeated the table's eight counts (0–2 bars): the table alone is printed."""
    from reportlab.graphics.shapes import Drawing
    from reportlab.platypus import KeepTogether, Table

    charted = []
    real = reports._bar_drawing
    monkeypatch.setattr(reports, "_bar_drawing", lambda names, *a: charted.append(names) or real(names, *a))
    figures, story = _story(report)
    assert figures["disputes"] is not None and not figures["categories"]
    assert charted == []
    with city_language():
        disputes = reports._("Disputes")
    section = next(f for f in story if isinstance(f, KeepTogether) and disputes in _texts(f._content))
    assert isinstance(section._content[1], Table) and not any(
        isinstance(f, Drawing) for f in section._content
    )


# --- the reports page ----------------------------------------------------------------------------


def _queued(user, *, minutes: float) -> Report:
    made = Report.objects.create(
        division=Division.objects.get(code="440305000000"),
        period="2025-10",
        start=date(2025, 10, 1),
        end=date(2025, 11, 1),
        idempotency_key=f"r5-{user.pk}-{minutes}",
        requested_by=user,
    )
    since = timezone.now() - timedelta(minutes=minutes)
    Report.objects.filter(pk=made.pk).update(created_at=since, updated_at=since)
    made.refresh_from_db()
    return made


def _status(client, user, shown, language="en") -> str:
    client.force_login(user)
    client.cookies["django_language"] = language
    response = client.get(reverse("analytics:report_status", args=[shown.pk]))
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_a_report_queued_for_minutes_says_the_worker_may_not_run(client, admin_user, city_leader):
    just_now = _queued(city_leader, minutes=0.5)
    assert "report-queued-long" not in _status(client, city_leader, just_now)
    waiting = _queued(city_leader, minutes=3)
    for_leader = _status(client, city_leader, waiting)
    assert 'data-testid="report-queued-long"' in for_leader
    assert "tell the administrator" in for_leader
    assert "run_huey" not in for_leader  # a leader cannot start it: no command, no false claim
    assert "has been told" not in for_leader
    for_admin = _status(client, admin_user, waiting)
    assert "task worker may not be running" in for_admin and "<code>zhiwang run_huey</code>" in for_admin
    # it still polls: the hint goes once a worker picks the report up
    assert 'hx-trigger="every 2s"' in for_admin
    # the list shows it too
    client.force_login(city_leader)
    page = client.get(reverse("analytics:reports")).content.decode()
    assert page.count('data-testid="report-queued-long"') == 1
    # a report requested again after failing counts from the new request (``updated_at``)
    Report.objects.filter(pk=waiting.pk).update(updated_at=timezone.now())
    assert "report-queued-long" not in _status(client, city_leader, Report.objects.get(pk=waiting.pk))


def test_a_running_report_has_no_queued_hint(client, admin_user, city_leader):
    running = _queued(city_leader, minutes=10)
    Report.objects.filter(pk=running.pk).update(status="running")
    assert "report-queued-long" not in _status(client, admin_user, Report.objects.get(pk=running.pk))


def test_the_reports_page_says_the_files_are_in_the_citys_language(client, city_leader):
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    html = unescape(client.get(reverse("analytics:reports")).content.decode())
    note = re.search(r'data-testid="report-language">([^<]*)<', html)[1]
    assert "written in Simplified Chinese whatever the language of this page" in note
