"""Planted events of the demo's ticket history: what the early warnings of a real city find.

A few hundred random tickets spread over the city's 600-odd communities and 400 categories never
pile up anywhere, so the detectors (``analytics.alerts``) found nothing but chance topic clusters.
A city of 17 million has its events; these few dozen tickets are four of them, each at a real
place of the divisions:

- a construction-noise surge: night-time complaints about one building site, in one community,
  over four days (many arrivals of one category in one community: a surge);
- a wage-arrears group: the workers of one factory phoning over two days (many tickets at one
  address: a possible group incident); the dispatcher merges the later calls into the first;
- a repeat caller: one resident phoning about the same restaurant's cooking fumes five times in
  four weeks (one phone behind many tickets);
- a problem that keeps coming back: an overflowing sewer, reopened after two unsatisfied follow-ups
  and back with the handler at the end (a ticket reopened again and again).

Beside the events, a few tickets of the demo's own people (``persona_tickets``), so that signing in
as them shows work to do: the demo citizen's requests (one closed, one waiting for their rating,
one being handled) and the demo grid worker's patrol reports (one waiting for their on-site check,
one waiting to be signed for by the unit), all in the worker's two grids of 南头城社区.

Each planted ticket lives the same life as the others (``history_simulation._Simulation.life``):
submitted, dispatched, handled and followed up through the services on the simulated clock, so
the rollups, timelines and indicators count it like any other ticket, and the detectors find the
events on their own. Deterministic for a seed and an ``end``: the moments, buildings, callers and
phones come from ``random.Random(f"{seed}:events")``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone

from zhiwang.accounts.models import GridAssignment, User
from zhiwang.geo.models import AddressLevel, StandardAddress
from zhiwang.tickets.demo import DEMO_STAFF_INTAKE_CHANNELS
from zhiwang.tickets.history_bulk import _phone
from zhiwang.tickets.history_city import GIVEN, SURNAMES
from zhiwang.tickets.models import Category, Channel, TicketKind


@dataclass(frozen=True)
class Planted:
    """One ticket of a planted event: who calls, when, where and about what, and how its handling goes."""

    key: str  # its external id is ``demo-{seed}-{key}``
    received: datetime
    kind: str
    category: Category
    channel: str
    address_code: str
    description: str
    reporter_name: str
    reporter_phone: str
    #: the event it belongs to; with ``merge`` the dispatcher merges it into the event's first ticket
    group: str = ""
    merge: bool = False
    #: working hours the handler takes to reply (default: as any ticket, up to its deadline)
    reply_hours: tuple[float, float] | None = None
    #: the follow-up notes of the rounds that find the problem unresolved (each one reopens it)
    reopen_notes: tuple[str, ...] = ()
    #: after the last reopening the handler signs for it again and is still at work at the end
    stay_open: bool = False
    #: a demo account: the citizen who reports it from their own account (web, app), or the grid
    #: worker who reports it on patrol; with ``verifier``, the grid worker who checks it on site
    account: str = ""
    verifier: str = ""
    #: where its story stops, still waiting at the end: "dispatched" (to be signed for),
    #: "accepted" (the handler is at work),
    #: "verifying" (the grid's on-site check), "follow_up" (the citizen's rating); "" goes on to the end
    stop_at: str = ""

    def submit_fields(self, *, seed: int, operator, accounts: dict | None = None) -> dict:
        """``ticket_submit``'s arguments: the category is the one meant (a hotline call is taken in
        by the ``operator``, who files it where it belongs; a patrol report by its grid worker, a
        citizen's request from their own account, both from ``accounts`` by user name)."""
        fields = {
            "channel": self.channel,
            "kind": self.kind,
            "category": self.category,
            "description": self.description,
            "external_id": f"demo-{seed}-{self.key}",
            "reporter_name": self.reporter_name,
            "reporter_phone": self.reporter_phone,
            "address_code": self.address_code,
            "received_at": self.received,
        }
        if self.channel in DEMO_STAFF_INTAKE_CHANNELS:
            fields["actor"] = operator
        if self.account:
            account = (accounts or {})[self.account]
            fields["actor" if self.channel == Channel.PATROL else "reporter"] = account
        return fields


# --- where -----------------------------------------------------------------------------------------

#: 南山区粤海街道高新区社区: office towers going up beside the housing of the science park.
NOISE_COMMUNITY = "440305007023"
#: 宝安区石岩街道石龙社区: small factories among the flats.
WAGE_COMMUNITY = "440306026001"
#: 福田区华强北街道荔村社区: an urban village with eateries under the flats.
FUMES_COMMUNITY = "440304011004"
#: 南山区南头街道南头城社区: the old town, where the demo's subdistrict staff and grid worker work.
SEWER_COMMUNITY = "440305001001"

NOISE_CATEGORY = "040203"  # 环境污染 · 噪音污染
WAGE_CATEGORY = "150306"  # 工资福利 · 工资发放
FUMES_CATEGORY = "040206"  # 环境污染 · 大气污染 (cooking fumes)
SEWER_CATEGORY = "010211"  # 城市建设和市政管理 · 基础设施

# --- what the callers say ---------------------------------------------------------------------------
# As a hotline operator writes a call down: "来电人反映：…，要求…". Calls about one matter read
# alike, so the topic detector sees them as one topic too.

NOISE_TEXTS = (
    "来电人反映：附近建筑工地晚上十点以后仍在打桩施工，噪音很大，影响休息，要求查处夜间施工。",
    "来电人反映：附近建筑工地夜间连续施工，机器和渣土车噪音持续到凌晨，要求查处夜间施工。",
    "来电人反映：附近建筑工地半夜浇筑混凝土，噪音扰民，质疑其有无夜间施工许可，要求查处。",
    "来电人反映：附近建筑工地连续几个晚上夜间施工，噪音很大，孩子无法入睡，要求查处夜间施工。",
)
WAGE_TEXTS = (
    "来电人反映：其在宏远电子厂工作，该厂拖欠其两个月工资，老板无法联系，要求协助追讨。",
    "来电人反映：其在宏远电子厂工作，该厂拖欠工人两个月工资，工人聚集在厂门口，要求协助追讨。",
    "来电人反映：宏远电子厂拖欠其十月、十一月工资，厂方称没钱发放，要求协助追讨。",
    "来电人反映：其在宏远电子厂工作，该厂已停工，拖欠其两个月工资，要求协助追讨。",
    "来电人反映：宏远电子厂老板拖欠工资后无法联系，其与工友急需工资交房租，要求协助追讨。",
)
FUMES_TEXTS = (
    "来电人反映：楼下餐馆油烟直排，油烟从窗户灌进家里，要求整治。",
    "来电人再次反映楼下餐馆油烟问题：上次答复已处理，近几天晚上油烟依旧很大，要求整治。",
    "来电人第三次反映：楼下餐馆未开启油烟净化设备，晚饭时间整栋楼都是油烟味，要求整治。",
    "来电人反映：楼下餐馆油烟扰民已多次投诉，执法人员检查后过两天又照旧，要求整治。",
    "来电人反映：仍是楼下餐馆油烟问题，要求彻底解决，不要每次检查后就不了了之。",
)
SEWER_TEXT = "来电人反映：楼下路口的污水井堵塞，污水漫到路面，臭味很大，居民出入要绕行，要求疏通修复。"
SEWER_REOPEN_NOTES = (
    "回访：疏通后第二天又开始冒水，市民不满意。",
    "回访：污水井仍在冒水，市民反映只是临时疏通，要求彻底修复管道。",
)


def _moment(rng: random.Random, end: datetime, days_before: int, hours: tuple[float, float]) -> datetime:
    """A minute between ``hours`` (local, 24 h) on the day ``days_before`` the local day of ``end``."""
    day = timezone.localdate(end) - timedelta(days=days_before)
    minutes = int(rng.uniform(hours[0] * 60, hours[1] * 60))
    return timezone.make_aware(datetime.combine(day, time.min)) + timedelta(minutes=minutes)


def _buildings(community_code: str) -> list[str]:
    return list(
        StandardAddress.objects.filter(community__code=community_code, level=AddressLevel.BUILDING)
        .order_by("code")
        .values_list("code", flat=True)
    )


def _person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(SURNAMES) + rng.choice(GIVEN), _phone(rng)


def planted_events(*, seed: int, end: datetime) -> list[Planted]:
    """The planted tickets of a history ending at ``end``, in order of arrival.

    An event whose community has no buildings or whose category is not in the catalogue is left
    out (a city built otherwise than by ``zhiwang demo``), never half-planted.
    """
    rng = random.Random(f"{seed}:events")
    categories = {
        c.code: c
        for c in Category.objects.filter(
            code__in=(NOISE_CATEGORY, WAGE_CATEGORY, FUMES_CATEGORY, SEWER_CATEGORY), is_active=True
        )
    }
    planted: list[Planted] = []

    # the noise: one site keeps working at night; 1, 2, 3 and 2 residents call on four evenings
    buildings, category = _buildings(NOISE_COMMUNITY), categories.get(NOISE_CATEGORY)
    if buildings and category is not None:
        n = 0
        for days_before, calls in ((16, 1), (15, 2), (14, 3), (13, 2)):
            for _call in range(calls):
                name, phone = _person(rng)
                planted.append(
                    Planted(
                        key=f"noise-{n}",
                        received=_moment(rng, end, days_before, (21.5, 23.9)),
                        kind=TicketKind.COMPLAINT,
                        category=category,
                        channel=Channel.HOTLINE,
                        address_code=rng.choice(buildings),
                        description=NOISE_TEXTS[n % len(NOISE_TEXTS)],
                        reporter_name=name,
                        reporter_phone=phone,
                        group="noise",
                    )
                )
                n += 1

    # the wage arrears: one factory's workers, six calls one morning and three the next day
    buildings, category = _buildings(WAGE_COMMUNITY), categories.get(WAGE_CATEGORY)
    if buildings and category is not None:
        factory = rng.choice(buildings)
        n = 0
        for days_before, calls, hours in ((6, 6, (8.5, 12)), (5, 3, (9, 17))):
            for _call in range(calls):
                name, phone = _person(rng)
                planted.append(
                    Planted(
                        key=f"wages-{n}",
                        received=_moment(rng, end, days_before, hours),
                        kind=TicketKind.HELP if n % 3 == 2 else TicketKind.COMPLAINT,
                        category=category,
                        channel=Channel.HOTLINE,
                        address_code=factory,
                        description=WAGE_TEXTS[n % len(WAGE_TEXTS)],
                        reporter_name=name,
                        reporter_phone=phone,
                        group="wages",
                        merge=True,
                    )
                )
                n += 1

    # the repeat caller: the same resident about the same restaurant, every week or so
    buildings, category = _buildings(FUMES_COMMUNITY), categories.get(FUMES_CATEGORY)
    if buildings and category is not None:
        home = rng.choice(buildings)
        name, phone = _person(rng)
        for n, days_before in enumerate((27, 21, 15, 9, 3)):
            planted.append(
                Planted(
                    key=f"fumes-{n}",
                    received=_moment(rng, end, days_before + rng.choice((-1, 0, 0, 1)), (18.5, 21.5)),
                    kind=TicketKind.COMPLAINT,
                    category=category,
                    channel=Channel.HOTLINE,
                    address_code=home,
                    description=FUMES_TEXTS[n],
                    reporter_name=name,
                    reporter_phone=phone,
                    group="fumes",
                )
            )

    # the sewer: fixed for a day, twice; the third time the handler is still at it
    buildings, category = _buildings(SEWER_COMMUNITY), categories.get(SEWER_CATEGORY)
    if buildings and category is not None:
        name, phone = _person(rng)
        planted.append(
            Planted(
                key="sewer-0",
                received=_moment(rng, end, 24, (9, 11)),
                kind=TicketKind.COMPLAINT,
                category=category,
                channel=Channel.HOTLINE,
                address_code=rng.choice(buildings),
                description=SEWER_TEXT,
                reporter_name=name,
                reporter_phone=phone,
                group="sewer",
                reply_hours=(14, 22),
                reopen_notes=SEWER_REOPEN_NOTES,
                stay_open=True,
            )
        )
    planted.sort(key=lambda p: (p.received, p.key))
    return planted


# --- the demo's own people ------------------------------------------------------------------------

#: the accounts ``accounts.demo`` makes: the citizen and the grid worker of 南头城社区's first two grids
PERSONA_CITIZEN = "demo_citizen"
PERSONA_GRID_WORKER = "demo_grid_worker"

# grid incidents (GI…): each needs the grid's on-site check (核查) before the follow-up
STREET_LIGHT_CATEGORY = "GI0202"  # 路灯不亮
FIRE_LANE_CATEGORY = "GI0401"  # 消防通道堵塞
ROAD_DIRT_CATEGORY = "GI0102"  # 道路不洁
GARBAGE_CATEGORY = "GI0101"  # 暴露垃圾
STREET_STALL_CATEGORY = "GI0104"  # 占道经营


def persona_tickets(*, seed: int, end: datetime) -> list[Planted]:
    """The tickets of the demo citizen and the demo grid worker in a history ending at ``end``.

    Signing in as them then shows work to do: the citizen's "my requests" has one request closed
    and rated, one waiting for their rating and one being handled; the grid worker's home has a
    patrol report waiting for their on-site check (核查) and one the unit has yet to sign for. Every one lives
    through the services like any other ticket, in the worker's grids, where the citizen lives.
    Left out (empty list) when the accounts, the worker's grids, their buildings or the categories
    are missing (a city built otherwise than by ``zhiwang demo``).
    """
    rng = random.Random(f"{seed}:personas")
    accounts = {
        u.username: u for u in User.objects.filter(username__in=(PERSONA_CITIZEN, PERSONA_GRID_WORKER))
    }
    codes = (
        STREET_LIGHT_CATEGORY,
        FIRE_LANE_CATEGORY,
        ROAD_DIRT_CATEGORY,
        GARBAGE_CATEGORY,
        STREET_STALL_CATEGORY,
    )
    categories = {c.code: c for c in Category.objects.filter(code__in=codes, is_active=True)}
    grids = list(
        GridAssignment.objects.filter(user__username=PERSONA_GRID_WORKER)
        .order_by("grid__code")
        .values_list("grid_id", flat=True)
        .distinct()[:2]
    )
    buildings = [
        list(
            StandardAddress.objects.filter(grid_id=grid, level=AddressLevel.BUILDING)
            .order_by("code")
            .values_list("code", flat=True)
        )
        for grid in grids
    ]
    if len(accounts) < 2 or len(categories) < len(codes) or len(buildings) < 2 or not all(buildings):
        return []
    citizen = accounts[PERSONA_CITIZEN]
    citizen_name = citizen.full_name or "林晓"
    citizen_phone = _phone(rng)
    home = rng.choice(buildings[0])  # the citizen's building, in the worker's first grid
    worker = PERSONA_GRID_WORKER

    def citizen_request(key, days_before, hours, channel, category, address, text, **turns):
        return Planted(
            key=key,
            received=_moment(rng, end, days_before, hours),
            kind=TicketKind.COMPLAINT,
            category=categories[category],
            channel=channel,
            address_code=address,
            description=text,
            reporter_name=citizen_name,
            reporter_phone=citizen_phone,
            group="personas",
            account=PERSONA_CITIZEN,
            verifier=worker,
            **turns,
        )

    def patrol_report(key, days_before, hours, category, address, text, **turns):
        return Planted(
            key=key,
            received=_moment(rng, end, days_before, hours),
            kind=TicketKind.INCIDENT,
            category=categories[category],
            channel=Channel.PATROL,
            address_code=address,
            description=text,
            reporter_name="",
            reporter_phone="",
            group="personas",
            account=worker,
            verifier=worker,
            **turns,
        )

    planted = [
        # answered weeks ago and followed up: the history of "my requests"
        citizen_request(
            "persona-0",
            24,
            (19, 21),
            Channel.WEB,
            ROAD_DIRT_CATEGORY,
            home,
            "小区门口的人行道上每天都有撒落的建筑渣土，下雨后满地泥浆，老人孩子容易滑倒，请安排清扫。",
            reply_hours=(6, 14),
        ),
        # fixed and checked on site: the citizen is asked to rate the answer
        citizen_request(
            "persona-1",
            6,
            (20, 22),
            Channel.APP,
            STREET_LIGHT_CATEGORY,
            home,
            "楼下路口的路灯已经坏了一个多星期，晚上一片漆黑，老人出门不安全，请尽快维修。",
            reply_hours=(3, 8),
            stop_at="follow_up",
        ),
        # sent in two days ago: the handler has signed for it and is at work
        citizen_request(
            "persona-2",
            2,
            (8, 9.5),
            Channel.APP,
            FIRE_LANE_CATEGORY,
            rng.choice(buildings[1]),
            "小区消防通道长期被私家车占用，物业劝说无效，万一发生火灾消防车进不来，请尽快处理。",
            stop_at="accepted",
        ),
        # the worker's patrol report, handled: their on-site check is next
        patrol_report(
            "persona-3",
            3,
            (9.5, 11),
            GARBAGE_CATEGORY,
            rng.choice(buildings[0]),
            "巡查发现：楼栋旁垃圾桶满溢，垃圾堆放在路边，有明显异味，需安排清运。",
            reply_hours=(2, 6),
            stop_at="verifying",
        ),
        # yesterday's patrol report, sent to the unit: waiting to be signed for
        patrol_report(
            "persona-4",
            1,
            (14, 16),
            STREET_STALL_CATEGORY,
            rng.choice(buildings[1]),
            "巡查发现：小区出入口有流动摊贩占道经营，堵塞行人通道，经劝离后仍反复出现。",
            stop_at="dispatched",
        ),
    ]
    planted.sort(key=lambda p: (p.received, p.key))
    return planted
