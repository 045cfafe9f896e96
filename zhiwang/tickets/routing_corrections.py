"""Routes the dispatchers keep correcting: where the routing rules' suggestion and the unit that
ended up handling a ticket disagree, per category and subdistrict.

Smart dispatch learns a ticket's *category* from every correction (``services.smart``); the
*handling unit* follows from the category by the routing rules, which people edit. This read
closes that loop: when, for one category in one subdistrict, most dispatched tickets end up at
another unit than the rules suggest (dispatched elsewhere at once, reassigned 改派, or returned and
dispatched again), the rule is probably out of date, and the rule's owner is shown which rule,
how often, and where the tickets went instead (docs/smart_dispatch.md, "Routes the dispatchers correct").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit, Role
from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.geo.models import Division
from zhiwang.tickets.models import Category, RoutingRule, Ticket
from zhiwang.tickets.routing import route

#: The roles that own routes: dispatchers route by them, leaders answer for them, administrators
#: edit the rules.
ROUTE_ROLES = frozenset({Role.DISPATCHER.value, Role.LEADER.value, Role.ADMINISTRATOR.value})
#: Window and bars of the default view.
DEFAULT_DAYS = 90
MAX_DAYS = 366
DEFAULT_MIN_TICKETS = 5
DEFAULT_MIN_SHARE = 0.5
#: The most routes answered (most moved first): a list to act on, not an export.
MAX_ROUTES = 200


@dataclass
class RouteCorrection:
    """One (category, subdistrict, suggested unit) whose tickets mostly went elsewhere.

    ``tickets``: dispatched tickets received in the window with this suggestion; ``moved``: of
    them, those now at another unit; ``to_unit``/``to_count``: where most of the moved ones are;
    ``rule``: the rule that makes the suggestion today (``None`` when the rules have changed
    since and suggest another unit now, or none).
    """

    category: Category
    subdistrict: Division | None
    suggested_unit: OrgUnit
    tickets: int
    moved: int
    to_unit: OrgUnit
    to_count: int
    rule: RoutingRule | None
    link: str

    @property
    def share(self) -> float:
        return self.moved / self.tickets if self.tickets else 0.0

    @property
    def share_percent(self) -> float:
        return round(100 * self.share, 1)


def may_review_routes(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    return bool(getattr(user, "is_superuser", False)) or getattr(user, "role", "") in ROUTE_ROLES


def _window(days: int, today: date | None) -> tuple[datetime, datetime]:
    tz = ZoneInfo(settings.TIME_ZONE)
    today = today or timezone.localdate()
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    return end - timedelta(days=days), end


def route_corrections(
    *,
    user,
    days: int = DEFAULT_DAYS,
    min_tickets: int = DEFAULT_MIN_TICKETS,
    min_share: float = DEFAULT_MIN_SHARE,
    today: date | None = None,
) -> list[RouteCorrection]:
    """The routes whose tickets (received in the last ``days`` days, within ``user``'s
    jurisdiction, dispatched) mostly ended at another unit than the suggested one: at least
    ``min_tickets`` tickets and a moved share of at least ``min_share``. Most moved first, at
    most ``MAX_ROUTES``.

    Refused (``auth.forbidden``, 403) for roles that do not own routes; a window outside
    1–366 days, fewer than 1 ticket or a share outside 0–1 is ``tickets.corrections_invalid``
    naming the parameter.
    """
    if not may_review_routes(user):
        raise PermissionDeniedError(
            "auth.forbidden", _("Only dispatchers, leaders and administrators review the routes.")
        )
    if not 1 <= days <= MAX_DAYS:
        raise ServiceError(
            "tickets.corrections_invalid",
            _("Choose a window of 1 to %(max)s days.") % {"max": MAX_DAYS},
            field="days",
        )
    if min_tickets < 1:
        raise ServiceError(
            "tickets.corrections_invalid", _("At least 1 ticket, please."), field="min_tickets"
        )
    if not 0 <= min_share <= 1:
        raise ServiceError(
            "tickets.corrections_invalid", _("The share is a number from 0 to 1."), field="min_share"
        )
    start, end = _window(days, today)
    counts = (
        Ticket.objects.visible_to(user)
        .filter(received_at__gte=start, received_at__lt=end)
        .exclude(suggested_unit=None)
        .exclude(handling_unit=None)
        .order_by()
        .values_list("category_id", "subdistrict_id", "suggested_unit_id", "handling_unit_id")
        .annotate(n=Count("pk"))
    )
    groups: dict[tuple, dict[int, int]] = defaultdict(dict)
    for category_id, subdistrict_id, suggested_id, unit_id, n in counts:
        groups[(category_id, subdistrict_id, suggested_id)][unit_id] = n
    found = []
    for (category_id, subdistrict_id, suggested_id), by_unit in groups.items():
        total = sum(by_unit.values())
        moved = total - by_unit.get(suggested_id, 0)
        if total < min_tickets or not moved or moved / total < min_share:
            continue
        to_id, to_count = max(
            ((unit, n) for unit, n in by_unit.items() if unit != suggested_id), key=lambda p: (p[1], -p[0])
        )
        found.append((category_id, subdistrict_id, suggested_id, total, moved, to_id, to_count))
    if not found:
        return []
    categories = Category.objects.in_bulk({f[0] for f in found})
    places = Division.objects.in_bulk({f[1] for f in found if f[1]})
    units = OrgUnit.objects.in_bulk({f[2] for f in found} | {f[5] for f in found})
    rule_ids = {}
    for category_id, subdistrict_id, suggested_id, *_rest in found:
        decided = route(category=categories[category_id], place=places.get(subdistrict_id))
        if decided.unit is not None and decided.unit.pk == suggested_id and decided.rule_id:
            rule_ids[(category_id, subdistrict_id, suggested_id)] = decided.rule_id
    rules = RoutingRule.objects.in_bulk(set(rule_ids.values()))
    out = [
        RouteCorrection(
            category=categories[category_id],
            subdistrict=places.get(subdistrict_id),
            suggested_unit=units[suggested_id],
            tickets=total,
            moved=moved,
            to_unit=units[to_id],
            to_count=to_count,
            rule=rules.get(rule_ids.get((category_id, subdistrict_id, suggested_id))),
            link=_tickets_link(categories[category_id], places.get(subdistrict_id), units[to_id], start, end),
        )
        for category_id, subdistrict_id, suggested_id, total, moved, to_id, to_count in found
    ]
    out.sort(key=lambda c: (-c.moved, -c.share, c.category.code, c.subdistrict.code if c.subdistrict else ""))
    return out[:MAX_ROUTES]


def _tickets_link(category, subdistrict, unit, start: datetime, end: datetime) -> str:
    """The web ticket list of the moved tickets' main destination (received in the window)."""
    from django.urls import reverse

    tz = ZoneInfo(settings.TIME_ZONE)
    query = {
        "category": category.code,
        "handling_unit": unit.code,
        "received_from": start.astimezone(tz).date().isoformat(),
        "received_to": end.astimezone(tz).date().isoformat(),
    }
    if subdistrict is not None:
        query["division"] = subdistrict.code
    return f"{reverse('web:ticket_list')}?{urlencode(query)}"
