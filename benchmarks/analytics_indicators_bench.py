"""Benchmark: the stored monthly indicators (考核指标), computed and read, against computing them live.

Per backend (SQLite in a temporary folder; PostgreSQL database ``--pg-name``, default
``zw_indbench``, dropped and created, dropped again after the run), in one worker process:

1. data as ``analytics_dashboard_bench.py`` makes it (its functions, imported): the demo city
   (``--scale``), ``--template`` tickets with their timelines from
   ``tickets.history.bulk_tickets_create`` (``days=182``), grown to ``--tickets`` by set-based SQL
   (``replicate``: copy c moved c days back);
2. ``indicator_figures_compute`` for one month, the busiest month (tickets received) that ended
   before the data's ``AS_OF``, counted as of ``AS_OF``: seconds, queries, rows written, the
   time per indicator (one pass each for the five groupings), and the seconds extrapolated
   linearly to 100,000 tickets received in the month; against the baseline measured in the same
   run: the same figures with each grouping computed alone (``_results`` with one ``by``, the
   way the computation ran before its one pass per indicator), checked equal to the rows stored
   → ratio = per-grouping seconds ÷ the computation's reads (its seconds without the write);
3. the read, ``--repeat`` times each (p50/p95), for the city, the month's busiest district and
   that district's busiest subdistrict: the API (``GET /api/v1/analytics/indicators`` through the
   Django test client, as the city leader) and the selector it calls
   (``analytics.selectors.figures.indicator_figures``); against the baseline measured in the
   same run, ``--live-repeat`` times: the same figures computed live from the timeline with
   ``tickets.indicators.indicator_table`` (the place's total, its child divisions, the units:
   three tables, as the page shows them) → ratio = live p95 ÷ API p95;
4. a Markdown table for docs/benchmarks.md (also written to ``benchmarks/out/``).

    .venv/bin/python benchmarks/analytics_indicators_bench.py                      # 200,000 tickets
    .venv/bin/python benchmarks/analytics_indicators_bench.py --backends sqlite --tickets 50000

Progress goes to stderr as it happens; each worker's result is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics_dashboard_bench import AS_OF, _load, _log, drop_pg_database, replicate
from tickets_submit import (
    DEFAULT_PG,
    OUT_DIR,
    ROOT,
    build_city,
    db_version,
    machine_info,
    percentile,
    recreate_pg_database,
    setup_django,
)

PG_NAME = "zw_indbench"


def _samples(function, repeat: int) -> dict:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(percentile(samples, 50), 1), "p95_ms": round(percentile(samples, 95), 1)}


def _busiest_month(before: date):
    """The month (first day) with the most tickets received, among those ended by ``before``."""
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    from zhiwang.analytics.index import month_bounds
    from zhiwang.tickets.models import Ticket

    stop = month_bounds(before.replace(day=1))[0]
    row = (
        Ticket.objects.filter(received_at__lt=stop)
        .annotate(m=TruncMonth("received_at"))
        .values("m")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    month = row["m"]
    return (month.date() if isinstance(month, datetime) else month).replace(day=1)


def _live(division, start, end):
    """What the page shows for ``division`` computed from the timeline: the place's total, its
    child divisions and the units (every unit's figures; the page keeps those within the place)."""
    from zhiwang.analytics.index import _SYSTEM
    from zhiwang.analytics.selectors.figures import CHILD_LEVEL
    from zhiwang.tickets.indicators import indicator_table

    within = None if division.level == "city" else division
    out = {"place": indicator_table(user=_SYSTEM, start=start, end=end, division=within)}
    child = CHILD_LEVEL.get(division.level)
    if child:
        out["children"] = indicator_table(user=_SYSTEM, start=start, end=end, by=child, division=within)
    out["units"] = indicator_table(user=_SYSTEM, start=start, end=end, by="unit")
    return out


def worker(args) -> dict:
    data_dir = Path(args.data_dir)
    url = f"{args.pg_url.rstrip('/')}/{args.pg_name}" if args.backend == "postgres" else None
    setup_django(data_dir=data_dir, database_url=url)
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from zhiwang.accounts.models import User
    from zhiwang.analytics.index import month_bounds
    from zhiwang.analytics.indicator_figures import (
        FIGURE_INDICATORS,
        GROUPINGS,
        _results,
        indicator_figures_compute,
    )
    from zhiwang.analytics.models import IndicatorFigure
    from zhiwang.analytics.selectors.figures import indicator_figures
    from zhiwang.analytics.selectors.place import Place
    from zhiwang.geo.models import Division
    from zhiwang.tickets.history import bulk_tickets_create
    from zhiwang.tickets.models import Ticket, TicketEvent

    result = {"backend": args.backend, "tickets": args.tickets, "load_start": _load()}
    # 1. the data
    result["city_s"] = round(build_city(args.scale), 1)
    _log(f"{args.backend}: demo city {result['city_s']} s")
    started = time.perf_counter()
    template = min(args.tickets, args.template)
    bulk_tickets_create(
        count=template,
        seed=7,
        as_of=AS_OF,
        days=182,
        open_fraction=0.1,
        batch_size=5000,
        progress=lambda done, total: (
            _log(f"{args.backend}: template {done}/{total}") if done % 10000 == 0 else None
        ),
    )
    result["generate_s"] = round(time.perf_counter() - started, 1)
    _log(f"{args.backend}: template of {template} tickets: {result['generate_s']} s")
    started = time.perf_counter()
    replicate(args.tickets)
    result["replicate_s"] = round(time.perf_counter() - started, 1)
    _log(f"{args.backend}: replicated to {args.tickets}: {result['replicate_s']} s")
    if connection.vendor == "postgresql":  # fresh statistics after the bulk load, as autovacuum would
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    result["db"] = db_version()
    result["events"] = TicketEvent.objects.count()

    # 2. the computation of the busiest ended month
    month = _busiest_month(AS_OF.date())
    start, end = month_bounds(month)
    result["month"] = f"{month:%Y-%m}"
    result["month_tickets"] = Ticket.objects.filter(received_at__gte=start, received_at__lt=end).count()
    result["month_events"] = TicketEvent.objects.filter(at__gte=start, at__lt=end).count()
    # progress comes per indicator × grouping, an indicator's five groupings together after its pass
    steps = [(group, code) for code in FIGURE_INDICATORS for group in GROUPINGS]
    _log(f"{args.backend}: computing {month:%Y-%m} ({result['month_tickets']} tickets received)")
    with CaptureQueriesContext(connection) as captured:
        # (moment, queries so far) after each indicator × grouping
        marks = [(time.perf_counter(), 0)]
        rows = indicator_figures_compute(
            month=month,
            now=AS_OF,
            progress=lambda d, t: marks.append((time.perf_counter(), len(captured.captured_queries))),
        )
        finished = time.perf_counter()
    queries = captured.captured_queries
    result["compute_s"] = round(finished - marks[0][0], 2)
    result["compute_queries"] = len(queries)
    result["compute_sql_s"] = round(sum(float(q.get("time") or 0) for q in queries), 2)
    result["rows_written"] = rows
    result["compute_s_per_100k"] = round(result["compute_s"] * 100_000 / max(1, result["month_tickets"]), 1)
    per_indicator: dict[str, list[float]] = {}  # code: [wall s, SQL s, queries]
    slowest = []
    for (_group, code), (lo, qlo), (hi, qhi) in zip(steps, marks, marks[1:], strict=False):
        sql_s = sum(float(q.get("time") or 0) for q in queries[qlo:qhi])
        entry = per_indicator.setdefault(code, [0.0, 0.0, 0])
        entry[0] += hi - lo
        entry[1] += sql_s
        entry[2] += qhi - qlo
        slowest += [(float(q.get("time") or 0), code, q["sql"][:240]) for q in queries[qlo:qhi]]
    result["write_s"] = round(finished - marks[-1][0], 2)  # delete the month's old rows, insert the new
    result["per_indicator_s"] = {
        k: round(v[0], 2) for k, v in sorted(per_indicator.items(), key=lambda kv: -kv[1][0])
    }
    result["per_indicator_sql_s"] = {k: round(v[1], 2) for k, v in per_indicator.items()}
    result["per_indicator_queries"] = {k: v[2] for k, v in per_indicator.items()}
    slowest.sort(key=lambda q: -q[0])
    result["slowest_queries"] = [{"s": s, "step": step, "sql": sql} for s, step, sql in slowest[:5]]
    _log(
        f"{args.backend}: computed {rows} rows in {result['compute_s']} s, {result['compute_queries']} queries"
    )
    # the baseline: each grouping alone (its own queries, JIT as the server has it)
    stored = {
        (str(f.group), f.key, f.indicator): (f.numerator, f.denominator, f.parts)
        for f in IndicatorFigure.objects.filter(month=month)
    }
    alone, per_group = {}, {}
    for group, by in GROUPINGS.items():
        started = time.perf_counter()
        for code in FIGURE_INDICATORS:
            for key, row in _results(code, start=start, end=end, by=by, as_of=AS_OF).items():
                if by is None or key is not None:
                    alone[(str(group), key, code)] = row
        per_group[str(group)] = time.perf_counter() - started
    result["per_grouping_s"] = round(sum(per_group.values()), 2)
    result["per_grouping_by_group_s"] = {k: round(v, 2) for k, v in per_group.items()}
    result["same_rows"] = alone == stored
    # against the computation's reads (its queries and sums, not the write)
    result["compute_reads_s"] = round(marks[-1][0] - marks[0][0], 2)
    result["one_pass_ratio"] = round(result["per_grouping_s"] / max(result["compute_reads_s"], 0.01), 1)
    _log(
        f"{args.backend}: each grouping alone {result['per_grouping_s']} s, {result['one_pass_ratio']}× the "
        f"one pass's {result['compute_reads_s']} s; same rows: {result['same_rows']}"
    )

    # 3. the read, against the live baseline
    city = Division.objects.get(level="city")
    in_month = Ticket.objects.filter(received_at__gte=start, received_at__lt=end)
    district_pk = (
        in_month.values("district").annotate(n=Count("pk")).order_by("-n", "district").first()["district"]
    )
    sub_pk = (
        in_month.filter(district=district_pk, subdistrict__isnull=False)
        .values("subdistrict")
        .annotate(n=Count("pk"))
        .order_by("-n", "subdistrict")
        .first()["subdistrict"]
    )
    places = [
        ("city", city),
        ("district", Division.objects.get(pk=district_pk)),
        ("subdistrict", Division.objects.get(pk=sub_pk)),
    ]
    leader = User.objects.get(username="demo_leader")
    client = Client()
    client.force_login(leader)
    for name, division in places:
        place = Place(division)
        path = f"/api/v1/analytics/indicators?month={month:%Y-%m}&division={division.code}"
        response = client.get(path)
        assert response.status_code == 200, (response.status_code, response.content[:300])
        body = response.json()
        result[f"{name}_code"] = division.code
        # the API pages the unit table: one page's rows, and how many units there are in all
        result[f"{name}_rows"] = 1 + len(body.get("children", [])) + len(body.get("units", []))
        result[f"{name}_units"] = body.get("units_count", 0)
        result[f"{name}_month_tickets"] = (
            in_month.count()
            if name == "city"
            else in_month.filter(**{f"{division.level}_id": division.pk}).count()
        )
        with CaptureQueriesContext(connection) as captured:
            client.get(path)
        result[f"{name}_api_queries"] = len(captured.captured_queries)
        result[f"{name}_api"] = _samples(lambda path=path: client.get(path), args.repeat)
        result[f"{name}_selector"] = _samples(
            # the unit table is lazy: read its first page, as the page does
            lambda place=place: list(indicator_figures(user=leader, place=place, month=month)["units"][:50]),
            args.repeat,
        )
        with CaptureQueriesContext(connection) as captured:  # also the warm-up run
            _live(division, start, end)
        result[f"{name}_live_queries"] = len(captured.captured_queries)
        result[f"{name}_live"] = _samples(
            lambda division=division: _live(division, start, end), args.live_repeat
        )
        result[f"{name}_ratio"] = round(
            result[f"{name}_live"]["p95_ms"] / max(result[f"{name}_api"]["p95_ms"], 0.01), 1
        )
        _log(
            f"{args.backend}: {name} {division.code}: API p95 {result[f'{name}_api']['p95_ms']} ms, "
            f"live p95 {result[f'{name}_live']['p95_ms']} ms"
        )
    result["load_end"] = _load()
    connection.close()
    return result


def _run(args, backend: str, data_dir: str) -> dict:
    """One worker per backend (the settings are read once per process); progress shows live."""
    command = [
        sys.executable, str(Path(__file__)), "--worker", "--backend", backend, "--data-dir", data_dir,
        "--tickets", str(args.tickets), "--template", str(args.template), "--scale", args.scale,
        "--repeat", str(args.repeat), "--live-repeat", str(args.live_repeat), "--pg-url", args.pg_url,
        "--pg-name", args.pg_name,
    ]  # fmt: skip
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, timeout=3 * 3600)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit(f"{backend} worker failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ms(figure: dict) -> str:
    return f"{figure['p50_ms']:g} / {figure['p95_ms']:g}"


def markdown(info: dict, results: list[dict], args) -> str:
    lines = [
        f"{args.tickets:,} tickets (template {min(args.tickets, args.template):,} from the bulk generator, "
        f"the rest SQL copies), demo city scale {args.scale}; the busiest ended month; reads p50 / p95 "
        f"over {args.repeat} runs, live over {args.live_repeat}; ratio = live p95 ÷ API p95.",
        "",
        "| backend | month: tickets / timeline rows | compute s (queries, rows written) | s per 100k tickets of the month "
        "| reads s: one pass / each grouping alone (ratio) "
        "| place (tickets in month, rows shown, units in all) | API p50 / p95 ms (queries) | selector p50 / p95 ms "
        "| live p50 / p95 ms (queries) | ratio |",
        "|---|---|---|---:|---|---|---|---|---|---:|",
    ]
    for r in results:
        first = True
        for name in ("city", "district", "subdistrict"):
            head = (
                f"| {r['db']} | {r['month']}: {r['month_tickets']:,} / {r['month_events']:,} | "
                f"{r['compute_s']} ({r['compute_queries']}, {r['rows_written']:,}) | {r['compute_s_per_100k']} "
                f"| {r['compute_reads_s']} / {r['per_grouping_s']} ({r['one_pass_ratio']}×"
                f"{'' if r['same_rows'] else ', ROWS DIFFER'}) "
                if first
                else "| | | | | "
            )
            first = False
            lines.append(
                head
                + f"| {name} {r[f'{name}_code']} ({r[f'{name}_month_tickets']:,}, {r[f'{name}_rows']}, {r.get(f'{name}_units', 0)}) "
                f"| {_ms(r[f'{name}_api'])} ({r[f'{name}_api_queries']}) | {_ms(r[f'{name}_selector'])} "
                f"| {_ms(r[f'{name}_live'])} ({r[f'{name}_live_queries']}) | {r[f'{name}_ratio']}× |"
            )
    lines.append("")
    for r in results:
        sql = r.get("per_indicator_sql_s", {})
        top = ", ".join(
            f"{k} {v} s" + (f" ({sql[k]} s in SQL)" if k in sql else "")
            for k, v in list(r["per_indicator_s"].items())[:4]
        )
        groups = ", ".join(f"{k} {v} s" for k, v in r["per_grouping_by_group_s"].items())
        lines.append(
            f"- {r['db']}: compute time by indicator (one pass for the five groupings): {top}; "
            f"each grouping alone (the baseline): {groups}; "
            f"writing the rows {r['write_s']} s; all SQL {r.get('compute_sql_s', '?')} s (SQLite: the time "
            "until each query's first row only)."
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument(
        "--template", type=int, default=50_000, help="Tickets made by the generator; the rest are SQL copies."
    )
    parser.add_argument("--scale", default="small")
    parser.add_argument("--repeat", type=int, default=20, help="Runs of each read (API, selector).")
    parser.add_argument("--live-repeat", type=int, default=5, help="Runs of the live baseline.")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--pg-name", default=PG_NAME)
    parser.add_argument(
        "--data-root", default=None, help="Folder for the SQLite data folder (default: temp)."
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="sqlite", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args), default=str, ensure_ascii=False))
        return 0
    info = machine_info()
    load_start = _load()
    print(f"start {info['date']}, {info['cpu']}, {info['cores']} cores, load {load_start}", file=sys.stderr)
    results = []
    for backend in args.backends.split(","):
        data_dir = tempfile.mkdtemp(prefix=f"zw-indicators-{backend}-", dir=args.data_root)
        if backend == "postgres":
            recreate_pg_database(args.pg_url, args.pg_name)
        try:
            result = _run(args, backend, data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
            if backend == "postgres":
                drop_pg_database(args.pg_url, args.pg_name)
        print(json.dumps(result, ensure_ascii=False), flush=True)
        results.append(result)
    info["load"] = f"{load_start} at the start, {_load()} at the end"
    text = (
        f"{info['date']}; {info['cpu']}, nproc {info['cores']}, {info['memory']}; load average {info['load']}\n\n"
        + markdown(info, results, args)
    )
    print(text)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "analytics_indicators_bench.md").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
