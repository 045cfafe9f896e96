"""The demo city, as the ticket-history simulation (``tickets.history``) sees it: what it picks from.

How often citizens ask for what and through which channel, the names callers give, and
``_City``: the leaf categories by kind, the communities with buildings, the demo accounts and
the district offices, loaded once per run (``zhiwang demo`` must have made them).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from zhiwang.accounts.models import OrgUnit, OrgUnitKind, User
from zhiwang.geo.models import AddressLevel, Division, DivisionLevel, StandardAddress
from zhiwang.tickets.models import Category, Channel, TicketKind

#: How often citizens ask for what (12345 practice: complaints and requests for help lead).
KIND_WEIGHTS = {
    TicketKind.COMPLAINT: 34,
    TicketKind.HELP: 20,
    TicketKind.INQUIRY: 14,
    TicketKind.REPORT: 9,
    TicketKind.SUGGESTION: 5,
    TicketKind.PRAISE: 1,
    TicketKind.INCIDENT: 17,
}
CHANNEL_WEIGHTS = {
    Channel.HOTLINE: 55,
    Channel.WEB: 10,
    Channel.APP: 14,
    Channel.WINDOW: 5,
    Channel.API: 3,
    Channel.OPEN311: 3,
    Channel.DEPARTMENT: 4,
    Channel.PETITION: 2,
    Channel.VOLUNTEER: 4,
}
INCIDENT_CHANNELS = {Channel.PATROL: 85, Channel.VIDEO: 15}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


# --- the demo city: what the generator picks from ------------------------------------------------


@dataclass
class _City:
    categories_by_kind: dict[str, list[Category]]
    communities: list[tuple[int, int]]  # (community id, building count)
    staff: dict[str, User]
    district_offices: dict[int, OrgUnit]  # district id → the district government (fallback unit)

    @classmethod
    def load(cls) -> _City:
        leaves = [
            c
            for c in Category.objects.filter(is_active=True).prefetch_related("children")
            if not any(child.is_active for child in c.children.all())
        ]
        by_kind: dict[str, list[Category]] = defaultdict(list)
        for category in sorted(leaves, key=lambda c: c.code):
            for kind in category.kinds or TicketKind.values:
                by_kind[kind].append(category)
        communities = list(
            Division.objects.filter(level=DivisionLevel.COMMUNITY, building_count__gt=0)
            .order_by("code")
            .values_list("pk", "building_count")
        )
        usernames = ("demo_city_dispatcher", "demo_hotline", "demo_admin")
        staff = {u.username: u for u in User.objects.filter(username__in=usernames)}
        missing = set(usernames) - set(staff)
        if missing or not communities or not leaves:
            accounts = ", ".join(sorted(missing)) or "ok"
            raise ValueError(
                f"The demo city is missing (accounts: {accounts}; {len(communities)} communities with "
                f"buildings; {len(leaves)} categories): run `zhiwang demo` first."
            )
        offices = {
            u.division_id: u
            for u in OrgUnit.objects.filter(
                kind=OrgUnitKind.DIVISION_OFFICE, is_active=True, division__level=DivisionLevel.DISTRICT
            )
        }
        return cls(dict(by_kind), communities, staff, offices)

    def handler_for(self, unit_id: int | None) -> User:
        """A handler of the unit, else the administrator (who may act as any handler)."""
        found = (
            User.objects.filter(org_unit_id=unit_id, role="handler", is_active=True).order_by("pk").first()
        )
        return found or self.staff["demo_admin"]

    def address_code(self, rng: random.Random) -> str | None:
        community_id, buildings = rng.choices(self.communities, weights=[n for _c, n in self.communities])[0]
        qs = StandardAddress.objects.filter(community_id=community_id, level=AddressLevel.BUILDING).order_by(
            "pk"
        )
        offset = rng.randrange(buildings)
        found = list(qs.values_list("code", flat=True)[offset : offset + 1])
        return found[0] if found else None


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]
