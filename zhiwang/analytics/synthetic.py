"""A synthetic ticket stream with injected surges and address clusters, for evaluating the alerts.

``synthetic_stream`` writes daily arrival counters straight into the rollups (``RollupFact`` and
``AddressDay``, then the coarse tables derived from them; the detectors read only the rollups),
for real communities and categories of the demo city:

- background: each (community, category) series has a base rate drawn from ``rate_range`` per
  day, shaped by a weekday profile (quieter weekends) and public holidays (work calendar), with
  negative-binomial day-to-day noise (shape ``noise_k``);
- surges: ``surges`` windows of ``surge_days`` days where one series runs at ``surge_ratio`` ×
  its expected rate;
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
    kind: str  # "surge" or "address_cluster"
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
    surge_days: int = 3,
    clusters: int = 10,
    cluster_size: int = 6,
    warmup_days: int = 35,
) -> Stream:
    """Write the stream's counters (``communities``: (community pk, subdistrict pk)); returns the truth.

    Injected events start after ``warmup_days`` so every detector has a baseline.
    """
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    calendar = work_calendar()
    end = start + timedelta(days=days)
    rates = {(c, k): float(rng.uniform(*rate_range)) for c, _p in communities for k in categories}
    stream = Stream(start=start, end=end)
    boosts: dict[tuple[int, int, date], float] = {}
    for _ in range(surges):
        c, _parent = pick.choice(communities)
        k = pick.choice(categories)
        first = start + timedelta(days=pick.randrange(warmup_days, days - surge_days))
        stream.injected.append(Injected("surge", c, str(k), first, surge_days, 0))
        for i in range(surge_days):
            boosts[(c, k, first + timedelta(days=i))] = surge_ratio
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
                            item.kind == "surge"
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
#: (surge included), i.e. 3 × the normal volume of the window.
SIZE_BINS = ((0, 12), (12, 24), (24, float("inf")))


def evaluate(stream: Stream, findings_by_day: dict[date, list], *, min_expected: float = 12.0) -> dict:
    """Precision and recall of detector findings against the injected events.

    Findings of one series on consecutive days are one alert (as ``alert_raise`` de-duplicates
    them); an alert is a true positive when its window overlaps an injected event of its series,
    and an injected event is found when some alert overlaps it.
    """
    alerts: dict[tuple, list[list]] = defaultdict(list)
    for day in sorted(findings_by_day):
        for f in findings_by_day[day]:
            if f.kind == "surge":
                series = (f.kind, f.grid_id or f.division_id, str(f.category_id))
            else:
                series = (f.kind, f.division_id, f.key.split(":")[-1])
            start, end = f.window_start.date(), f.window_end.date()
            runs = alerts[series]
            if runs and start <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], end)
            else:
                runs.append([start, end])
    truth = defaultdict(list)
    for item in stream.injected:
        kind = "surge" if item.kind == "surge" else "address_cluster"
        truth[(kind, item.node, item.value)].append(item)
    tp = fp = 0
    found = set()
    for series, runs in alerts.items():
        for start, end in runs:
            hits = [
                i for i in truth.get(series, []) if i.start < end and start < i.start + timedelta(days=i.days)
            ]
            if hits:
                tp += 1
                found.update(id(i) for i in hits)
            else:
                fp += 1
    injected = len(stream.injected)
    by_size = {}
    for low, high in SIZE_BINS:
        items = [i for i in stream.injected if i.kind == "surge" and low <= i.expected < high]
        hit = sum(1 for i in items if id(i) in found)
        by_size[f"{low}-{high if high != float('inf') else ''}"] = {
            "events": len(items),
            "found": hit,
            "recall": round(hit / len(items), 3) if items else None,
        }
    eligible = [i for i in stream.injected if i.kind != "surge" or i.expected >= min_expected]
    return {
        "eligible": len(eligible),
        "eligible_found": sum(1 for i in eligible if id(i) in found),
        "eligible_recall": (sum(1 for i in eligible if id(i) in found) / len(eligible)) if eligible else None,
        "injected": injected,
        "alerts": tp + fp,
        "true_positives": tp,
        "false_positives": fp,
        "found": len(found),
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": len(found) / injected if injected else None,
        "by_size": by_size,
    }
