"""The red and black lists of the governance index are the city's, as its ranks are (every
subdistrict is placed with every other). The index page and the API counted each list over the
rows their viewer sees: a Nanshan dispatcher read nothing of a red list of three places tied at
rank 1 (one of them Nanshan's), nor of a black list holding one Luohu place. Both now count the
lists city-wide and say how many of each are in the viewer's jurisdiction ("红榜共 N 个（您辖区内
M 个）"); a viewer who sees the whole city reads the lists as before."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from django.urls import reverse
from django.utils import translation

from zhiwang.analytics.models import GovernanceIndex
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db

MONTH = date(2026, 10, 1)
FORMULA = {
    "name": "f",
    "weights": {"on_time_closure_rate": 1},
    "red_count": 1,
    "black_count": 1,
    "black_below": None,
    "min_volume": 0,
}
RED_TIED_MINE = (
    "The red list holds %(listed)s places across the city (%(mine)s in your jurisdiction), more than "
    "its size of %(size)s: equal scores at the cut share a rank, and no place is left out by a hidden "
    "tie-breaker."
)
RED_TIED_CITY = (
    "The red list holds %(listed)s places, more than its size of %(size)s: equal scores at the cut "
    "share a rank, and no place is left out by a hidden tie-breaker."
)
BLACK_COUNT_MINE = (
    "The black list holds %(listed)s place across the city (%(mine)s in your jurisdiction).",
    "The black list holds %(listed)s places across the city (%(mine)s in your jurisdiction).",
)


@pytest.fixture
def city_lists(db):
    """October's subdistricts: Nanshan's first and two of Luohu share rank 1 (the red list, size 1,
    holds three: one Nanshan's); three more of Nanshan rank 4 to 6; a Luohu place is last, alone on
    the black list (size 1). Nanshan's rows alone hold one red place and no black one."""
    nanshan = list(
        Division.objects.filter(code__startswith="440305", level="subdistrict").order_by("code")[:4]
    )
    luohu = list(Division.objects.filter(code__startswith="440303", level="subdistrict").order_by("code")[:3])
    assert len(nanshan) == 4 and len(luohu) == 3
    plan = [
        (nanshan[0], 100.0, 1, "red"),
        (luohu[0], 100.0, 1, "red"),
        (luohu[1], 100.0, 1, "red"),
        (nanshan[1], 90.0, 4, ""),
        (nanshan[2], 80.0, 5, ""),
        (nanshan[3], 70.0, 6, ""),
        (luohu[2], 40.0, 7, "black"),
    ]
    GovernanceIndex.objects.bulk_create(
        GovernanceIndex(
            month=MONTH,
            division=place,
            level="subdistrict",
            score=score,
            rank=rank,
            standing=standing,
            values={},
            formula_used=FORMULA,
            volume=9,
        )
        for place, score, rank, standing in plan
    )
    return {"nanshan": nanshan, "luohu": luohu}


def _lists_section(client, user, language="en") -> str:
    client.force_login(user)
    client.cookies["django_language"] = language
    html = client.get(reverse("analytics:index"), {"month": "2026-10"}).content.decode()
    if 'data-testid="lists"' not in html:
        return ""
    section = html[html.index('data-testid="lists"') :]
    return unescape(section[: section.index("</section>")])


def _paragraph(section: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}">(.*?)</p>', section, re.S)
    return found.group(1).strip() if found else ""


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_viewer_who_sees_part_of_the_city_reads_the_citys_lists_and_their_share(
    client, nanshan_dispatcher, city_lists, language
):
    section = _lists_section(client, nanshan_dispatcher, language)
    with translation.override(language):
        red = translation.gettext(RED_TIED_MINE) % {"listed": 3, "mine": 1, "size": 1}
        black = translation.ngettext(*BLACK_COUNT_MINE, 1) % {"listed": 1, "mine": 0}
    # three places share the red list's rank 1 across the city, one of them the viewer's
    assert _paragraph(section, "red-list") == red
    # the black list holds one place, none the viewer's: said all the same (it is the city's list)
    assert _paragraph(section, "black-list") == black


def test_the_api_counts_the_lists_city_wide_with_the_callers_share(
    client, nanshan_dispatcher, city_leader, city_lists
):
    client.force_login(nanshan_dispatcher)
    body = client.get("/api/v1/analytics/index", {"month": "2026-10"}).json()
    assert {r["division"] for r in body["rows"]} == {d.code for d in city_lists["nanshan"]}
    assert body["lists"] == {
        "red": {"size": 1, "listed": 3, "longer_by_ties": True, "in_scope": 1},
        "black": {"size": 1, "listed": 1, "below_bar": 0, "longer_by_ties": False, "in_scope": 0},
        "whole_city": False,
    }
    # the city's leader reads the same lists, all of them in scope
    client.force_login(city_leader)
    city = client.get("/api/v1/analytics/index", {"month": "2026-10"}).json()["lists"]
    assert city == {
        "red": {"size": 1, "listed": 3, "longer_by_ties": True, "in_scope": 3},
        "black": {"size": 1, "listed": 1, "below_bar": 0, "longer_by_ties": False, "in_scope": 1},
        "whole_city": True,
    }


def test_a_viewer_of_the_whole_city_reads_the_lists_as_before(client, city_leader, city_lists):
    section = _lists_section(client, city_leader)
    assert _paragraph(section, "red-list") == RED_TIED_CITY % {"listed": 3, "size": 1}
    # no tie at the black cut, and the table shows the whole list: nothing to say of it
    assert 'data-testid="black-list"' not in section
    assert "your jurisdiction" not in section


def test_the_black_cut_is_the_citys(client, nanshan_dispatcher, city_lists):
    """The rank of the black list's cut is found among all the city's ranks: counted over Nanshan's
    rows alone, Nanshan's last place (rank 6) would have looked like the cut."""
    GovernanceIndex.objects.filter(division=city_lists["luohu"][2]).update(score=70.0, rank=6)
    GovernanceIndex.objects.filter(division__in=[city_lists["luohu"][2], city_lists["nanshan"][3]]).update(
        standing="black"
    )
    client.force_login(nanshan_dispatcher)
    lists = client.get("/api/v1/analytics/index", {"month": "2026-10"}).json()["lists"]
    assert lists["black"] == {"size": 1, "listed": 2, "below_bar": 0, "longer_by_ties": True, "in_scope": 1}
    section = _lists_section(client, nanshan_dispatcher)
    assert (
        "The black list holds 2 places across the city (1 in your jurisdiction), more than its size of 1"
        in (_paragraph(section, "black-list"))
    )


def test_a_month_the_viewer_has_no_row_of_says_nothing_of_lists(client, nanshan_dispatcher, db):
    client.force_login(nanshan_dispatcher)
    body = client.get("/api/v1/analytics/index").json()
    assert body["rows"] == [] and body["lists"]["whole_city"] is True
    assert body["lists"]["red"]["listed"] == 0 and body["lists"]["red"]["in_scope"] == 0
    assert _lists_section(client, nanshan_dispatcher) == ""
