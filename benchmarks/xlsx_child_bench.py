"""Benchmark: reading a workbook in a limited child process (``core.xlsx_child``) beside in-process.

Writes a workbook of N rows (default 100,000) of 10 columns as a people file has them (codes
with leading zeros, names, addresses, dates, numbers), then reads every row of it, each
reading in a fresh process (so peak memory is its own), ``--repeat`` rounds, in three ways:

1. ``before``: openpyxl in the caller's process, read-only, values only (what every reader
   did before the child);
2. ``fallback``: ``open_xlsx(in_process=True)``, the same through the module's frames (what
   a platform without ``resource`` runs);
3. ``child``: ``open_xlsx()``, openpyxl in a child under the default limits, rows through a
   pipe.

It prints, per way, the median time, rows/s, the caller's RSS growth during the read and the
child's peak RSS, and the ratio child / before; and the cost of starting a child (a one-row
workbook opened and read, median of 10). The guard (``check_xlsx``) is left out: it runs
before either way. A fragment goes to ``benchmarks/out/xlsx_child_bench.md``.

    .venv/bin/python benchmarks/xlsx_child_bench.py
    .venv/bin/python benchmarks/xlsx_child_bench.py --rows 200000 --repeat 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAYS = ("before", "fallback", "child")


def write_workbook(path: Path, rows: int) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(
        [
            "编号",
            "姓名",
            "公民身份号码",
            "性别",
            "出生日期",
            "联系电话",
            "居住地址",
            "登记时间",
            "面积",
            "人数",
        ]
    )
    start = dt.datetime(2020, 1, 1, 8, 0)
    for n in range(rows):
        sheet.append(
            [
                f"{n:08d}",
                f"张{n % 1000}",
                f"44030519{80 + n % 20}0{1 + n % 9}{10 + n % 18}{n % 1000:03d}{n % 10}",
                "男女"[n % 2],
                dt.date(1960 + n % 50, 1 + n % 12, 1 + n % 28),
                f"139{n:08d}",
                f"深圳市南山区粤海街道科技园社区{n % 500}栋{n % 30}层{n % 40:02d}号",
                start + dt.timedelta(minutes=n),
                round(30 + (n % 1000) * 0.37, 2),
                1 + n % 6,
            ]
        )
    book.save(path)


def _status_kb(field: str, pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:  # the child has ended
        pass
    return 0


def measure(way: str, path: str) -> dict:
    """One reading of every row, in this (fresh) process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zhiwang.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import openpyxl

    from zhiwang.core.xlsx_child import open_xlsx

    rss_before = _status_kb("VmRSS")
    child_peak = 0
    started = time.perf_counter()
    rows = cells = 0
    if way == "before":
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            for row in book.worksheets[0].iter_rows(values_only=True):
                rows += 1
                cells += len(row)
        finally:
            book.close()
    else:
        with open_xlsx(path, field="file", guard=False, in_process=way == "fallback") as sheet:
            # the child's own high-water mark, sampled (its ru_maxrss would count the caller's
            # pages it had between fork and exec)
            child = getattr(sheet._frames, "process", None)
            for row in sheet:
                rows += 1
                cells += len(row)
                if child is not None and rows % 1000 == 0:
                    child_peak = max(child_peak, _status_kb("VmHWM", child.pid))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": rows,
        "cells": cells,
        "caller_growth_mb": max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
        "child_peak_mb": child_peak / 1024,
    }


def startup(path: str, rounds: int = 10) -> dict:
    """Median seconds to open and read a one-row workbook, in-process and in a child."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zhiwang.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from zhiwang.core.xlsx_child import open_xlsx

    result = {}
    for way in ("fallback", "child"):
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            with open_xlsx(path, field="file", guard=False, in_process=way == "fallback") as sheet:
                list(sheet)
            times.append(time.perf_counter() - started)
        result[way] = statistics.median(times)
    return result


def _run(*arguments: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, *arguments], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("WAY", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--startup", metavar="PATH", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.measure:
        print(json.dumps(measure(*options.measure)))
        return
    if options.startup:
        print(json.dumps(startup(options.startup)))
        return

    os.environ.setdefault("ZHIWANG_DATA_DIR", tempfile.mkdtemp(prefix="zw-xlsx-bench-"))
    with tempfile.TemporaryDirectory(prefix="zw-xlsx-bench-") as folder:
        path, tiny = Path(folder) / "people.xlsx", Path(folder) / "one.xlsx"
        started = time.perf_counter()
        write_workbook(path, options.rows)
        write_workbook(tiny, 1)
        print(
            f"wrote {options.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB, in {time.perf_counter() - started:.1f} s"
        )
        results: dict[str, list[dict]] = {way: [] for way in WAYS}
        for round_ in range(options.repeat):
            for way in WAYS:
                results[way].append(_run("--measure", way, str(path)))
            print(f"round {round_ + 1}: " + ", ".join(f"{w} {results[w][-1]['seconds']:.2f} s" for w in WAYS))
        start_cost = _run("--startup", str(tiny))

    median = {way: statistics.median(r["seconds"] for r in results[way]) for way in WAYS}
    rows = results["before"][0]["rows"]
    assert all(
        r["rows"] == rows and r["cells"] == results["before"][0]["cells"] for w in WAYS for r in results[w]
    )
    labels = {
        "before": "openpyxl in the caller's process (before)",
        "fallback": "`open_xlsx(in_process=True)` (no `resource`)",
        "child": "`open_xlsx()`: child, rows through a pipe",
    }
    lines = [
        f"### Reading a {options.rows:,}-row workbook in a limited child, {dt.date.today():%Y-%m-%d}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; {platform.platform()}; Python "
        f"{platform.python_version()}. `benchmarks/xlsx_child_bench.py --rows {options.rows} "
        f"--repeat {options.repeat}`: 10 columns (codes with leading zeros, names, ID numbers, dates, "
        f"times, numbers), each reading in a fresh process, median of {options.repeat}; the guard left out.",
        "",
        "| way | median | rows/s | caller's RSS growth | child's peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for way in WAYS:
        growth = statistics.median(r["caller_growth_mb"] for r in results[way])
        child = statistics.median(r["child_peak_mb"] for r in results[way])
        lines.append(
            f"| {labels[way]} | {median[way]:.2f} s | {rows / median[way]:,.0f} | {growth:.0f} MB | "
            + (f"{child:.0f} MB (sampled) |" if way == "child" else "– |")
        )
    lines += [
        "",
        f"Child / before: **{median['child'] / median['before']:.2f}×** the time "
        f"(fallback / before: {median['fallback'] / median['before']:.2f}×). Starting a child (a one-row "
        f"workbook opened and read, median of 10): {start_cost['child'] * 1000:.0f} ms, against "
        f"{start_cost['fallback'] * 1000:.0f} ms in-process.",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "xlsx_child_bench.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
