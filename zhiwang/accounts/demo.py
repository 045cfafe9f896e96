"""Demo org units and one account per role, on the real divisions (Nanshan and Luohu)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from zhiwang.accounts import services
from zhiwang.accounts.models import GridDuty, OrgUnit, OrgUnitKind, Role, User
from zhiwang.geo.models import Division, DivisionLevel, Grid

DEMO_PASSWORD = "zhiwang-demo-2026"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    full_name: str
    where: str
    #: the org unit's name ("" for the administrator and the citizen): with the role, what the name no
    #: longer says (a plain person's name, not "城管局承办人 赵伟")
    unit: str = ""


def _first_child(parent: Division, level: str) -> Division:
    return Division.objects.filter(parent=parent, level=level, special="").order_by("code").first()


@transaction.atomic
def demo_accounts_create(*, password: str = DEMO_PASSWORD) -> list[DemoAccount]:
    """Create or refresh the demo org units and users (idempotent: tickets may point at them).

    Needs the divisions and grids to exist; grid assignments are made anew.
    """
    city = Division.objects.get(level=DivisionLevel.CITY)
    nanshan = Division.objects.get(code="440305000000")
    luohu = Division.objects.get(code="440303000000")
    subdistrict = _first_child(nanshan, DivisionLevel.SUBDISTRICT)
    community = _first_child(subdistrict, DivisionLevel.COMMUNITY)
    grids = list(Grid.objects.filter(community=community).order_by("code")[:2])

    def unit(code, name, kind, division, parent=None):
        found, _created = OrgUnit.objects.update_or_create(
            code=f"DEMO-{code}", defaults={"name": name, "kind": kind, "division": division, "parent": parent}
        )
        return found

    city_cc = unit("CITY-CC", "深圳市12345热线与指挥中心", OrgUnitKind.COMMAND_CENTER, city)
    ns_cc = unit("NS-CC", "南山区指挥中心", OrgUnitKind.COMMAND_CENTER, nanshan, city_cc)
    lh_cc = unit("LH-CC", "罗湖区指挥中心", OrgUnitKind.COMMAND_CENTER, luohu, city_cc)
    sub_office = unit(
        "SUB-OFFICE", f"{subdistrict.name}办事处", OrgUnitKind.DIVISION_OFFICE, subdistrict, ns_cc
    )
    grid_station = unit(
        "GRID-STATION", f"{community.display_name}网格工作站", OrgUnitKind.GRID_STATION, community, sub_office
    )
    ns_urban = unit("NS-URBAN", "南山区城市管理和综合执法局", OrgUnitKind.DEPARTMENT, nanshan, ns_cc)
    mediation = unit(
        "SUB-MEDIATION",
        f"{subdistrict.name}人民调解委员会",
        OrgUnitKind.MEDIATION_ORG,
        subdistrict,
        sub_office,
    )
    data_office = unit("CITY-DATA", "深圳市政务服务数据管理局", OrgUnitKind.DEPARTMENT, city, None)

    # Plain person names: the role is the account's role, shown beside the name where it matters
    # ("调解员 周芳" under "调解员（签名）" in an agreement, or in every timeline row, said it twice).
    specs = [
        ("demo_admin", Role.ADMINISTRATOR, "许峰", None, [city], "全市"),
        ("demo_hotline", Role.INTAKE_OPERATOR, "王敏", city_cc, [city], "全市"),
        ("demo_city_dispatcher", Role.DISPATCHER, "李强", city_cc, [city], "全市"),
        ("demo_ns_dispatcher", Role.DISPATCHER, "陈静", ns_cc, [nanshan], nanshan.name),
        ("demo_lh_dispatcher", Role.DISPATCHER, "刘洋", lh_cc, [luohu], luohu.name),
        (
            "demo_sub_dispatcher",
            Role.DISPATCHER,
            "黄丽",
            sub_office,
            [subdistrict],
            subdistrict.name,
        ),
        ("demo_handler", Role.HANDLER, "赵伟", ns_urban, [nanshan], nanshan.name),
        (
            "demo_sub_handler",
            Role.HANDLER,
            "钱军",
            sub_office,
            [subdistrict],
            subdistrict.name,
        ),
        ("demo_mediator", Role.MEDIATOR, "周芳", mediation, [subdistrict], subdistrict.name),
        ("demo_leader", Role.LEADER, "吴刚", city_cc, [city], "全市"),
        ("demo_steward", Role.DATA_STEWARD, "郑琳", data_office, [city], "全市"),
        (
            "demo_grid_worker",
            Role.GRID_WORKER,
            "孙悦",
            grid_station,
            [],
            ", ".join(g.code for g in grids),
        ),
        (
            "demo_grid_police",
            Role.GRID_WORKER,
            "马骏",
            grid_station,
            [],
            grids[0].code if grids else "",
        ),
        ("demo_citizen", Role.CITIZEN, "林晓", None, [], "—"),
    ]
    accounts = []
    for username, role, full_name, org_unit, jurisdictions, where in specs:
        existing = User.objects.filter(username=username).first()
        if existing is None:
            services.user_create(
                username=username,
                password=password,
                role=role,
                full_name=full_name,
                org_unit=org_unit,
                jurisdictions=jurisdictions,
            )
        else:
            existing.role, existing.full_name, existing.org_unit, existing.is_active = (
                role,
                full_name,
                org_unit,
                True,
            )
            existing.set_password(password)
            existing.save()
            services.user_set_jurisdictions(user=existing, divisions=list(jurisdictions))
        accounts.append(DemoAccount(username, role, full_name, where, org_unit.name if org_unit else ""))
    worker = User.objects.get(username="demo_grid_worker")
    police = User.objects.get(username="demo_grid_police")
    for grid in grids:
        services.grid_assign(grid=grid, user=worker, duty=GridDuty.GRID_WORKER)
    if grids:
        services.grid_assign(grid=grids[0], user=police, duty=GridDuty.POLICE)
    return accounts
