"""The governance index ranks only a place with enough tickets (found in review of issue 5).

On the small demo six communities of one subdistrict scored 100 on one or two tickets each and
all shared "rank 1, red list" although the red list's size was 3. ``IndexFormula.min_volume``
(default 5) is the fewest tickets due to close in the month (the on-time closure rate's
denominator) a place needs to be ranked: below it the place is scored and shown apart, neither
ranked nor on the red or black list, and the others' ranks close the gap.
"""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from zhiwang.analytics import index as idx
from zhiwang.analytics.admin import IndexFormulaForm
from zhiwang.analytics.index import (
    governance_index_compute,
    list_lengths,
    shown_formula,
    validate_min_volume,
)
from zhiwang.analytics.models import GovernanceIndex, IndexFormula
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Division

OCTOBER = date(2026, 10, 1)
TOO_FEW = "Too few tickets to rank: %(n)s (at least %(min)s)"


def _subdistricts(n):
    return list(
        Division.objects.filter(level="subdistrict").order_by("code").values_list("code", flat=True)[:n]
    )


def _fake(monkeypatch, figures):
    """Every indicator answers ``figures[code] = (value, tickets due)`` per subdistrict; the
    tickets due are the on-time closure rate's denominator (the volume), the others say 1."""
    pks = {d.code: d.pk for d in Division.objects.filter(code__in=figures)}

    def make(name):
        def indicator(*, user, start, end, by, **kwargs):
            if by != "subdistrict":
                return {}
            return {
                pks[code]: SimpleNamespace(
                    value=value, denominator=due if name == idx.VOLUME_INDICATOR else 1
                )
                for code, (value, due) in figures.items()
            }

        return indicator

    for name in list(idx.INDEX_INDICATORS):
        monkeypatch.setitem(idx.INDEX_INDICATORS, name, make(name))


def _placed():
    return {
        r.division.code: (r.score, r.rank, r.standing, r.volume)
        for r in GovernanceIndex.objects.filter(level="subdistrict").select_related("division")
    }


@pytest.fixture
def six(monkeypatch):
    """Six subdistricts: the best and the worst scores on too few tickets; one exactly at the minimum."""
    a, b, c, d, e, f = _subdistricts(6)
    _fake(
        monkeypatch,
        {
            a: (0.9, 10),
            b: (1.0, 2),  # the top score, on two tickets
            c: (0.8, 10),
            d: (0.8, 12),
            e: (0.3, 1),  # the bottom score, under the bar, on one ticket
            f: (0.5, 5),  # exactly the minimum: ranked
        },
    )
    return a, b, c, d, e, f


# --- the computation ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_place_below_the_minimum_is_scored_but_neither_ranked_nor_listed(six):
    a, b, c, d, e, f = six
    IndexFormula.objects.create(
        name="f", weights={"on_time_closure_rate": 1}, red_count=1, black_count=1, black_below=40
    )
    assert IndexFormula.objects.get().min_volume == 5  # the default
    governance_index_compute(month=OCTOBER)
    assert _placed() == {
        a: (90.0, 1, "red", 10),
        c: (80.0, 2, "", 10),
        d: (80.0, 2, "", 12),
        f: (50.0, 4, "black", 5),
        # scored, shown, but not ranked: not red for 100 on two tickets, not black for 30 on one
        b: (100.0, None, "", 2),
        e: (30.0, None, "", 1),
    }


@pytest.mark.django_db
def test_the_volume_is_counted_when_the_formula_does_not_weigh_the_on_time_rate(six):
    a, b, c, d, e, f = six
    IndexFormula.objects.create(name="f", weights={"satisfaction_rate": 1}, red_count=1, black_count=1)
    governance_index_compute(month=OCTOBER)
    placed = _placed()
    assert placed[b][1:] == (None, "", 2) and placed[e][1:] == (None, "", 1)
    assert placed[a][1:3] == (1, "red") and placed[f][1:3] == (4, "black")


@pytest.mark.django_db
def test_a_minimum_of_0_ranks_every_score_as_before(six):
    a, b, c, d, e, f = six
    IndexFormula.objects.create(
        name="f", weights={"on_time_closure_rate": 1}, red_count=1, black_count=1, min_volume=0
    )
    governance_index_compute(month=OCTOBER)
    placed = _placed()
    assert [placed[code][1] for code in (b, a, c, d, f, e)] == [1, 2, 3, 3, 5, 6]
    assert placed[b][2] == "red" and placed[e][2] == "black"


@pytest.mark.django_db
def test_ties_at_the_cut_keep_competition_ranks_and_say_the_list_is_longer(monkeypatch):
    """Three places share the top score: all three red although the red list's size is 1, and the
    page and the API say why (no hidden tie-breaker)."""
    codes = _subdistricts(5)
    _fake(monkeypatch, dict(zip(codes, [(1.0, 9), (1.0, 9), (1.0, 9), (0.7, 9), (0.5, 9)], strict=True)))
    IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 1}, red_count=1, black_count=1)
    governance_index_compute(month=OCTOBER)
    rows = list(GovernanceIndex.objects.filter(level="subdistrict"))
    assert sorted((r.rank, r.standing) for r in rows) == [(1, "red")] * 3 + [(4, ""), (5, "black")]
    lists = list_lengths(rows, shown_formula(rows))
    assert lists["red"] == {"size": 1, "listed": 3, "longer_by_ties": True}
    assert lists["black"]["longer_by_ties"] is False


def _listed(scores, **formula):
    """``list_lengths`` of the rows ``standings`` places for ``scores`` (best first)."""
    formula = IndexFormula(name="f", weights={"on_time_closure_rate": 1}, **formula)
    placed = idx.standings([(s, pk) for pk, s in enumerate(scores, start=1)], formula)
    rows = [
        SimpleNamespace(score=s, rank=placed[pk][0], standing=placed[pk][1])
        for pk, s in enumerate(scores, start=1)
    ]
    return rows, list_lengths(rows, idx.formula_snapshot(formula))


def test_a_tie_at_the_black_cut_is_reported_beside_a_score_below_the_bar():
    """Review finding 6: the 50 is among the three worst ranks, so it is there by rank as well as
    by the bar; the three tied 80s at the cut make the list 4 long, and that is a tie."""
    rows, lists = _listed(
        [99, 98, 97, 96, 95, 94, 80, 80, 80, 50], red_count=3, black_count=3, black_below=60
    )
    assert sorted((r.score, r.rank) for r in rows if r.standing == "black") == [
        (50, 10),
        (80, 7),
        (80, 7),
        (80, 7),
    ]
    assert lists["black"] == {"size": 3, "listed": 4, "below_bar": 0, "longer_by_ties": True}


def test_places_above_the_cut_are_black_for_the_bar_alone_and_are_no_tie():
    rows, lists = _listed([90, 85, 55, 50, 40], red_count=1, black_count=1, black_below=60)
    assert [r.standing for r in rows] == ["red", "", "black", "black", "black"]
    assert lists["black"] == {"size": 1, "listed": 3, "below_bar": 2, "longer_by_ties": False}
    # a tie at the cut beside places below the bar above it
    _rows, lists = _listed([90, 55, 40, 40], red_count=1, black_count=1, black_below=60)
    assert lists["black"] == {"size": 1, "listed": 3, "below_bar": 1, "longer_by_ties": True}
    # no black count: every black place is there for the bar
    _rows, lists = _listed([90, 55, 40], red_count=1, black_count=0, black_below=60)
    assert lists["black"] == {"size": 0, "listed": 2, "below_bar": 2, "longer_by_ties": False}


# --- the formula kept with each month --------------------------------------------------------


@pytest.mark.django_db
def test_each_month_keeps_the_minimum_it_was_ranked_by(six, city_leader, client):
    a, b, c, d, e, f = six
    formula = IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 1}, min_volume=5)
    governance_index_compute(month=OCTOBER)
    formula.min_volume = 0
    formula.save()
    row = GovernanceIndex.objects.get(division__code=b)
    assert row.formula_used["min_volume"] == 5 and row.min_volume == 5
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    body = client.get("/api/v1/analytics/index", {"month": "2026-10"}).json()
    assert body["formula"]["min_volume"] == 5
    assert next(r for r in body["rows"] if r["division"] == b)["unranked_note"] == (
        "Too few tickets to rank: 2 (at least 5)"
    )
    # recomputed with the edited formula, the month follows the new rule and says so
    governance_index_compute(month=OCTOBER)
    assert GovernanceIndex.objects.get(division__code=b).rank == 1
    assert GovernanceIndex.objects.get(division__code=b).formula_used["min_volume"] == 0


@pytest.mark.django_db
def test_rows_scored_before_the_minimum_read_as_ranked_without_one():
    (code,) = _subdistricts(1)
    row = GovernanceIndex.objects.create(
        month=OCTOBER,
        division=Division.objects.get(code=code),
        level="subdistrict",
        score=100.0,
        rank=1,
        standing="red",
        formula_used={"name": "old", "weights": {"on_time_closure_rate": 1}, "red_count": 3},
    )
    assert row.min_volume == 0 and row.ranked and row.unranked_reason is None and row.volume is None
    assert shown_formula([row])["min_volume"] == 0


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1, 2.5, "abc", "", " ", True, None, 10_001, "-3", [5]])
def test_a_minimum_that_is_not_a_whole_number_of_tickets_is_refused(value):
    with pytest.raises(ServiceError) as refused:
        validate_min_volume(value)
    assert refused.value.code == "analytics.min_volume_invalid" and refused.value.field == "min_volume"


def test_whole_numbers_from_0_are_taken():
    assert [validate_min_volume(v) for v in (0, 5, "7", " 12 ", 3.0, 10_000)] == [0, 5, 7, 12, 3, 10_000]


@pytest.mark.django_db
def test_the_computation_refuses_a_formula_with_a_bad_minimum(six):
    formula = IndexFormula(name="unsaved", weights={"on_time_closure_rate": 1}, min_volume=-2)
    with pytest.raises(ServiceError) as refused:
        governance_index_compute(month=OCTOBER, formula=formula)
    assert refused.value.code == "analytics.min_volume_invalid"
    assert not GovernanceIndex.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("value", ["-1", "2.5", "many"])
def test_the_admin_form_refuses_a_bad_minimum_in_the_readers_language(language, value):
    data = {"name": "x", "weight_on_time_closure_rate": "1", "red_count": 3, "black_count": 3}
    with translation.override(language):
        form = IndexFormulaForm(data={**data, "min_volume": value})
        assert not form.is_valid()
        expected = gettext(
            "The minimum number of tickets to rank must be a whole number from 0 to %(max)s."
        ) % {"max": idx.MAX_MIN_VOLUME}
    assert form.errors["min_volume"] == [expected]
    if language == "en":
        assert expected.startswith("The minimum number of tickets to rank")


@pytest.mark.django_db
def test_the_admin_form_saves_a_minimum():
    data = {"name": "x", "weight_on_time_closure_rate": "1", "red_count": 3, "black_count": 3}
    form = IndexFormulaForm(data={**data, "min_volume": "8"})
    assert form.is_valid(), form.errors
    assert form.save().min_volume == 8
    assert IndexFormulaForm().fields["min_volume"].initial == 5


@pytest.mark.django_db
def test_the_admin_page_edits_the_minimum(admin_client):
    formula = IndexFormula.objects.create(name="x", weights={"on_time_closure_rate": 1})
    page = admin_client.get(f"/admin/analytics/indexformula/{formula.pk}/change/")
    assert page.status_code == 200 and 'name="min_volume"' in page.content.decode()


# --- the page and the API, in both languages ----------------------------------------------------


def _translated(language, msgid, **params):
    with translation.override(language):
        text = gettext(msgid)
    return text % params if params else text


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_page_shows_the_unranked_apart_and_last(six, city_leader, client, language):
    a, b, c, d, e, f = six
    IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 1}, red_count=1, black_count=1)
    governance_index_compute(month=OCTOBER)
    names = dict(Division.objects.filter(code__in=six).values_list("code", "name"))
    client.force_login(city_leader)
    client.cookies["django_language"] = language
    page = client.get("/analytics/index/", {"month": "2026-10"}).content.decode()
    ranking = page[page.index('data-testid="index-table"') :]
    ranking = ranking[: ranking.index("</table>")]
    apart = page[page.index('data-testid="unranked-table"') :]
    apart = apart[: apart.index("</table>")]
    assert page.index('data-testid="index-table"') < page.index('data-testid="unranked-table"')
    for code in (a, c, d, f):
        assert names[code] in ranking and names[code] not in apart
    # apart, best score first, each with its reason and count
    assert names[b] in apart and names[e] in apart and apart.index(names[b]) < apart.index(names[e])
    assert names[b] not in ranking and names[e] not in ranking
    assert _translated(language, TOO_FEW, n=2, min=5) in apart
    assert _translated(language, TOO_FEW, n=1, min=5) in apart
    assert 'data-reason="too_few_tickets"' in apart
    # the rule is stated with the formula
    with translation.override(language):
        rule = ngettext(
            "Only a place with at least %(min)s ticket due to close in the month is ranked; with none "
            "it is scored but not ranked, and is on neither list.",
            "Only a place with at least %(min)s tickets due to close in the month is ranked; with fewer "
            "it is scored but not ranked, and is on neither list.",
            5,
        ) % {"min": 5}
    assert rule in page
    assert 'data-testid="lists"' not in page  # no tie at either cut (and the leader sees every place)
    if language == "en":
        assert "Too few tickets to rank: 2 (at least 5)" in apart
    elif _translated(language, TOO_FEW) != TOO_FEW:  # once translated, no English is left
        assert "Too few tickets" not in page and "Not ranked" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_page_says_when_ties_make_a_list_longer(monkeypatch, city_leader, client, language):
    codes = _subdistricts(5)
    _fake(monkeypatch, dict(zip(codes, [(1.0, 9), (1.0, 9), (1.0, 9), (0.7, 9), (0.5, 9)], strict=True)))
    IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 1}, red_count=1, black_count=1)
    governance_index_compute(month=OCTOBER)
    client.force_login(city_leader)
    client.cookies["django_language"] = language
    page = client.get("/analytics/index/", {"month": "2026-10"}).content.decode()
    ties = page[page.index('data-testid="lists"') :]
    ties = ties[: ties.index("</section>")]
    said = _translated(
        language,
        "The red list holds %(listed)s places, more than its size of %(size)s: equal scores at the "
        "cut share a rank, and no place is left out by a hidden tie-breaker.",
        listed=3,
        size=1,
    )
    assert said in ties and "black list holds" not in ties
    body = client.get("/api/v1/analytics/index", {"month": "2026-10"}).json()
    assert body["lists"]["red"] == {"size": 1, "listed": 3, "longer_by_ties": True, "in_scope": 3}


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_api_flags_the_unranked_with_a_reason(six, city_leader, client, language):
    a, b, c, d, e, f = six
    IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 1}, red_count=1, black_count=1)
    governance_index_compute(month=OCTOBER)
    client.force_login(city_leader)
    client.cookies["django_language"] = language
    body = client.get("/api/v1/analytics/index", {"month": "2026-10"}).json()
    assert body["formula"]["min_volume"] == 5
    rows = [(r["division"], r["rank"], r["ranked"], r["unranked_reason"], r["volume"]) for r in body["rows"]]
    assert rows == [
        (a, 1, True, None, 10),
        (c, 2, True, None, 10),
        (d, 2, True, None, 12),
        (f, 4, True, None, 5),
        (b, None, False, "too_few_tickets", 2),
        (e, None, False, "too_few_tickets", 1),
    ]
    unranked = body["rows"][-1]
    assert unranked["standing"] == "" and unranked["score"] == 30.0
    assert unranked["unranked_note"] == _translated(language, TOO_FEW, n=1, min=5)
    assert body["rows"][0]["unranked_note"] is None
    # the existing fields stay
    assert {"division", "name", "score", "rank", "standing", "values"} <= set(body["rows"][0])


@pytest.mark.django_db
def test_a_place_without_a_score_comes_after_those_with_too_few_tickets(monkeypatch, city_leader, client):
    a, b, c = _subdistricts(3)
    _fake(monkeypatch, {a: (None, 0), b: (0.9, 1), c: (0.8, 7)})
    IndexFormula.objects.create(name="f", weights={"on_time_closure_rate": 1})
    governance_index_compute(month=OCTOBER)
    client.force_login(city_leader)
    client.cookies["django_language"] = "en"
    rows = client.get("/api/v1/analytics/index", {"month": "2026-10"}).json()["rows"]
    assert [(r["division"], r["unranked_reason"]) for r in rows] == [
        (c, None),
        (b, "too_few_tickets"),
        (a, "no_score"),
    ]
    assert rows[-1]["unranked_note"] == "No indicator value this month"


# --- with the real indicators ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_volume_is_the_tickets_due_to_close_in_the_month(history):
    """On a real history: each row's volume is its on-time closure rate's denominator, and only
    the places at the minimum are ranked."""
    from tests.analytics.conftest import HISTORY_END, MONTH_ENDED
    from zhiwang.analytics.index import _SYSTEM, month_bounds
    from zhiwang.tickets import indicators

    month = HISTORY_END.date().replace(day=1)
    IndexFormula.objects.create(name="f", red_count=1, black_count=1, min_volume=1)
    governance_index_compute(month=month, now=MONTH_ENDED)
    start, end = month_bounds(month)
    due = {
        pk: rate.denominator
        for pk, rate in indicators.on_time_closure_rate(
            user=_SYSTEM,
            start=start,
            end=end,
            by="community",
            as_of=MONTH_ENDED,  # as the index counts
        ).items()
    }
    rows = list(GovernanceIndex.objects.filter(month=month, level="community"))
    assert rows and any(r.ranked for r in rows) and any(not r.ranked for r in rows)
    for r in rows:
        assert r.volume == due.get(r.division_id, 0)
        assert r.ranked == (r.score is not None and r.volume >= 1)
        if not r.ranked:
            assert r.standing == ""


# --- the report's index sheet ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reports_index_sheet_says_not_ranked(city_leader, nanshan_community, settings, tmp_path):
    from io import BytesIO

    from openpyxl import load_workbook

    from zhiwang.analytics import services
    from zhiwang.analytics.reports import _index_rank

    settings.MEDIA_ROOT = tmp_path
    month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    subdistrict = nanshan_community.parent
    first, second = Division.objects.filter(parent=subdistrict).order_by("code")[:2]
    snapshot = {"name": "f", "weights": {"on_time_closure_rate": 1}, "min_volume": 5}
    GovernanceIndex.objects.create(
        month=month, division=first, level="community", score=100.0, volume=2, formula_used=snapshot
    )
    GovernanceIndex.objects.create(
        month=month,
        division=second,
        level="community",
        score=70.0,
        rank=1,
        standing="red",
        volume=9,
        formula_used=snapshot,
    )
    report, _created = services.report_request(
        user=city_leader, division_code=subdistrict.code, period=f"{month:%Y-%m}", idempotency_key="minvol"
    )
    services.report_generate(report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "done", report.error
    with report.xlsx.open("rb") as handle:
        book = load_workbook(BytesIO(handle.read()))
    with translation.override("zh-hans"):
        sheet = book[gettext("Governance index")[:31]]
        head = [gettext(h) for h in ("Place", "Rank", "Standing", "Tickets due to close")]
        not_ranked = _index_rank(GovernanceIndex.objects.get(division=first))
    lines = [line for line in sheet.iter_rows(values_only=True) if any(c is not None for c in line)]
    place, rank, standing, volume = (list(lines[0]).index(h) for h in head)
    body = {line[place]: (line[rank], line[volume]) for line in lines[1:] if line[place] is not None}
    assert body[second.name] == (1, 9)
    assert body[first.name] == (not_ranked, 2)
    with translation.override("en"):
        assert _index_rank(GovernanceIndex.objects.get(division=first)) == (
            "Not ranked (too few tickets: 2, at least 5)"
        )
    # the ranked place comes first
    names = [line[place] for line in lines[1:] if line[place] is not None]
    assert names.index(second.name) < names.index(first.name)


# --- the command sets the minimum (the demo's thin history) ----------------------------------


@pytest.mark.django_db
def test_the_command_sets_the_active_formulas_minimum():
    from io import StringIO

    from django.core.management import CommandError, call_command

    from zhiwang.analytics.index import active_formula

    out = StringIO()
    call_command("analytics_index", "--past", "--min-volume", "1", "--no-progress", stdout=out)
    assert active_formula().min_volume == 1
    assert "ranked with at least 1 due to close" in out.getvalue()
    for bad in ("-1", "100001"):
        with pytest.raises(CommandError, match="--min-volume"):
            call_command("analytics_index", "--past", "--min-volume", bad, "--no-progress", stdout=StringIO())
    assert active_formula().min_volume == 1
