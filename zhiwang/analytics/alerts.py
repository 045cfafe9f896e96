"""Early-warning detectors (预警): surges, clusters at one address or on one topic, repeated callers,
repeatedly reopened tickets. Each returns ``Finding``s; ``services.alerts_detect`` turns them into
de-duplicated ``Alert`` rows. The method and its evaluation are in docs/analytics.md.

Surge baseline (per series = place × category, arrivals per day from the rollups):

    expected(window) = rate × Σ_{d ∈ window} f(d),   rate = baseline count ÷ Σ_{d ∈ baseline} f(d)

where f(d) is the day's weight: the city-wide mean of its weekday relative to the overall mean,
with public holidays weighted like a weekend and make-up working days (调休) like a working day
(work calendar). The window is flagged when it holds at least ``min_count`` tickets, at least
``min_ratio`` × expected, and the negative-binomial tail P(X ≥ observed) is below ``alpha``
(variance μ + μ²/k: day-to-day overdispersion, and the uncertainty of a short baseline).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _
from scipy import stats

from zhiwang.analytics.models import AddressDay, AlertKind, NodeLevel, RollupArea, RollupFact
from zhiwang.core.masking import mask_phone
from zhiwang.core.workcalendar.services import work_calendar
from zhiwang.geo.models import Division, Grid, StandardAddress
from zhiwang.tickets.models import OPEN_STATUSES, Category, Ticket


@dataclass
class SurgeSettings:
    window_days: int = 3
    baseline_days: int = 28
    min_count: int = 5
    min_ratio: float = 2.0
    alpha: float = 0.001
    dispersion_k: float = 8.0  # NB shape of one day (variance μ + μ²/k); a window of n days has shape n·k
    floor_per_day: float = 0.1  # a series never expects fewer than this per day (sparse series)


@dataclass
class Finding:
    """What a detector saw; ``key`` identifies the series so repeated findings become one alert."""

    kind: str
    key: str
    explanation: str
    window_start: datetime
    window_end: datetime
    observed: int
    expected: float = 0.0
    spread: float = 0.0
    score: float = 0.0
    division_id: int | None = None
    grid_id: int | None = None
    category_id: int | None = None
    ticket_ids: list[int] = field(default_factory=list)
    detail: dict = field(default_factory=dict)


# --- the seasonal baseline ---------------------------------------------------------------------


def day_weights(*, start: date, end: date, history_days: int = 56) -> dict[date, float]:
    """f(d) for every day in ``[start, end)``: weekday profile of the city's arrivals, with holidays.

    The profile comes from the ``history_days`` before ``end`` (flat when there is too little).
    """
    calendar = work_calendar()
    since = end - timedelta(days=history_days)
    rows = dict(
        RollupArea.objects.filter(day__gte=since, day__lt=end)
        .order_by()
        .values_list("day")
        .annotate(total=Sum("received"))
    )
    per_weekday: dict[int, list[int]] = defaultdict(list)
    rest_days: list[int] = []
    day = since
    while day < end:
        n = rows.get(day, 0)
        working = calendar.is_working_day(day)
        if working:
            per_weekday[day.weekday()].append(n)
        else:
            rest_days.append(n)
        day += timedelta(days=1)
    total = sum(rows.values())
    days = max((end - since).days, 1)
    mean = total / days if total else 0
    profile: dict[int, float] = {}
    if mean > 0 and total >= 7 * 20:
        for weekday in range(7):
            values = per_weekday.get(weekday)
            profile[weekday] = (sum(values) / len(values) / mean) if values else 1.0
        rest = (sum(rest_days) / len(rest_days) / mean) if rest_days else 1.0
    else:
        profile = dict.fromkeys(range(7), 1.0)
        rest = 1.0
    working_mean = sum(profile[w] for w in range(5)) / 5
    out = {}
    day = start
    while day < end:
        if calendar.is_working_day(day):
            out[day] = profile[day.weekday()] if day.weekday() < 5 else working_mean
        else:
            out[day] = rest
        out[day] = max(out[day], 0.05)
        day += timedelta(days=1)
    return out


def nb_tail(observed: int, mu: float, k: float) -> float:
    """P(X ≥ observed) for a negative binomial with mean ``mu`` and shape ``k``."""
    if observed <= 0:
        return 1.0
    p = k / (k + mu)
    return float(stats.nbinom.sf(observed - 1, k, p))


def detect_surges(*, today: date, settings: SurgeSettings | None = None) -> list[Finding]:
    """Surges per (community or grid, category) in the ``window_days`` up to ``today`` (inclusive)."""
    s = settings or SurgeSettings()
    end = today + timedelta(days=1)
    w_start = end - timedelta(days=s.window_days)
    b_start = w_start - timedelta(days=s.baseline_days)
    weights = day_weights(start=b_start, end=end)
    w_weight = sum(weights[d] for d in weights if d >= w_start)
    b_weight = sum(weights[d] for d in weights if d < w_start)
    candidates = {
        (level, node, value): (total, parent)
        for level, node, parent, value, total in _series(w_start, end, minimum=s.min_count)
    }
    if not candidates:
        return []
    nodes = {node for _level, node, _value in candidates}
    baseline = {
        (level, node, value): total
        for level, node, _parent, value, total in _series(b_start, w_start, nodes=nodes)
    }
    findings = []
    for key, (observed, parent) in candidates.items():
        level, node, value = key
        rate = baseline.get(key, 0) / b_weight if b_weight else 0.0
        mu = max(rate * w_weight, s.floor_per_day * s.window_days)
        # the baseline itself is a sample: widen by its Poisson error (count + 1 avoids zero)
        mu_upper = mu + 1.0 * math.sqrt(baseline.get(key, 0) + 1) * (w_weight / b_weight if b_weight else 1)
        spread = math.sqrt(mu + mu * mu / (s.dispersion_k * s.window_days))
        if observed < s.min_ratio * mu:
            continue
        p = nb_tail(observed, mu_upper, s.dispersion_k * s.window_days)
        if p >= s.alpha:
            continue
        findings.append(
            Finding(
                kind=AlertKind.SURGE,
                key=f"surge:{level}:{node}:{value}",
                explanation="",
                window_start=_local_midnight(w_start),
                window_end=_local_midnight(end),
                observed=observed,
                expected=round(mu, 2),
                spread=round(spread, 2),
                score=round(-math.log10(max(p, 1e-300)), 2),
                division_id=parent if level == NodeLevel.GRID else node,
                grid_id=node if level == NodeLevel.GRID else None,
                category_id=int(value),
                detail={"level": level, "p_value": p, "window_days": s.window_days},
            )
        )
    # a community surge explained by one of its grids is reported once, at the grid
    grid_series = {(f.division_id, f.category_id) for f in findings if f.grid_id}
    findings = [f for f in findings if f.grid_id or (f.division_id, f.category_id) not in grid_series]
    _explain_surges(findings, s.window_days)
    return findings


SERIES_LEVELS = {
    NodeLevel.COMMUNITY: ("community_id", "subdistrict_id"),
    NodeLevel.GRID: ("grid_id", "community_id"),
}


def _series(start: date, end: date, *, minimum: int = 0, nodes=None) -> list[tuple]:
    """Arrivals per (community or grid, category) in ``[start, end)``: ``(level, node, parent, category, n)``."""
    out = []
    for level, (column, parent) in SERIES_LEVELS.items():
        qs = RollupFact.objects.filter(day__gte=start, day__lt=end).exclude(**{column: 0})
        if nodes is not None:
            qs = qs.filter(**{f"{column}__in": nodes})
        rows = qs.order_by().values(column, parent, "category_id").annotate(total=Sum("received"))
        if minimum:
            rows = rows.filter(total__gte=minimum)
        out += [(level, r[column], r[parent], str(r["category_id"]), r["total"]) for r in rows]
    return out


def _explain_surges(findings: list[Finding], days: int) -> None:
    names = dict(Division.objects.filter(pk__in={f.division_id for f in findings}).values_list("pk", "name"))
    grids = dict(
        Grid.objects.filter(pk__in={f.grid_id for f in findings if f.grid_id}).values_list("pk", "name")
    )
    cats = dict(Category.objects.filter(pk__in={f.category_id for f in findings}).values_list("pk", "name"))
    for f in findings:
        place = names.get(f.division_id, "?")
        if f.grid_id:
            place = f"{place} {grids.get(f.grid_id, '')}".strip()
        f.explanation = _(
            "%(place)s, %(category)s: %(observed)s tickets in %(days)s days, expected %(expected)s ± %(spread)s"
        ) % {
            "place": place,
            "category": cats.get(f.category_id, "?"),
            "observed": f.observed,
            "days": days,
            "expected": f"{f.expected:.0f}",
            "spread": f"{f.spread:.0f}",
        }


def _local_midnight(day: date) -> datetime:
    from zoneinfo import ZoneInfo

    from django.conf import settings

    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(settings.TIME_ZONE))


# --- clusters at one address ------------------------------------------------------------------


def detect_address_clusters(
    *, today: date, window_days: int = 3, min_count: int = 4, baseline_days: int = 28, min_ratio: float = 3.0
) -> list[Finding]:
    """Many tickets at one standard address in a short window (possible group incident, 群体性)."""
    end = today + timedelta(days=1)
    w_start = end - timedelta(days=window_days)
    base = AddressDay.objects.all()
    recent = [
        {"node": r["community_id"], "value": str(r["address_id"]), "total": r["total"]}
        for r in base.filter(day__gte=w_start, day__lt=end)
        .order_by()
        .values("community_id", "address_id")
        .annotate(total=Sum("received"))
        .filter(total__gte=min_count)
    ]
    if not recent:
        return []
    history = dict(
        base.filter(
            day__gte=w_start - timedelta(days=baseline_days),
            day__lt=w_start,
            address_id__in=[int(r["value"]) for r in recent],
        )
        .order_by()
        .values_list("address_id")
        .annotate(total=Sum("received"))
    )
    history = {str(k): v for k, v in history.items()}
    addresses = {
        str(a.pk): a for a in StandardAddress.objects.filter(pk__in=[int(r["value"]) for r in recent])
    }
    findings = []
    for r in recent:
        expected = history.get(r["value"], 0) * window_days / baseline_days
        if r["total"] < min_ratio * max(expected, 0.5):
            continue
        address = addresses.get(r["value"])
        if address is None:
            continue
        tickets = list(
            Ticket.objects.filter(
                address_id=address.pk,
                received_at__gte=_local_midnight(w_start),
                received_at__lt=_local_midnight(end),
            ).values_list("pk", flat=True)[:200]
        )
        findings.append(
            Finding(
                kind=AlertKind.ADDRESS_CLUSTER,
                key=f"address:{address.pk}",
                explanation=_("%(address)s: %(observed)s tickets in %(days)s days, expected %(expected)s")
                % {
                    "address": address.full_name,
                    "observed": r["total"],
                    "days": window_days,
                    "expected": f"{expected:.1f}",
                },
                window_start=_local_midnight(w_start),
                window_end=_local_midnight(end),
                observed=r["total"],
                expected=round(expected, 2),
                score=float(r["total"]),
                division_id=r["node"],
                grid_id=address.grid_id,
                ticket_ids=tickets,
            )
        )
    return findings


# --- clusters on one topic --------------------------------------------------------------------


def topic_clusters(texts: list[str], *, threshold: float = 0.45, min_size: int = 4) -> list[list[int]]:
    """Groups of texts about the same topic: TF-IDF over jieba words, cosine ≥ ``threshold``,
    single-link components of at least ``min_size`` (indexes into ``texts``, largest first)."""
    if len(texts) < min_size:
        return []
    import jieba
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    jieba.setLogLevel(60)
    tokenised = [" ".join(w for w in jieba.lcut(t or "") if len(w.strip()) > 1) for t in texts]
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


def top_words(texts: list[str], n: int = 5) -> list[str]:
    import jieba

    counts = Counter(w for t in texts for w in set(jieba.lcut(t or "")) if len(w.strip()) > 1)
    return [w for w, _c in counts.most_common(n)]


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
    groups = topic_clusters([f"{title} {text}" for _pk, title, text, _d in rows], min_size=min_size)
    findings = []
    for members in groups:
        ids = sorted(rows[i][0] for i in members)
        words = top_words([f"{rows[i][1]} {rows[i][2]}" for i in members])
        findings.append(
            Finding(
                kind=AlertKind.TOPIC_CLUSTER,
                key=f"topic:{'-'.join(words[:3])}",
                explanation=_("%(observed)s tickets in %(days)s days about “%(words)s”")
                % {"observed": len(ids), "days": window_days, "words": "、".join(words)},
                window_start=start,
                window_end=end,
                observed=len(ids),
                score=float(len(ids)),
                division_id=_common_division([rows[i][3] for i in members]),
                ticket_ids=ids[:200],
                detail={"words": words},
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
        findings.append(
            Finding(
                kind=AlertKind.REPEAT_CALLER,
                key=f"caller:{_phone_key(phone)}",
                explanation=_("Caller %(phone)s: %(observed)s tickets in %(days)s days")
                % {"phone": mask_phone(phone), "observed": row["n"], "days": window_days},
                window_start=start,
                window_end=end,
                observed=row["n"],
                score=float(row["n"]),
                division_id=_common_division([d for _pk, d in tickets]),
                ticket_ids=sorted(pk for pk, _d in tickets)[:200],
            )
        )
    return findings


def _phone_key(phone: str) -> str:
    import hashlib

    return hashlib.sha256(phone.encode()).hexdigest()[:16]


def detect_repeat_reopens(*, today: date, min_reworks: int = 2) -> list[Finding]:
    """Open tickets reopened ``min_reworks`` times or more (the same problem keeps coming back)."""
    end = _local_midnight(today + timedelta(days=1))
    rows = Ticket.objects.filter(Q(status__in=OPEN_STATUSES), rework_count__gte=min_reworks).values_list(
        "pk", "number", "title", "rework_count", "division_id", "grid_id", "category_id", "received_at"
    )[:500]
    return [
        Finding(
            kind=AlertKind.REPEAT_REOPEN,
            key=f"reopen:{pk}",
            explanation=_("%(number)s “%(title)s” reopened %(n)s times")
            % {"number": number, "title": title[:40], "n": n},
            window_start=received,
            window_end=end,
            observed=n,
            score=float(n),
            division_id=division_id,
            grid_id=grid_id,
            category_id=category_id,
            ticket_ids=[pk],
        )
        for pk, number, title, n, division_id, grid_id, category_id, received in rows
    ]


DETECTORS = {
    AlertKind.SURGE: detect_surges,
    AlertKind.ADDRESS_CLUSTER: detect_address_clusters,
    AlertKind.TOPIC_CLUSTER: detect_topic_clusters,
    AlertKind.REPEAT_CALLER: detect_repeat_callers,
    AlertKind.REPEAT_REOPEN: detect_repeat_reopens,
}
