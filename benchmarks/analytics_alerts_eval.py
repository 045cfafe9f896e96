"""Evaluation of the early-warning detectors (docs/analytics.md, "Alerts").

1. Synthetic streams (``zhiwang.analytics.synthetic``): the demo city's communities × a set of
   categories over ``--days`` days, weekday and holiday seasonality, negative-binomial noise, a few
   large series; injected ``--surges`` multi-day surges (2–10 days) on ordinary series and
   ``--spikes`` one-day spikes on large series, all at ``--ratio`` × the series' own rate, and
   ``--clusters`` bursts at one address. The detectors run for every day after the warm-up,
   exactly as the periodic task would. With ``--tune``, every candidate surge setting is tried
   on ``--tune-seed``; the report (per event, surges and spikes apart and overall) uses the
   code's default settings on ``--seeds`` (never the tuning seed).
2. Real messages (``../shared/data/complaints/unlabelled_with_votes.csv``, read at run time;
   skipped when absent): the topic-cluster detector over every 7-day window of the messages'
   timestamps; prints the clusters found (size, top words, a sample title).

    .venv/bin/python benchmarks/analytics_alerts_eval.py
    .venv/bin/python benchmarks/analytics_alerts_eval.py --tune --seeds 2,3,4,5 --skip-real
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tickets_submit import OUT_DIR, ROOT, machine_info, setup_django

START = date(2025, 9, 1)  # includes the National Day golden week
SHARED = ROOT.parent / "shared" / "data" / "complaints" / "unlabelled_with_votes.csv"


def _inputs(args):
    from zhiwang.geo.models import Division, StandardAddress
    from zhiwang.tickets.models import Category

    communities = list(
        Division.objects.filter(level="community", special="")
        .order_by("code")
        .values_list("pk", "parent_id")[: args.communities]
    )
    leaves = [
        c.pk
        for c in Category.objects.filter(children__isnull=True, is_active=True).order_by("code")[
            : args.categories
        ]
    ]
    addresses = defaultdict(list)
    for pk, community in StandardAddress.objects.filter(
        community_id__in=[c for c, _p in communities], level="building"
    ).values_list("pk", "community_id")[:2000]:
        if len(addresses[community]) < 5:
            addresses[community].append(pk)
    return communities, leaves, dict(addresses)


def make_stream(args, seed: int):
    """A fresh synthetic stream (the rollup tables are emptied first)."""
    from zhiwang.analytics.models import AddressDay, OpenStock, RollupArea, RollupFact, RollupUnit
    from zhiwang.analytics.synthetic import synthetic_stream

    for model in (RollupFact, RollupArea, RollupUnit, OpenStock, AddressDay):
        model.objects.all().delete()
    communities, leaves, addresses = _inputs(args)
    return synthetic_stream(
        communities=communities,
        categories=leaves,
        addresses=addresses,
        start=START,
        days=args.days,
        seed=seed,
        surges=args.surges,
        surge_ratio=args.ratio,
        large_series=args.large_series,
        spikes=args.spikes,
        clusters=args.clusters,
        warmup_days=args.warmup,
    )


def scan(stream, settings, *, warmup: int, addresses: bool = False) -> tuple[dict, dict, float]:
    """Run the detectors for every day after the warm-up, as the periodic task would."""
    from zhiwang.analytics.alerts import detect_address_clusters, detect_surges

    surges, clusters = {}, {}
    started = time.perf_counter()
    day = START + timedelta(days=warmup)
    while day < stream.end:
        surges[day] = detect_surges(today=day, settings=settings)
        if addresses:
            clusters[day] = detect_address_clusters(today=day)
        day += timedelta(days=1)
    return surges, clusters, (time.perf_counter() - started) / max(len(surges), 1)


#: Settings tried on the tuning seed. One scan per (windows, k, baseline, min ratio) with alpha = 1
#: keeps every series' best window and its adjusted p-value; each alpha is then a filter.
SCANS = [
    {
        "windows": windows,
        "dispersion_k": k,
        "baseline_days": baseline,
        "min_ratio": 2.0,
        "dispersion_min_per_day": own,
    }
    for windows in ((1, 3, 7), (1, 3, 7, 14))
    for k in (8.0, 20.0)
    for baseline in (28, 56)
    for own in (8.0, float("inf"))
    if windows == (1, 3, 7) or own == 8.0
]
ALPHAS = (0.0001, 0.0003, 0.001, 0.003)


def tune(args) -> list[dict]:
    """Every candidate setting on the tuning seed only (the report uses other seeds)."""
    from zhiwang.analytics.alerts import SurgeSettings
    from zhiwang.analytics.synthetic import evaluate

    stream = make_stream(args, args.tune_seed)
    rows = []
    for candidate in SCANS:
        found, _c, _s = scan(stream, SurgeSettings(alpha=1.0, **candidate), warmup=args.warmup)
        for alpha in ALPHAS:
            kept = {d: [f for f in fs if f.detail["p_value"] < alpha] for d, fs in found.items()}
            r = evaluate(_only(stream, "surge", "spike"), kept, min_expected=args.min_expected)
            rows.append(
                {
                    **candidate,
                    "alpha": alpha,
                    **{k: r[k] for k in ("alerts", "precision", "recall")},
                    "by_kind": r["by_kind"],
                }
            )
            print(json.dumps(rows[-1], default=str), flush=True)
    return rows


def synthetic(args) -> dict:
    from zhiwang.analytics.alerts import SurgeSettings
    from zhiwang.analytics.synthetic import evaluate

    settings = SurgeSettings(**json.loads(args.settings))
    if "windows" in json.loads(args.settings):
        settings.windows = tuple(settings.windows)
    per_seed = []
    for seed in args.seeds:
        started = time.perf_counter()
        stream = make_stream(args, seed)
        generated = time.perf_counter() - started
        surges, clusters, per_day = scan(stream, settings, warmup=args.warmup, addresses=True)
        per_seed.append(
            {
                "seed": seed,
                "series": args.communities * args.categories,
                "large_series": len(stream.large),
                "tickets": stream.tickets,
                "generate_s": round(generated, 1),
                "detect_s_per_day": round(per_day, 3),
                "surge": evaluate(_only(stream, "surge", "spike"), surges, min_expected=args.min_expected),
                "address_cluster": evaluate(_only(stream, "address_cluster"), clusters),
                "oracle": oracle_recall(stream, tests=_tests(args), k=20.0, ratio=args.ratio),
            }
        )
        print(json.dumps(per_seed[-1], default=str), flush=True)
    return {"settings": settings, "per_seed": per_seed}


def _tests(args) -> int:
    return args.communities * args.categories * (args.days - args.warmup)


def oracle_recall(stream, *, tests: int, k: float, ratio: float, false_alarms: int = 9) -> dict:
    """Upper bound on recall for ANY detector at ``false_alarms`` false alerts over the run.

    For every injected surge or spike: a detector that knows the series' true rate, the event's
    exact days and the noise law (NB, shape ``k`` per day) uses the most powerful test, a count
    threshold t with P(X ≥ t | normal mean) ≤ false_alarms ÷ tests (one test per series and day,
    ≈ precision 0.8 at 40 events); the event's chance of detection is P(X ≥ t | surge mean).
    Returns the mean chance per kind.
    """
    from scipy import stats

    level = false_alarms / tests
    out: dict[str, list[float]] = defaultdict(list)
    for item in stream.injected:
        if item.kind not in ("surge", "spike"):
            continue
        surge_mean = item.expected
        mu, shape = surge_mean / ratio, k * item.days
        t = int(stats.nbinom.isf(level, shape, shape / (shape + mu))) + 1
        out[item.kind].append(float(stats.nbinom.sf(t - 1, shape, shape / (shape + surge_mean))))
        out["all"].append(out[item.kind][-1])
    return {kind: round(sum(v) / len(v), 3) for kind, v in out.items()}


def _only(stream, *kinds):
    from copy import copy

    out = copy(stream)
    out.injected = [i for i in stream.injected if i.kind in kinds]
    return out


def real_messages(args) -> list[dict]:
    from zhiwang.analytics.alerts import top_words, topic_clusters

    if not SHARED.exists():
        print(f"skipped: {SHARED} not found")
        return []
    rows = []
    with SHARED.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            text = row["time"].strip().replace("/", "-")
            try:
                at = datetime.fromisoformat(text) if "-" in text[:5] else None
            except ValueError:
                at = None
            if at is None:
                try:
                    at = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
                except ValueError:
                    continue
            rows.append((at, row["title"], row["text"], int(row["likes"] or 0)))
    rows.sort()
    found = []
    seen: set[frozenset] = set()
    first, last = rows[0][0].date(), rows[-1][0].date()
    day = first
    while day <= last:
        end = day + timedelta(days=7)
        batch = [r for r in rows if day <= r[0].date() < end]
        texts = [f"{r[1]} {r[2]}" for r in batch]
        for members in topic_clusters(texts, min_size=args.min_cluster, threshold=args.topic_threshold):
            titles = frozenset(batch[i][1] for i in members)
            if titles in seen or any(titles <= s for s in seen):
                continue
            seen.add(titles)
            found.append(
                {
                    "window": f"{day}…{end - timedelta(days=1)}",
                    "size": len(members),
                    "likes": sum(batch[i][3] for i in members),
                    "words": "、".join(top_words([f"{batch[i][1]} {batch[i][2]}" for i in members])),
                    "sample": batch[members[0]][1][:40],
                }
            )
        day += timedelta(days=7)
    found.sort(key=lambda c: -c["size"])
    return found


def _pct(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def report(args, result: dict, tuning: list[dict]) -> list[str]:
    from dataclasses import asdict

    s = asdict(result["settings"])
    first = result["per_seed"][0]
    lines = [
        f"# Alert evaluation ({datetime.now():%Y-%m-%d}, {machine_info().get('cpu', '')}, shared machine)",
        "",
        f"Synthetic streams: {first['series']} series (communities × categories, {first['large_series']} of them "
        f"large: 10–30 a day, the rest 0.5–4 a day), {args.days} days from {START}, weekday/holiday "
        f"seasonality, NB noise (k = 20); per seed {args.surges} multi-day surges (2–10 days, mean 4.65) on "
        f"ordinary series and {args.spikes} one-day spikes on large series, all at {args.ratio:g}× the "
        f"series' own rate, and {args.clusters} address bursts of 6. Settings tuned on seed {args.tune_seed}, "
        f"reported on seeds {', '.join(map(str, args.seeds))}: windows {s['windows']}, alpha {s['alpha']} "
        f"(after Bonferroni over the windows), k = {s['dispersion_k']} (a series' own k from "
        f"{s['dispersion_min_per_day']:g} a day), min ratio {s['min_ratio']}, "
        f"min count {s['min_count']}, baseline {s['baseline_days']} days. Detection "
        f"{first['detect_s_per_day']} s per day.",
        "",
        "Per event: an event is found when an alert of its series overlaps its days; an alert (findings of "
        "a series on touching days) is a true positive when it overlaps an injected event of its series, and "
        "counts for the kind of its series (spikes live on large series, surges on the others).",
        "",
        "| seed | kind | injected | found | recall | alerts | true pos. | false pos. | precision | oracle recall |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in result["per_seed"]:
        kinds = [(k, row["surge"]["by_kind"].get(k)) for k in ("surge", "spike")] + [("all", row["surge"])]
        kinds.append(("address cluster", row["address_cluster"]))
        for kind, r in kinds:
            if r is None:
                continue
            oracle = row["oracle"].get(kind, "—") if kind != "address cluster" else "—"
            lines.append(
                f"| {row['seed']} | {kind} | {r['injected']} | {r['found']} | {_pct(r['recall'])} | {r['alerts']} | "
                f"{r['true_positives']} | {r['false_positives']} | {_pct(r['precision'])} | {oracle} |"
            )
            t = totals[kind]
            t[0] += r["injected"]
            t[1] += r["found"]
            t[2] += r["true_positives"]
            t[3] += r["false_positives"]
    for kind, (injected, found, tp, fp) in totals.items():
        lines.append(
            f"| **all seeds** | **{kind}** | {injected} | {found} | **{_pct(found / injected if injected else None)}** | "
            f"{tp + fp} | {tp} | {fp} | **{_pct(tp / (tp + fp) if tp + fp else None)}** | |"
        )
    lines += [
        "",
        "Recall by size (tickets the series is expected to get in the event's days, surge included), all seeds:",
        "",
    ]
    lines += ["| expected tickets in the event | events | found | recall |", "|---|---|---|---|"]
    for table, label in (("by_size", "size"), ("by_days", "days")):
        merged: dict = defaultdict(lambda: [0, 0])
        for row in result["per_seed"]:
            for key, v in row["surge"][table].items():
                merged[key][0] += v["events"]
                merged[key][1] += v["found"]
        if label == "days":
            lines += [
                "",
                "Recall by duration (days), all seeds:",
                "",
                "| days | events | found | recall |",
                "|---|---|---|---|",
            ]
        for key, (events, hit) in sorted(merged.items(), key=lambda kv: float(str(kv[0]).split("-")[0])):
            lines.append(f"| {key} | {events} | {hit} | {_pct(hit / events if events else None)} |")
    if tuning:
        lines += [
            "",
            f"Tuning (seed {args.tune_seed} only; surges and spikes together):",
            "",
            "| windows | baseline days | k | own k from | alpha | alerts | precision | recall | recall surges | recall spikes |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in tuning:
            bk = r["by_kind"]
            lines.append(
                f"| {r['windows']} | {r['baseline_days']} | {r['dispersion_k']} | {r['dispersion_min_per_day']:g}/day | {r['alpha']} | {r['alerts']} | "
                f"{_pct(r['precision'])} | {_pct(r['recall'])} | {_pct(bk.get('surge', {}).get('recall'))} | "
                f"{_pct(bk.get('spike', {}).get('recall'))} |"
            )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument(
        "--warmup", type=int, default=63, help="Days of history before the first scan (and the first event)."
    )
    parser.add_argument("--communities", type=int, default=40)
    parser.add_argument("--categories", type=int, default=12)
    parser.add_argument("--surges", type=int, default=40)
    parser.add_argument("--spikes", type=int, default=10)
    parser.add_argument("--large-series", type=int, default=24)
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--ratio", type=float, default=3.0)
    parser.add_argument("--tune-seed", type=int, default=1)
    parser.add_argument("--seeds", type=lambda v: [int(x) for x in v.split(",")], default=[2, 3, 4])
    parser.add_argument("--min-cluster", type=int, default=5)
    parser.add_argument("--min-expected", type=float, default=24.0)
    parser.add_argument("--topic-threshold", type=float, default=0.3)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument(
        "--settings",
        default="{}",
        help="Surge settings for the report instead of the defaults, e.g. '{\"windows\": [3]}'.",
    )
    parser.add_argument(
        "--tune", action="store_true", help="Also try every candidate setting on --tune-seed."
    )
    args = parser.parse_args(argv)
    if args.tune_seed in args.seeds:
        parser.error("report on seeds other than the tuning seed")
    data_dir = Path(tempfile.mkdtemp(prefix="zw-alerts-eval-"))
    setup_django(data_dir=data_dir, database_url=None)
    from django.core.management import call_command

    from zhiwang.geo.demo import demo_geography_build

    call_command("migrate", verbosity=0, interactive=False)
    demo_geography_build(scale="tiny", seed=1)
    tuning = tune(args) if args.tune else []
    result = synthetic(args)
    lines = report(args, result, tuning)
    if not args.skip_real:
        clusters = real_messages(args)
        lines += [
            "",
            f"Real messages ({SHARED.name}): {len(clusters)} topic clusters in 7-day windows "
            f"(cosine ≥ {args.topic_threshold:g}, at least {args.min_cluster} messages)",
            "",
        ]
        lines += ["| window | size | likes | top words | sample title |", "|---|---|---|---|---|"]
        for c in clusters[:25]:
            lines.append(f"| {c['window']} | {c['size']} | {c['likes']} | {c['words']} | {c['sample']} |")
    text = "\n".join(lines)
    print(text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "analytics_alerts_eval.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
