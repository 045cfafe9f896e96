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

    def submit_fields(self, *, seed: int, operator) -> dict:
        """``ticket_submit``'s arguments: the category is the one meant (a hotline call is taken in
        by the ``operator``, who files it where it belongs)."""
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
