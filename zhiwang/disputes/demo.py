"""Demo mediation organisations, mediators, a service centre and cases in every state.

``demo_disputes_create`` needs the divisions and the demo accounts (``accounts.demo``).
It is idempotent: organisations and users are refreshed, and the cases carry idempotency
keys, so a second run adds nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from unittest import mock

from django.db import transaction
from django.utils import timezone

from zhiwang.accounts.models import OrgUnit, OrgUnitKind, Role, User
from zhiwang.accounts.services import user_create, user_set_jurisdictions
from zhiwang.core.validators import credit_code_check_char, id_number_check_char
from zhiwang.disputes.defaults import defaults_seed
from zhiwang.disputes.models import CaseEvent, DisputeCase
from zhiwang.disputes.services import (
    agreement_reach,
    case_assign,
    case_close,
    case_mark_backlog,
    case_refer,
    case_register,
    confirmation_apply,
    mediator_enrol,
    organisation_create,
    performance_follow_up,
    service_centre_create,
    session_record,
    visit_register,
)
from zhiwang.geo.models import Division, DivisionLevel

DEMO_PASSWORD = "zhiwang-demo-2026"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "平",
]
#: One story a case (``demo_disputes_create`` has 11): no two demo cases share their facts. The
#: categories of the last three are those of the first three, as when the list was 8 long, so the
#: parties drawn from the seed (a company respondent for property management and consumer
#: disputes) stay as they were.
STORIES = [
    ("neighbours", "楼上漏水纠纷", "楼上卫生间漏水导致楼下天花板受损，双方就维修费用协商未果。", 3500),
    ("property_management", "物业费纠纷", "业主认为物业服务不到位拒缴物业费，物业公司多次催缴。", 8600),
    ("labour", "拖欠工资纠纷", "十二名工人反映装修公司拖欠三个月工资，情绪激动。", 186000),
    ("marriage_family", "赡养老人纠纷", "兄妹三人就母亲赡养费分担问题发生争执。", 0),
    ("consumer", "预付卡退费纠纷", "健身房停业，会员要求退还预付费。", 42000),
    ("traffic", "交通事故赔偿纠纷", "电动车与行人相撞，双方就医疗费赔偿协商未果。", 12800),
    ("contract", "房屋租赁合同纠纷", "租户提前退租，房东拒绝退还押金。", 9000),
    ("neighbours", "噪音扰民纠纷", "楼下商铺夜间噪音扰民，居民多次投诉。", 0),
    (
        "neighbours",
        "天台搭建纠纷",
        "顶楼住户在天台搭建阳光房，堵塞消防通道并遮挡邻居采光，双方多次发生推搡，扬言报复。",
        0,
    ),
    (
        "property_management",
        "停车收费纠纷",
        "物业公司将小区公共道路划为收费车位，业主认为侵占共有部分，多次集体上访要求退还停车费。",
        68000,
    ),
    (
        "labour",
        "经济补偿金纠纷",
        "公司整体搬迁至东莞，十余名员工不愿随迁，要求依法支付经济补偿金，公司只同意支付一半。",
        320000,
    ),
]

#: What each of the three waiting visits is about (its function area's kind of matter), its own
#: words: a visit is not one of the cases.
VISIT_MATTERS = [
    ("peoples_mediation", "与对门邻居因楼道堆放杂物多次争吵，希望社区出面调解。"),
    ("legal_aid", "母亲去世后兄弟姐妹对老房子的继承有分歧，咨询能否申请法律援助。"),
    ("labour_mediation", "在餐馆工作两年未签劳动合同，被辞退后要求支付双倍工资。"),
]

#: The two characters of a demo company's trade name (字号) are one of each: made-up names, none of
#: a well-known company (no 华、万、招、平、腾、中 and the like).
TRADE_NAME_FIRST = "鹏澜泓锦瑞嘉睿晟朗铭沐悦岚禾"
TRADE_NAME_SECOND = "远庭晖澄景越拓川湾域峰舟"
#: The line of business in a company respondent's name, by dispute category.
TRADES = {"property_management": "物业管理", "consumer": "健身服务"}


def company_names(seed: int) -> list[str]:
    """The trade names (字号) the demo's companies are given in turn, the same for a seed on every
    run and all different ("鹏远", "澜庭"…)."""
    names = [first + second for first in TRADE_NAME_FIRST for second in TRADE_NAME_SECOND]
    random.Random(f"{seed}:companies").shuffle(names)
    return names


def company_name(trade_name: str, category: str) -> str:
    """A fictional Shenzhen company for a dispute of ``category``: "深圳市鹏远物业管理有限公司"."""
    return f"深圳市{trade_name}{TRADES.get(category, '商贸')}有限公司"


def _id_number(rng: random.Random) -> str:
    first = f"440305{rng.randint(1960, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(100, 999)}"
    return first + id_number_check_char(first)


def _credit_code(rng: random.Random) -> str:
    first = "91440300" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return first + credit_code_check_char(first)


def _person(rng: random.Random, role: str) -> dict:
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    return {
        "role": role,
        "kind": "person",
        "name": name,
        "identifier": _id_number(rng),
        "phone": f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
    }


def _mediator_name(code: str) -> str:
    """A person's name for the mediator of the subdistrict ``code``, the same on every run."""
    rng = random.Random(f"mediator:{code}")
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


class _CaseClock:
    """``timezone.now()`` answers ``self.now`` (the moment a demo case has reached) while active."""

    def __init__(self, real):
        self.real, self.now = real, None

    def __call__(self) -> datetime:
        return self.now if self.now is not None else self.real()


@contextmanager
def _case_clock() -> Iterator[_CaseClock]:
    """Run the cases' services at their own moments: each timeline row (the services' ``now`` and a
    row's default time) is stamped when its step happened in the case's story, not when the demo
    ran (a case received 40 days ago does not show "受理" today). As ``tickets.history`` does."""
    clock = _CaseClock(timezone.now)
    at_field = CaseEvent._meta.get_field("at")
    # the field caches its default callable (a cached_property): shadow the cached value
    with mock.patch("django.utils.timezone.now", clock), mock.patch.object(at_field, "_get_default", clock):
        yield clock


def _office_hours(moment: datetime, rng: random.Random) -> datetime:
    """A minute between 09:00 and 16:00 (local) on the day of ``moment``: office hours, when a
    window takes a case in and a mediator refers, closes or follows one up."""
    day = timezone.localdate(moment)
    return timezone.make_aware(datetime.combine(day, time(9))) + timedelta(minutes=rng.randint(0, 7 * 60))


#: The steps a demo case in each state has been through after its registration, in order.
STEPS = {
    "received": (),
    "luohu": (),
    "assigned": ("assign",),
    "mediating": ("assign", "session"),
    "red": ("assign", "session"),
    "backlog": ("assign", "backlog", "session"),
    "referred": ("assign", "session", "refer"),
    "failed": ("assign", "session", "close"),
    "agreed": ("assign", "session", "agreement"),
    "confirmed": ("assign", "session", "agreement", "confirmation"),
    "success": ("assign", "session", "agreement", "follow_up", "close"),
}


def _schedule(state: str, *, received: datetime, now: datetime, rng: random.Random) -> dict[str, datetime]:
    """When each step of a demo case in ``state`` happened (``STEPS``), in order, after ``received``
    and before ``now``.

    Assigned within hours (a backlog case marked soon after), the first session the next day, the
    agreement on the third day and the judicial confirmation applied for the same day, the
    performance followed up and the case closed about two weeks after the agreement; a referral or
    a failed mediation some days after the session. A case received too recently for that has its
    steps drawn closer together, in the same order.
    """
    at: dict[str, datetime] = {}
    for step in STEPS[state]:
        if step == "assign":
            moment = received + timedelta(hours=rng.uniform(0.5, 3))
        elif step == "backlog":
            moment = at["assign"] + timedelta(hours=rng.uniform(1, 2))
        elif step == "session":
            moment = received + timedelta(days=1, hours=rng.uniform(0, 2))
        elif step == "refer":
            moment = _office_hours(at["session"] + timedelta(days=rng.randint(1, 3)), rng)
        elif step == "agreement":
            moment = received + timedelta(days=3, hours=rng.uniform(0, 2))
        elif step == "confirmation":
            moment = at["agreement"] + timedelta(hours=rng.uniform(0.5, 2))
        elif step == "follow_up":
            moment = _office_hours(at["agreement"] + timedelta(days=rng.randint(10, 14)), rng)
        elif "follow_up" in at:  # closed once the follow-up found the agreement performed
            moment = at["follow_up"] + timedelta(hours=rng.uniform(0.5, 2))
        else:  # a failed mediation, closed some days after the session
            moment = _office_hours(at["session"] + timedelta(days=rng.randint(3, 7)), rng)
        at[step] = moment
    latest = now - timedelta(minutes=10)
    last = max(at.values(), default=received)
    if last > latest:
        factor = (latest - received) / (last - received)
        at = {step: received + (moment - received) * factor for step, moment in at.items()}
    return at


def _first_child(parent: Division, level: str) -> Division:
    return Division.objects.filter(parent=parent, level=level, special="").order_by("code").first()


def _unit(code: str, name: str, kind: str, division: Division, parent=None) -> OrgUnit:
    unit, _created = OrgUnit.objects.update_or_create(
        code=code, defaults={"name": name, "kind": kind, "division": division, "parent": parent}
    )
    return unit


def _user(username, role, full_name, org_unit, jurisdictions, password) -> User:
    existing = User.objects.filter(username=username).first()
    if existing is None:
        return user_create(
            username=username,
            password=password,
            role=role,
            full_name=full_name,
            org_unit=org_unit,
            jurisdictions=jurisdictions,
        )
    existing.role, existing.full_name, existing.org_unit, existing.is_active = role, full_name, org_unit, True
    if password:
        existing.set_password(password)
    existing.save()
    user_set_jurisdictions(user=existing, divisions=list(jurisdictions))
    return existing


@transaction.atomic
def demo_disputes_create(
    *, seed: int = 1, progress: Callable[[int, int], None] | None = None, password: str = DEMO_PASSWORD
) -> dict[str, int]:
    """Organisations for every subdistrict (mediators in Nanshan and Luohu), a centre, cases in each state.

    Returns counts keyed by the words ``zhiwang demo`` prints after each ("11 cases in all")."""
    rng = random.Random(seed)
    defaults_seed()
    nanshan = Division.objects.get(code="440305000000")
    luohu = Division.objects.get(code="440303000000")
    demo_sub = _first_child(nanshan, DivisionLevel.SUBDISTRICT)
    subdistricts = list(Division.objects.filter(level=DivisionLevel.SUBDISTRICT).order_by("code"))
    counts = {"organisations": 0, "mediators": 0, "cases": 0, "visits": 0}
    organisations = {}
    for done, sub in enumerate(subdistricts, start=1):
        if sub == demo_sub and OrgUnit.objects.filter(code="DEMO-SUB-MEDIATION").exists():
            unit = OrgUnit.objects.get(code="DEMO-SUB-MEDIATION")
        else:
            unit = _unit(
                f"DEMO-MED-{sub.code[:9]}", f"{sub.name}人民调解委员会", OrgUnitKind.MEDIATION_ORG, sub
            )
        organisations[sub.pk] = organisation_create(
            code=f"prc-{sub.code[:9]}", name=f"{sub.name}人民调解委员会", division=sub, org_unit=unit
        )
        counts["organisations"] += 1
        if sub.code.startswith(("440305", "440303")) and sub != demo_sub:
            mediator = _user(
                f"demo_mediator_{sub.code[6:9]}", Role.MEDIATOR, _mediator_name(sub.code), unit, [sub], None
            )
            mediator_enrol(user=mediator, organisation=organisations[sub.pk])
            counts["mediators"] += 1
        if progress:
            progress(done, len(subdistricts))
    # A district-level sector body: labour disputes in Nanshan.
    labour_unit = _unit("DEMO-MED-NS-LABOUR", "南山区劳动争议调解中心", OrgUnitKind.MEDIATION_ORG, nanshan)
    labour = organisation_create(
        code="labour-440305",
        name="南山区劳动争议调解中心",
        division=nanshan,
        kind="sector",
        mediation_type="administrative",
        org_unit=labour_unit,
    )
    from zhiwang.disputes.models import DisputeCategory

    labour.categories.set(DisputeCategory.objects.filter(code="labour"))
    org = organisations[demo_sub.pk]
    demo_mediator = User.objects.filter(username="demo_mediator").first()
    if demo_mediator is not None:
        mediator_enrol(user=demo_mediator, organisation=org)
    second = _user("demo_mediator2", Role.MEDIATOR, "郑洁", org.org_unit, [demo_sub], password)
    mediator_enrol(user=second, organisation=org)
    counts["mediators"] += 2
    centre_unit = _unit("DEMO-SUB-CENTRE", f"{demo_sub.name}综治中心", OrgUnitKind.SERVICE_CENTER, demo_sub)
    centre = service_centre_create(org_unit=centre_unit, name=f"{demo_sub.name}综治中心", division=demo_sub)
    window = _user("demo_window", Role.INTAKE_OPERATOR, "何静", centre_unit, [demo_sub], password)
    dispatcher = User.objects.filter(username="demo_sub_dispatcher").first() or window
    leader = User.objects.filter(username="demo_leader").first()
    community = _first_child(demo_sub, DivisionLevel.COMMUNITY)
    lh_sub = _first_child(luohu, DivisionLevel.SUBDISTRICT)

    for index in range(3):
        result = visit_register(
            actor=window,
            centre=centre,
            area_code=VISIT_MATTERS[index][0],
            matter=VISIT_MATTERS[index][1],
            visitor_name=_person(rng, "applicant")["name"],
            visitor_phone=f"139{rng.randint(10000000, 99999999)}",
            idempotency_key=f"demo-{seed}-visit-{index}",
        )
        counts["visits"] += result.created

    now = timezone.now()
    trade_names = company_names(seed)
    # the cases' own moments come from a sequence of their own: parties and stories stay as they were
    times = random.Random(f"{seed}:dispute-times")
    states = [
        "received",
        "assigned",
        "mediating",
        "agreed",
        "confirmed",
        "referred",
        "success",
        "failed",
        "red",
        "backlog",
        "luohu",
    ]
    with _case_clock() as clock:
        for index, state in enumerate(states):
            category, title, facts, amount = STORIES[index % len(STORIES)]
            parties = [_person(rng, "applicant"), _person(rng, "respondent")]
            if category in ("property_management", "consumer"):
                parties[1] = {
                    "role": "respondent",
                    "kind": "entity",
                    "name": company_name(trade_names[index % len(trade_names)], category),
                    "identifier": _credit_code(rng),
                }
            in_luohu = state == "luohu"
            actor = User.objects.filter(username="demo_lh_dispatcher").first() if in_luohu else dispatcher
            back = rng.randint(2, 24) if state not in ("success", "failed") else 40
            received = _office_hours(now - timedelta(days=back), times)
            at = _schedule(state, received=received, now=now, rng=times)
            clock.now = received
            result = case_register(
                actor=actor,
                title=title,
                facts=facts,
                category=category,
                division=_first_child(lh_sub, DivisionLevel.COMMUNITY) if in_luohu else community,
                parties=parties,
                source=rng.choice(["window", "grid", "proactive", "petition"]),
                amount=amount,
                people_involved=12 if category == "labour" else 2,
                scale="group" if category == "labour" else "individual",
                risk="red"
                if state == "red"
                else rng.choice(["blue", "yellow", "orange"] if index % 3 else ["blue"]),
                idempotency_key=f"demo-{seed}-case-{index}",
                received_at=received,
            )
            if not result.created:
                continue
            counts["cases"] += 1
            case = result.case
            if state in ("received", "luohu"):
                continue
            mediator = demo_mediator if demo_mediator and index % 2 == 0 else second
            clock.now = at["assign"]
            case_assign(case=case, actor=actor, organisation=org, mediator=mediator)
            if state in ("assigned",):
                continue
            if state == "backlog" and leader is not None:
                clock.now = at["backlog"]
                case_mark_backlog(
                    case=case,
                    actor=actor,
                    deadline=(timezone.localdate() + timedelta(days=45)),
                    leader=leader,
                    note="信访积案，领导包案",
                )
            clock.now = at["session"]
            session_record(
                case=case,
                actor=mediator,
                record="双方当事人到场，陈述各自诉求，调解员释法说理。",
                place="调解室",
                held_at=at["session"],
            )
            if state in ("mediating", "red", "backlog"):
                continue
            if state == "referred":
                clock.now = at["refer"]
                case_refer(
                    case=case,
                    actor=mediator,
                    kind="litigation",
                    reason="被申请人拒绝调解，告知申请人诉讼途径。",
                )
                continue
            if state == "failed":
                clock.now = at["close"]
                case_close(case=case, actor=mediator, outcome="failed", note="双方分歧较大，调解不成。")
                continue
            clock.now = at["agreement"]
            signed = timezone.localdate()
            agreement_reach(
                case=case,
                actor=mediator,
                form="written",
                terms="被申请人于履行期限内一次性支付申请人相关费用，双方就此纠纷再无其他争议。",
                performance_manner="银行转账",
                performance_deadline=signed + timedelta(days=15),
                signed_on=signed,
            )
            if state == "confirmed":
                clock.now = at["confirmation"]
                confirmation_apply(
                    case=case, actor=mediator, court="深圳市南山区人民法院", applied_on=timezone.localdate()
                )
            if state == "success":
                clock.now = at["follow_up"]
                performance_follow_up(case=case, actor=mediator, status="performed", note="回访确认已履行。")
                clock.now = at["close"]
                case_close(case=case, actor=mediator, outcome="success", note="协议已履行完毕。")
    # the key is the words the demo command prints after the count ("11 cases in all"): the cases
    # made by this run are "cases", those there are after it (a second run makes none) these
    counts["cases in all"] = DisputeCase.objects.count()
    return counts
