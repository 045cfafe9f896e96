"""A rank of the governance index is the city's (every subdistrict is ranked with every other), so
a rank that equal scores share (并列) is shared among all the city's places of the level. The index
page counted ties among the rows its viewer sees, the report among all places: a Nanshan
dispatcher read "1" where the report of Nanshan printed "并列1" (a Luohu subdistrict has the same
score). Both now say "tied" alike; the viewer still sees only the rows of their jurisdiction."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.urls import reverse
from django.utils import translation

from zhiwang.analytics import reports
from zhiwang.analytics.models import GovernanceIndex
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db

MONTH = date(2026, 10, 1)


def tied_text(rank) -> str:
    return translation.pgettext("a rank shared by equal scores", "%(rank)s (tied)") % {"rank": rank}


@pytest.fixture
def city_ranking(db):
    """Subdistricts of Nanshan and one of Luohu, ranked together: Nanshan's first shares rank 1 with
    Luohu's; two of Nanshan share rank 5 between themselves; 3 and 4 are Nanshan's alone. The
    communities rank apart: Nanshan's first community shares nothing (a Luohu subdistrict's equal
    rank at another level is no tie)."""
    nanshan = list(
        Division.objects.filter(code__startswith="440305", level="subdistrict").order_by("code")[:5]
    )
    luohu = Division.objects.filter(code__startswith="440303", level="subdistrict").order_by("code").first()
    community = Division.objects.filter(code__startswith="440305", level="community").order_by("code").first()
    assert len(nanshan) == 5 and luohu is not None and community is not None
    plan = [
        (nanshan[0], 100.0, 1),
        (luohu, 100.0, 1),
        (nanshan[1], 90.0, 3),
        (nanshan[2], 80.0, 4),
        (nanshan[3], 70.0, 5),
        (nanshan[4], 70.0, 5),
        (community, 95.0, 1),
    ]
    rows = [
        GovernanceIndex(month=MONTH, division=place, level=place.level, score=score, rank=rank, values={})
        for place, score, rank in plan
    ]
    GovernanceIndex.objects.bulk_create(rows)
    return {"nanshan": nanshan, "luohu": luohu, "community": community}


def _page_ranks(client, user, level="subdistrict") -> dict[str, str]:
    """The rank cell of each row of the index page, by the place's code."""
    client.force_login(user)
    client.cookies["django_language"] = "en"
    html = client.get(reverse("analytics:index"), {"month": "2026-10", "level": level}).content.decode()
    table = re.search(r'data-testid="index-table">(.*?)</table>', html, re.S).group(1)
    return dict(re.findall(r'data-code="(\d+)"><td data-testid="rank">([^<]*)<', table))


def test_a_viewer_who_sees_part_of_the_city_reads_the_citys_ties(
    client, nanshan_dispatcher, city_leader, city_ranking
):
    nanshan, luohu = city_ranking["nanshan"], city_ranking["luohu"]
    shown = _page_ranks(client, nanshan_dispatcher)
    city = _page_ranks(client, city_leader)
    rows = list(
        GovernanceIndex.objects.filter(division__code__startswith="440305").select_related("division")
    )
    tied = reports._index_tied(rows)
    with translation.override("en"):
        # Nanshan's rows only; Nanshan's first shares rank 1 with Luohu's, which is not shown
        assert luohu.code not in shown
        assert shown == {
            nanshan[0].code: tied_text(1),
            nanshan[1].code: "3",
            nanshan[2].code: "4",
            nanshan[3].code: tied_text(5),
            nanshan[4].code: tied_text(5),
        }
        # the city sees the same words for the same rows, and Luohu's
        assert city == {**shown, luohu.code: tied_text(1)}
        # the report of Nanshan says the same of every row it prints (a rank is the city's)
        printed = {r.division.code: reports._pdf_rank(r, tied) for r in rows if r.level == "subdistrict"}
        assert printed == shown
        assert reports._pdf_rank(next(r for r in rows if r.level == "community"), tied) == "1"
    # communities rank apart: rank 1 there is no tie with the subdistricts' rank 1
    community = city_ranking["community"]
    assert _page_ranks(client, nanshan_dispatcher, level="community") == {community.code: "1"}
