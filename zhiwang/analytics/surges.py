"""Surge detection (预警: 激增) per (community or grid, category), a multi-window scan.

Arrivals per day come from the rollups (``RollupFact.received``). For every series and every
window length w in ``SurgeSettings.windows`` (default 1, 3 and 7 days, all ending today):

    expected(w) = rate × Σ_{d ∈ window} f(d),   rate = baseline count ÷ Σ_{d ∈ baseline} f(d)

where f(d) is the day's weight (``day_weights``: the city's weekday profile, public holidays like a
rest day, make-up working days like a working day) and the baseline is the ``baseline_days``
before the longest window (so a surge of up to that length never inflates its own baseline).

Why several windows: most series get 0.5–4 tickets a day, where a one-day 3× excess is inside
the day-to-day noise; a surge that lasts several days piles up an excess that a 3- or 7-day
window sees, while a one-day spike on a large series is best seen by the 1-day window (a longer
window dilutes it). Each window's count is tested with a negative-binomial tail P(X ≥ observed)
(mean widened by one Poisson standard error of the baseline, shape ``dispersion_k`` per day, or
the series' own shape estimated from its baseline days when it is busy enough, ``dispersion``);
the series is flagged when the smallest p-value, multiplied by the number of windows
(Bonferroni: the windows are several looks at one series), is below ``alpha``, and that window
holds at least ``min_count`` tickets (minimum-volume guard) and ``min_ratio`` × expected.
One finding per series and day, explained by its most significant window
(“社区X、类别Y：7天内14件，预期5±3”); ``services.alert_raise`` keeps one open alert per series,
so the findings of consecutive days are one alert per event.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone
from scipy import stats

from zhiwang.analytics.finding import Finding, explain, local_midnight
from zhiwang.analytics.models import AlertKind, NodeLevel, RollupArea, RollupFact
from zhiwang.core.workcalendar.services import work_calendar
from zhiwang.geo.models import Division, Grid
from zhiwang.tickets.models import Category


@dataclass
class SurgeSettings:
    """Parameters of the surge scan (tuned on one synthetic seed, evaluated on others)."""

    windows: tuple[int, ...] = (1, 3, 7)
    baseline_days: int = 56
    min_count: int = 5
    min_ratio: float = 2.0
    alpha: float = 0.001
    dispersion_k: float = 8.0  # NB shape of one day (variance μ + μ²/k); a window of n days has shape n·k
    # a series with at least this many arrivals a day in its baseline gets its own shape, estimated
    # from its baseline days (below it, μ²/k is too small next to μ to be measured: ``dispersion_k``)
    dispersion_min_per_day: float = 8.0
    floor_per_day: float = 0.1  # a series never expects fewer than this per day (sparse series)

    @property
    def window_days(self) -> int:
        return max(self.windows)


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
        if calendar.is_working_day(day):
            per_weekday[day.weekday()].append(n)
        else:
            rest_days.append(n)
        day += timedelta(days=1)
    total = sum(rows.values())
    mean = total / max((end - since).days, 1) if total else 0
    profile: dict[int, float] = dict.fromkeys(range(7), 1.0)
    rest = 1.0
    if mean > 0 and total >= 7 * 20:
        for weekday in range(7):
            values = per_weekday.get(weekday)
            profile[weekday] = (sum(values) / len(values) / mean) if values else 1.0
        rest = (sum(rest_days) / len(rest_days) / mean) if rest_days else 1.0
    working_mean = sum(profile[w] for w in range(5)) / 5
    out = {}
    day = start
    while day < end:
        if calendar.is_working_day(day):
            weight = profile[day.weekday()] if day.weekday() < 5 else working_mean
        else:
            weight = rest
        out[day] = max(weight, 0.05)
        day += timedelta(days=1)
    return out


def nb_tail(observed: int, mu: float, k: float) -> float:
    """P(X ≥ observed) for a negative binomial with mean ``mu`` and shape ``k``."""
    if observed <= 0:
        return 1.0
    return float(stats.nbinom.sf(observed - 1, k, k / (k + mu)))


# --- the scan -----------------------------------------------------------------------------------

SERIES_LEVELS = {
    NodeLevel.COMMUNITY: ("community_id", "subdistrict_id"),
    NodeLevel.GRID: ("grid_id", "community_id"),
}


def _daily(start: date, end: date, *, minimum: int = 0, nodes=None, by_day: bool = True) -> list[tuple]:
    """Arrivals per series in ``[start, end)``: ``(level, node, parent, category, day or None, n)``.

    With ``minimum``, only series with at least that many arrivals over the whole range.
    """
    out = []
    for level, (column, parent) in SERIES_LEVELS.items():
        qs = RollupFact.objects.filter(day__gte=start, day__lt=end).exclude(**{column: 0})
        if nodes is not None:
            qs = qs.filter(**{f"{column}__in": nodes})
        keys = [column, parent, "category_id"]
        if minimum:
            wanted = (
                qs.order_by()
                .values(*keys)
                .annotate(total=Sum("received"))
                .filter(total__gte=minimum)
                .values_list(column, "category_id")
            )
            wanted = set(wanted)
            if not wanted:
                continue
            qs = qs.filter(**{f"{column}__in": {n for n, _c in wanted}})
        else:
            wanted = None
        rows = qs.order_by().values(*keys, *(["day"] if by_day else [])).annotate(total=Sum("received"))
        for r in rows:
            if wanted is not None and (r[column], r["category_id"]) not in wanted:
                continue
            out.append((level, r[column], r[parent], r["category_id"], r.get("day"), r["total"]))
    return out


def detect_surges(*, today: date, settings: SurgeSettings | None = None) -> list[Finding]:
    """Surges per (community or grid, category) in windows ending ``today`` (inclusive); see the module."""
    s = settings or SurgeSettings()
    end = today + timedelta(days=1)
    longest = s.window_days
    scan_start = end - timedelta(days=longest)
    b_start = scan_start - timedelta(days=s.baseline_days)
    weights = day_weights(start=b_start, end=end)
    b_weight = sum(weights[d] for d in weights if d < scan_start)
    counts: dict[tuple, dict[date, int]] = defaultdict(dict)
    parents: dict[tuple, int] = {}
    for level, node, parent, category, day, n in _daily(scan_start, end, minimum=s.min_count):
        counts[(level, node, category)][day] = n
        parents[(level, node, category)] = parent
    if not counts:
        return []
    nodes = {node for _level, node, _c in counts}
    baseline: dict[tuple, dict[date, int]] = defaultdict(dict)
    for level, node, _p, category, day, n in _daily(b_start, scan_start, nodes=nodes):
        baseline[(level, node, category)][day] = n
    findings = []
    for key, per_day in counts.items():
        level, node, category = key
        history = baseline.get(key, {})
        base = sum(history.values())
        rate = base / b_weight if b_weight else 0.0
        shape = s.dispersion_k
        if base >= s.dispersion_min_per_day * s.baseline_days:
            shape = dispersion(history, rate, weights, start=b_start, days=s.baseline_days)
        best = None
        for w in s.windows:
            w_start = end - timedelta(days=w)
            observed = sum(n for d, n in per_day.items() if d >= w_start)
            if observed < s.min_count:
                continue
            w_weight = sum(weights[w_start + timedelta(days=i)] for i in range(w))
            mu = max(rate * w_weight, s.floor_per_day * w)
            if observed < s.min_ratio * mu:
                continue
            # the baseline itself is a sample: widen the mean by its Poisson error (count + 1 avoids zero)
            mu_upper = mu + math.sqrt(base + 1) * (w_weight / b_weight if b_weight else 1.0)
            p = nb_tail(observed, mu_upper, shape * w)
            if best is None or p < best[0]:
                best = (p, w, observed, mu)
        if best is None:
            continue
        p, w, observed, mu = best
        p_adjusted = min(1.0, p * len(s.windows))
        if p_adjusted >= s.alpha:
            continue
        findings.append(
            Finding(
                kind=AlertKind.SURGE,
                key=f"surge:{level}:{node}:{category}",
                explanation="",
                window_start=local_midnight(end - timedelta(days=w)),
                window_end=local_midnight(end),
                observed=observed,
                expected=round(mu, 2),
                spread=round(math.sqrt(mu + mu * mu / (shape * w)), 2),
                score=round(-math.log10(max(p_adjusted, 1e-300)), 2),
                division_id=parents[key] if level == NodeLevel.GRID else node,
                grid_id=node if level == NodeLevel.GRID else None,
                category_id=int(category),
                detail={
                    "level": level,
                    "p_value": p_adjusted,
                    "window_days": w,
                    "windows": list(s.windows),
                    "dispersion_k": round(shape, 1),
                    # what a longer span of the same event expects (``widened``, ``ticket_span``)
                    "expected_per_day": round(mu / w, 4),
                    "baseline_days": s.baseline_days,
                },
            )
        )
    # a community surge explained by one of its grids is reported once, at the grid
    grid_series = {(f.division_id, f.category_id) for f in findings if f.grid_id}
    findings = [f for f in findings if f.grid_id or (f.division_id, f.category_id) not in grid_series]
    _explain(findings)
    return findings


def dispersion(
    history: dict[date, int], rate: float, weights: dict[date, float], *, start: date, days: int
) -> float:
    """The NB shape k of one series from its baseline days (method of moments, seasonality removed):
    1/k = Σ((x_d − μ_d)² − μ_d) ÷ Σ μ_d², μ_d = rate × f(d); clipped to [2, 100]."""
    excess = spread = 0.0
    for i in range(days):
        day = start + timedelta(days=i)
        mu = rate * weights[day]
        excess += (history.get(day, 0) - mu) ** 2 - mu
        spread += mu * mu
    if spread <= 0 or excess <= spread / 100:
        return 100.0
    return max(2.0, min(100.0, spread / excess))


#: What a community's name ends with and its grids' names leave out ("石龙社区居委会" → "石龙社区第1网格").
COMMUNITY_SUFFIXES = ("居民委员会", "村民委员会", "居委会", "村委会")


def grid_place(community: str, grid: str) -> str:
    """A grid as a surge names it: the grid's own name when it already names its community
    ("石龙社区第1网格", not "石龙社区居委会 石龙社区第1网格"), else the community and the grid
    ("石龙社区 · 第1网格"; the separator is no word, so it reads in either language)."""
    if not grid:
        return community
    stem = community
    for suffix in COMMUNITY_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
            break
    if not community or community == "?" or grid.startswith(stem):
        return grid
    return f"{stem} · {grid}"


def _explain(findings: list[Finding]) -> None:
    """Each finding's explanation parameters (``detail["explain"]``) and its sentence."""
    names = {
        pk: short_name or name
        for pk, name, short_name in Division.objects.filter(
            pk__in={f.division_id for f in findings}
        ).values_list("pk", "name", "short_name")
    }
    grids = dict(
        Grid.objects.filter(pk__in={f.grid_id for f in findings if f.grid_id}).values_list("pk", "name")
    )
    cats = dict(Category.objects.filter(pk__in={f.category_id for f in findings}).values_list("pk", "name"))
    for f in findings:
        place = names.get(f.division_id, "?")
        if f.grid_id:
            place = grid_place(place, grids.get(f.grid_id, ""))
        f.detail["explain"] = {
            "place": place,
            "category": cats.get(f.category_id, "?"),
            "observed": f.observed,
            "days": f.detail["window_days"],
            "expected": f.expected,
            "spread": f.spread,
        }
        f.explanation = explain(AlertKind.SURGE, f.detail["explain"])


def window_count(*, level: str, node: int, category: int, start: date, end: date) -> int:
    """Arrivals of one series in the local days ``[start, end)`` (the rollups, as the scan counts)."""
    column = SERIES_LEVELS[level][0]
    total = RollupFact.objects.filter(
        day__gte=start, day__lt=end, category_id=category, **{column: node}
    ).aggregate(n=Sum("received"))["n"]
    return int(total or 0)


def widened(finding: Finding) -> None:
    """Make a surge finding whose window was widened to its alert's span (``alert_raise``: one alert
    per event) explain that span: the count of its days, the expectation of as many days
    (``expected_per_day`` × days) and its spread (shape ``dispersion_k`` per day), so the sentence,
    the tickets behind the alert and its link name the same days."""
    detail = finding.detail
    start = timezone.localtime(finding.window_start).date()
    end = timezone.localtime(finding.window_end).date()
    days = max((end - start).days, 1)
    per_day = float(
        detail.get("expected_per_day") or (finding.expected / max(detail.get("window_days", 1), 1))
    )
    mu = per_day * days
    shape = float(detail.get("dispersion_k") or SurgeSettings.dispersion_k)
    node = finding.grid_id if detail.get("level") == NodeLevel.GRID else finding.division_id
    finding.observed = window_count(
        level=detail.get("level", NodeLevel.COMMUNITY),
        node=node,
        category=finding.category_id,
        start=start,
        end=end,
    )
    finding.expected = round(mu, 2)
    finding.spread = round(math.sqrt(mu + mu * mu / (shape * days)), 2)
    params = dict(detail.get("explain") or {})
    params.update(observed=finding.observed, days=days, expected=finding.expected, spread=finding.spread)
    detail["explain"] = params
    detail["span_days"] = days
    finding.explanation = explain(AlertKind.SURGE, params)


def ticket_span(finding: Finding, *, first: date, last: date) -> None:
    """Make a surge finding's sentence describe the tickets it counted: their first and last local
    day and the expectation of as many days (``expected_per_day`` × days, spread with shape
    ``dispersion_k`` per day), in ``detail["explain"]`` beside the detection window's figures
    (``days``, ``expected``, ``spread``: the statistical evidence, kept as they were). The window
    widens over the days of one event and ends with the last scan, after the alert was raised; a
    reader asks how many tickets came on which days, and how many those days usually bring."""
    detail = finding.detail
    days = (last - first).days + 1
    window_days = max(int(detail.get("window_days") or 1), 1)
    per_day = float(detail.get("expected_per_day") or (finding.expected / window_days))
    mu = per_day * days
    shape = float(detail.get("dispersion_k") or SurgeSettings.dispersion_k)
    params = dict(detail.get("explain") or {})
    params.update(
        first=first.isoformat(),
        last=last.isoformat(),
        ticket_days=days,
        ticket_expected=round(mu, 2),
        ticket_spread=round(math.sqrt(mu + mu * mu / (shape * days)), 2),
    )
    detail["explain"] = params
    finding.explanation = explain(AlertKind.SURGE, params)
