"""Demo handling units and routing rules for the whole city, so tickets route out of the box."""

from __future__ import annotations

from django.db import transaction

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.geo.models import Division, DivisionLevel
from zhiwang.tickets.cache import routing_config_changed
from zhiwang.tickets.models import Category, RoutingRule


@transaction.atomic
def demo_routing_create() -> dict[str, int]:
    """Command centers and offices for every district and subdistrict, and a small rule table."""
    RoutingRule.objects.filter(unit__code__startswith="DEMO-").delete()
    RoutingRule.objects.filter(unit__isnull=True).delete()
    city = Division.objects.get(level=DivisionLevel.CITY)
    city_center = OrgUnit.objects.filter(code="DEMO-CITY-CC").first()
    units = 0
    for district in Division.objects.filter(level=DivisionLevel.DISTRICT):
        center, made = OrgUnit.objects.get_or_create(
            kind=OrgUnitKind.COMMAND_CENTER,
            division=district,
            defaults={
                "code": f"DEMO-CC-{district.code[:6]}",
                "name": f"{district.name}指挥中心",
                "parent": city_center,
            },
        )
        units += made
        _office, made = OrgUnit.objects.get_or_create(
            kind=OrgUnitKind.DIVISION_OFFICE,
            division=district,
            defaults={
                "code": f"DEMO-GOV-{district.code[:6]}",
                "name": f"{district.name}人民政府",
                "parent": center,
            },
        )
        units += made
        for sub in Division.objects.filter(parent=district, level=DivisionLevel.SUBDISTRICT):
            _o, made = OrgUnit.objects.get_or_create(
                kind=OrgUnitKind.DIVISION_OFFICE,
                division=sub,
                defaults={"code": f"DEMO-SUB-{sub.code[:9]}", "name": f"{sub.name}办事处", "parent": center},
            )
            units += made
    urban = OrgUnit.objects.filter(code="DEMO-NS-URBAN").first()
    nanshan = Division.objects.get(code="440305000000")

    def cat(code):
        return Category.objects.get(code=code)

    rules = [
        # grid incidents: the subdistrict office acts, automatically
        RoutingRule(category=cat("GI"), tier="subdistrict", auto_dispatch=True),
        # illegal structures in Nanshan: the district's urban-management bureau, automatically
        RoutingRule(category=cat("GI0301"), division=nanshan, unit=urban, auto_dispatch=True)
        if urban
        else None,
        # urban affairs in general: the subdistrict office, via the dispatcher
        RoutingRule(category=cat("01"), tier="subdistrict"),
        # everything else: the district government, via the dispatcher
        RoutingRule(category=None, division=city, tier="district"),
    ]
    rules = [r for r in rules if r is not None]
    RoutingRule.objects.bulk_create(rules)
    routing_config_changed()  # bulk_create sends no signal
    return {"units": units, "rules": len(rules)}
