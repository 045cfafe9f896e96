"""Who may read analytics, about which place and window, and the links from a figure to the tickets.

A dashboard is about one *place*: the city, a district, a subdistrict or a community, which must
lie inside the viewer's jurisdiction (``place_for``), over a window of local days ``[start, end)``
(``window``). Each figure carries the link to the ticket list behind it (``ticket_link``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from zhiwang.analytics.rollups import CITY_NODE
from zhiwang.core.errors import NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.models import Division, DivisionLevel

#: Who may read dashboards, alerts, the index and reports (and the API behind them).
ANALYST_ROLES = frozenset({"leader", "dispatcher", "data_steward", "administrator"})
MAX_WINDOW_DAYS = 800
#: The days a window may start or end on (room on both sides for a window and a time zone).
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)


def is_analyst(user) -> bool:
    if not (getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)):
        return False
    return bool(getattr(user, "is_superuser", False)) or getattr(user, "role", "") in ANALYST_ROLES


def require_analyst(user) -> None:
    if not is_analyst(user):
        raise PermissionDeniedError(
            "analytics.not_allowed", _("Dashboards are for leaders, dispatchers and analysts.")
        )


# --- names that tell divisions apart --------------------------------------------------------------


def division_labels(divisions, *, subdistrict: bool = True) -> dict[int, str]:
    """``{pk: label}`` that tell ``divisions`` apart in a list or a menu.

    A community whose short name another community of its subdistrict shares (坂田街道 has three
    "杨美社区": 杨美社区杨美居委会, …嘉丽园居委会, …坂田广场居委会) is named by its full name; with
    ``subdistrict`` a community also names its subdistrict, "杨美社区嘉丽园居委会（坂田街道）" (the
    same short name recurs across a city: 海滨社区 ×3). Any other division: its display name.
    Two queries at most (the subdistricts' communities and names), none without communities."""
    divisions = list(divisions)
    parents = {d.parent_id for d in divisions if d.level == DivisionLevel.COMMUNITY and d.parent_id}
    labels = {d.pk: d.display_name for d in divisions}
    if not parents:
        return labels
    siblings = Division.objects.filter(parent_id__in=parents, level=DivisionLevel.COMMUNITY)
    shared = Counter(
        (parent, short or name)
        for parent, short, name in siblings.values_list("parent_id", "short_name", "name")
    )
    names = {}
    if subdistrict:
        names = {
            pk: short or name
            for pk, short, name in Division.objects.filter(pk__in=parents).values_list(
                "pk", "short_name", "name"
            )
        }
    for d in divisions:
        if d.level != DivisionLevel.COMMUNITY:
            continue
        label = d.name if shared[(d.parent_id, d.display_name)] > 1 else d.display_name
        if names.get(d.parent_id):
            label = pgettext("a community and its subdistrict", "%(community)s (%(subdistrict)s)") % {
                "community": label,
                "subdistrict": names[d.parent_id],
            }
        labels[d.pk] = label
    return labels


# --- the place and the window ------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """The subject of a dashboard: ``division`` (any level) and the rollup node that holds it."""

    division: Division

    @property
    def level(self) -> str:
        return self.division.level

    @property
    def node(self) -> int:
        return CITY_NODE if self.division.level == DivisionLevel.CITY else self.division.pk

    @property
    def code(self) -> str:
        return self.division.code

    @property
    def name(self) -> str:
        return self.division.display_name


def place_for(*, user, code: str = "") -> Place:
    """The division ``code`` if the user may see it (default: the top of their jurisdiction).

    The city dashboard is for city-wide users only. An unknown code or one outside the
    jurisdiction answers the same ``analytics.place_unknown`` (404), revealing nothing.
    """
    require_analyst(user)
    scope = scope_of(user)
    code = (code or "").strip()
    if not code:
        if scope.everything:
            division = Division.objects.filter(level=DivisionLevel.CITY).order_by("code").first()
        else:
            visible = Division.objects.filter(pk__in=scope.division_ids)
            division = min(visible, key=lambda d: (d.depth, d.code), default=None)
        if division is None:
            raise NotFound(
                "analytics.place_unknown", _("You have no jurisdiction to show."), field="division"
            )
        return Place(division)
    division = Division.objects.filter(code=code).first()
    if division is None or not (scope.everything or division.pk in scope.division_ids):
        raise NotFound(
            "analytics.place_unknown",
            _("There is no division %(code)s in your jurisdiction.") % {"code": code},
            field="division",
        )
    return Place(division)


def _check_day(day: date, field: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ServiceError(
            "analytics.date_invalid",
            _("Choose a date between %(first)s and %(last)s.")
            % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
            field=field,
        )


def window(*, start: date | None = None, end: date | None = None, days: int = 30) -> tuple[date, date]:
    """``[start, end)`` in local days; default: the ``days`` days up to and including today.

    Dates outside ``FIRST_DAY``..``LAST_DAY`` (``analytics.date_invalid``) and ``days`` outside
    1..``MAX_WINDOW_DAYS`` (``analytics.window_empty``, ``analytics.window_too_long``) are refused
    on their field: the figures turn days into instants, which the calendar's ends cannot hold.
    """
    today = timezone.localdate()
    if start is not None:
        _check_day(start, "start")
    if end is not None:
        _check_day(end, "end")
    if start is None:
        if days < 1:
            raise ServiceError("analytics.window_empty", _("The start must be before the end."), field="days")
        if days > MAX_WINDOW_DAYS:
            raise ServiceError(
                "analytics.window_too_long",
                _("Choose at most %(days)s days.") % {"days": MAX_WINDOW_DAYS},
                field="days",
            )
    field = "end" if end is not None else "days"
    end = end or (today + timedelta(days=1))
    if start is None:
        start = end - timedelta(days=days)
        _check_day(start, field)
    if start >= end:
        raise ServiceError("analytics.window_empty", _("The start must be before the end."), field="start")
    if (end - start).days > MAX_WINDOW_DAYS:
        raise ServiceError(
            "analytics.window_too_long",
            _("Choose at most %(days)s days.") % {"days": MAX_WINDOW_DAYS},
            field="start",
        )
    return start, end


# --- links to the tickets behind a figure ---------------------------------------------------------


def ticket_link(
    place: Place | None = None, start: date | None = None, end: date | None = None, **filters
) -> str:
    """The web ticket list narrowed to a figure (the list itself applies the viewer's scope)."""
    query: dict[str, str] = {}
    if place is not None and place.level != DivisionLevel.CITY:
        query["division"] = place.code
    if start is not None:
        query["received_from"] = start.isoformat()
    if end is not None:
        query["received_to"] = end.isoformat()
    query.update({k: str(v) for k, v in filters.items() if v not in (None, "")})
    return f"{_ticket_list_url()}?{urlencode(query)}"


@lru_cache(maxsize=1)
def _ticket_list_url() -> str:
    return reverse("web:ticket_list")


def dashboard_link(code: str) -> str:
    return f"{reverse('analytics:dashboard')}?{urlencode({'division': code})}"
