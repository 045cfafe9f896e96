"""Urgency of a citizen's message from transparent keyword rules (no trained model).

The labelled data have no urgency label, so there is nothing to train on; instead a
small set of rules, each with a weight and a reason a dispatcher can read, scores the
text (title and body):

* a **present danger** to life, health or safety (gas leak, fire, explosion, collapse or
  a dangerous building, live wires, drowning or flooded homes, people trapped in a lift,
  poisoning, violence with a weapon, a missing person, a broken traffic signal, an open
  manhole) scores 3, enough on its own;
* the **loss of an essential supply** (water, power, gas) scores 2: it needs one more
  sign that it is going on now or lasting;
* **time words** (``正在``, ``至今``, ``每天``, ``一个星期``), **vulnerable people**
  (children, the elderly, pregnant women, the disabled, the sick) and the danger being
  **named in the title** add 1 each, but only to a danger or a supply loss: they never
  make a message urgent by themselves.

A danger word used as a risk, a possibility or a past event (``一旦发生火灾``,
``存在火灾隐患``, ``会倒塌``, ``去年发生过火灾``, ``没有垮塌``) scores 0.5: complaints
about blocked fire lanes matter, but they are not emergencies. From a score of 3 the
message is **urgent** when the danger is named in the title (the citizen's own summary)
and **possible** otherwise (a person should look; the danger may be an aside in a long
complaint). Only the urgent level suggests ``tickets.Urgency.URGENT``.

Measured on 260 hand-labelled real messages (``benchmarks/classifier_eval.py --sections
urgency``; docs/classifier.md): a screen with full recall on the sample and modest
precision, meant to put a dispatcher's eyes on a message, never to act alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

URGENT = "urgent"  # the values of tickets.Urgency
NORMAL = "normal"
#: Levels: a present danger named in the title; one only in the body (a person should look); none.
LEVEL_URGENT, LEVEL_POSSIBLE, LEVEL_NONE = "urgent", "possible", "none"
#: Score from which a message is at least "possible" (one present danger reaches it alone).
URGENT_SCORE = 3.0
_MAX_CHARS = 20_000


@dataclass(frozen=True)
class Rule:
    """One group of phrases with its weight and the reason shown to people."""

    code: str
    kind: str  # "danger", "supply", "boost"
    weight: float
    pattern: re.Pattern
    label: object  # lazy translation


def _rule(code: str, kind: str, weight: float, pattern: str, label) -> Rule:
    return Rule(code, kind, weight, re.compile(pattern), label)


DANGER_RULES = (
    _rule(
        "gas_leak",
        "danger",
        3.0,
        r"(?:燃气|煤气|天然气|液化气)(?:泄漏|泄露|外泄|漏气|味)|漏气|闻到(?:煤气|燃气|天然气)",
        _("gas leak"),
    ),
    _rule("fire", "danger", 3.0, r"着火|起火|失火|火灾|大火|冒烟|浓烟|火情", _("fire or smoke")),
    _rule("explosion", "danger", 3.0, r"(?<!信息大)爆炸(?![场式性])", _("explosion")),
    _rule(
        "collapse",
        "danger",
        3.0,
        r"坍塌|倒塌|垮塌|塌陷|塌方|坠落|掉层|掉楼|(?:地基|地面|房屋|楼房|路面)[^，。！？；]{0,4}(?:下沉|沉降)|房屋移位|危房|摇摇欲坠",
        _("collapse or falling structure"),
    ),
    _rule(
        "electric",
        "danger",
        3.0,
        r"触电|漏电|电线(?:裸露|掉落|垂落|断落)|高压线(?:断|掉)|电死",
        _("electric shock or live wires"),
    ),
    _rule(
        "water",
        "danger",
        3.0,
        r"溺水|落水|被淹|淹没(?![农良]田|庄稼)|水淹|内涝|倒灌|涌入|泡在水",
        _("drowning or flooding"),
    ),
    _rule(
        "trapped",
        "danger",
        3.0,
        r"被困|困在|(?<![相有机无])关人|关在电梯|电梯(?:里|内)被关|被关(?:在)?电梯",
        _("people trapped"),
    ),
    _rule("poisoning", "danger", 3.0, r"中毒", _("poisoning")),
    _rule(
        "violence",
        "danger",
        3.0,
        r"持刀|砍人|砍伤|捅伤|捅成|行凶|杀人|持枪|开枪|家暴|绑架",
        _("violence with a weapon"),
    ),
    _rule(
        "life",
        "danger",
        3.0,
        r"生命危险|危及生命|出人命|救命(?![钱路通])|急救|跳楼(?!价)|自杀|轻生|走失|(?<!玩)失踪",
        _("life at risk or person missing"),
    ),
    _rule(
        "traffic_signal",
        "danger",
        3.0,
        r"(?:红绿灯|信号灯|交通灯)[^，。！？；]{0,6}(?:故障|不亮|坏|失灵|不工作|未正常工作)",
        _("traffic signal out of order"),
    ),
    _rule(
        "manhole", "danger", 3.0, r"井盖(?:缺失|丢失|被盗|没了|破损|塌)|没有井盖|无井盖", _("open manhole")
    ),
)

SUPPLY_RULES = (
    _rule(
        "supply_loss",
        "supply",
        2.0,
        r"(?<![栓箱])(?:停水|断水|没有水|没水|无水(?![带枪])|用不上水|无法(?:正常)?用水|停电(?!梯)|断电|没电|停气|断气)",
        _("loss of water, power or gas"),
    ),
)

BOOST_RULES = (
    _rule(
        "ongoing",
        "boost",
        1.0,
        r"正在|刚刚|刚才|现在|目前|至今|仍然|依然|每天|天天|经常|频繁|多次|又|随时|马上|立即|紧急|今天|今晚|"
        r"[一二两三四五六七八九十几多数]+(?:个)?(?:天|日|星期|周|月)",
        _("happening now or lasting"),
    ),
    _rule(
        "vulnerable",
        "boost",
        1.0,
        r"老人|儿童|孩子|小孩|婴儿|宝宝|孕妇|残疾|病人|患者|学生|幼儿",
        _("vulnerable people"),
    ),
)


def reason_label(code: str) -> str:
    """The reason shown to people for a rule ``code`` (in the active language), for records kept as codes."""
    if code == "in_title":
        return str(_("named in the title"))
    for rule in (*DANGER_RULES, *SUPPLY_RULES, *BOOST_RULES):
        if rule.code == code:
            return str(rule.label)
    return code


#: Shortly before a danger word: a hypothetical, a prevention or a worry (may cross a comma).
_HYPOTHETICAL = re.compile(
    r"一旦|如果|万一|假如|若是|防止|避免|预防|以免|以防|可能会|容易|担心|害怕|隐患|演练|要等|等到|难道|试想|消防栓|消火栓"
)
#: Before a danger word in the same clause: an event of the past.
_PAST = re.compile(
    r"发生过|曾经|曾|以前|之前|去年|前年|上个?月|上周|上个?星期|当时|那时|\d{4}年|\d+月\d+[日号]|平均|多次|几次|多年前"
)
#: Right before a danger word: a modal (it may happen), not an event.
_MODAL = re.compile(r"(?:会|能|可能|生怕|容易|存在)[^，。！？；,.!?;]{0,4}$")
#: Right before a danger word: it is imminent (overrides a modal: "随时可能倒塌").
_IMMINENT = re.compile(r"随时|马上就|即将|眼看")
#: Right before a danger word: negated ("没有垮塌").
_NEGATED = re.compile(r"(?:没有|没|未|不|无)$")
#: After a danger word: still going on (overrides a date or "before" in front of it).
_STILL = re.compile(r"至今|仍|还在|依然|一直")
#: After a danger word in the same clause: a general hazard, a past event or a possibility.
_HAZARD_AFTER = re.compile(
    r"^[^，。！？；,.!?;]{0,4}(?:隐患|风险|危险|通道|设施|安全|检查|验收|手续|许可|证|标准|演练|事件|事故|案例|可能|通知|[\d一二两三几多数]+次|过[一两几多]?次)"
)
_CLAUSE_END = re.compile(r"[，。！？；,.!?;\n]")
TITLE_WEIGHT = 1.0
HAZARD_WEIGHT = 0.5  # a danger word only as a risk: worth noting, far from urgent


@dataclass
class UrgencyAssessment:
    """The urgency of one text, its score and the reasons behind it (most weight first)."""

    level: str  # LEVEL_URGENT, LEVEL_POSSIBLE or LEVEL_NONE
    score: float
    reasons: list[tuple[str, str, str]] = field(default_factory=list)  # (code, phrase, label)

    @property
    def urgency(self) -> str:
        """The suggested ticket urgency: ``urgent`` only at the urgent level, else ``normal``."""
        return URGENT if self.level == LEVEL_URGENT else NORMAL

    def as_dict(self) -> dict:
        return {
            "urgency": self.urgency,
            "level": self.level,
            "score": self.score,
            "reasons": [{"code": c, "phrase": p, "label": str(label)} for c, p, label in self.reasons],
        }


def _context(text: str, start: int, end: int) -> tuple[str, str, str]:
    """Up to 20 characters before ``start``; the same clause before ``start``; the clause after ``end``."""
    window = text[max(0, start - 20) : start]
    cut = max((m.end() for m in _CLAUSE_END.finditer(window)), default=0)
    after = _CLAUSE_END.search(text, end)
    return window, window[cut:], text[end : after.start() if after else len(text)]


def _strongest(text: str, rule: Rule) -> tuple[float, str] | None:
    """The weight and phrase of the most telling match of a danger or supply rule, if any."""
    best = None
    for match in rule.pattern.finditer(text):
        window, clause, after = _context(text, match.start(), match.end())
        if _NEGATED.search(clause):
            continue
        past = _PAST.search(clause) and not _STILL.search(after)
        modal = _MODAL.search(clause) and not _IMMINENT.search(clause)
        risk_only = bool(_HYPOTHETICAL.search(window) or modal or past or _HAZARD_AFTER.search(after))
        weight = HAZARD_WEIGHT if risk_only else rule.weight
        if best is None or weight > best[0]:
            best = (weight, match.group(0))
            if not risk_only:
                break
    return best


def assess(title: object = "", body: object = "") -> UrgencyAssessment:
    """Score a message (title and body) and say why: see the module docstring for the rules.

    Never raises: empty or foreign text is simply ``normal`` with no reason.
    """
    text = "\n".join(str(part) for part in (title, body) if part)
    text = unicodedata.normalize("NFKC", text[:_MAX_CHARS])
    reasons: list[tuple[float, str, str, object]] = []
    danger = 0.0
    for rule in (*DANGER_RULES, *SUPPLY_RULES):
        found = _strongest(text, rule)
        if found:
            weight, phrase = found
            danger = max(danger, weight)
            reasons.append((weight, rule.code, phrase, rule.label))
    score = danger + 0.5 * max(
        0, sum(1 for r in reasons if r[0] >= 2.0) - 1
    )  # several dangers: a little more
    if danger >= 2.0:  # boosts only matter when something is wrong now
        heading = unicodedata.normalize("NFKC", str(title or "")[:200])
        in_title = [r for r in reasons if r[0] >= 2.0 and r[2] in heading]
        if in_title:  # the citizen's own summary names it: the point of the message, not an aside
            score += TITLE_WEIGHT
            reasons.append((TITLE_WEIGHT, "in_title", in_title[0][2], _("named in the title")))
        for rule in BOOST_RULES:
            match = rule.pattern.search(text)
            if match:
                score += rule.weight
                reasons.append((rule.weight, rule.code, match.group(0), rule.label))
    reasons.sort(key=lambda r: -r[0])
    if score < URGENT_SCORE:
        level = LEVEL_NONE
    elif any(r[1] == "in_title" for r in reasons):
        level = LEVEL_URGENT
    else:
        level = LEVEL_POSSIBLE
    return UrgencyAssessment(
        level=level,
        score=round(score, 2),
        reasons=[(code, phrase, label) for _w, code, phrase, label in reasons],
    )
