"""The 考核指标 unit table in pages (issue 5): a city has thousands of handling units, so the page
shows 50 a page and the API answers ``limit``/``offset`` of them with ``units_count``. The order
(by code, or by an indicator's value) is the database's over every unit before the page is cut:
page 2 continues page 1, also when sorted, and a viewer never sees a unit outside their
jurisdiction on any page."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from zhiwang.accounts.models import OrgUnit
from zhiwang.analytics.models import IndicatorFigure
from zhiwang.analytics.views import UNITS_PER_PAGE
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db

NOVEMBER = date(2026, 11, 1)
OCTOBER = date(2026, 10, 1)
API = "/api/v1/analytics/indicators"
#: Units made in Nanshan (more than two pages of the web table) and in Luohu.
N_NANSHAN, N_LUOHU = 2 * UNITS_PER_PAGE + 23, 30


def _row(month, unit, indicator, n, d):
    return IndicatorFigure(
        month=month, group="unit", key=unit.pk, indicator=indicator, numerator=n, denominator=d
    )


@pytest.fixture
def many_units(db):
    """123 Nanshan units and 30 Luohu units with stored October and November figures.

    The response rate over the two months is (i % 7) / 14 for Nanshan's unit i, so values repeat
    (ties go by area and name); every tenth unit has no response rate at all (only a handling time) and
    every ninth one counted nothing due (denominator 0): those have no value and come last. A
    unit with no figure in the run is not listed."""
    nanshan = Division.objects.get(code="440305000000")
    luohu = Division.objects.get(code="440303000000")
    subdistrict = Division.objects.filter(parent=nanshan, level="subdistrict").order_by("code").first()
    city = [
        IndicatorFigure(
            month=m, group="city", key=None, indicator="response_rate", numerator=1, denominator=2
        )
        for m in (OCTOBER, NOVEMBER)
    ]
    units, rows = {"nanshan": [], "luohu": []}, list(city)
    # codes not in creation order: the order must come from the codes, not from the ids
    for place, division, count in (("nanshan", nanshan, N_NANSHAN), ("luohu", luohu, N_LUOHU)):
        for i in range(count):
            serves = subdistrict if place == "nanshan" and i % 3 == 0 else division
            unit = OrgUnit.objects.create(
                code=f"T-{place[:2].upper()}-{(i * 37) % 1000:03d}",
                name=f"{place}单位{i}",
                kind="department",
                division=serves,
            )
            units[place].append(unit)
            for month in (OCTOBER, NOVEMBER):
                if i % 10 == 0:
                    rows.append(_row(month, unit, "average_handling_time", 10.0, 2))
                elif i % 9 == 0:
                    rows.append(_row(month, unit, "response_rate", 0, 0))
                else:
                    rows.append(_row(month, unit, "response_rate", (i % 7) / 2, 7))
    OrgUnit.objects.create(code="T-NS-NOTHING", name="无数据单位", kind="department", division=nanshan)
    IndicatorFigure.objects.bulk_create(rows)
    return units


def _area(unit):
    """The default order: by the area the unit serves (its division's code), then its name."""
    return (unit.division.code, unit.name, unit.pk)


def _expected(units, *, descending=True):
    """Codes in the order of the response rate over both months (no value last, ties by area)."""

    def value(i):
        return None if i % 10 == 0 or i % 9 == 0 else (i % 7) / 14

    with_value = sorted(
        ((value(i), u) for i, u in enumerate(units) if value(i) is not None), key=lambda vu: _area(vu[1])
    )
    with_value.sort(key=lambda vu: vu[0], reverse=descending)
    without = sorted((u for i, u in enumerate(units) if value(i) is None), key=_area)
    return [u.code for _v, u in with_value] + [u.code for u in without]


def _api_pages(client, limit, **query):
    codes, offset, counts = [], 0, set()
    while True:
        response = client.get(
            API, {"month": "2026-10", "months": "2", "limit": limit, "offset": offset, **query}
        )
        assert response.status_code == 200, response.content
        body = response.json()
        counts.add(body["units_count"])
        assert len(body["units"]) <= limit
        if not body["units"]:
            break
        codes += [u["code"] for u in body["units"]]
        offset += limit
    assert len(counts) == 1
    return codes, counts.pop()


def _page_codes(html):
    table = html[html.index('data-testid="unit-table"') :]
    table = table[table.index("<tbody>") : table.index("</tbody>")]
    return [part.split('"', 1)[0] for part in table.split('data-code="')[1:]]


# --- the API ----------------------------------------------------------------------------------------


def test_the_api_pages_the_units_by_area_and_name_by_default(many_units, nanshan_dispatcher, client):
    client.force_login(nanshan_dispatcher)
    first = client.get(API, {"month": "2026-10", "months": "2"}).json()
    assert first["units_count"] == N_NANSHAN  # not the unit without figures, not Luohu's
    assert len(first["units"]) == 100  # the house default limit
    codes, count = _api_pages(client, 40)
    assert count == N_NANSHAN and codes == [u.code for u in sorted(many_units["nanshan"], key=_area)]
    # the figures of a page are those of its units, summed over the run
    row = next(u for u in first["units"] if u["code"] == many_units["nanshan"][1].code)
    assert row["figures"]["response_rate"] == {"numerator": 1.0, "denominator": 14, "value": 0.0714}


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_sorted_pages_continue_each_other(many_units, nanshan_dispatcher, client, direction):
    client.force_login(nanshan_dispatcher)
    codes, count = _api_pages(client, 17, sort="response_rate", dir=direction)
    assert count == N_NANSHAN and len(set(codes)) == N_NANSHAN
    assert codes == _expected(many_units["nanshan"], descending=direction == "desc")
    body = client.get(
        API, {"month": "2026-10", "months": "2", "sort": "response_rate", "dir": direction}
    ).json()
    assert (body["sort"], body["dir"]) == ("response_rate", direction)


def test_the_api_refuses_bad_paging_and_sorting(many_units, city_leader, client):
    client.force_login(city_leader)
    for query, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "10000001"}, "offset"),
        ({"offset": "9" * 30}, "offset"),
    ):
        response = client.get(API, query)
        assert response.status_code == 422, (query, response.content)
        error = response.json()["error"]
        assert error["code"] == "request.invalid"
        assert [f["field"] for f in error["fields"]] == [field]
    for query, field, code in (
        ({"sort": "rate"}, "sort", "analytics.sort_unknown"),
        ({"sort": "response_rate", "dir": "up"}, "dir", "analytics.direction_unknown"),
    ):
        response = client.get(API, query)
        assert response.status_code == 400, (query, response.content)
        error = response.json()["error"]
        assert (error["code"], error["field"]) == (code, field)
    # an offset past the end: an empty page, the count still said
    body = client.get(API, {"month": "2026-10", "months": "2", "offset": 5000}).json()
    assert body["units"] == [] and body["units_count"] == N_NANSHAN + N_LUOHU


def test_a_page_reads_only_its_units_figures(many_units, city_leader, client):
    """The aggregate over the unit rows is cut to the page's units: the query count does not grow
    with the number of units, and no query reads the figures of every unit."""
    client.force_login(city_leader)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(
            API, {"month": "2026-10", "months": "2", "sort": "response_rate", "limit": 5, "offset": 10}
        ).json()
    assert len(body["units"]) == 5
    figure_reads = [q["sql"] for q in queries if "analytics_indicatorfigure" in q["sql"]]
    assert len(figure_reads) <= 8, figure_reads
    every_city = N_NANSHAN + N_LUOHU
    assert body["units_count"] == every_city
    assert _api_pages(client, 50, sort="response_rate")[0][:every_city] == _expected_city(many_units)


def _expected_city(many_units):
    """The city's order: Nanshan's and Luohu's units by the same rule (Luohu's i as Nanshan's)."""

    def value(i):
        return None if i % 10 == 0 or i % 9 == 0 else (i % 7) / 14

    rows = [(value(i), u) for place in ("nanshan", "luohu") for i, u in enumerate(many_units[place])]
    with_value = sorted((r for r in rows if r[0] is not None), key=lambda r: _area(r[1]))
    with_value.sort(key=lambda r: r[0], reverse=True)
    without = sorted((u for v, u in rows if v is None), key=_area)
    return [u.code for _v, u in with_value] + [u.code for u in without]


# --- the page ---------------------------------------------------------------------------------------


def test_the_page_shows_fifty_units_a_page_sorted_across_pages(many_units, nanshan_dispatcher, client):
    client.force_login(nanshan_dispatcher)
    url = reverse("analytics:indicators")
    query = {"period": "2026-Q4", "sort": "response_rate", "dir": "asc"}
    seen = []
    for number in (1, 2, 3):
        page = client.get(url, {**query, "page": number})
        assert page.status_code == 200
        html = page.content.decode()
        codes = _page_codes(html)
        assert len(codes) == (UNITS_PER_PAGE if number < 3 else N_NANSHAN - 2 * UNITS_PER_PAGE)
        seen += codes
        assert 'data-testid="unit-pager"' in html
        assert f"({N_NANSHAN})" in html  # how many units in all
        # the pager's links keep the place, the period and the sort
        keep = "division=440305000000&amp;period=2026-Q4&amp;sort=response_rate&amp;dir=asc"
        if number < 3:
            assert f"?{keep}&amp;page={number + 1}" in html
        if number > 1:
            assert f"?{keep}&amp;page={number - 1}" in html
    assert seen == _expected(many_units["nanshan"], descending=False)


def test_a_bad_page_number_shows_the_first_or_last_page(many_units, nanshan_dispatcher, client):
    client.force_login(nanshan_dispatcher)
    url = reverse("analytics:indicators")
    first = _page_codes(client.get(url, {"period": "2026-Q4"}).content.decode())
    last = _page_codes(client.get(url, {"period": "2026-Q4", "page": 3}).content.decode())
    for number, expected in (("x", first), ("-1", last), ("0", last), ("999", last), ("9" * 40, last)):
        page = client.get(url, {"period": "2026-Q4", "page": number})
        assert page.status_code == 200, number
        assert _page_codes(page.content.decode()) == expected, number


def test_no_page_shows_a_unit_outside_the_jurisdiction(many_units, nanshan_dispatcher, client):
    from zhiwang.accounts import services

    client.force_login(nanshan_dispatcher)
    url = reverse("analytics:indicators")
    luohu = {u.code for u in many_units["luohu"]}
    shown = []
    for direction in ("desc", "asc"):
        for number in (1, 2, 3, 4):
            html = client.get(
                url, {"period": "2026-Q4", "sort": "response_rate", "dir": direction, "page": number}
            )
            shown += _page_codes(html.content.decode())
    assert shown and not luohu & set(shown)
    codes, _count = _api_pages(client, 1000, sort="response_rate")
    assert not luohu & set(codes)
    # a subdistrict leader: only the units serving the subdistrict (every third Nanshan unit)
    subdistrict = many_units["nanshan"][0].division
    leader = services.user_create(
        username="sub_leader_pages",
        password=None,
        role="leader",
        full_name="街道领导",
        jurisdictions=[subdistrict],
    )
    client.force_login(leader)
    ours = {u.code for u in many_units["nanshan"] if u.division_id == subdistrict.pk}
    codes, count = _api_pages(client, 7, sort="response_rate", dir="asc")
    assert set(codes) == ours and count == len(ours) == len(codes)
    page = client.get(url, {"period": "2026-Q4", "page": 2})
    assert set(_page_codes(page.content.decode())) == ours  # one page only: the first one


def test_the_api_takes_the_pages_period(many_units, nanshan_dispatcher, client):
    """The page's address (``period=2026-Q4``) copied into the API answers that quarter, not the
    latest month; with ``month`` beside it, or a bad one, a clear error."""
    client.force_login(nanshan_dispatcher)
    quarter = client.get(API, {"period": "2026-Q4"}).json()
    months = client.get(API, {"month": "2026-10", "months": "3"}).json()
    assert (quarter["month"], quarter["months"]) == ("2026-10", 3)
    assert quarter["units"] == months["units"]
    assert client.get(API, {"period": "2026-11"}).json()["month"] == "2026-11"
    for query, code in (
        ({"period": "2026-Q4", "month": "2026-10"}, "analytics.period_with_month"),
        ({"period": "2026-Q5"}, "analytics.period_invalid"),
        ({"month": "2026-13"}, "analytics.month_invalid"),
    ):
        response = client.get(API, query, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 400, (query, response.content)
        error = response.json()["error"]
        assert error["code"] == code and error["field"] in ("period", "month"), (query, error)
        assert any("\u4e00" <= c <= "\u9fff" for c in error["message"])  # said in Chinese


def test_a_quarter_reads_as_a_quarter_in_chinese(many_units, nanshan_dispatcher, client):
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("analytics:indicators"), {"period": "2026-Q4"}).content.decode()
    heading = html[html.index("<h1") : html.index("</h1>")]
    assert "2026年第4季度" in heading and "2026-Q4" not in heading
    assert '<option value="2026-Q4" selected>2026年第4季度</option>' in html
    # a quarter still running names the months it lacks, listed the Chinese way
    assert "2026-12" in html[html.index('data-testid="missing"') :]
