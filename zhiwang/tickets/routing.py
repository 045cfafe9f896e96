"""Routing: (category × place) → handling unit and dispatcher queue, with the reason why."""

from __future__ import annotations

from dataclasses import dataclass

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.geo.models import LEVEL_DEPTH, Division
from zhiwang.tickets.cache import RoutingConfig, routing_config
from zhiwang.tickets.explanations import (
    ROUTE_NO_ACTIVE_UNIT,
    ROUTE_NO_RULE,
    ROUTE_RULE,
    route_sentence,
    stored_route_text,
)
from zhiwang.tickets.models import Category, RoutingRule


@dataclass(frozen=True)
class Route:
    """Where a ticket should go: the suggested unit, whether to skip the queue, whose queue, and why.

    ``reason`` is why, as a code with its parameters (``tickets.explanations``): it is stored
    (``Ticket.route_reason``, the receive row's payload) and put into words for each reader.
    """

    unit: OrgUnit | None
    auto_dispatch: bool
    dispatch_center: OrgUnit | None
    reason: dict
    rule_id: int | None = None

    @property
    def explanation(self) -> str:
        """Why, in the active language (for a reader)."""
        return route_sentence(self.reason)

    @property
    def stored_explanation(self) -> str:
        """Why, in the city's language, as ``Ticket.route_explanation`` keeps it (old readers, search)."""
        return stored_route_text(self.reason)[:255]


def category_chain(category: Category) -> list[int]:
    """The category and its ancestors, most specific first."""
    chain, node = [], category
    while node is not None:
        chain.append(node.pk)
        node = node.parent
    return chain


def division_chain(place: Division | None) -> list[Division]:
    """The division and its ancestors, most specific first."""
    chain, node = [], place
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


def _division_office(chain: list[Division], tier: str, config: RoutingConfig) -> OrgUnit | None:
    target = next((d for d in chain if d.level == tier), None)
    if target is None:
        return None
    kinds = (
        (OrgUnitKind.DIVISION_OFFICE,)
        if tier != "city"
        else (OrgUnitKind.COMMAND_CENTER, OrgUnitKind.DIVISION_OFFICE)
    )
    return next((u for u in config.offices.get(target.pk, ()) if u.kind in kinds), None)


def dispatch_center_for(place: Division | None, config: RoutingConfig | None = None) -> OrgUnit | None:
    """The command center closest to the place (subdistrict, then district, then city)."""
    config = config or routing_config()
    for division in division_chain(place):
        centers = config.centers.get(division.pk)
        if centers:
            # The last by code, as it always was (several centers for one division are a data error).
            return centers[-1]
    return config.city_center


def _rule_unit(rule: RoutingRule, places: list[Division], config: RoutingConfig) -> OrgUnit | None:
    """The unit a rule names, or the division office of the place at the rule's tier; None if inactive/unknown."""
    if rule.unit_id:
        unit = config.units.get(rule.unit_id)
        return unit if unit is not None and unit.is_active else None
    if rule.tier:
        return _division_office(places, rule.tier, config)
    return None


def route(*, category: Category, place: Division | None) -> Route:
    """The most specific active rule for the category and place decides.

    Specificity: deeper category, then deeper division, then higher priority (then
    the older rule). A rule without a unit routes to the division office at its
    tier; when the place is not known down to that tier (or the unit is inactive),
    the rule cannot serve this ticket and the next most specific one is tried.
    The dispatch center is always the command center closest to the place. The rules
    and units come from the process's snapshot (``tickets.cache``): no query.
    """
    config = routing_config()
    categories = category_chain(category)
    places = division_chain(place)
    depth_of_category = {pk: len(categories) - i for i, pk in enumerate(categories)}
    place_ids = {d.pk for d in places}
    rules = [
        rule
        for category_id in (*categories, None)
        for rule in config.rules.get(category_id, ())
        if rule.division_id is None or rule.division_id in place_ids
    ]
    candidates = []
    for rule in rules:
        category_depth = depth_of_category.get(rule.category_id, 0)
        division_depth = LEVEL_DEPTH[rule.division.level] + 1 if rule.division_id else 0
        candidates.append(((category_depth, division_depth, rule.priority, -rule.pk), rule))
    center = dispatch_center_for(place, config)
    if not candidates:
        return Route(None, False, center, {"code": ROUTE_NO_RULE})
    candidates.sort(key=lambda item: item[0], reverse=True)
    skipped = []
    for _key, rule in candidates:
        unit = _rule_unit(rule, places, config)
        what = rule.category.name if rule.category_id else "*"
        where = rule.division.name if rule.division_id else "*"
        if unit is None:
            skipped.append(rule.pk)
            continue
        reason = {"code": ROUTE_RULE, "rule": rule.pk, "what": what, "where": where, "unit": unit.name}
        return Route(unit, rule.auto_dispatch, center, reason, rule.pk)
    return Route(None, False, center, {"code": ROUTE_NO_ACTIVE_UNIT, "rules": skipped}, candidates[0][1].pk)
