"""Benchmark: locate() on the demo city (about 20,000 grids at --scale large).

Builds the demo city in a throwaway SQLite database (or reuses one: --data-dir DIR
--reuse), then measures, in one run:

- demo generation: rows (grids + buildings + units + rooms) per second;
- the locate index build;
- single calls: ``locate(lon, lat)`` as an API request makes it;
- batches: ``locate_many`` (a Location per point) and ``GeoIndex.resolve`` (arrays);
- the baseline: ``GeoIndex.brute_force_grid``, every grid polygon tested in turn,
  on a smaller sample, with the speed-up over it and a check that the answers agree.

Prints a table and writes a markdown fragment to benchmarks/out/locate_bench.md.

    .venv/bin/python benchmarks/locate_bench.py                 # large: ~20,000 grids (slow to build)
    .venv/bin/python benchmarks/locate_bench.py --scale small   # a quick run
    .venv/bin/python benchmarks/locate_bench.py --data-dir /tmp/zwbench --reuse   # keep and reuse the city
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "locate_bench.md"
MARKER = "locate_bench_city.json"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="large", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--data-dir", help="folder for the SQLite database (default: a temporary one, deleted)"
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the city already built in --data-dir")
    parser.add_argument("--points", type=int, default=200_000, help="points per batch run")
    parser.add_argument("--single", type=int, default=20_000, help="single locate() calls")
    parser.add_argument("--brute", type=int, default=200, help="points for the brute-force baseline")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (best is kept)")
    parser.add_argument("--output", default=str(OUT), help="markdown fragment to write")
    return parser.parse_args(argv)


def setup_django(data_dir: Path) -> None:
    # Before django.setup(): settings read the environment once.
    os.environ["ZHIWANG_DATA_DIR"] = str(data_dir)
    os.environ.pop("ZHIWANG_DATABASE_URL", None)  # always the throwaway SQLite, never a real database
    os.environ["ZHIWANG_TASKS"] = "immediate"
    os.environ["DJANGO_SETTINGS_MODULE"] = "zhiwang.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def build_city(data_dir: Path, *, scale: str, seed: int, reuse: bool) -> dict:
    from django.core.management import call_command
    from tqdm import tqdm

    from zhiwang.geo.demo import demo_geography_build
    from zhiwang.geo.models import Grid

    marker = data_dir / MARKER
    call_command("migrate", verbosity=0, interactive=False)
    if reuse and marker.exists():
        info = json.loads(marker.read_text())
        if info.get("scale") == scale and info.get("seed") == seed and Grid.objects.exists():
            info["reused"] = True
            return info
    if reuse and Grid.objects.exists() and not marker.exists():
        # A city built some other way: usable, but its generation was not timed here.
        return {"scale": scale, "seed": seed, "rows": None, "seconds": None, "reused": True}
    bar = tqdm(desc=f"demo city ({scale})", unit="community", file=sys.stderr)

    def progress(done, total):
        bar.total = total
        bar.update(done - bar.n)

    started = time.perf_counter()
    result = demo_geography_build(scale=scale, seed=seed, progress=progress)
    seconds = time.perf_counter() - started
    bar.close()
    info = {
        "scale": scale,
        "seed": seed,
        "rows": result.rows,
        "grids": result.grids,
        "buildings": result.buildings,
        "units": result.units,
        "rooms": result.rooms,
        "seconds": seconds,
        "reused": False,
    }
    marker.write_text(json.dumps(info))
    return info


def points_in_city(n: int, seed: int):
    """``n`` uniform random points inside the demo city's outline (WGS84)."""
    import numpy as np
    import shapely

    from zhiwang.geo.models import Division, DivisionLevel

    districts = Division.objects.of_level(DivisionLevel.DISTRICT).exclude(geometry="")
    city = shapely.union_all([shapely.from_geojson(d.geometry) for d in districts])
    shapely.prepare(city)
    minx, miny, maxx, maxy = city.bounds
    rng = np.random.default_rng(seed)
    xs, ys = np.empty(0), np.empty(0)
    while len(xs) < n:
        x = rng.uniform(minx, maxx, 2 * n)
        y = rng.uniform(miny, maxy, 2 * n)
        inside = shapely.contains_xy(city, x, y)
        xs, ys = np.concatenate([xs, x[inside]]), np.concatenate([ys, y[inside]])
    return xs[:n], ys[:n]


def best_of(repeat: int, fn) -> float:
    times = []
    for _i in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def machine() -> dict:
    import numpy
    import shapely

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": ram or "?",
        "python": platform.python_version(),
        "shapely": f"{shapely.__version__} (GEOS {shapely.geos_version_string})",
        "numpy": numpy.__version__,
        "os": platform.platform(terse=True),
    }


def run(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    import numpy as np

    from zhiwang.geo import locator
    from zhiwang.geo.models import Grid

    rows: list[tuple[str, str, str]] = []
    data_dir = Path(os.environ["ZHIWANG_DATA_DIR"])
    city = build_city(data_dir, scale=args.scale, seed=args.seed, reuse=args.reuse)
    grids = Grid.objects.count()
    if city.get("seconds"):
        rows.append(
            (
                f"demo generation ({args.scale}, seed {args.seed})",
                f"{city['rows'] / city['seconds']:,.0f} rows/s",
                f"{city['rows']:,} rows ({city['grids']:,} grids, {city['rooms']:,} rooms) in {city['seconds']:,.1f} s"
                + (" (timed when the reused city was built)" if city.get("reused") else ""),
            )
        )
    else:
        rows.append((f"demo generation ({args.scale})", "not measured", "city reused from --data-dir"))

    locator.reset_index()
    build = best_of(args.repeat, locator.GeoIndex.build)
    index = locator.get_index()
    cells = sum(layer.nx * layer.ny for layer in index.layers.values())
    rows.append(
        (
            "index build",
            f"{build:.2f} s",
            f"{grids:,} grids, {len(index.division_places):,} divisions, {cells:,} raster cells",
        )
    )

    xs, ys = points_in_city(max(args.points, args.single, args.brute), seed=args.seed)

    # Single calls exactly as an API request makes them (index version check throttled by settings).
    sx, sy = xs[: args.single].tolist(), ys[: args.single].tolist()

    def single_calls():
        for x, y in zip(sx, sy, strict=True):
            try:
                locator.locate(x, y)
            except locator.ServiceError:
                pass

    single = best_of(args.repeat, single_calls)
    rows.append(
        (
            "locate(lon, lat), single calls",
            f"{args.single / single:,.0f} points/s",
            f"{args.single:,} calls, {single * 1e6 / args.single:.1f} µs each",
        )
    )

    bx, by = xs[: args.points], ys[: args.points]
    batch = best_of(args.repeat, lambda: locator.locate_many(bx, by))
    rows.append(
        (
            "locate_many, batch of Locations",
            f"{args.points / batch:,.0f} points/s",
            f"{args.points:,} points in {batch:.3f} s",
        )
    )
    arrays = best_of(args.repeat, lambda: index.resolve(bx, by))
    rows.append(
        (
            "GeoIndex.resolve, batch as arrays",
            f"{args.points / arrays:,.0f} points/s",
            f"{args.points:,} points in {arrays:.3f} s (what `zhiwang locate` uses)",
        )
    )
    located = index.resolve(bx, by)
    share = float(np.mean(located.grid >= 0))

    qx, qy = xs[: args.brute].tolist(), ys[: args.brute].tolist()
    started = time.perf_counter()
    brute_ids = [index.brute_force_grid(x, y) for x, y in zip(qx, qy, strict=True)]
    brute = time.perf_counter() - started
    brute_rate = args.brute / brute
    fast = index.resolve(xs[: args.brute], ys[: args.brute]).grid.tolist()
    fast_ids = [index.grid_places[g].id if g >= 0 else None for g in fast]
    agree = sum(a == b for a, b in zip(brute_ids, fast_ids, strict=True))
    rows.append(
        (
            "brute-force polygon scan (baseline)",
            f"{brute_rate:,.0f} points/s",
            f"{args.brute:,} points, every grid polygon tested in turn",
        )
    )
    rows.append(
        (
            "speed-up over brute force",
            f"×{(args.single / single) / brute_rate:,.0f} single, ×{(args.points / batch) / brute_rate:,.0f} batch",
            f"answers agree on {agree}/{args.brute} points; {share:.1%} of random city points fall in a grid",
        )
    )
    return rows


def render(rows, info: dict, args: argparse.Namespace) -> tuple[str, str]:
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    table = "\n".join(f"{a:<{width[0]}}  {b:>{width[1]}}  {c}" for a, b, c in rows)
    md = [
        f"### locate() benchmark — scale {args.scale}, {dt.date.today().isoformat()}",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; {info['os']}; Python {info['python']}, "
        f"shapely {info['shapely']}, numpy {info['numpy']}. Best of {args.repeat} runs; SQLite.",
        "",
        "| measurement | result | detail |",
        "|---|---:|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "Reproduce: `.venv/bin/python benchmarks/locate_bench.py --scale " + args.scale + "`",
        "",
    ]
    return table, "\n".join(md)


def main(argv=None) -> int:
    args = parse_args(argv)
    temporary = args.data_dir is None
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="zhiwang-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        setup_django(data_dir)
        rows = run(args)
        info = machine()
        table, md = render(rows, info, args)
        print(table)
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(md, encoding="utf-8")
        print(f"\nwritten: {output}")
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
