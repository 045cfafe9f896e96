"""A synthetic ticket stream with injected surges and address clusters, for evaluating the alerts.

``synthetic_stream`` writes daily arrival counters straight into the rollups (``RollupFact`` and
``AddressDay``, then the coarse tables derived from them; the detectors read only the rollups),
for real communities and categories of the demo city:

- background: each (community, category) series has a base rate drawn from ``rate_range`` per
  day, shaped by a weekday profile (quieter weekends) and public holidays (work calendar), with
  negative-binomial day-to-day noise (shape ``noise_k``);
- large series: ``large_series`` of the (community, category) series get a base rate drawn from
  ``large_rate_range`` instead (a busy community's main category);
- surges: ``surges`` events on ordinary series, lasting ``SURGE_DURATIONS`` days (2–10 days,
  mean 4.65: real surges — a broken pipe, a building site, a heating failure — last several
  days), during which the series runs at ``surge_ratio`` × its expected rate;
- spikes: ``spikes`` one-day events at ``surge_ratio`` × on large series only (a one-day excess
  is only detectable where the daily volume is high);
- address clusters: ``clusters`` bursts of ``cluster_size`` tickets at one address within two days
  (addresses otherwise see a ticket now and then).

It returns the ground truth, so ``benchmarks/analytics_alerts_eval.py`` can report precision and
recall. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from zhiwang.analytics.models import AddressDay, RollupFact
from zhiwang.analytics.rollups import rollup_derive, upsert
from zhiwang.core.workcalendar.services import work_calendar

WEEKDAY_PROFILE = (1.15, 1.1, 1.05, 1.05, 1.0, 0.75, 0.65)
HOLIDAY_FACTOR = 0.6


@dataclass
class Injected:
    kind: str  # "surge" (several days), "spike" (one day, large series) or "address_cluster"
    node: int  # community pk
    value: str  # category pk or address pk
    start: date
    days: int
    added: int
    expected: float = 0.0  # expected tickets of the series in the event's days, surge included


@dataclass
class Stream:
    start: date
    end: date
    injected: list[Injected] = field(default_factory=list)
    rows: int = 0
    tickets: int = 0
    large: set[tuple[int, str]] = field(default_factory=set)  # (community pk, category pk) of large series


#: Duration of an injected surge in days and its probability (mean 4.65 days).
SURGE_DURATIONS = ((2, 0.15), (3, 0.25), (4, 0.2), (5, 0.15), (7, 0.15), (10, 0.1))


def _nb(rng: np.random.Generator, mean: float, k: float) -> int:
    if mean <= 0:
        return 0
    return int(rng.negative_binomial(k, k / (k + mean)))


def synthetic_stream(
    *,
    communities: list[tuple[int, int]],
    categories: list[int],
    addresses: dict[int, list[int]] | None = None,
    start: date,
    days: int,
    seed: int = 1,
    rate_range: tuple[float, float] = (0.5, 4.0),
    noise_k: float = 20.0,
    surges: int = 20,
    surge_ratio: float = 3.0,
    surge_days: int | None = None,
    large_series: int = 0,
    large_rate_range: tuple[float, float] = (10.0, 30.0),
    spikes: int = 0,
    clusters: int = 10,
    cluster_size: int = 6,
    warmup_days: int = 35,
) -> Stream:
    """Write the stream's counters (``communities``: (community pk, subdistrict pk)); returns the truth.

    Injected events start after ``warmup_days`` so every detector has a baseline; ``surge_days``
    fixes every surge's duration instead of drawing it from ``SURGE_DURATIONS``. Events of one
    series never overlap (nor follow each other within a week).
    """
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    calendar = work_calendar()
    end = start + timedelta(days=days)
    rates = {(c, k): float(rng.uniform(*rate_range)) for c, _p in communities for k in categories}
    series = sorted(rates)
    stream = Stream(start=start, end=end)
    for c, k in pick.sample(series, min(large_series, len(series))):
        rates[(c, k)] = float(rng.uniform(*large_rate_range))
        stream.large.add((c, str(k)))
    boosts: dict[tuple[int, int, date], float] = {}
    busy: dict[tuple[int, int], list[tuple[date, date]]] = defaultdict(list)
    durations, probabilities = zip(*SURGE_DURATIONS, strict=True)

    def place_event(kind: str, candidates: list, length: int) -> None:
        for _attempt in range(100):
            c, k = pick.choice(candidates)
            first = start + timedelta(days=pick.randrange(warmup_days, days - length))
            last = first + timedelta(days=length)
            if any(first < b + timedelta(days=7) and a < last + timedelta(days=7) for a, b in busy[(c, k)]):
                continue
            busy[(c, k)].append((first, last))
            stream.injected.append(Injected(kind, c, str(k), first, length, 0))
            for i in range(length):
                boosts[(c, k, first + timedelta(days=i))] = surge_ratio
            return

    ordinary = [key for key in series if (key[0], str(key[1])) not in stream.large]
    for _ in range(surges):
        length = surge_days or pick.choices(durations, probabilities)[0]
        place_event("surge", ordinary, length)
    large = [key for key in series if (key[0], str(key[1])) in stream.large]
    for _ in range(spikes if large else 0):
        place_event("spike", large, 1)
    cluster_counts: dict[tuple[int, int, date], int] = defaultdict(int)
    if addresses:
        with_addresses = [c for c, _p in communities if addresses.get(c)]
        for _ in range(clusters if with_addresses else 0):
            c = pick.choice(with_addresses)
            a = pick.choice(addresses[c])
            first = start + timedelta(days=pick.randrange(warmup_days, days - 2))
            stream.injected.append(Injected("address_cluster", c, str(a), first, 2, cluster_size))
            for i in range(cluster_size):
                cluster_counts[(c, a, first + timedelta(days=i % 2))] += 1
    from zhiwang.geo.models import Division

    districts = dict(
        Division.objects.filter(pk__in={p for _c, p in communities}).values_list("pk", "parent_id")
    )
    facts: dict[tuple, dict] = {}
    address_rows: dict[tuple, dict] = {}

    def flush():
        upsert(RollupFact, facts)
        upsert(AddressDay, address_rows)
        stream.rows += len(facts) + len(address_rows)
        facts.clear()
        address_rows.clear()

    day = start
    while day < end:
        weekday = day.weekday()
        if calendar.is_working_day(day):
            factor = WEEKDAY_PROFILE[weekday] if weekday < 5 else 1.0  # make-up working day (调休)
        else:
            factor = WEEKDAY_PROFILE[weekday] if weekday >= 5 else HOLIDAY_FACTOR
        for c, parent in communities:
            place = (districts.get(parent) or 0, parent, c, 0)
            for k in categories:
                mean = rates[(c, k)] * factor
                n = _nb(rng, mean, noise_k)
                boost = boosts.get((c, k, day))
                if boost:
                    extra = _nb(rng, mean * (boost - 1), noise_k)
                    n += extra
                    for item in stream.injected:
                        if (
                            item.kind in ("surge", "spike")
                            and item.node == c
                            and item.value == str(k)
                            and item.start <= day < item.start + timedelta(days=item.days)
                        ):
                            item.added += extra
                            item.expected += mean * boost
                if n:
                    facts[(day, *place, k, "", "", 0)] = {"received": n}
                    stream.tickets += n
            for a in (addresses or {}).get(c, []):
                n = cluster_counts.get((c, a, day), 0) + (1 if rng.random() < 0.03 else 0)
                if n:
                    address_rows[(day, a, *place)] = {"received": n}
        if len(facts) > 20000:
            flush()
        day += timedelta(days=1)
    flush()
    rollup_derive()
    return stream


#: Surge sizes in the evaluation table: tickets the series is expected to get in the event's days
#: (surge included), i.e. ``surge_ratio`` × the normal volume of those days.
SIZE_BINS = ((0, 12), (12, 24), (24, float("inf")))


def _alert_runs(findings_by_day: dict[date, list]) -> dict[tuple, list[list]]:
    """Findings of one series whose windows overlap or touch are one alert (as ``alert_raise`` keeps
    one open alert per key): ``{series: [[start, end), …]}``."""
    alerts: dict[tuple, list[list]] = defaultdict(list)
    for day in sorted(findings_by_day):
        for f in findings_by_day[day]:
            if f.kind == "surge":
                series = ("surge", f.grid_id or f.division_id, str(f.category_id))
            else:
                series = (f.kind, f.division_id, f.key.split(":")[-1])
            start, end = f.window_start.date(), f.window_end.date()
            runs = alerts[series]
            if runs and start <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], end)
            else:
                runs.append([start, end])
    return alerts


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def evaluate(stream: Stream, findings_by_day: dict[date, list], *, min_expected: float = 12.0) -> dict:
    """Precision and recall of detector findings against the injected events, per event.

    An alert (a run of findings of one series, ``_alert_runs``) is a true positive when its days
    overlap an injected event of its series; an injected event is found when some alert of its
    series overlaps its days. Surges and spikes are reported apart (``by_kind``): a spike's series
    is a large one and surges are injected on the others, so an alert is counted for the kind of
    its series (precision per kind), and overall. ``eligible``: events expected to reach
    ``min_expected`` tickets in their days.
    """
    truth = defaultdict(list)
    for item in stream.injected:
        kind = "address_cluster" if item.kind == "address_cluster" else "surge"
        truth[(kind, item.node, item.value)].append(item)
    found: set[int] = set()
    alerts_by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # kind → [tp, fp]
    for series, runs in _alert_runs(findings_by_day).items():
        if series[0] == "surge":
            kind = "spike" if (series[1], series[2]) in stream.large else "surge"
        else:
            kind = series[0]
        for start, end in runs:
            hits = [
                i for i in truth.get(series, []) if i.start < end and start < i.start + timedelta(days=i.days)
            ]
            found.update(id(i) for i in hits)
            alerts_by_kind[kind][0 if hits else 1] += 1

    def summary(items: list[Injected], tp: int, fp: int) -> dict:
        hit = sum(1 for i in items if id(i) in found)
        eligible = [i for i in items if i.kind == "address_cluster" or i.expected >= min_expected]
        eligible_hit = sum(1 for i in eligible if id(i) in found)
        return {
            "injected": len(items),
            "alerts": tp + fp,
            "true_positives": tp,
            "false_positives": fp,
            "found": hit,
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(hit, len(items)),
            "eligible": len(eligible),
            "eligible_found": eligible_hit,
            "eligible_recall": _ratio(eligible_hit, len(eligible)),
        }

    kinds = sorted({i.kind for i in stream.injected} | set(alerts_by_kind))
    by_kind = {
        kind: summary([i for i in stream.injected if i.kind == kind], *alerts_by_kind.get(kind, (0, 0)))
        for kind in kinds
    }
    tp = sum(v[0] for v in alerts_by_kind.values())
    fp = sum(v[1] for v in alerts_by_kind.values())
    result = summary(stream.injected, tp, fp)
    surges = [i for i in stream.injected if i.kind in ("surge", "spike")]
    result["by_size"] = {}
    for low, high in SIZE_BINS:
        items = [i for i in surges if low <= i.expected < high]
        hit = sum(1 for i in items if id(i) in found)
        label = f"{low}-{high if high != float('inf') else ''}"
        result["by_size"][label] = {"events": len(items), "found": hit, "recall": _ratio(hit, len(items))}
    result["by_days"] = {}
    for length in sorted({i.days for i in surges}):
        items = [i for i in surges if i.days == length]
        hit = sum(1 for i in items if id(i) in found)
        result["by_days"][length] = {"events": len(items), "found": hit, "recall": _ratio(hit, len(items))}
    result["by_kind"] = by_kind
    return result
