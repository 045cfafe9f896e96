"""A division moved by an administrative adjustment (区划调整): statistics follow the current tree.

A community of Nanshan's first subdistrict (A) moves to another Nanshan subdistrict (B) by loading a
divisions CSV whose row gives its new code under B and the old one as ``previous_code``. After the
load (which re-derives the places), the tickets name B, and the dashboards of A and B count them
exactly where their ticket lists (the figures' links, opened by a Nanshan dispatcher) list them.
Before the places are re-derived (``--no-rederive``), the dashboards and the lists still agree:
A counts and lists them (its "Unlocated" row: their community is no longer A's child), B neither.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from zhiwang.analytics import selectors
from zhiwang.analytics.rollups import rollup_rebuild, rollup_snapshot
from zhiwang.analytics.rollups.places import places_rederive
from zhiwang.analytics.selectors.place import Place
from zhiwang.geo.models import Division, DivisionLevel
from zhiwang.geo.services import divisions_load_csv
from zhiwang.tickets.models import Ticket
from zhiwang.tickets.services.places import ticket_places_rederive

TZ = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
HEADER = ["level", "code", "name", "parent_code", "short_code", "short_name", "special", "previous_code"]

pytestmark = pytest.mark.django_db


def write(path, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def load(path, *args) -> str:
    out = StringIO()
    call_command("load_divisions", "--csv", str(path), *args, stdout=out)
    return out.getvalue()


def listed(client, link) -> int:
    response = client.get(link)
    assert response.status_code == 200, response.status_code
    assert not response.context["form"].errors, response.context["form"].errors
    return response.context["page"].paginator.count


def window():
    return MON.date(), MON.date() + timedelta(days=1)


def received(client, division: Division) -> tuple[int, int]:
    """(the dashboard's arrivals of ``division``, how many tickets its link lists)."""
    start, end = window()
    s = selectors.summary(place=Place(division), start=start, end=end)
    return s.flows["received"], listed(client, s.links["received"])


def child_rows(client, division: Division) -> dict[str, tuple[int, int]]:
    """Per child row of the dashboard (``""``: the Unlocated row): (arrivals, listed by its link)."""
    start, end = window()
    return {
        row["code"]: (row["received"], listed(client, row["links"]["received"]))
        for row in selectors.children(place=Place(division), start=start, end=end)
        if row["received"] or row.get("unlocated")
    }


@pytest.fixture
def viewer(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    return client


@pytest.fixture
def move(tmp_path, nanshan_community):
    """``move(*args)``: load the CSV moving the grid worker's community from A to B; returns (A, B, new code, output)."""
    community = nanshan_community
    a = community.parent
    b = (
        Division.objects.filter(parent=a.parent, level=DivisionLevel.SUBDISTRICT, special="")
        .exclude(pk=a.pk)
        .order_by("code")
        .first()
    )
    new_code = f"{b.code[:9]}901"
    assert not Division.objects.filter(code=new_code).exists()
    path = write(
        tmp_path / "adjustment.csv",
        [["community", new_code, community.name, b.code, "", community.short_name, "", community.code]],
    )

    def run(*args):
        return a, b, new_code, load(path, *args)

    return run


@pytest.fixture
def tickets(frozen_now, make_ticket, dispatched, luohu_building):
    """Two tickets in the community (one dispatched), one in Luohu; received on Monday."""
    frozen_now(MON)
    inside = [make_ticket(), dispatched()]
    make_ticket(address_code=luohu_building.code)
    return inside


def test_after_the_move_the_tickets_name_the_new_subdistrict_and_dashboards_agree_with_lists(
    tickets, move, viewer, nanshan_community
):
    a_before = received(viewer, nanshan_community.parent)
    assert a_before == (2, 2)

    a, b, new_code, output = move()

    assert f"moved: 1 divisions ({new_code})" in output and "places re-derived: 2 tickets" in output
    community = Division.objects.get(pk=nanshan_community.pk)  # the same row, under its new code
    assert community.code == new_code and community.parent == b
    for ticket in Ticket.objects.filter(pk__in=[t.pk for t in tickets]):
        assert (ticket.community_id, ticket.subdistrict_id, ticket.district_id) == (
            community.pk,
            b.pk,
            b.parent_id,
        )
    assert received(viewer, a) == (0, 0)
    assert received(viewer, b) == (2, 2)
    assert child_rows(viewer, a) == {}  # no "Unlocated" row gained
    assert child_rows(viewer, b) == {new_code: (2, 2)}
    assert received(viewer, community) == (2, 2)
    # the re-keyed rollups are exactly what counting the whole timeline again gives
    moved = rollup_snapshot()
    rollup_rebuild()
    assert rollup_snapshot() == moved


def test_before_the_places_are_re_derived_dashboards_and_lists_still_agree(
    tickets, move, viewer, nanshan_community
):
    """Fails on the old list filters: A's list (code prefix) and its Unlocated link (empty
    column) listed none of the tickets A's dashboard counts."""
    a, b, new_code, output = move("--no-rederive")

    assert f"Run now: zhiwang rederive-places --division {new_code}" in output
    assert set(
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("subdistrict_id", flat=True)
    ) == {a.pk}
    assert received(viewer, a) == (2, 2)
    assert child_rows(viewer, a) == {"": (2, 2)}  # the community is no longer A's child
    assert received(viewer, b) == (0, 0)
    assert child_rows(viewer, b) == {}

    assert places_rederive(division_ids=[nanshan_community.pk]) == {"tickets": 2, "rollup_rows": 4}
    assert received(viewer, a) == (0, 0) and child_rows(viewer, a) == {}
    assert received(viewer, b) == (2, 2) and child_rows(viewer, b) == {new_code: (2, 2)}


def test_a_load_that_moves_nothing_touches_no_ticket(tickets, tmp_path, nanshan_community):
    community = nanshan_community
    path = write(
        tmp_path / "same.csv",
        [
            [
                "community",
                community.code,
                community.name,
                community.parent.code,
                "",
                community.short_name,
                "",
                "",
            ]
        ],
    )
    with CaptureQueriesContext(connection) as queries:
        result = divisions_load_csv(path)
    assert result["moved"] == []
    assert not [q["sql"] for q in queries if "tickets_ticket" in q["sql"] or "analytics_" in q["sql"]]
    assert "moved" not in load(path)
    with CaptureQueriesContext(connection) as queries:
        assert ticket_places_rederive(division_ids=[]) == 0
        assert places_rederive(division_ids=[]) == {"tickets": 0, "rollup_rows": 0}
    assert len(queries) == 0


def test_re_deriving_again_changes_nothing(tickets, move, nanshan_community):
    move()
    snapshot = rollup_snapshot()
    assert places_rederive(division_ids=[nanshan_community.pk]) == {"tickets": 0, "rollup_rows": 0}
    assert rollup_snapshot() == snapshot


def test_a_move_keeping_the_old_code_is_refused(tickets, tmp_path, nanshan_community):
    """The code prefix and the parent links are one tree (jurisdictions and lists read the prefix)."""
    community = nanshan_community
    a = community.parent
    b = Division.objects.filter(parent=a.parent, level=DivisionLevel.SUBDISTRICT).exclude(pk=a.pk).first()
    path = write(
        tmp_path / "same_code.csv",
        [["community", community.code, community.name, b.code, "", community.short_name, "", ""]],
    )
    with pytest.raises(CommandError) as refused:
        load(path)
    assert community.code in str(refused.value) and "previous_code" in str(refused.value)
    community.refresh_from_db()
    assert community.parent == a
    assert set(
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("subdistrict_id", flat=True)
    ) == {a.pk}


def test_a_subdistrict_moved_to_another_district_takes_its_communities_and_tickets(
    tickets, tmp_path, viewer, admin_user, client, nanshan_community
):
    """A subdistrict re-coded under Luohu with every community of it; one left behind is refused."""
    a = nanshan_community.parent
    luohu = Division.objects.get(code="440303000000")
    new_a = "440303901000"
    communities = list(Division.objects.filter(parent=a).order_by("code"))
    rows = [["subdistrict", new_a, a.name, luohu.code, "", a.short_name, a.special, a.code]]
    rows += [
        ["community", f"440303901{c.code[9:]}", c.name, new_a, "", c.short_name, c.special, c.code]
        for c in communities
    ]
    with pytest.raises(CommandError) as refused:
        load(write(tmp_path / "half.csv", rows[:-1]))  # the last community keeps its old code
    assert communities[-1].code in str(refused.value)
    assert Division.objects.get(pk=a.pk).code == a.code

    output = load(write(tmp_path / "whole.csv", rows))
    assert f"moved: {len(rows)} divisions" in output
    for ticket in Ticket.objects.filter(pk__in=[t.pk for t in tickets]):
        assert (ticket.subdistrict_id, ticket.district_id) == (a.pk, luohu.pk)
    client.force_login(admin_user)  # the city's view: Luohu now counts them, Nanshan no longer
    a.refresh_from_db()
    assert received(client, luohu)[0] == received(client, luohu)[1] == 3  # with the Luohu ticket
    assert received(client, Division.objects.get(code="440305000000")) == (0, 0)
    assert child_rows(client, luohu)[new_a] == (2, 2)
    moved = rollup_snapshot()
    rollup_rebuild()
    assert rollup_snapshot() == moved


def test_a_new_code_another_division_has_is_refused(tmp_path, nanshan_community):
    community = nanshan_community
    other = Division.objects.filter(parent=community.parent).exclude(pk=community.pk).order_by("code").first()
    path = write(
        tmp_path / "taken.csv",
        [["community", other.code, community.name, other.parent.code, "", "", "", community.code]],
    )
    with pytest.raises(CommandError) as refused:
        load(path)
    assert other.code in str(refused.value)
    assert Division.objects.get(pk=community.pk).code == community.code


def test_rederive_places_all_repairs_the_whole_city(tickets, move, viewer):
    a, b, new_code, _output = move("--no-rederive")
    out = StringIO()
    call_command("rederive_places", "--all", stdout=out)
    assert "places re-derived: 2 tickets" in out.getvalue()
    assert received(viewer, a) == (0, 0) and child_rows(viewer, b) == {new_code: (2, 2)}
    with pytest.raises(CommandError):
        call_command("rederive_places", "--division", "440399999999")


def test_a_failed_re_derivation_leaves_the_divisions_where_they_were(
    tickets, move, nanshan_community, monkeypatch
):
    """The load and the re-derivation are one transaction: divisions never move without their tickets."""

    def boom(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("zhiwang.analytics.management.commands.rederive_places.places_rederive", boom)
    before = nanshan_community.code, nanshan_community.parent_id
    with pytest.raises(RuntimeError):
        move()
    nanshan_community.refresh_from_db()
    assert (nanshan_community.code, nanshan_community.parent_id) == before
    assert {t.subdistrict_id for t in Ticket.objects.filter(pk__in=[t.pk for t in tickets])} == {before[1]}


def test_an_old_code_still_in_the_file_is_refused(tmp_path, nanshan_community):
    """A row for the old code beside the row that moves it would make a second division of it."""
    community = nanshan_community
    b = (
        Division.objects.filter(level=DivisionLevel.SUBDISTRICT)
        .exclude(pk=community.parent_id)
        .order_by("code")[0]
    )
    new_code = f"{b.code[:9]}902"
    path = write(
        tmp_path / "both.csv",
        [
            ["community", new_code, community.name, b.code, "", "", "", community.code],
            ["community", community.code, community.name, community.parent.code, "", "", "", ""],
        ],
    )
    with pytest.raises(CommandError) as refused:
        load(path)
    assert "previous_code" in str(refused.value) and community.code in str(refused.value)
    assert not Division.objects.filter(code=new_code).exists()
