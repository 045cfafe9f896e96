"""Benchmark: importing people into the registry, beside the raw driver, on SQLite and PostgreSQL.

For each backend and each file size, a fresh child process (so peak memory is its own):

1. builds a throwaway database (SQLite file, or a PostgreSQL database ``zw_bench_registry``)
   with the tiny demo city;
2. writes a CSV of N synthetic people (valid ID numbers, Chinese headers, GBK-free UTF-8);
3. imports it with the real pipeline (``import_batch_create`` + ``import_batch_run``: read,
   validate, hash, upsert, history rows, provenance, chunk checkpoints) → rows/s;
4. reads back the rows the pipeline wrote (every column), empties the table and writes the
   SAME rows into the SAME ``registry_person`` table (same indexes and constraints) with the
   raw driver (``executemany`` in one transaction on SQLite, with the pipeline's page-cache
   and checkpoint PRAGMAs; ``COPY`` on PostgreSQL) → rows/s, and prints the ratio pipeline / raw;
5. reports the child's peak RSS (``ru_maxrss``) and the growth during the import.

    .venv/bin/python benchmarks/registry_import_bench.py --rows 20000,100000
    .venv/bin/python benchmarks/registry_import_bench.py --backends pg --rows 100000
    .venv/bin/python benchmarks/registry_import_bench.py --scale shenzhen   # 18,000,000 rows: hours

With ``--with-address`` every row also names a room (standard address code), so the
pipeline matches the address and writes the residence link too. ``--chunk`` defaults to the
pipeline's own default for the backend (10,000 rows on SQLite, 2,000 on PostgreSQL).
``--repeat N`` runs N rounds of pipeline-then-raw in the same child (the table emptied in
between) and prints the median ratio: on a shared machine one round's ratio moves a lot.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
PG_NAME = os.environ.get("ZHIWANG_BENCH_PG_DB", "zw_bench_registry")  # dropped after each run
SCALES = {"shenzhen": 18_000_000}
AREAS = ("440305", "440303", "440304", "440306", "440307", "440308", "440309", "440310", "440311", "430102")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def write_people_csv(path: Path, rows: int, rooms: list[str]) -> None:
    """N unique valid people: ID numbers walk birth dates, then sequence numbers, then areas."""
    from zhiwang.core.validators import id_number_check_char

    start = dt.date(1940, 1, 1)
    days = 30_000
    with open(path, "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["姓名", "公民身份号码", "人口类型", "联系电话"] + (["现住址"] if rooms else []))
        for i in range(rows):
            born = start + dt.timedelta(days=i % days)
            seq = (i // days) % 1000
            area = AREAS[(i // (days * 1000)) % len(AREAS)]
            first17 = f"{area}{born:%Y%m%d}{seq:03d}"
            name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)] + GIVEN[(i // 131) % len(GIVEN)]
            row = [
                name,
                first17 + id_number_check_char(first17),
                "户籍" if i % 3 else "流动人口",
                f"13{i % 10**9:09d}",
            ]
            if rooms:
                row.append(rooms[i % len(rooms)])
            out.writerow(row)


def recreate_pg(base_url: str) -> str:
    import psycopg

    admin = base_url.rstrip("/").replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_NAME}"')
    return f"{base_url.rstrip('/')}/{PG_NAME}"


def drop_pg(base_url: str) -> None:
    import psycopg
    from django.db import connection

    connection.close()
    admin = base_url.rstrip("/").replace("postgres://", "postgresql://", 1) + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')


def raw_driver_seconds(connection, model) -> float:
    """Seconds for the raw driver to write the rows now in ``model``'s table again, unchanged.

    The rows are read back (every column but the id), the table is emptied (TRUNCATE on
    PostgreSQL, DELETE on SQLite; the import's other rows go too), then written in one
    transaction: ``COPY`` on PostgreSQL, one prepared ``executemany`` on SQLite. Same
    values, same table, same indexes, unique and foreign-key constraints as the pipeline
    met, so the ratio measures only what the pipeline adds (reading, validating, hashing,
    upsert checks, provenance, checkpoints)."""
    from django.db import transaction

    from zhiwang.registry.imports.copy import bulk_session

    table = model._meta.db_table
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {names} FROM {table} ORDER BY id")
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table} CASCADE")
            cursor.execute("CHECKPOINT")
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return time.perf_counter() - started
    with connection.cursor() as cursor:
        for other in ("registry_personsource", "registry_residence", "registry_persontag"):
            cursor.execute(f"DELETE FROM {other}")
        cursor.execute(f"DELETE FROM {table}")
    raw = connection.connection
    marks = ", ".join("?" * len(fields))
    with bulk_session():  # the same page cache and checkpoint settings the pipeline runs with
        started = time.perf_counter()
        raw.execute("BEGIN")
        raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        raw.execute("COMMIT")
        return time.perf_counter() - started


def child(args) -> dict:
    """One backend × one size, in this process."""
    data_dir = Path(tempfile.mkdtemp(prefix="zw-registry-bench-"))
    os.environ["ZHIWANG_DATA_DIR"] = str(data_dir)
    if args.backend == "pg":
        os.environ["ZHIWANG_DATABASE_URL"] = recreate_pg(args.pg)
    else:
        os.environ["ZHIWANG_DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["ZHIWANG_TASKS"] = "immediate"
    os.environ["ZHIWANG_LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "zhiwang.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from zhiwang.accounts.demo import demo_accounts_create
    from zhiwang.accounts.models import OrgUnit
    from zhiwang.geo.demo import demo_geography_build
    from zhiwang.geo.models import StandardAddress
    from zhiwang.registry.imports.pipeline import import_batch_create, import_batch_run
    from zhiwang.registry.models import MappingTemplate, Person

    call_command("migrate", verbosity=0, interactive=False)
    demo_geography_build(scale="tiny", seed=1)
    demo_accounts_create()
    rooms = (
        list(StandardAddress.objects.filter(level="room").values_list("code", flat=True)[:5000])
        if args.with_address
        else []
    )
    path = data_dir / "people.csv"
    write_people_csv(path, args.rows, rooms)
    before = rss_mb()
    source = OrgUnit.objects.get(code="DEMO-CITY-DATA")
    template = MappingTemplate.objects.get(name="公安实有人口")
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    sql_seconds: dict[str, list] = {}

    def timed_sql(execute, sql, params, many, context):
        # --profile: database time per statement kind (first words of the SQL, tables kept).
        kind = " ".join(sql.split()[:3])[:60]
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = sql_seconds.setdefault(kind, [0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - t0

    started = time.perf_counter()
    if profiler:
        connection.execute_wrappers.append(timed_sql)
        profiler.enable()
    batch = import_batch_create(
        actor=None,
        kind="person",
        source=source,
        file_path=path,
        template=template,
        chunk_size=args.chunk or None,
    )
    batch = import_batch_run(batch=batch)
    pipeline_s = time.perf_counter() - started
    pairs = []  # (pipeline seconds, raw seconds) per round, for --repeat
    if profiler:
        import pstats

        profiler.disable()
        connection.execute_wrappers.remove(timed_sql)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        for kind, (count, seconds) in sorted(sql_seconds.items(), key=lambda item: -item[1][1])[:15]:
            print(f"SQL {seconds:8.2f} s {count:6d}x  {kind}", file=sys.stderr)
    peak = rss_mb()
    assert batch.rows_created == args.rows, (batch.rows_created, batch.rows_rejected)
    assert Person.objects.count() == args.rows

    # Raw driver, fair: the SAME validated rows the pipeline wrote (every column, read back),
    # into the SAME table with the same indexes and constraints, after emptying it.
    # (--no-raw for files too large to hold their rows in memory: memory figures only.)
    raw_s = raw_driver_seconds(connection, Person) if not args.no_raw else float("nan")
    pairs.append((pipeline_s, raw_s))
    for round_number in range(2, args.repeat + 1):
        # Again on the same database: emptied, and a file that differs by trailing blank lines
        # (skipped on import) so that it is a new batch, not a resumed one.
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # as the raw driver's turn starts: no dead rows
                cursor.execute(f"TRUNCATE {Person._meta.db_table} CASCADE")
                cursor.execute("CHECKPOINT")
            else:
                for table in ("registry_personsource", "registry_residence", "registry_persontag"):
                    cursor.execute(f"DELETE FROM {table}")
                cursor.execute(f"DELETE FROM {Person._meta.db_table}")
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\r\n")
        started = time.perf_counter()
        batch = import_batch_run(
            batch=import_batch_create(
                actor=None,
                kind="person",
                source=source,
                file_path=path,
                template=template,
                chunk_size=args.chunk or None,
                file_name=f"round-{round_number}.csv",
            )
        )
        again_s = time.perf_counter() - started
        assert batch.rows_created == args.rows, (batch.rows_created, batch.rows_rejected)
        pairs.append((again_s, raw_driver_seconds(connection, Person) if not args.no_raw else float("nan")))
    ratios = sorted(r / p for p, r in pairs)
    if connection.vendor == "postgresql":
        drop_pg(args.pg)
    connection.close()
    shutil.rmtree(data_dir, ignore_errors=True)  # the SQLite file and the CSV can be gigabytes
    return {
        "backend": connection.vendor,
        "rows": args.rows,
        "with_address": bool(rooms),
        "chunk": batch.chunk_size,
        "pipeline_rows_per_s": round(args.rows / pipeline_s),
        "raw_rows_per_s": None if args.no_raw else round(args.rows / raw_s),
        "ratio": None if args.no_raw else round(raw_s / pipeline_s, 3),
        # --repeat: every round's ratio (pipeline then raw, in turn) and their median
        "ratios": None if args.no_raw else [round(r, 3) for r in ratios],
        "ratio_median": None if args.no_raw else round(ratios[len(ratios) // 2], 3),
        "pipeline_s": round(pipeline_s, 2),
        "rss_before_import_mb": round(before, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_growth_during_import_mb": round(peak - before, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="sqlite,pg", help="sqlite, pg or both")
    parser.add_argument("--rows", default="20000,100000", help="comma-separated file sizes")
    parser.add_argument("--scale", choices=sorted(SCALES), help="Shenzhen-size file (overrides --rows)")
    parser.add_argument(
        "--chunk", type=int, default=0, help="rows per chunk (default: the pipeline's for the backend)"
    )
    parser.add_argument("--with-address", action="store_true")
    parser.add_argument("--pg", default=os.environ.get("ZHIWANG_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--profile", action="store_true", help="cProfile the import (top 25 to stderr)")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw-driver baseline (memory runs)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of pipeline + raw per child (median ratio shown)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.rows = int(args.rows)
        print("RESULT " + json.dumps(child(args)), flush=True)
        return
    sizes = [SCALES[args.scale]] if args.scale else [int(n) for n in args.rows.split(",")]
    print(json.dumps(machine_info(), ensure_ascii=False))
    for backend in args.backends.split(","):
        for rows in sizes:
            command = [
                sys.executable,
                __file__,
                "--child",
                "--backend",
                backend,
                "--rows",
                str(rows),
                "--chunk",
                str(args.chunk),
                "--pg",
                args.pg,
                "--repeat",
                str(args.repeat),
            ]
            if args.with_address:
                command.append("--with-address")
            if args.profile:
                command.append("--profile")
            if args.no_raw:
                command.append("--no-raw")
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if args.profile:
                print(done.stderr[-12000:])
            if done.returncode or not lines:
                print(f"{backend} {rows}: failed\n{done.stderr[-3000:]}")
                continue
            result = json.loads(lines[-1][7:])
            print(
                f"{result['backend']:<10} rows={rows:>9,} chunk={result['chunk']:,} "
                f"address={'y' if result['with_address'] else 'n'} "
                f"pipeline={result['pipeline_rows_per_s']:>7,}/s raw={format(result['raw_rows_per_s'] or 0, ','):>8}/s "
                f"ratio={'-' if result['ratio'] is None else format(result['ratio'], '.1%')} "
                f"(median of {args.repeat}: {'-' if result['ratio'] is None else format(result['ratio_median'], '.1%')}) "
                f"peak_rss={result['rss_peak_mb']} MB "
                f"(+{result['rss_growth_during_import_mb']} MB during import)"
            )
            print(json.dumps(result))


if __name__ == "__main__":
    main()
