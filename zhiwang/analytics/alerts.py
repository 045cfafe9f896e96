"""Early-warning detectors (预警): surges, clusters at one address or on one topic, repeated callers,
repeatedly reopened tickets. Each returns ``Finding``s; ``services.alerts_detect`` turns them into
de-duplicated ``Alert`` rows. The method and its evaluation are in docs/analytics.md.

The surge scan (seasonal baseline, 1/3/7-day windows) lives in ``surges``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from zhiwang.analytics.buildings import arrivals_per_building
from zhiwang.analytics.finding import Finding, explain
from zhiwang.analytics.finding import local_midnight as _local_midnight
from zhiwang.analytics.models import AlertKind
from zhiwang.analytics.surges import SurgeSettings, day_weights, detect_surges, nb_tail
from zhiwang.core.keyed_hash import keyed_hash
from zhiwang.core.masking import mask_phone, mask_text
from zhiwang.geo.models import Division, StandardAddress
from zhiwang.tickets.models import OPEN_STATUSES, Ticket

__all__ = ["DETECTORS", "Finding", "SurgeSettings", "day_weights", "detect_surges", "nb_tail"]


# --- clusters at one address ------------------------------------------------------------------


def detect_address_clusters(
    *, today: date, window_days: int = 3, min_count: int = 4, baseline_days: int = 28, min_ratio: float = 3.0
) -> list[Finding]:
    """Many tickets at one building in a short window (possible group incident, 群体性).

    Arrivals at a building's rooms and units count for the building: a water cut in one block
    is ten households calling once each, not one room calling ten times (that is a repeated
    caller). The alert names the building, never a household's room.
    """
    end = today + timedelta(days=1)
    w_start = end - timedelta(days=window_days)
    candidates = dict(arrivals_per_building(start=w_start, end=end, min_total=min_count))
    if not candidates:
        return []
    history = dict(
        arrivals_per_building(
            start=w_start - timedelta(days=baseline_days), end=w_start, buildings=candidates
        )
    )
    buildings = {a.pk: a for a in StandardAddress.objects.filter(pk__in=candidates)}
    findings = []
    for building_id, observed in sorted(candidates.items()):
        expected = history.get(building_id, 0) * window_days / baseline_days
        if observed < min_ratio * max(expected, 0.5):
            continue
        building = buildings.get(building_id)
        if building is None:
            continue
        members = StandardAddress.objects.filter(
            Q(pk=building_id) | Q(parent_id=building_id) | Q(parent__parent_id=building_id)
        ).values_list("pk", flat=True)
        rows = list(
            Ticket.objects.filter(
                address_id__in=members,
                received_at__gte=_local_midnight(w_start),
                received_at__lt=_local_midnight(end),
            )
            .order_by("pk")
            .values_list("pk", "received_at")
        )
        tickets = [pk for pk, _at in rows]
        received = [timezone.localdate(at) for _pk, at in rows] or [w_start]
        params = {
            "address": building.full_name,
            "observed": observed,
            "days": window_days,
            "expected": round(expected, 2),
            # the tickets' own days, and the building's usual rate: its expectation for a few days
            # is nearly always "0.0", which tells a reader nothing
            "first": min(received).isoformat(),
            "last": max(received).isoformat(),
            "ticket_days": (max(received) - min(received)).days + 1,
            "usual": round(history.get(building_id, 0) * 30 / baseline_days, 2),
            "baseline": baseline_days,
        }
        findings.append(
            Finding(
                kind=AlertKind.ADDRESS_CLUSTER,
                key=f"address:{building.pk}",
                explanation=explain(AlertKind.ADDRESS_CLUSTER, params),
                window_start=_local_midnight(w_start),
                window_end=_local_midnight(end),
                observed=observed,
                expected=round(expected, 2),
                score=float(observed),
                division_id=building.community_id,
                grid_id=building.grid_id,
                ticket_ids=tickets,
                detail={"explain": params, "address": building.code},
            )
        )
    return findings


# --- clusters on one topic --------------------------------------------------------------------


def _cluster_words(text: str) -> list[str]:
    """The jieba words of ``text`` that may make two texts alike (no single characters, no framing)."""
    import jieba

    jieba.setLogLevel(60)
    return [w for w in jieba.lcut(text or "") if len(w.strip()) > 1 and w.strip() not in TOPIC_STOPWORDS]


def topic_clusters(texts: list[str], *, threshold: float = 0.45, min_size: int = 4) -> list[list[int]]:
    """Groups of texts about the same topic: TF-IDF over jieba words, cosine ≥ ``threshold``,
    single-link components of at least ``min_size`` (indexes into ``texts``, largest first)."""
    if len(texts) < min_size:
        return []
    import jieba
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    jieba.setLogLevel(60)
    tokenised = [" ".join(_cluster_words(t)) for t in texts]
    try:
        matrix = TfidfVectorizer(
            token_pattern=r"(?u)\S+", min_df=1, max_df=0.3 if len(texts) >= 200 else 1.0, sublinear_tf=True
        ).fit_transform(tokenised)
    except ValueError:  # no words at all
        return []
    similarity = (matrix @ matrix.T).tocsr()
    similarity.data[similarity.data < threshold] = 0
    similarity.eliminate_zeros()
    n, labels = connected_components(similarity, directed=False)
    groups: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[label].append(index)
    out = [members for members in groups.values() if len(members) >= min_size]
    out.sort(key=len, reverse=True)
    return out


#: Words too common in tickets to name a topic: the caller's own framing, not the matter. A topic
#: alert named "居民、很大、意见、整改、附近" (from "附近居民意见很大，希望尽快整改。", a complaint's
#: stock ending) said nothing about what the tickets were about. By what they are:
TOPIC_STOPWORDS = frozenset(
    (
        # who complains, and where from (not the place of the matter: that is the alert's place)
        "市民 居民 群众 业主 住户 租户 老人 小孩 孩子 家人 本人 来电 来电人 联系 电话 联系电话 "
        "附近 周边 周围 旁边 此处 这里 那里 现场 楼下 楼上 "
        # how bad and for how long
        "意见 很大 严重 特别 非常 十分 比较 越来越 一直 经常 多次 反复 屡次 长期 持续 已经 仍然 至今 "
        "目前 现在 好几天 几天 每天 正常 生活 影响 困扰 休息 不好 担心 "
        # what the caller asks of the government
        "反映 投诉 举报 咨询 建议 希望 要求 请求 恳请 尽快 及时 马上 立即 处理 解决 处置 整改 落实 "
        "核实 查看 督促 协调 重视 关注 答复 回复 给予 帮助 相关 有关 部门 单位 政府 "
        # how a consultation or a suggestion is put ("办理流程和需要的材料", "增设…方便群众")
        "办理 流程 材料 手续 增设 方便 方便群众 "
        # words of any sentence
        "问题 情况 事情 事件 存在 导致 造成 出现 发现 进行 需要 一下 具体 没有 不能 无法"
    ).split()
)
#: Parts of speech (jieba's tags) that never name a topic: adverbs, pronouns, conjunctions,
#: prepositions, particles, modal particles, interjections, locatives ("附近"), quantifiers.
TOPIC_STOP_FLAGS = frozenset({"d", "r", "c", "p", "u", "y", "e", "f", "q", "uj", "ul", "zg"})


def _topic_word(word: str, flag: str) -> bool:
    """Whether a jieba word may name a topic: no person names (``nr*``), no numbers or codes
    (phones, ID numbers, plates, house numbers), no latin words (e-mail addresses, handles), no
    complaint boilerplate (``TOPIC_STOPWORDS``, ``TOPIC_STOP_FLAGS``)."""
    word = word.strip()
    return (
        len(word) > 1
        and not flag.startswith("nr")
        and flag not in ("m", "eng", "x")
        and flag not in TOPIC_STOP_FLAGS
        and not any(ch.isdigit() or ch.isascii() for ch in word)
        and word not in TOPIC_STOPWORDS
    )


def top_words(texts: list[str], n: int = 5) -> list[str]:
    """The ``n`` words most of ``texts`` share, for the explanation and key of a topic alert.

    Alerts are read by many people, so the words never carry personal data: the texts are masked
    first (``mask_text``), then person names, numbers and latin words are dropped (``_topic_word``).
    Ties go alphabetically so the same texts always give the same words (and the same alert key).
    """
    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(60)
    counts = Counter(
        w
        for t in texts
        for w in {p.word.strip() for p in pseg.cut(mask_text(t or "")) if _topic_word(p.word, p.flag)}
    )
    return [w for w, _c in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]]


def _common_division(division_ids: list[int | None]) -> int | None:
    """The finest division containing every one of ``division_ids`` (None: city-wide)."""
    ids = [d for d in division_ids if d]
    if not ids or len(ids) != len(division_ids):
        return None
    codes = list(Division.objects.filter(pk__in=set(ids)).values_list("code", flat=True))
    for length in (12, 9, 6):
        prefixes = {c[:length] for c in codes}
        if len(prefixes) == 1:
            code = prefixes.pop().ljust(12, "0")
            return Division.objects.filter(code=code).values_list("pk", flat=True).first()
    return None


#: Days before a topic window whose tickets give a topic its usual share (``_new_topic``).
TOPIC_BACKGROUND_DAYS = 28
#: A topic is news when the window holds this many times its usual share of tickets (the surges' 3×),
#: and more than chance gives: a Poisson tail below ``TOPIC_NEW_ALPHA`` at the usual share.
TOPIC_NEW_RATIO = 3.0
TOPIC_NEW_ALPHA = 0.001
#: Fewer texts before than this give no usual share (a new installation, a quiet test city): every
#: cluster is news, as it was before the comparison.
TOPIC_BACKGROUND_MIN = 100


def _new_topic(
    members: list[set[str]], window: list[set[str]], background: list[set[str]], *, ratio: float
) -> bool:
    """Whether a cluster is about something new: its two most shared words (``signature``) stand
    together in at least ``ratio`` times as many of the window's texts as the background's texts
    would give for as many texts. Stock sentences every week ("存在安全隐患，担心出事故") cluster
    texts of unrelated matters; they are in the window as often as before, so they are no topic.
    A handful more than usual is chance, not news (``TOPIC_NEW_ALPHA``). Without enough texts
    before (``TOPIC_BACKGROUND_MIN``: a new installation) every cluster is news."""
    shared = Counter(word for words in members for word in words)
    signature = [word for word, _n in sorted(shared.items(), key=lambda item: (-item[1], item[0]))[:2]]
    if not signature or len(background) < TOPIC_BACKGROUND_MIN:
        return True
    now = sum(1 for words in window if all(word in words for word in signature))
    before = sum(1 for words in background if all(word in words for word in signature))
    # per text, not per day: the background may be cut at ``limit`` texts
    expected = before * len(window) / len(background)
    if expected == 0:
        return True
    from scipy.stats import poisson

    return now >= ratio * expected and poisson.sf(now - 1, expected) < TOPIC_NEW_ALPHA


def detect_topic_clusters(
    *, today: date, window_days: int = 3, min_size: int = 5, limit: int = 5000
) -> list[Finding]:
    """Many recent tickets about one topic, wherever they are (text similarity, see ``topic_clusters``)."""
    end = _local_midnight(today + timedelta(days=1))
    start = end - timedelta(days=window_days)
    rows = list(
        Ticket.objects.filter(received_at__gte=start, received_at__lt=end)
        .order_by("-received_at")
        .values_list("pk", "title", "description", "division_id")[:limit]
    )
    texts = [f"{title} {text}" for _pk, title, text, _d in rows]
    groups = topic_clusters(texts, min_size=min_size)
    # the weeks before give a topic its usual share: a stock sentence of every week is no news
    background = (
        [
            f"{title} {text}"
            for title, text in Ticket.objects.filter(
                received_at__gte=start - timedelta(days=TOPIC_BACKGROUND_DAYS), received_at__lt=start
            )
            .order_by("-received_at")
            .values_list("title", "description")[:limit]
        ]
        if groups
        else []
    )
    window_words = [set(_cluster_words(t)) for t in texts] if groups else []
    background_words = [set(_cluster_words(t)) for t in background]
    findings = []
    for members in groups:
        if not _new_topic(
            [window_words[i] for i in members], window_words, background_words, ratio=TOPIC_NEW_RATIO
        ):
            continue
        ids = sorted(rows[i][0] for i in members)
        words = top_words([f"{rows[i][1]} {rows[i][2]}" for i in members])
        params = {"observed": len(ids), "days": window_days, "words": words}
        findings.append(
            Finding(
                kind=AlertKind.TOPIC_CLUSTER,
                # the words name the topic; ``alert_raise`` tells clusters with the same words apart
                # by their tickets (a cluster elsewhere is another alert)
                key=f"topic:{'-'.join(words[:3])}",
                explanation=explain(AlertKind.TOPIC_CLUSTER, params),
                window_start=start,
                window_end=end,
                observed=len(ids),
                score=float(len(ids)),
                division_id=_common_division([rows[i][3] for i in members]),
                ticket_ids=ids,
                detail={"words": words, "explain": params},
            )
        )
    return findings


# --- people and problems that keep coming back ---------------------------------------------------


def detect_repeat_callers(*, today: date, window_days: int = 30, min_count: int = 4) -> list[Finding]:
    """A phone number behind ``min_count`` or more tickets in ``window_days`` (shown masked)."""
    end = _local_midnight(today + timedelta(days=1))
    start = end - timedelta(days=window_days)
    recent = Ticket.objects.filter(received_at__gte=start, received_at__lt=end).exclude(reporter_phone="")
    rows = (
        recent.order_by()
        .values("reporter_phone")
        .annotate(n=Count("pk"))
        .filter(n__gte=min_count)
        .order_by("-n")[:200]
    )
    findings = []
    for row in rows:
        phone = row["reporter_phone"]
        tickets = list(recent.filter(reporter_phone=phone).values_list("pk", "division_id"))
        params = {"phone": mask_phone(phone), "observed": row["n"], "days": window_days}
        findings.append(
            Finding(
                kind=AlertKind.REPEAT_CALLER,
                key=caller_key(phone),
                explanation=explain(AlertKind.REPEAT_CALLER, params),
                window_start=start,
                window_end=end,
                observed=row["n"],
                score=float(row["n"]),
                division_id=_common_division([d for _pk, d in tickets]),
                ticket_ids=sorted(pk for pk, _d in tickets),
                detail={"explain": params},
            )
        )
    return findings


#: ``keyed_hash`` purpose of a repeat caller's key (not the registry's "phone": the two never match).
CALLER_KEY_PURPOSE = "analytics-caller"
#: Hex characters of the HMAC kept in the key (128 bits).
CALLER_KEY_LENGTH = 32


def caller_key(phone: str) -> str:
    """The alert key of a repeat caller: ``caller:`` and a keyed hash (HMAC-SHA256 under the
    registry's secret, ``core.keyed_hash``) of the phone, never the phone nor an unkeyed hash of
    it (an 11-digit number is found again from its SHA-256 by hashing every mobile).

    ``phone`` is a stored ``reporter_phone``, already in ``core.phones`` form, and is hashed as
    stored, not read again: a repeat caller whose number was kept before the mobile rule
    ("1381234567") keeps the key of their open alert, so the alert is updated, not raised a
    second time. Alerts raised with the earlier unkeyed key were re-keyed from their tickets'
    phones by migration ``analytics.0012_caller_keys_keyed`` (their decisions and open alerts
    hold); changing the secret changes every key (docs/analytics.md, "Repeated callers")."""
    return f"caller:{keyed_hash(CALLER_KEY_PURPOSE, phone)[:CALLER_KEY_LENGTH]}"


def detect_repeat_reopens(*, today: date, min_reworks: int = 2) -> list[Finding]:
    """Open tickets reopened ``min_reworks`` times or more (the same problem keeps coming back)."""
    end = _local_midnight(today + timedelta(days=1))
    rows = Ticket.objects.filter(Q(status__in=OPEN_STATUSES), rework_count__gte=min_reworks).values_list(
        "pk",
        "number",
        "category__name",
        "rework_count",
        "division_id",
        "grid_id",
        "category_id",
        "received_at",
    )[:500]
    # the ticket number and category, never the title: a title is the caller's own words
    findings = []
    for pk, number, category, n, division_id, grid_id, category_id, received in rows:
        params = {"number": number, "category": category or "—", "n": n}
        findings.append(
            Finding(
                kind=AlertKind.REPEAT_REOPEN,
                key=f"reopen:{pk}",
                explanation=explain(AlertKind.REPEAT_REOPEN, params),
                window_start=received,
                window_end=end,
                observed=n,
                score=float(n),
                division_id=division_id,
                grid_id=grid_id,
                category_id=category_id,
                ticket_ids=[pk],
                detail={"explain": params},
            )
        )
    return findings


DETECTORS = {
    AlertKind.SURGE: detect_surges,
    AlertKind.ADDRESS_CLUSTER: detect_address_clusters,
    AlertKind.TOPIC_CLUSTER: detect_topic_clusters,
    AlertKind.REPEAT_CALLER: detect_repeat_callers,
    AlertKind.REPEAT_REOPEN: detect_repeat_reopens,
}
