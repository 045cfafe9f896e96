"""Second browser walkthrough, analytics: the alert page's unsubscribe button is visible on its card
and says what it does (the refusal and the success use the same verb); a subscription the user may
not remove says who set it; the report list names its periods as the period menu does."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone, translation

from zhiwang.accounts.models import OrgUnit
from zhiwang.analytics.forms import month_label, period_label, quarter_label
from zhiwang.analytics.models import AlertSubscription, Report
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db

NANSHAN = "440305000000"


def _css_rules(path: str) -> dict[str, str]:
    """``selector list -> declarations`` of a stylesheet (comments dropped; enough for flat rules)."""
    with open(finders.find(path), encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return {sel.strip(): body.strip() for sel, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text)}


def test_a_link_button_on_a_card_is_not_the_top_bars_white():
    rules = _css_rules("web/zhiwang.css")
    on_card = [
        body for sel, body in rules.items() if ".card button.link" in [s.strip() for s in sel.split(",")]
    ]
    assert on_card, "no rule colours a link-styled button on a card"
    colour = re.search(r"color:\s*([^;]+)", on_card[0]).group(1).strip().lower()
    assert colour not in ("#fff", "#ffffff", "white")
    # the top bar's sign-out keeps the white of the shared rule
    assert re.search(r"color:\s*#fff\b", rules["button.link"])
    assert re.search(r"display:\s*inline\s*;?$", rules["form.inline"])


def _subscription(unit_code: str, division_code: str = NANSHAN) -> AlertSubscription:
    return AlertSubscription.objects.create(
        unit=OrgUnit.objects.get(code=unit_code), division=Division.objects.get(code=division_code), kinds=[]
    )


def _alerts_page(client, user, language: str) -> str:
    client.force_login(user)
    client.cookies["django_language"] = language
    return client.get("/analytics/alerts/").content.decode()


def test_the_alerts_page_offers_unsubscribe_on_the_card_and_says_who_set_the_others(
    client, nanshan_dispatcher
):
    city = _subscription("DEMO-CITY-CC")
    own = _subscription(nanshan_dispatcher.org_unit.code)
    page = _alerts_page(client, nanshan_dispatcher, "en")
    own_row = re.search(rf'<li data-testid="subscription-{own.pk}">(.*?)</li>', page, re.S).group(1)
    # a link-styled button in a one-line form, on the white card (the CSS above colours it)
    assert re.search(r'<form [^>]*class="inline"', own_row)
    button = re.search(
        rf'<button [^>]*data-testid="unsubscribe-{own.pk}"[^>]*>(.*?)</button>', own_row
    ).group(0)
    assert 'class="link"' in button and ">Unsubscribe</button>" in button
    city_row = re.search(rf'<li data-testid="subscription-{city.pk}">(.*?)</li>', page, re.S).group(1)
    assert "unsubscribe-" not in city_row
    assert f'data-testid="subscription-fixed-{city.pk}">Set by a higher level</span>' in city_row
    assert "Set by a higher level" not in own_row


def test_unsubscribing_says_unsubscribed(client, nanshan_dispatcher):
    own = _subscription(nanshan_dispatcher.org_unit.code)
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    answer = client.post("/analytics/alerts/subscribe", {"remove": str(own.pk)}, follow=True)
    assert [str(m) for m in answer.context["messages"]] == ["Subscription removed."]
    assert not AlertSubscription.objects.filter(pk=own.pk).exists()


# --- the report list: the period menu's words ----------------------------------------------------------


def test_period_label_reads_a_stored_period_as_the_menu_does():
    with translation.override("zh-hans"):
        assert period_label("2026-10") == month_label(date(2026, 10, 1)) == "2026年10月"
        assert period_label("2026-Q3") == quarter_label(2026, 3) == "2026年第3季度"
    with translation.override("en"):
        assert period_label("2026-Q3") == "2026 Q3"
    # anything else (an old row, a hand-made one) as it is
    for odd in ("2026-13", "2026-Q5", "later", ""):
        assert period_label(odd) == odd


def _report(user, period: str, start: date, end: date, **extra) -> Report:
    return Report.objects.create(
        division=Division.objects.get(code=NANSHAN),
        period=period,
        start=start,
        end=end,
        idempotency_key=f"r2-{period}",
        requested_by=user,
        **extra,
    )


def _period_cells(html: str) -> list[str]:
    return re.findall(r'<td [^>]*data-testid="report-period"[^>]*>(.*?)</td>', html, re.S)


def test_the_report_list_names_the_periods_as_the_menu(client, city_leader):
    _report(city_leader, "2025-10", date(2025, 10, 1), date(2025, 11, 1), status="done")
    _report(city_leader, "2025-Q3", date(2025, 7, 1), date(2025, 10, 1), status="done")
    client.force_login(city_leader)
    client.cookies["django_language"] = "zh-hans"
    cells = _period_cells(client.get("/analytics/reports/").content.decode())
    assert sorted(cells) == ["2025年10月", "2025年第3季度"]
    client.cookies["django_language"] = "en"
    html = client.get("/analytics/reports/").content.decode()
    assert sorted(_period_cells(html)) == ["2025 Q3", "2025-10"]
    assert 'data-period="2025-Q3"' in html  # the stored value stays on the cell


def test_the_partial_note_follows_the_period_as_the_translation_says(client, city_leader, monkeypatch):
    today = timezone.localdate()
    start = today.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    made = timezone.now() - timedelta(minutes=5)
    _report(city_leader, f"{start:%Y-%m}", start, end, status="done", finished_at=made)
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    (cell,) = _period_cells(client.get("/analytics/reports/").content.decode())
    until = timezone.localdate(made).isoformat()
    with translation.override("en"):
        label = month_label(start)
    # English: a space between the period and its note
    assert cell == (
        f'{label} <span class="warn" data-testid="report-partial">'
        f"(up to {until}: the period had not ended)</span>"
    )
    # Chinese: the catalog's "%(period)s%(note)s" puts the note, which opens with a full-width
    # bracket, right after the period (as the lead's catalog will; simulated here)
    from zhiwang.analytics import views

    real = views.pgettext
    monkeypatch.setattr(
        views,
        "pgettext",
        lambda context, message: (
            "%(period)s%(note)s"
            if context == "a report's period and the note after it"
            else real(context, message)
        ),
    )
    client.cookies["django_language"] = "zh-hans"
    (cell,) = _period_cells(client.get("/analytics/reports/").content.decode())
    with translation.override("zh-hans"):
        label = month_label(start)
    assert cell.startswith(f'{label}<span class="warn" data-testid="report-partial">')
