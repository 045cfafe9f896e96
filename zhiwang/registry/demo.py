"""Synthetic registry data for the demo city: people, legal entities and housing in its rooms.

Every ID number and credit code is valid (GB 11643 / GB 32100 check characters) and
made up; names are drawn from common surnames and given-name characters. Deterministic
for a seed. Writes in bulk (the demo city can be large); rerunning replaces the
previous demo records (those whose source is a demo department). Asked to (``steward_work``,
as ``zhiwang demo`` asks), it ends with the demo data steward's work, made through the real
services (``demo_steward``: a second department's file that names a few people otherwise, the
grid worker's registrations of people on record elsewhere).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from zhiwang.accounts.models import OrgUnit, OrgUnitKind
from zhiwang.core.validators import CREDIT_CODE_ALPHABET, credit_code_check_char, id_number_check_char
from zhiwang.geo.models import AddressLevel, Division, StandardAddress
from zhiwang.registry.defaults import seed_defaults
from zhiwang.registry.demo_steward import MERGE_SOURCE, demo_steward_work_clear, demo_steward_work_create
from zhiwang.registry.hashing import id_number_hash, phone_hash
from zhiwang.registry.models import (
    EligibilityRule,
    EntitySource,
    EntityType,
    Housing,
    HousingUse,
    KeyGroup,
    LegalEntity,
    MappingTemplate,
    Occupancy,
    Operation,
    Person,
    PersonSource,
    PersonTag,
    Residence,
)
from zhiwang.registry.services.totals import totals_refresh

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉宇浩然子轩欣怡梓涵雨佳晨思嘉诗婷俊杰志鹏海燕春梅晓东立新"
INDUSTRIES = (
    "餐饮",
    "零售",
    "软件和信息技术服务",
    "物业管理",
    "教育培训",
    "美容美发",
    "物流",
    "建筑装饰",
    "医疗",
    "制造",
)
ENTITY_WORDS = (
    "鑫",
    "华",
    "盛",
    "达",
    "源",
    "通",
    "泰",
    "恒",
    "远",
    "创",
    "科",
    "美",
    "佳",
    "新",
    "锦",
    "荣",
)
ENTITY_SUFFIXES = (
    "科技有限公司",
    "贸易有限公司",
    "餐饮店",
    "便利店",
    "文化传播有限公司",
    "物业服务有限公司",
    "美发店",
)
#: Where migrants come from (GB/T 2260 area codes outside Shenzhen).
ORIGIN_AREAS = (
    "430102",
    "360102",
    "450102",
    "510104",
    "420102",
    "441302",
    "445202",
    "411302",
    "350102",
    "440514",
)

DEMO_SOURCES = {
    "DEMO-REG-PSB": ("深圳市公安局（实有人口）", "person"),
    "DEMO-REG-AMR": ("深圳市市场监督管理局", "entity"),
    "DEMO-REG-HOUSING": ("深圳市住房和建设局", "housing"),
    # Supplies no records of its own: its small file disagrees with some of the police's names
    # (``demo_steward``), and the people it confirms name it as their source from then on.
    MERGE_SOURCE[0]: (MERGE_SOURCE[1], "merge"),
}


@dataclass(frozen=True)
class RegistryScale:
    people_per_room: tuple[int, int]
    rental_share: float
    entity_share: float  # share of ground-floor rooms with an entity


SCALES = {
    "tiny": RegistryScale((0, 2), 0.3, 0.5),
    "small": RegistryScale((0, 3), 0.3, 0.4),
    "medium": RegistryScale((1, 4), 0.35, 0.3),
    "large": RegistryScale((1, 3), 0.35, 0.2),
}


@dataclass
class RegistryDemoResult:
    people: int = 0
    entities: int = 0
    housing: int = 0
    residences: int = 0
    #: the demo data steward's work (``demo_steward``): open merge conflicts, registrations to check
    conflicts: int = 0
    reviews: int = 0


def make_id_number(area: str, born: date, sequence: int, male: bool) -> str:
    """A valid 18-digit ID number (the 17th digit is odd for men)."""
    seq = sequence % 1000
    if (seq % 2 == 1) != male:
        seq = (seq + 1) % 1000
    first17 = f"{area}{born:%Y%m%d}{seq:03d}"
    return first17 + id_number_check_char(first17)


def make_credit_code(area: str, rng: random.Random) -> str:
    """A valid unified social credit code: authority 9 (market regulation), type 1 (enterprise)."""
    body = "".join(rng.choice(CREDIT_CODE_ALPHABET) for _i in range(9))
    first17 = f"91{area}{body}"
    return first17 + credit_code_check_char(first17)


def make_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _i in range(rng.choice((1, 2, 2))))


def _sources() -> dict[str, OrgUnit]:
    city = Division.objects.filter(level="city").first()
    units = {}
    for code, (name, kind) in DEMO_SOURCES.items():
        unit, _created = OrgUnit.objects.update_or_create(
            code=code, defaults={"name": name, "kind": OrgUnitKind.DEPARTMENT, "division": city}
        )
        units[kind] = unit
    return units


def _wipe(units: dict[str, OrgUnit]) -> None:
    ids = [u.pk for u in units.values()]
    Residence.objects.filter(person__source_id__in=ids).delete()
    PersonTag.objects.filter(person__source_id__in=ids).delete()
    PersonSource.objects.filter(source_id__in=ids).delete()
    Person.objects.filter(source_id__in=ids).delete()
    Operation.objects.filter(entity__source_id__in=ids).delete()
    EntitySource.objects.filter(source_id__in=ids).delete()
    LegalEntity.objects.filter(source_id__in=ids).delete()
    Housing.objects.filter(source_id__in=ids).delete()
    # once the people they name are gone (a person keeps its last import batch): no conflict is
    # left naming a record that is no more, and the next run's file makes a new batch
    demo_steward_work_clear()


def demo_registry_clear() -> None:
    """Delete every person, entity and housing record (and their links), whatever their source.

    For rebuilding the demo city: ``geo.demo.demo_geography_build`` deletes the standard
    addresses, which registry links protect. History and access logs are append-only and stay.
    The registrations waiting for a steward go with their people; the demo's own import batch
    (with its merge conflicts) goes too (``demo_steward_work_clear``).
    """
    with transaction.atomic():
        for model in (
            Residence,
            Operation,
            PersonTag,
            PersonSource,
            EntitySource,
            Housing,
            Person,
            LegalEntity,
        ):
            model.objects.all().delete()
        demo_steward_work_clear()


def demo_registry_create(
    *,
    scale: str = "small",
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
    communities: list[Division] | None = None,
    steward_work: bool = False,
) -> RegistryDemoResult:
    """Fill the demo city's rooms with people, housing and entities (replacing earlier demo records).

    ``progress(done, total)`` is called once per community; ``communities`` limits the
    work (tests). Needs the demo geography (``geo.demo``).

    ``steward_work`` (``zhiwang demo``) then leaves the demo data steward a few merge conflicts
    and registrations to check (``demo_steward``), when the demo accounts exist (``accounts.demo``,
    made first). Off by default: those registrations write access-log rows and the file re-stamps
    some people's source, which tests of a plain demo registry need not find; a rerun clears the
    earlier run's either way.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    spec = SCALES[scale]
    result = RegistryDemoResult()
    seed_defaults(MappingTemplate=MappingTemplate, EligibilityRule=EligibilityRule)
    with transaction.atomic():
        units = _sources()
        _wipe(units)
    if communities is None:
        community_ids = list(
            StandardAddress.objects.filter(level=AddressLevel.BUILDING)
            .values_list("community_id", flat=True)
            .distinct()
        )
        communities = list(Division.objects.filter(pk__in=community_ids).order_by("code"))
    today = timezone.localdate()
    now = timezone.now()
    for done, community in enumerate(communities, start=1):
        rng = random.Random(
            int.from_bytes(hashlib.sha256(f"{seed}:registry:{community.code}".encode()).digest()[:8], "big")
        )
        district_area = community.code[:6]
        with transaction.atomic():
            rooms = list(
                StandardAddress.objects.filter(community=community, level=AddressLevel.ROOM).order_by("code")
            )
            people, housing, residences, entities, operations, tags = [], [], [], [], [], []
            person_rooms = []
            for index, room in enumerate(rooms):
                rental = rng.random() < spec.rental_share
                ground = (room.floor or 0) == 1
                business = ground and rng.random() < spec.entity_share
                owner = make_name(rng)
                housing.append(
                    Housing(
                        address=room,
                        community_id=room.community_id,
                        grid_id=room.grid_id,
                        use=HousingUse.COMMERCIAL if business else HousingUse.RESIDENTIAL,
                        owner_name=owner,
                        owner_phone=f"13{rng.randrange(10**9):09d}",
                        is_rental=rental,
                        occupancy=Occupancy.BUSINESS
                        if business
                        else (Occupancy.RENTED if rental else Occupancy.OWNER_OCCUPIED),
                        area_m2=rng.randrange(30, 160),
                        source=units["housing"],
                        last_confirmed_at=now,
                    )
                )
                if business:
                    name = (
                        "深圳市"
                        + "".join(rng.choice(ENTITY_WORDS) for _i in range(2))
                        + rng.choice(ENTITY_SUFFIXES)
                    )
                    entities.append(
                        (
                            LegalEntity(
                                credit_code=make_credit_code(district_area, rng),
                                name=name,
                                entity_type=EntityType.INDIVIDUAL_BUSINESS
                                if name.endswith("店")
                                else EntityType.ENTERPRISE,
                                legal_representative=make_name(rng),
                                industry=rng.choice(INDUSTRIES),
                                phone=f"0755{rng.randrange(10**8):08d}",
                                community_id=room.community_id,
                                grid_id=room.grid_id,
                                source=units["entity"],
                                last_confirmed_at=now,
                            ),
                            room,
                        )
                    )
                    continue
                for k in range(rng.randint(*spec.people_per_room)):
                    migrant = rental and rng.random() < 0.8
                    age = rng.choice(
                        (rng.randint(0, 17), rng.randint(18, 59), rng.randint(18, 59), rng.randint(60, 95))
                    )
                    born = today - timedelta(days=age * 365 + rng.randrange(365))
                    area = rng.choice(ORIGIN_AREAS) if migrant else district_area
                    number = make_id_number(
                        area, born, index * 7 + k + rng.randrange(500), rng.random() < 0.5
                    )
                    phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}" if age >= 16 else ""
                    people.append(
                        Person(
                            id_number=number,
                            id_number_hash=id_number_hash(number),
                            name=make_name(rng),
                            gender="male" if int(number[16]) % 2 else "female",
                            birth_date=born,
                            household_type="migrant" if migrant else "registered",
                            phone=phone,
                            phone_hash=phone_hash(phone),
                            community_id=room.community_id,
                            grid_id=room.grid_id,
                            source=units["person"],
                            last_confirmed_at=now,
                        )
                    )
                    person_rooms.append((room, rng.randrange(30, 3000)))
            # ID numbers are unique by construction except for rare collisions: keep the first.
            seen = set(
                Person.objects.filter(id_number_hash__in=[p.id_number_hash for p in people]).values_list(
                    "id_number_hash", flat=True
                )
            )
            unique_people, unique_rooms = [], []
            for person, room_since in zip(people, person_rooms, strict=True):
                if person.id_number_hash in seen:
                    continue
                seen.add(person.id_number_hash)
                unique_people.append(person)
                unique_rooms.append(room_since)
            Person.objects.bulk_create(unique_people, batch_size=1000)
            for person, (room, days) in zip(unique_people, unique_rooms, strict=True):
                residences.append(
                    Residence(
                        person=person,
                        address=room,
                        since=max(person.birth_date, today - timedelta(days=days)),
                        community_id=room.community_id,
                        grid_id=room.grid_id,
                        source=units["person"],
                        last_confirmed_at=now,
                    )
                )
                if person.age_on(today) >= 80 and rng.random() < 0.3:
                    tags.append(
                        PersonTag(
                            person=person, group=KeyGroup.ELDERLY_ALONE, since=today, source=units["person"]
                        )
                    )
            Residence.objects.bulk_create(residences, batch_size=1000)
            PersonTag.objects.bulk_create(tags, batch_size=1000)
            PersonSource.objects.bulk_create(
                [
                    PersonSource(person=p, source=units["person"], last_confirmed_at=now)
                    for p in unique_people
                ],
                batch_size=1000,
            )
            Housing.objects.bulk_create(housing, batch_size=1000)
            codes, entity_rows = set(), []
            for entity, room in entities:
                if entity.credit_code not in codes:
                    codes.add(entity.credit_code)
                    entity_rows.append((entity, room))
            LegalEntity.objects.bulk_create(
                [e for e, _r in entity_rows], batch_size=1000, ignore_conflicts=False
            )
            for entity, room in entity_rows:
                operations.append(
                    Operation(
                        entity=entity,
                        address=room,
                        since=today - timedelta(days=rng.randrange(30, 3000)),
                        community_id=room.community_id,
                        grid_id=room.grid_id,
                        source=units["entity"],
                        last_confirmed_at=now,
                    )
                )
            Operation.objects.bulk_create(operations, batch_size=1000)
            EntitySource.objects.bulk_create(
                [
                    EntitySource(entity=e, source=units["entity"], last_confirmed_at=now)
                    for e, _r in entity_rows
                ],
                batch_size=1000,
            )
        result.people += len(unique_people)
        result.residences += len(residences)
        result.housing += len(housing)
        result.entities += len(entity_rows)
        if progress:
            progress(done, len(communities))
    if steward_work:
        work = demo_steward_work_create(
            seed=seed, communities=communities, person_source=units["person"], merge_source=units["merge"]
        )
        result.conflicts, result.reviews = work.conflicts, work.reviews
    totals_refresh()  # the home page's totals, as the periodic task would leave them
    return result
