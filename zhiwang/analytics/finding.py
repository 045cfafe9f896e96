"""What a detector reports (``Finding``), shared by the detectors in ``alerts`` and ``surges``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext, gettext_noop


@dataclass
class Finding:
    """What a detector saw; ``key`` identifies the series so repeated findings become one alert."""

    kind: str
    key: str
    explanation: str
    window_start: datetime
    window_end: datetime
    observed: int
    expected: float = 0.0
    spread: float = 0.0
    score: float = 0.0
    division_id: int | None = None
    grid_id: int | None = None
    category_id: int | None = None
    #: every ticket the finding counted (no cap: ``alert_raise`` stores them all, ``AlertTicket``)
    ticket_ids: list[int] = field(default_factory=list)
    detail: dict = field(default_factory=dict)


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the platform's time zone."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(settings.TIME_ZONE))


# --- the sentence of an alert -------------------------------------------------------------------

#: A surge's sentence once its parameters name the days of the tickets it counted (``first`` to
#: ``last``, ``ticket_days``) and the expectation of those days (``ticket_expected`` ±
#: ``ticket_spread``): the count and the expectation over the same span, never the detector's
#: window (which widens over the days of one event and ends with the last scan).
SURGE_SPAN = gettext_noop(
    "%(place)s, %(category)s: %(observed)s tickets in %(ticket_days)s days (%(first)s to %(last)s), "
    "expected about %(ticket_expected)s (±%(ticket_spread)s) over those days"
)
SURGE_ONE_DAY = gettext_noop(
    "%(place)s, %(category)s: %(observed)s tickets on %(first)s, expected about %(ticket_expected)s "
    "(±%(ticket_spread)s) that day"
)
#: An address cluster's sentence once its parameters carry the building's usual rate (``usual``
#: tickets a month over its ``baseline`` days): a building's expectation for three days is
#: nearly always "0.0", which says nothing. ``…_HERE``: the alerts page, whose place column names
#: the building already.
ADDRESS_USUAL = gettext_noop(
    "%(address)s: %(observed)s tickets in %(ticket_days)s days (usually about %(usual)s a month)"
)
ADDRESS_NONE = gettext_noop(
    "%(address)s: %(observed)s tickets in %(ticket_days)s days (none in the %(baseline)s days before)"
)
ADDRESS_USUAL_HERE = gettext_noop(
    "%(observed)s tickets in %(ticket_days)s days at this address (usually about %(usual)s a month)"
)
ADDRESS_NONE_HERE = gettext_noop(
    "%(observed)s tickets in %(ticket_days)s days at this address (none in the %(baseline)s days before)"
)
#: The same on one day ("3 tickets on 11-14", never "in 1 days").
ADDRESS_USUAL_ONE_DAY = gettext_noop(
    "%(address)s: %(observed)s tickets on %(first)s (usually about %(usual)s a month)"
)
ADDRESS_NONE_ONE_DAY = gettext_noop(
    "%(address)s: %(observed)s tickets on %(first)s (none in the %(baseline)s days before)"
)
ADDRESS_USUAL_HERE_ONE_DAY = gettext_noop(
    "%(observed)s tickets on %(first)s at this address (usually about %(usual)s a month)"
)
ADDRESS_NONE_HERE_ONE_DAY = gettext_noop(
    "%(observed)s tickets on %(first)s at this address (none in the %(baseline)s days before)"
)
#: The parameters that describe the tickets an alert counted (``services.alert_raise``); dropped
#: when the sentence counts only a reader's share of them (``selectors.alerts.alert_explanation``).
TICKET_SPAN_KEYS = ("first", "last", "ticket_days", "ticket_expected", "ticket_spread", "usual", "baseline")


def _day_text(value: str, other: str) -> str:
    """An ISO day of a span as the sentence prints it: "11-12" (the year when the span crosses one)."""
    return value[5:] if value[:4] == other[:4] else value


def explain(kind: str, params: dict, *, with_place: bool = True) -> str:
    """The sentence of an alert of ``kind`` from its parameters (``detail["explain"]``), in the
    active language. Parameters written before the tickets' span was kept (no ``first``; no
    ``usual``) read as they always did (``models.alerts.explain``). ``with_place=False``: the
    alerts page, where an address cluster's building is in the place column."""
    from zhiwang.analytics.models.alerts import expected_text
    from zhiwang.analytics.models.alerts import explain as explain_stored

    if kind == "surge" and {"first", "last", "ticket_days", "ticket_expected"} <= params.keys():
        values = dict(params)
        first, last = str(values["first"]), str(values["last"])
        values["first"], values["last"] = _day_text(first, last), _day_text(last, first)
        values["ticket_spread"] = expected_text(values.get("ticket_spread"), like=values["ticket_expected"])
        values["ticket_expected"] = expected_text(values["ticket_expected"])
        return gettext(SURGE_ONE_DAY if first == last else SURGE_SPAN) % values
    if kind == "address_cluster" and {"usual", "ticket_days"} <= params.keys():
        values = dict(params)
        usual = float(values["usual"] or 0)
        values["usual"] = expected_text(usual)
        first, last = str(values.get("first") or ""), str(values.get("last") or "")
        one_day = bool(first) and first == last
        if one_day:
            values["first"] = first[5:]
            if with_place:
                template = ADDRESS_USUAL_ONE_DAY if usual > 0 else ADDRESS_NONE_ONE_DAY
            else:
                template = ADDRESS_USUAL_HERE_ONE_DAY if usual > 0 else ADDRESS_NONE_HERE_ONE_DAY
        elif with_place:
            template = ADDRESS_USUAL if usual > 0 else ADDRESS_NONE
        else:
            template = ADDRESS_USUAL_HERE if usual > 0 else ADDRESS_NONE_HERE
        return gettext(template) % values
    return explain_stored(kind, params)
