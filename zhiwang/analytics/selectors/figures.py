"""The stored indicator figures (考核指标) as the viewer may read them: one place, its child
divisions and the handling units within it, over a run of whole months.

Reads ``IndicatorFigure`` only (never the timeline): one aggregate query sums the months'
numerators and denominators per group and key. Which units a viewer sees: the units whose own
division (``OrgUnit.division``, the division the unit serves) lies within the place, the place
included; at the city every unit, also those that serve no division. A unit's figures are its
own, over all its tickets (a district bureau's, a subdistrict office's), not only those inside
the place.

A city has thousands of handling units: they come as ``UnitRows``, a lazy sequence whose order
(by the area served and name, or by one indicator's value over the run) is the database's, over every unit, so a
slice — a page of the web table, a ``limit``/``offset`` of the API — continues the one before
it, and reads the figures of its own units only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Exists, F, FloatField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Cast, NullIf
from django.utils.translation import gettext as _

from zhiwang.analytics.selectors.place import Place, require_analyst
from zhiwang.core.errors import ServiceError
from zhiwang.geo.models import Division, DivisionLevel

#: The longest run of months one answer sums (a year).
MAX_MONTHS = 12
CHILD_LEVEL = {
    DivisionLevel.CITY: DivisionLevel.DISTRICT,
    DivisionLevel.DISTRICT: DivisionLevel.SUBDISTRICT,
    DivisionLevel.SUBDISTRICT: DivisionLevel.COMMUNITY,
}


@dataclass(frozen=True)
class Figure:
    """Summed numerator and denominator of one indicator (an average: total hours and count)."""

    numerator: float
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass
class FigureRow:
    """One place or unit: who it is and ``figures`` {indicator: Figure} (absent: no denominator)."""

    kind: str  # "city", "district", "subdistrict", "community" or "unit"
    pk: int | None
    code: str
    name: str
    division_name: str = ""  # a unit: the division it serves
    figures: dict[str, Figure] = field(default_factory=dict)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def figure_months(*, user) -> list[date]:
    """The months with stored figures, newest first (at most 36)."""
    from zhiwang.analytics.models import IndicatorFigure

    require_analyst(user)
    return list(
        IndicatorFigure.objects.filter(group="city")
        .order_by("-month")
        .values_list("month", flat=True)
        .distinct()[:36]
    )


def check_months(months) -> int:
    """``months`` as an int from 1 to ``MAX_MONTHS``, else ``analytics.months_invalid``."""
    try:
        value = int(months)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= MAX_MONTHS:
        raise ServiceError(
            "analytics.months_invalid",
            _("Choose from 1 to %(max)s months.") % {"max": MAX_MONTHS},
            field="months",
        )
    return value


def check_sort(sort: str, direction: str = "desc") -> tuple[str, bool]:
    """``sort`` (an indicator code, or empty: by code) and ``direction`` (``desc`` or ``asc``) as
    ``(sort, descending)``; anything else is ``analytics.sort_unknown`` /
    ``analytics.direction_unknown`` naming the field."""
    from zhiwang.analytics.indicator_figures import FIGURE_INDICATORS

    if sort and sort not in FIGURE_INDICATORS:
        raise ServiceError(
            "analytics.sort_unknown",
            _("Unknown indicator %(sort)s to sort by.") % {"sort": sort},
            field="sort",
        )
    if direction not in ("asc", "desc"):
        raise ServiceError(
            "analytics.direction_unknown",
            _("Sort “asc” (ascending) or “desc” (descending)."),
            field="dir",
        )
    return sort, direction == "desc"


def _units_within(place: Place):
    from zhiwang.accounts.models import OrgUnit

    units = OrgUnit.objects.all()
    if place.level != DivisionLevel.CITY:
        units = units.filter(division__in=Division.objects.descendants_of(place.division, include_self=True))
    return units


def indicator_figures(
    *,
    user,
    place: Place,
    month: date | None = None,
    months: int = 1,
    sort: str = "",
    descending: bool = True,
) -> dict:
    """The figures of ``months`` whole months from ``month`` (default: the run ending with the
    latest month computed) for ``place`` (already checked to lie in the jurisdiction by
    ``place_for``), its child divisions and the units within it.

    Returns ``month`` (first), ``months``, ``computed`` (the months of the run that have figures),
    ``preliminary`` (those of them computed before their settle time, whose figures may still
    change), ``preliminary_until`` (the day the last of those becomes final, else None),
    ``place`` (a ``FigureRow``), ``children`` (a list of ``FigureRow``) and ``units`` (a
    ``UnitRows``: slice it). Children come by code and units by the area they serve (division
    code, the city's departments first) and name, or with ``sort`` (an indicator
    code, ``check_sort``) by its value over the run, ``descending`` or not: rows without a value
    last either way, ties in the same default order.
    """
    from zhiwang.analytics.indicator_figures import month_finality
    from zhiwang.analytics.models import IndicatorFigure

    require_analyst(user)
    months = check_months(months)
    sort, descending = check_sort(sort, "desc" if descending else "asc")
    if month is None:
        latest = (
            IndicatorFigure.objects.filter(group="city")
            .order_by("-month")
            .values_list("month", flat=True)
            .first()
        )
        month = add_months(latest, 1 - months) if latest else None
    if month is None:
        return {
            "month": None,
            "months": months,
            "computed": [],
            "preliminary": [],
            "preliminary_until": None,
            "place": _place_row(place),
            "children": [],
            "units": UnitRows.none(),
        }
    month = month.replace(day=1)
    run = [add_months(month, i) for i in range(months)]
    division = place.division
    child_level = CHILD_LEVEL.get(division.level)
    children = (
        list(Division.objects.filter(parent=division, level=child_level).order_by("code"))
        if child_level
        else []
    )
    wanted = Q(group=division.level, key=None if division.level == DivisionLevel.CITY else division.pk)
    if children:
        wanted |= Q(group=child_level, key__in=[c.pk for c in children])
    summed = _summed(IndicatorFigure.objects.filter(wanted, month__in=run))
    finality = month_finality(run)  # the months of the run with figures (city rows)
    computed = sorted(finality)
    preliminary = [m for m in computed if not finality[m][0]]
    place_row = _place_row(place)
    place_row.figures = summed.get((division.level, place_row.pk), {})
    child_rows = [
        FigureRow(c.level, c.pk, c.code, c.display_name, figures=summed.get((child_level, c.pk), {}))
        for c in children
    ]
    if sort:  # a few dozen places at most: sorted here, by the same rule as the units
        child_rows = sort_rows(child_rows, sort, descending)
    return {
        "month": month,
        "months": months,
        "computed": computed,
        "preliminary": preliminary,
        "preliminary_until": max((finality[m][1] for m in preliminary), default=None),
        "place": place_row,
        "children": child_rows,
        "units": UnitRows(place=place, run=run, sort=sort, descending=descending),
    }


def _summed(figures) -> dict[tuple[str, int | None], dict[str, Figure]]:
    """``{(group, key): {indicator: Figure}}``: one aggregate query over the months' rows."""
    rows = (
        figures.order_by()
        .values("group", "key", "indicator")
        .annotate(n=Sum("numerator"), d=Sum("denominator"))
    )
    summed: dict[tuple[str, int | None], dict[str, Figure]] = {}
    for row in rows:
        summed.setdefault((row["group"], row["key"]), {})[row["indicator"]] = Figure(
            float(row["n"] or 0), int(row["d"] or 0)
        )
    return summed


class UnitRows:
    """The handling units within a place that have figures in a run of months (units with nothing
    counted in the run are left out), as ``FigureRow``s in a fixed order: a lazy sequence for
    ``Paginator`` and the API's ``limit``/``offset``.

    The order is the database's over every such unit — by the area served and name, or by one indicator's value
    (summed numerators ÷ summed denominators, ``NULL`` without a denominator, last in either
    direction; ties by the area served, name, then id) — so page 2 continues page 1. ``count()`` is one query;
    a slice is two (its units, then their figures), however many units the place has.
    """

    def __init__(self, *, place: Place | None, run: list[date], sort: str = "", descending: bool = True):
        self.place, self.run, self.sort, self.descending = place, run, sort, descending
        self._count: int | None = None

    @classmethod
    def none(cls) -> UnitRows:
        rows = cls(place=None, run=[])
        rows._count = 0
        return rows

    def _units(self):
        from zhiwang.accounts.models import OrgUnit
        from zhiwang.analytics.models import IndicatorFigure

        if self.place is None:
            return OrgUnit.objects.none()
        # (group, key, month) is the index of the unit's rows: a probe per unit, no scan
        counted = IndicatorFigure.objects.filter(group="unit", key=OuterRef("pk"), month__in=self.run)
        units = _units_within(self.place).filter(Exists(counted))
        # by the area each unit serves (the city's departments first, then district by district,
        # as the division codes run), then by name: the internal unit code is not shown, and
        # ordering by it scattered a district's units over the table
        area = (F("division__code").asc(nulls_first=True), "name", "pk")
        if not self.sort:
            return units.order_by(*area)
        value = (
            counted.filter(indicator=self.sort)
            .order_by()
            .values("key")
            .annotate(
                v=Cast(Sum("numerator"), FloatField())
                / NullIf(Cast(Sum("denominator"), FloatField()), Value(0.0))
            )
            .values("v")
        )
        units = units.annotate(sort_value=Subquery(value, output_field=FloatField()))
        by_value = (
            F("sort_value").desc(nulls_last=True) if self.descending else F("sort_value").asc(nulls_last=True)
        )
        return units.order_by(by_value, *area)

    def count(self) -> int:
        if self._count is None:
            self._count = self._units().count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[0 : self.count()])

    def __getitem__(self, item):
        from zhiwang.analytics.models import IndicatorFigure

        if isinstance(item, int):
            rows = self[item : item + 1] if item >= 0 else list(self)[item : item + 1 or None]
            if not rows:
                raise IndexError(item)
            return rows[0]
        units = list(self._units().select_related("division")[item])
        if not units:
            return []
        summed = _summed(
            IndicatorFigure.objects.filter(group="unit", key__in=[u.pk for u in units], month__in=self.run)
        )
        return [
            FigureRow(
                "unit",
                u.pk,
                u.code,
                u.name,
                division_name=u.division.display_name if u.division_id else "",
                figures=summed.get(("unit", u.pk), {}),
            )
            for u in units
        ]


def _place_row(place: Place) -> FigureRow:
    division = place.division
    return FigureRow(
        division.level,
        None if division.level == DivisionLevel.CITY else division.pk,
        division.code,
        division.display_name,
    )


def sort_rows(rows: list[FigureRow], indicator: str, descending: bool) -> list[FigureRow]:
    """Rows by one indicator's value (rows without a value last, whatever the direction)."""
    with_value, without = [], []
    for r in rows:
        figure = r.figures.get(indicator)
        (with_value if figure is not None and figure.value is not None else without).append(r)
    # ties keep the code order in either direction (a stable sort by code, then by value)
    with_value.sort(key=lambda r: r.code)
    with_value.sort(key=lambda r: r.figures[indicator].value, reverse=descending)
    return with_value + without
