"""The alert list of the viewer's jurisdiction, its subscriptions, and the tickets behind an alert."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from zhiwang.analytics.finding import local_midnight
from zhiwang.analytics.selectors.place import (
    ANALYST_ROLES,
    Place,
    _check_day,
    _ticket_list_url,
    division_labels,
    is_analyst,
    place_for,
    require_analyst,
    ticket_link,
)
from zhiwang.core.errors import ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.models import LEVEL_PREFIX_LENGTH, Division, DivisionLevel

#: The largest id a database can hold (a larger one names nothing).
MAX_ID = 2**63 - 1
#: The kinds whose explanation's ``observed`` is the number of tickets the alert counted (a
#: repeated reopen's is how often its one ticket was reopened).
TICKET_COUNTING_KINDS = frozenset({"surge", "address_cluster", "topic_cluster", "repeat_caller"})
#: The parameters of a surge's sentence that describe all of its tickets (their days, the
#: expectation of those days): left out for a reader who is told only their share of the count.
WHOLE_SPAN_KEYS = frozenset({"first", "last", "ticket_expected", "ticket_spread"})
#: How long a decided or resolved alert still shows among an alert's related alerts.
RELATED_RECENT_DAYS = 30


def alert_list(
    *,
    user,
    status: str = "open",
    kind: str = "",
    division: str = "",
    start: date | None = None,
    end: date | None = None,
):
    """Alerts about places in the user's jurisdiction, newest first; ``status`` and ``kind`` (empty:
    any) must be known values (``analytics.status_unknown`` / ``analytics.kind_unknown``, 400).

    ``division``: only alerts about that division's subtree (a code in the jurisdiction, else
    ``analytics.place_unknown``, 404; a city-wide alert, with no division, is about the city only);
    ``start``/``end``: raised on local days ``[start, end)``.

    Each alert carries how many of the tickets it counted the user may see (``n_tickets``, read
    by ``Alert.ticket_count``: the number of tickets its link lists) and ``tickets_outside``
    (whether it also counts tickets the user may not see: a cluster reaching past the
    jurisdiction, a ticket moved since). Both are subqueries of the one query of a page of alerts,
    never a query per alert; the number of tickets outside never leaves the database. Show an
    alert's explanation with ``alert_explanation``, which keeps that number out of it too."""
    from zhiwang.analytics.models import Alert, AlertKind, AlertStatus, AlertTicket
    from zhiwang.tickets.models import Ticket

    require_analyst(user)
    if status and status not in AlertStatus.values:
        raise ServiceError(
            "analytics.status_unknown",
            _("Unknown alert status %(status)s.") % {"status": status},
            field="status",
        )
    if kind and kind not in AlertKind.values:
        raise ServiceError(
            "analytics.kind_unknown", _("Unknown alert kind %(kind)s.") % {"kind": kind}, field="kind"
        )
    for name, day in (("start", start), ("end", end)):
        if day is not None:
            _check_day(day, name)

    def count(members):
        return Coalesce(
            Subquery(
                members.order_by().values("alert").annotate(n=Count("pk")).values("n"),
                output_field=IntegerField(),
            ),
            Value(0),
        )

    members = AlertTicket.objects.filter(alert=OuterRef("pk"))
    qs = Alert.objects.visible_to(user).select_related("division", "grid", "category", "decided_by")
    if scope_of(user).everything:  # sees every ticket: the whole count, nothing outside
        qs = qs.annotate(n_tickets=count(members), tickets_outside=Value(False))
    else:
        # the tickets the ticket list shows this user (``Ticket.visible_to``, its one rule); the
        # whole count is compared in the database and never selected (``alias``). An ``IN``
        # becomes a semi-join probing the alert's members; a ``NOT IN`` would hash every
        # ticket of the jurisdiction instead.
        visible = Ticket.objects.visible_to(user).order_by().values("pk")
        # An alert raised before its members were kept in full (migration 0008 copied at most
        # 200) counted more tickets than it holds: its own ``observed`` is the whole count then.
        whole = Case(
            When(kind__in=TICKET_COUNTING_KINDS, then=Greatest(F("n_all"), F("observed"))),
            default=F("n_all"),
        )
        qs = (
            qs.alias(n_all=count(members))
            .annotate(n_tickets=count(members.filter(ticket__in=visible)))
            .alias(n_whole=whole)
            .annotate(tickets_outside=GreaterThan(F("n_whole"), F("n_tickets")))
        )
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if division:
        place = place_for(user=user, code=division)
        if place.level != DivisionLevel.CITY:
            subtree = Division.objects.descendants_of(place.division, include_self=True).values("pk")
            qs = qs.filter(division__in=subtree)
    if start is not None:
        qs = qs.filter(created_at__gte=local_midnight(start))
    if end is not None:
        qs = qs.filter(created_at__lt=local_midnight(end))
    return qs.order_by("-created_at", "-pk")


def alert_as_read_by(*, user, alert_id: int):
    """The alert ``alert_id`` as ``user`` reads it on the alerts page, or ``None`` when they may
    not open it (not an analyst; not in their jurisdiction).

    It is the page's row (``alert_list``, any status): it carries the count of the alert's
    tickets in the user's jurisdiction and whether it counts others, so ``alert_explanation``
    tells one person what the page would, e.g. in the notification each member of a subscribed
    unit is sent. One query, the alert's counts as its subqueries (after the user's scope)."""
    if not is_analyst(user) or not isinstance(alert_id, int) or not 1 <= alert_id <= MAX_ID:
        return None
    return alert_list(user=user, status="").filter(pk=alert_id).first()


def alert_explanation(alert, *, with_place: bool = True) -> str:
    """The explanation of an alert from ``alert_list`` (or ``alert_as_read_by``) as its reader
    may be told it.

    An alert that also counts tickets outside the reader's jurisdiction (``tickets_outside``)
    does not say how many: its figure ("14 tickets in 3 days") is the whole count, which would
    tell a district analyst how many tickets there are elsewhere. It says how many are in their
    jurisdiction (``ticket_count``, what its link lists) and that there are others. Readers who
    see every ticket the alert counted — a city-wide leader — read the figures the alert was
    raised on (its statistical evidence) unchanged.

    ``with_place=False``: the alerts page, whose place column names an address cluster's building
    (the sentence does not repeat it). A surge read by someone who sees only some of its tickets
    does not name their days nor the expectation of those days (both are of the whole count)."""
    from zhiwang.analytics.finding import explain
    from zhiwang.analytics.models.alerts import EXPLANATIONS, AlertKind

    params = (getattr(alert, "detail", None) or {}).get("explain")
    if not getattr(alert, "tickets_outside", False):
        if isinstance(params, dict) and alert.kind in EXPLANATIONS:
            try:
                return explain(alert.kind, params, with_place=with_place)
            except (KeyError, TypeError, ValueError):
                pass
        return alert.explanation_text
    if alert.kind in TICKET_COUNTING_KINDS and isinstance(params, dict) and alert.kind in EXPLANATIONS:
        mine = {k: v for k, v in params.items() if k not in WHOLE_SPAN_KEYS}
        try:
            text = explain(
                AlertKind(alert.kind), {**mine, "observed": alert.ticket_count}, with_place=with_place
            )
        except (KeyError, TypeError, ValueError):
            pass
        else:
            return _(
                "%(explanation)s (only the tickets in your jurisdiction; the alert also counts tickets outside it)"
            ) % {"explanation": text}
    # an older alert without its parameters, or one whose figure is no count of tickets (a
    # reopened ticket's number and rework count, the ticket now elsewhere): the count alone
    return _("%(n)s tickets in your jurisdiction; the alert also counts tickets outside it.") % {
        "n": alert.ticket_count
    }


def related_alerts(*, user, alerts) -> dict[int, list]:
    """For each of ``alerts`` (a page of ``alert_list``), the other alerts that counted one of its
    tickets and that ``user`` may open, open or updated within ``RELATED_RECENT_DAYS`` (the
    cluster at a building, the surge of its grid and the topic of one event are three alerts;
    the page says they belong together), oldest (lowest id) first, as ``Alert``s holding their kind and status.

    One query for the page, however many alerts it shows: the pairs sharing a ticket (a
    self-join of ``AlertTicket`` on the ticket, served by its ticket index), limited to the alerts
    the user may open (``Alert.visible_to``, compiled into the same statement). The ORM has no
    path from a ticket back to its memberships (``related_name="+"``), hence the SQL."""
    from django.db import connection

    from zhiwang.analytics.models import Alert, AlertStatus, AlertTicket

    ids = sorted({a.pk for a in alerts})
    related: dict[int, list] = {pk: [] for pk in ids}
    if not ids:
        return related
    since = timezone.now() - timedelta(days=RELATED_RECENT_DAYS)
    visible = (
        Alert.objects.visible_to(user)
        .filter(Q(status=AlertStatus.OPEN) | Q(updated_at__gte=since))
        .order_by()
        .values("pk")
    )
    visible_sql, visible_params = visible.query.sql_with_params()
    members = connection.ops.quote_name(AlertTicket._meta.db_table)
    table = connection.ops.quote_name(Alert._meta.db_table)
    sql = (
        f"SELECT DISTINCT m.alert_id, a.id, a.kind, a.status "
        f"FROM {members} m INNER JOIN {members} o ON o.ticket_id = m.ticket_id AND o.alert_id <> m.alert_id "
        f"INNER JOIN {table} a ON a.id = o.alert_id "
        f"WHERE m.alert_id IN ({', '.join(['%s'] * len(ids))}) AND o.alert_id IN ({visible_sql})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, *visible_params])
        rows = cursor.fetchall()
    for alert_id, other_id, kind, status in rows:
        related[alert_id].append(Alert(pk=other_id, kind=kind, status=status))
    for found in related.values():
        found.sort(key=lambda a: a.pk)
    return related


def alert_headline(alert) -> str:
    """An alert's kind and place, then its explanation as its reader may be told it
    (``alert_explanation``): "同一主题聚集 · 南山区：3天内1件，主题…". The inbox message of an
    alert, read without the alerts page's kind column and apart from any other alert. The place
    is the alert's division (a city-wide alert: the city); an explanation that starts with it (a
    surge names its place) does not name it twice."""
    explanation = alert_explanation(alert)
    division = alert.division
    if division is None:
        division = Division.objects.filter(level=DivisionLevel.CITY).order_by("code").first()
    place = division.display_name if division is not None else ""
    kind = alert.get_kind_display()
    if not place or explanation.startswith((place, division.name)):
        return _("%(kind)s: %(explanation)s") % {"kind": kind, "explanation": explanation}
    return _("%(kind)s · %(place)s: %(explanation)s") % {
        "kind": kind,
        "place": place,
        "explanation": explanation,
    }


def alert_tickets_link(alert) -> str:
    """The tickets behind an alert, exactly those it counted: ``alert=<id>`` on the ticket list,
    which lists the alert's tickets (``AlertTicket``, all of them) that the viewer may see
    (``alert_ticket_ids``). A surge links its window, place and category (the same tickets, and
    those arriving since)."""
    from zhiwang.analytics.models import AlertKind

    if alert.kind != AlertKind.SURGE:
        return f"{_ticket_list_url()}?{urlencode({'alert': alert.pk})}"
    filters = {}
    if alert.category_id:
        filters["category"] = alert.category.code
    if alert.grid_id:
        filters["grid"] = alert.grid.code
    place = Place(alert.division) if alert.division_id else None
    start = timezone.localtime(alert.window_start).date()
    end = timezone.localtime(alert.window_end).date()
    return ticket_link(place, start, end if end > start else start + timedelta(days=1), **filters)


def alert_ticket_ids(user, alert_id):
    """The tickets an alert counted, every one (its ``AlertTicket`` rows, as a query of ticket ids
    the ticket list uses as a subquery, however many), if ``user`` may see the alert (``None``: no
    such alert for them). The ticket list's ``alert`` filter (registered in
    ``AnalyticsConfig.ready``); the list keeps only those of the tickets the viewer may see."""
    from zhiwang.analytics.models import Alert, AlertTicket

    if not is_analyst(user) or not isinstance(alert_id, int) or not 1 <= alert_id <= MAX_ID:
        return None
    if not Alert.objects.visible_to(user).filter(pk=alert_id).exists():
        return None
    return AlertTicket.objects.filter(alert_id=alert_id).values_list("ticket_id", flat=True)


def subscription_list(*, user):
    """The alert subscriptions of divisions in the user's jurisdiction (every one for city-wide users)."""
    from zhiwang.analytics.models import AlertSubscription

    require_analyst(user)
    scope = scope_of(user)
    subs = AlertSubscription.objects.select_related("unit", "division")
    if not scope.everything:
        subs = subs.filter(division_id__in=scope.division_ids)
    return subs.order_by("division__code", "unit__code", "pk")


def subscription_removable(*, user, subscription, scope=None) -> bool:
    """May ``user`` remove ``subscription`` (of a division they see): the subscribed unit is their
    own or serves a division of their jurisdiction, as for subscribing. A district's analyst sees
    the city command centre's subscription of their district, and may not remove it."""
    scope = scope or scope_of(user)
    return (
        scope.everything
        or subscription.unit_id == getattr(user, "org_unit_id", None)
        or subscription.unit.division_id in scope.division_ids
    )


def alert_readers(unit_ids=None):
    """The active members who may open the alerts page (``is_analyst``): of ``unit_ids``, or of
    any unit (``None``). A unit none of whose members is one is neither subscribed nor told."""
    from zhiwang.accounts.models import User

    readers = User.objects.filter(is_active=True).filter(Q(role__in=ANALYST_ROLES) | Q(is_superuser=True))
    return readers if unit_ids is None else readers.filter(org_unit_id__in=list(unit_ids))


def _by_district(rows: list[tuple[Division | None, str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(group, [(value, label), …]), …]`` for a ``<select>`` with an ``<optgroup>`` per district,
    from ``(division, value, label)`` rows ordered by their division's code (codes are
    hierarchical: a district's rows follow one another). Rows of the city or of no division come
    first, in the group ``""``, shown without an ``<optgroup>``. One query: the districts' names."""

    def district_code(division):
        if division is None or division.level == DivisionLevel.CITY:
            return ""
        return division.code[: LEVEL_PREFIX_LENGTH[DivisionLevel.DISTRICT]].ljust(12, "0")

    codes = {district_code(d) for d, _value, _label in rows} - {""}
    names = {
        d.code: d.display_name
        for d in Division.objects.filter(code__in=codes).only("code", "name", "short_name")
    }
    groups: dict[str, list[tuple[str, str]]] = {"": []}
    for division, value, label in rows:
        code = district_code(division)
        groups.setdefault(names.get(code, code), []).append((value, label))
    return [(group, options) for group, options in groups.items() if options]


def _by_subdistrict(
    divisions: list[Division], labels: dict[int, str]
) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(group, [(code, label), …]), …]`` for a ``<select>`` of divisions ordered by code: the
    city outside any group; each district in a group of its own name; each subdistrict, with its
    communities indented under it, in a group "district · subdistrict". A city's ~900 divisions in
    ~80 short groups, one screen each, instead of ten groups of a hundred."""
    by_code = {d.code: d for d in divisions}
    district_names = {
        d.code: d.display_name
        for d in Division.objects.filter(
            code__in={d.code[:6].ljust(12, "0") for d in divisions if d.level != DivisionLevel.CITY}
        ).only("code", "name", "short_name")
    }
    subdistrict_names = {
        d.code: d.display_name
        for d in Division.objects.filter(
            code__in={d.code[:9].ljust(12, "0") for d in divisions if d.level == DivisionLevel.COMMUNITY}
            - set(by_code)
        ).only("code", "name", "short_name")
    }
    subdistrict_names.update(
        {c: d.display_name for c, d in by_code.items() if d.level == DivisionLevel.SUBDISTRICT}
    )
    groups: dict[str, list[tuple[str, str]]] = {"": []}
    for d in divisions:
        if d.level == DivisionLevel.CITY:
            group = ""
        else:
            district = district_names.get(d.code[:6].ljust(12, "0"), d.code[:6])
            if d.level == DivisionLevel.DISTRICT:
                group = district
            else:
                subdistrict = subdistrict_names.get(d.code[:9].ljust(12, "0"), d.code[:9])
                group = pgettext(
                    "a menu group: a district and a subdistrict", "%(district)s · %(subdistrict)s"
                ) % {
                    "district": district,
                    "subdistrict": subdistrict,
                }
        # a community indented under its subdistrict (U+3000: a browser strips an option's leading
        # ASCII spaces, not the ideographic one)
        indent = "\u3000" if d.level == DivisionLevel.COMMUNITY else ""
        groups.setdefault(group, []).append((d.code, indent + labels.get(d.pk, d.display_name)))
    return [(group, options) for group, options in groups.items() if options]


def division_choices(*, user) -> list[tuple[str, list[tuple[str, str]]]]:
    """The divisions of the user's jurisdiction as a grouped choice list (``_by_subdistrict``):
    ``(code, label)``, a community labelled with its subdistrict (``division_labels``: the three
    "杨美社区" of 坂田街道 by their full names). What the alert filter (``alert_list``'s
    ``division``), ``alert_subscribe`` and the report form accept: every division for a city-wide
    user (some 900 in a city), else those of their jurisdiction (a grid-scoped user's grids name
    no division: none). A few queries, whatever the number of divisions."""
    require_analyst(user)
    scope = scope_of(user)
    divisions = Division.objects.only("code", "name", "short_name", "level", "parent_id").order_by("code")
    if not scope.everything:
        divisions = divisions.filter(pk__in=scope.division_ids)
    divisions = list(divisions)
    return _by_subdistrict(divisions, division_labels(divisions))


def subscribable_units(*, user) -> list[tuple[str, list[tuple[str, str]]]]:
    """The units ``alert_subscribe`` lets the user subscribe, as a grouped choice list
    (``_by_district``, by the district the unit serves): active units with a member who may open
    alerts (``alert_readers``) that are, for a user without city-wide scope, their own unit or one
    serving a division of their jurisdiction. ``(code, name)``. One query, and one for the
    districts' names."""
    from zhiwang.accounts.models import OrgUnit

    require_analyst(user)
    scope = scope_of(user)
    units = OrgUnit.objects.filter(is_active=True).filter(
        Exists(alert_readers().filter(org_unit_id=OuterRef("pk")))
    )
    if not scope.everything:
        units = units.filter(Q(pk=getattr(user, "org_unit_id", None)) | Q(division_id__in=scope.division_ids))
    rows = list(
        units.select_related("division")
        .only("code", "name", "division__code", "division__name", "division__short_name", "division__level")
        .order_by("division__code", "name", "code")
    )
    return _by_district([(u.division, u.code, u.name) for u in rows])
