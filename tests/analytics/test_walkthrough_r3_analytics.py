"""Third browser walkthrough of the analytics pages (demo_leader, the small demo city): what the
server renders. The layout, the map and the charts are in tests/browser/test_analytics_r3_layout.py.

1. a period the dashboard cannot show: the message on its field, the typed dates kept, no figures;
3. the governance index: labels and weights (no codes), tied ranks say so, "—", links, a low minimum;
4. the indicators page: a place's figures link their tickets;
7. the division menus tell communities apart and group by subdistrict; an empty report period warns;
8. the alerts page: place and window columns, a false alarm asks first; topic words carry meaning;
9. "Unlocated: …" with its space in English.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, pgettext

from zhiwang.analytics.models import Alert, AlertKind, AlertStatus, GovernanceIndex, IndicatorFigure
from zhiwang.analytics.selectors.alerts import division_choices
from zhiwang.analytics.selectors.place import division_labels
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
CITY, NANSHAN = "440300000000", "440305000000"
OCTOBER = date(2026, 10, 1)


def _get(client, user, url, language="zh-hans", **params):
    client.force_login(user)
    client.cookies["django_language"] = language
    return client.get(url, params)


# --- 1. the dashboard's period -------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-11-10", "2026-11-01", "The start must be before the end."),
        ("2020-01-01", "2026-11-01", "Choose at most %(days)s days."),
    ],
)
def test_a_period_it_cannot_show_keeps_the_dates_and_shows_no_figures(
    client, city_leader, language, start, end, message
):
    """Was: the message in plain black above the form, the form back on the last 30 days and
    those days' figures under it as if they answered the question."""
    response = _get(client, city_leader, reverse("analytics:dashboard"), language, start=start, end=end)
    html = response.content.decode()
    with translation.override(language):
        expected = gettext(message) % {"days": 800} if "%" in message else gettext(message)
    # the message is the start field's: under it, styled as a field error, the field marked invalid
    field = re.search(r'<div class="dash-field has-error">.*?</div>', html, re.S).group(0)
    assert (
        'name="start"' in field
        and 'aria-invalid="true"' in field
        and 'aria-describedby="dash-start-error"' in field
    )
    assert 'class="field-error" id="dash-start-error" role="alert" data-field="start"' in field
    assert expected in field
    # what was typed stays in the form
    assert f'name="start" value="{start}"' in html and f'name="end" value="{end}"' in html
    # no figures of another period, and a way to the default one
    assert response.context["figures"] is None
    assert (
        'data-testid="kpis"' not in html
        and 'id="chart-trend"' not in html
        and 'data-testid="map"' not in html
    )
    assert 'data-testid="no-figures"' in html
    assert f'href="/analytics/?division={CITY}" data-testid="default-period"' in html


def test_a_field_error_is_styled_as_the_site_styles_field_errors():
    with open(finders.find("analytics/analytics.css"), encoding="utf-8") as f:
        css = f.read()
    rule = re.search(r"\.field-error \{([^}]*)\}", css).group(1)
    assert "color: #b3261e" in rule and "font-weight: 600" in rule  # tickets.css's .field-errors


def test_a_valid_period_still_shows_its_figures(client, city_leader):
    response = _get(client, city_leader, reverse("analytics:dashboard"), start="2026-11-01", end="2026-11-10")
    html = response.content.decode()
    assert response.context["figures"] is not None and 'data-testid="kpis"' in html
    assert 'name="start" value="2026-11-01"' in html and "has-error" not in html
    assert 'class="kpis kpis-8"' in html  # four a row (analytics.css), not 7 + 1


def test_a_week_the_period_cuts_is_marked_partial(client, city_leader):
    from zhiwang.analytics import selectors

    place = selectors.place_for(user=city_leader)
    # Thursday 2026-11-05 to Wednesday 2026-11-18 (exclusive): a cut first week and a cut last one
    rows = selectors.trend(place=place, start=date(2026, 11, 5), end=date(2026, 11, 18), by="week")
    assert [(r["period"].isoformat(), r["partial"]) for r in rows] == [
        ("2026-11-05", True),
        ("2026-11-09", False),
        ("2026-11-16", True),
    ]
    assert all(
        r["partial"] is False
        for r in selectors.trend(place=place, start=date(2026, 11, 5), end=date(2026, 11, 8))
    )


# --- 9. "Unlocated: …" ---------------------------------------------------------------------------


def test_the_unlocated_hint_has_its_space_in_english(client, city_leader, make_ticket):
    nowhere = make_ticket(kind="inquiry", address_code="", external_id="nowhere-r3")  # no place at all
    assert nowhere.division_id is None
    html = _get(client, city_leader, reverse("analytics:dashboard"), "en").content.decode()
    hint = re.search(r'data-testid="unlocated-hint">([^<]*)<', html).group(1)
    assert hint.startswith("Unlocated: Tickets of this place")  # was "Unlocated:Tickets"
    # the map's tooltips ("福田区: 12") take the same separator
    assert 'data-tooltip-separator=": "' in html


# --- 3. the governance index ---------------------------------------------------------------------


def _index_row(division, score, rank, standing, volume, values):
    return GovernanceIndex(
        month=OCTOBER,
        division=division,
        level=division.level,
        formula_used={
            "name": "Default governance index",
            "weights": {"on_time_closure_rate": 0.3, "satisfaction_rate": 0.25, "rework_rate": 0.1},
            "red_count": 1,
            "black_count": 1,
            "black_below": None,
            "min_volume": 1,
        },
        score=score,
        rank=rank,
        standing=standing,
        values=values,
        volume=volume,
    )


@pytest.fixture
def index_rows(db):
    subs = list(Division.objects.filter(level="subdistrict").order_by("code")[:4])
    GovernanceIndex.objects.bulk_create(
        [
            _index_row(subs[0], 100.0, 1, "red", 1, {"on_time_closure_rate": 1.0, "rework_rate": 0.0}),
            _index_row(subs[1], 100.0, 1, "red", 1, {"on_time_closure_rate": 1.0, "satisfaction_rate": 1.0}),
            _index_row(
                subs[2], 40.0, 3, "black", 2, {"on_time_closure_rate": 0.4, "satisfaction_rate": None}
            ),
            _index_row(subs[3], 90.0, None, "", 0, {"satisfaction_rate": 0.9}),
        ]
    )
    return subs


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_index_formula_names_indicators_and_weights_not_codes(client, city_leader, index_rows, language):
    html = _get(client, city_leader, reverse("analytics:index"), language, month="2026-10").content.decode()
    weights = re.search(r'<ul data-testid="weights">(.*?)</ul>', html, re.S).group(1)
    items = re.findall(r"<li[^>]*>([^<]*)</li>", weights)
    assert len(items) == 3
    assert not any("_rate" in item for item in items)  # no field names in the text
    assert "<code" not in weights
    with translation.override(language):
        label = gettext("On-time closure rate")
    assert any(item.startswith(label) and item.rstrip().endswith("0.3") for item in items)
    assert 'title="on_time_closure_rate"' not in weights  # the code is a hint for administrators only


def test_the_code_is_a_hint_for_administrators(client, admin_user, index_rows):
    html = _get(client, admin_user, reverse("analytics:index"), month="2026-10").content.decode()
    assert 'title="on_time_closure_rate"' in html


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_index_says_tied_links_places_and_shows_dashes(client, city_leader, index_rows, language):
    html = _get(client, city_leader, reverse("analytics:index"), language, month="2026-10").content.decode()
    ranked = re.search(r'data-testid="index-table">(.*?)</table>', html, re.S).group(1)
    ranks = re.findall(r'data-testid="rank">([^<]*)<', ranked)
    with translation.override(language):
        tied = pgettext_tied(1)
    assert ranks == [tied, tied, "3"]
    # every place links its dashboard
    for division in index_rows:
        assert f'href="/analytics/?division={division.code}" data-testid="place-link"' in html
    # a value missing (no key) or None is "—" as the other empty cells, never an empty cell
    rows = re.findall(r'data-testid="index-row".*?</tr>', ranked, re.S)
    assert all("<td></td>" not in row for row in rows)
    assert rows[0].count("—") == 1 and rows[1].count("—") == 1 and rows[2].count("—") == 2
    # a minimum below the recommended 5 is called out
    assert 'data-testid="low-min-volume"' in html


def pgettext_tied(rank):
    from django.utils.translation import pgettext

    return pgettext("a rank shared by equal scores", "%(rank)s (tied)") % {"rank": rank}


def test_below_the_minimum_no_place_is_on_a_list(monkeypatch):
    """docs/analytics.md §4: a place with fewer tickets due than ``min_volume`` is scored, not ranked,
    on neither list, even with a perfect score; the others' lists close the gap."""
    from types import SimpleNamespace

    from zhiwang.analytics import index as idx
    from zhiwang.analytics.models import IndexFormula

    subs = list(Division.objects.filter(level="subdistrict").order_by("code")[:5])
    volumes = {subs[0].pk: 1, subs[1].pk: 1, subs[2].pk: 6, subs[3].pk: 8, subs[4].pk: 7}
    values = {subs[0].pk: 1.0, subs[1].pk: 1.0, subs[2].pk: 0.9, subs[3].pk: 0.5, subs[4].pk: 0.7}

    def indicator(*, user, start, end, by, **kwargs):
        if by != "subdistrict":
            return {}
        return {pk: SimpleNamespace(value=values[pk], denominator=volumes[pk]) for pk in values}

    for name in list(idx.INDEX_INDICATORS):
        monkeypatch.setitem(idx.INDEX_INDICATORS, name, indicator)
    IndexFormula.objects.create(
        name="f", weights={"on_time_closure_rate": 1}, red_count=1, black_count=1, min_volume=5
    )
    idx.governance_index_compute(month=OCTOBER, now=datetime(2026, 12, 1, tzinfo=TZ))
    rows = {r.division_id: r for r in GovernanceIndex.objects.filter(month=OCTOBER, level="subdistrict")}
    for pk in (subs[0].pk, subs[1].pk):  # 100 on one ticket: shown, not ranked, on no list
        assert rows[pk].score == 100.0 and rows[pk].rank is None and rows[pk].standing == ""
    assert rows[subs[2].pk].standing == "red" and rows[subs[3].pk].standing == "black"


# --- 4. the indicators page links its figures' tickets --------------------------------------------


def _figures(division, group):
    return [
        IndicatorFigure(
            month=OCTOBER,
            group=group,
            key=division.pk if group != "city" else None,
            indicator=code,
            numerator=n,
            denominator=d,
        )
        for code, n, d in (("rework_rate", 1, 4), ("on_time_closure_rate", 3, 4), ("response_rate", 0, 0))
    ]


def test_the_indicators_page_links_a_places_figures_to_their_tickets(client, nanshan_dispatcher):
    nanshan = Division.objects.get(code=NANSHAN)
    sub = Division.objects.filter(parent=nanshan, level="subdistrict").order_by("code").first()
    IndicatorFigure.objects.bulk_create(_figures(nanshan, "district") + _figures(sub, "subdistrict"))
    html = _get(
        client, nanshan_dispatcher, reverse("analytics:indicators"), division=NANSHAN, period="2026-10"
    ).content.decode()
    links = re.findall(r'<a href="([^"]+)" data-testid="figure-tickets"', html)
    # the rework rate of Nanshan and of its subdistrict; the on-time closure rate counts by
    # deadline, which the list cannot filter on; the response rate counted nothing
    assert len(links) == 2
    queries = [parse_qs(urlparse(link.replace("&amp;", "&")).query) for link in links]
    assert [q["division"] for q in queries] == [[NANSHAN], [sub.code]]
    for q in queries:
        assert q["event"] == ["follow_ups"]
        assert q["event_from"] == ["2026-10-01"] and q["event_to"] == ["2026-11-01"]
    # the list answers within the viewer's jurisdiction
    client.force_login(nanshan_dispatcher)
    assert client.get(links[0].replace("&amp;", "&")).status_code == 200


# --- 7. the division menus; an empty report period -------------------------------------------------


def test_communities_sharing_a_name_are_told_apart(city_leader):
    sub = Division.objects.filter(level="subdistrict").order_by("code").first()
    twins = list(Division.objects.filter(parent=sub, level="community").order_by("code")[:2])
    for twin, full in zip(twins, ("杨美社区杨美居委会", "杨美社区嘉丽园居委会"), strict=True):
        twin.name, twin.short_name = full, "杨美社区"
        twin.save(update_fields=["name", "short_name"])
    with translation.override("en"):
        labels = division_labels(twins)
        assert labels[twins[0].pk] == f"杨美社区杨美居委会 ({sub.display_name})"
        assert labels[twins[1].pk] == f"杨美社区嘉丽园居委会 ({sub.display_name})"
        assert division_labels(twins, subdistrict=False)[twins[0].pk] == "杨美社区杨美居委会"
    other = Division.objects.filter(parent=sub, level="community").order_by("code")[2]
    with translation.override("en"):
        assert division_labels([other])[other.pk] == f"{other.display_name} ({sub.display_name})"
    # the menu: a group per subdistrict, its communities labelled with it
    choices = dict(division_choices(user=city_leader))
    group = next(g for g in choices if g.endswith(f" · {sub.display_name}"))
    codes = [code for code, _label in choices[group]]
    assert codes[0] == sub.code and twins[0].code in codes and twins[1].code in codes
    texts = [label for _code, label in choices[group]]
    assert len(set(texts)) == len(texts)


def test_a_report_of_a_period_without_tickets_warns(client, city_leader):
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("analytics:reports"),
        {"division": NANSHAN, "period": "2024-01", "token": "r3-empty-period"},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert any("every figure of the report will be 0" in t for t in texts)
    levels = {m.level_tag for m in response.context["messages"]}
    assert "warning" in levels and "success" in levels  # made all the same


# --- 8. the alerts page ---------------------------------------------------------------------------


@pytest.fixture
def two_windows(db):
    nanshan = Division.objects.get(code=NANSHAN)
    community = (
        Division.objects.filter(code__startswith=NANSHAN[:6], level="community").order_by("code").first()
    )
    made = []
    for i, (first, end) in enumerate(
        ((date(2026, 11, 3), date(2026, 11, 6)), (date(2026, 11, 10), date(2026, 11, 13)))
    ):
        made.append(
            Alert.objects.create(
                kind=AlertKind.SURGE,
                key=f"r3-surge-{i}",
                status=AlertStatus.OPEN if i else AlertStatus.HANDLED,
                division=community if i else nanshan,
                window_start=datetime(first.year, first.month, first.day, tzinfo=TZ),
                window_end=datetime(end.year, end.month, end.day, tzinfo=TZ),
                observed=9,
                explanation="surge",
            )
        )
    return made


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_alert_says_where_and_over_which_days(client, city_leader, two_windows, language):
    html = _get(client, city_leader, reverse("analytics:alerts"), language, status="").content.decode()
    assert 'class="data stack" data-testid="alert-table"' in html  # a card per alert on a phone
    places = re.findall(r'data-testid="alert-place">([^<]*)<', html)
    windows = re.findall(r'data-testid="alert-window">([^<]*)<', html)
    community = two_windows[1].division
    with translation.override(language):
        assert places == [division_labels([community])[community.pk], "南山区"]
    with translation.override(language):
        between = pgettext("a range of days", "%(first)s – %(last)s")  # 至 in Chinese
    assert windows == [  # the end is exclusive
        between % {"first": "2026-11-10", "last": "2026-11-12"},
        between % {"first": "2026-11-03", "last": "2026-11-05"},
    ]


def test_a_false_alarm_asks_first(client, city_leader, two_windows):
    alert = two_windows[1]
    client.force_login(city_leader)
    url = reverse("analytics:alert_decide", args=[alert.pk])
    page = client.post(url, {"status": "false", "note": "查无此事", "next": "/analytics/alerts/"})
    assert page.status_code == 200 and page.templates[0].name == "analytics/alert_confirm.html"
    html = page.content.decode()
    assert 'name="confirm" value="1"' in html and 'value="查无此事"' in html
    assert 'data-testid="alert-window">2026-11-10 至 2026-11-12<' in html
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN  # nothing decided yet
    done = client.post(
        url, {"status": "false", "note": "查无此事", "confirm": "1", "next": "/analytics/alerts/"}
    )
    assert done.status_code == 302 and done["Location"] == "/analytics/alerts/"
    alert.refresh_from_db()
    assert alert.status == AlertStatus.FALSE and alert.decision_note == "查无此事"


def test_mark_handled_needs_no_confirmation_and_the_confirm_page_refuses_a_foreign_next(
    client, city_leader, two_windows
):
    alert = two_windows[1]
    client.force_login(city_leader)
    url = reverse("analytics:alert_decide", args=[alert.pk])
    page = client.post(url, {"status": "false", "next": "https://evil.example/"})
    assert "evil.example" not in page.content.decode()
    assert client.post(url, {"status": "handled"}).status_code == 302
    alert.refresh_from_db()
    assert alert.status == AlertStatus.HANDLED


def test_topic_words_leave_out_complaint_boilerplate():
    """Was "居民、很大、意见、整改、附近": the stock ending of a complaint, not its matter."""
    from zhiwang.analytics.alerts import top_words

    texts = ["安置补偿：附近居民意见很大，希望尽快整改。"] * 3 + [
        "安置补偿：已经持续好几天了，影响居民正常生活，请尽快处理。"
    ] * 2
    words = top_words(texts)
    assert "安置" in words and "补偿" in words
    for filler in ("居民", "很大", "意见", "整改", "附近", "尽快", "希望", "影响", "已经"):
        assert filler not in words
    noise = top_words(["小区附近工地夜间施工噪音很大，严重影响居民休息，希望相关部门尽快处理"] * 4)
    assert {"噪音", "工地", "施工"} <= set(noise)
    assert not {"附近", "很大", "严重", "相关", "部门"} & set(noise)
