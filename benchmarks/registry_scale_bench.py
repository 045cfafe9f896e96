"""Benchmark: the registry at Shenzhen scale on PostgreSQL — load time, database size, page and search p95.

A generator (not the import pipeline: this measures the database, the indexes and the
selectors) writes synthetic buildings, units and rooms (standard addresses), housing
(one per room), people (valid GB 11643 ID numbers, keyed hashes as the app computes
them, one current residence each), legal entities (valid GB 32100 credit codes, one
operation each) straight into a fresh PostgreSQL database with ``COPY``. Secondary
indexes are dropped before the load and rebuilt after it (counted in the load time), as
a bulk load would. The demo city's real Shenzhen divisions and (tiny-scale) grids carry
the generated buildings.

Then, with a city-wide user (``demo_admin``), a district user (``demo_ns_dispatcher``) and
a grid worker (``demo_grid_worker``):

- the building page selector (``registry.selectors.building_view``, evaluated in full) on
  random buildings, and
- the people name search (``person_search``: a surname + given-name prefix, and a surname
  alone) and the entity name search (``entity_search``, "contains"), 50 rows each,

are timed; p50 / p95 are printed with the database size. Shenzhen: 18,000,000 people,
11,000,000 rooms, 2,400,000 entities (``--scale shenzhen``); ``--people N`` keeps those ratios.

    .venv/bin/python benchmarks/registry_scale_bench.py --people 1000000
    .venv/bin/python benchmarks/registry_scale_bench.py --scale shenzhen        # hours, ~40 GB
    .venv/bin/python benchmarks/registry_scale_bench.py --people 1000000 --keep  # keep the database
    .venv/bin/python benchmarks/registry_scale_bench.py --measure-only           # time the kept one again

The database is ``zw_registry_scale`` (``ZHIWANG_BENCH_SCALE_DB`` names another), dropped
afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SHENZHEN = {"people": 18_000_000, "rooms": 11_000_000, "entities": 2_400_000}
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
DB_NAME = os.environ.get("ZHIWANG_BENCH_SCALE_DB", "zw_registry_scale")
UNITS, FLOORS, PER_FLOOR = 2, 15, 2  # 60 rooms per building
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力国梅琳鹏斌宇浩凯晨欣怡"
AREAS = ("440305", "440303", "440304", "440306", "440307", "440308", "440309", "440310", "440311")
ENTITY_WORDS = "华 鹏 科 创 达 信 通 宏 盛 安 新 兴 恒 远 海 天 联 智 汇 德".split()
INDUSTRIES = ("软件和信息技术服务业", "批发业", "零售业", "餐饮业", "租赁和商务服务业", "制造业")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def setup(pg: str, *, fresh: bool = True) -> None:
    """Point Django at the benchmark database; ``fresh`` drops and creates it first."""
    import psycopg

    if fresh:
        admin = pg.rstrip("/").replace("postgres://", "postgresql://", 1) + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["ZHIWANG_DATABASE_URL"] = f"{pg.rstrip('/')}/{DB_NAME}"
    os.environ.setdefault("ZHIWANG_DATA_DIR", tempfile.mkdtemp(prefix="zw-registry-scale-"))
    os.environ["ZHIWANG_TASKS"] = "immediate"
    os.environ["ZHIWANG_LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "zhiwang.settings"
    import django

    django.setup()


TABLES = (
    "geo_standardaddress",
    "registry_housing",
    "registry_person",
    "registry_residence",
    "registry_legalentity",
    "registry_operation",
)


def drop_secondary_indexes(cursor) -> list[str]:
    """Drop the indexes that back no constraint (rebuilt after the load); answer their definitions."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [list(TABLES)],
    )
    rows = cursor.fetchall()
    for name, _definition in rows:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in rows]


class Ids:
    """Explicit primary keys (children need their parents' ids while streaming)."""

    def __init__(self, cursor, table: str):
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        self.next = cursor.fetchone()[0] + 1
        self.table = table

    def take(self) -> int:
        value = self.next
        self.next += 1
        return value

    def finish(self, cursor) -> None:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{self.table}', 'id'), %s)", [max(1, self.next - 1)]
        )


def load(counts: dict, seed: int) -> dict:
    from django.db import connection

    from zhiwang.accounts.models import OrgUnit
    from zhiwang.core.validators import credit_code_check_char, id_number_check_char
    from zhiwang.geo.models import Grid
    from zhiwang.registry.hashing import hasher

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).isoformat()
    source = OrgUnit.objects.get(code="DEMO-CITY-DATA").pk
    grids: dict[int, list[int]] = {}
    for grid_id, community_id in Grid.objects.values_list("pk", "community_id"):
        grids.setdefault(community_id, []).append(grid_id)
    communities = sorted(grids)
    id_hash, phone_hash = hasher("id"), hasher("phone")
    timings = {}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        started = time.perf_counter()
        indexes = drop_secondary_indexes(cursor)

        # --- addresses and housing ------------------------------------------------
        address_ids, housing_ids = Ids(cursor, "geo_standardaddress"), Ids(cursor, "registry_housing")
        rooms = Rooms()  # (room id, community, grid) in compact arrays: people and entities land here
        buildings = max(1, counts["rooms"] // (UNITS * FLOORS * PER_FLOOR))
        address_cols = (
            "id, code, level, parent_id, community_id, grid_id, house_code, road, road_number, estate, "
            "name, floor, full_name, lon, lat"
        )
        housing_cols = (
            "id, address_id, community_id, grid_id, use, owner_name, owner_phone, is_rental, occupancy, "
            "area_m2, source_id, import_batch_id, import_row, last_confirmed_at, created_at, updated_at, version"
        )
        t0 = time.perf_counter()
        with raw.copy(f"COPY geo_standardaddress ({address_cols}) FROM STDIN") as addresses:
            for b in range(buildings):
                community = communities[b % len(communities)]
                grid = rng.choice(grids[community])
                bid = address_ids.take()
                bcode = f"S{community}-{b:07d}"
                road, number = (
                    f"{rng.choice(ENTITY_WORDS)}{rng.choice(ENTITY_WORDS)}路",
                    str(rng.randint(1, 400)),
                )
                prefix = f"深圳市{road}{number}号"
                addresses.write_row(
                    (bid, bcode, "building", None, community, grid, "", road, number, "", f"{b}栋",
                     None, f"{prefix}{b}栋", None, None)
                )  # fmt: skip
                for u in range(1, UNITS + 1):
                    uid = address_ids.take()
                    ucode = f"{bcode}-{u:02d}"
                    addresses.write_row(
                        (uid, ucode, "unit", bid, community, grid, "", road, number, "", f"{u}单元",
                         None, f"{prefix}{b}栋{u}单元", None, None)
                    )  # fmt: skip
                    for floor in range(1, FLOORS + 1):
                        for r in range(1, PER_FLOOR + 1):
                            rid = address_ids.take()
                            name = f"{floor}{r:02d}"
                            addresses.write_row(
                                (rid, f"{ucode}-{name}", "room", uid, community, grid, "", road, number, "",
                                 name, floor, f"{prefix}{b}栋{u}单元{name}", None, None)
                            )  # fmt: skip
                            rooms.add(rid, community, grid)
        address_ids.finish(cursor)
        timings["addresses_s"] = round(time.perf_counter() - t0, 1)
        log(f"{len(rooms):,} rooms in {buildings:,} buildings: {timings['addresses_s']} s")

        t0 = time.perf_counter()
        with raw.copy(f"COPY registry_housing ({housing_cols}) FROM STDIN") as housing:
            for rid, community, grid in rooms.all():
                rented = rng.random() < 0.35
                housing.write_row(
                    (housing_ids.take(), rid, community, grid, "residential",
                     rng.choice(SURNAMES) + rng.choice(GIVEN), f"139{rng.randrange(10**8):08d}",
                     rented, "rented" if rented else "owner_occupied", f"{rng.randint(30, 160)}.00",
                     source, None, None, now, now, now, 1)
                )  # fmt: skip
        housing_ids.finish(cursor)
        timings["housing_s"] = round(time.perf_counter() - t0, 1)
        log(f"housing: {timings['housing_s']} s")

        # --- people and their residences ------------------------------------------
        person_ids, residence_ids = Ids(cursor, "registry_person"), Ids(cursor, "registry_residence")
        person_cols = (
            "id, source_id, import_batch_id, import_row, last_confirmed_at, created_at, updated_at, version, "
            "community_id, grid_id, id_number, id_number_hash, name, gender, birth_date, household_type, "
            "phone, phone_hash, ethnicity, household_address"
        )
        residence_cols = (
            "id, person_id, address_id, kind, since, until, community_id, grid_id, source_id, "
            "import_batch_id, import_row, last_confirmed_at, created_at, updated_at, version"
        )
        start_day = dt.date(1940, 1, 1)
        t0 = time.perf_counter()
        first_pid = person_ids.next
        with raw.copy(f"COPY registry_person ({person_cols}) FROM STDIN") as people:
            for i in range(counts["people"]):
                born = start_day + dt.timedelta(days=i % 30_000)
                first17 = f"{AREAS[(i // 30_000_000) % len(AREAS)]}{born:%Y%m%d}{(i // 30_000) % 1000:03d}"
                number = first17 + id_number_check_char(first17)
                phone = f"13{i % 10**9:09d}"
                rid, community, grid = rooms.get(_room_of(i, len(rooms)))
                pid = person_ids.take()
                people.write_row(
                    (pid, source, None, None, now, now, now, 1, community, grid, number, id_hash(number),
                     rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                     "male" if int(number[16]) % 2 else "female", born.isoformat(),
                     "migrant" if rng.random() < 0.6 else "registered", phone, phone_hash(phone), "汉", "")
                )  # fmt: skip
        # One COPY at a time per connection: the residences follow, the room recomputed per person.
        with raw.copy(f"COPY registry_residence ({residence_cols}) FROM STDIN") as copy:
            for i in range(counts["people"]):
                rid, community, grid = rooms.get(_room_of(i, len(rooms)))
                copy.write_row(
                    (residence_ids.take(), first_pid + i, rid, "living", "2020-01-01", None, community, grid,
                     source, None, None, now, now, now, 1)
                )  # fmt: skip
        person_ids.finish(cursor)
        residence_ids.finish(cursor)
        timings["people_s"] = round(time.perf_counter() - t0, 1)
        log(f"{counts['people']:,} people and residences: {timings['people_s']} s")

        # --- legal entities and where they operate ---------------------------------
        entity_ids, operation_ids = Ids(cursor, "registry_legalentity"), Ids(cursor, "registry_operation")
        entity_cols = (
            "id, source_id, import_batch_id, import_row, last_confirmed_at, created_at, updated_at, version, "
            "community_id, grid_id, credit_code, name, entity_type, legal_representative, industry, phone"
        )
        operation_cols = (
            "id, entity_id, address_id, since, until, community_id, grid_id, source_id, import_batch_id, "
            "import_row, last_confirmed_at, created_at, updated_at, version"
        )
        t0 = time.perf_counter()
        first_eid = entity_ids.next
        with raw.copy(f"COPY registry_legalentity ({entity_cols}) FROM STDIN") as entities:
            for i in range(counts["entities"]):
                first17 = f"9144{AREAS[i % len(AREAS)][2:]}{i:09d}"[:17]
                code = first17 + credit_code_check_char(first17)
                rid, community, grid = rooms.get(_room_of(i + 7, len(rooms)))
                eid = entity_ids.take()
                name = "深圳市" + "".join(rng.choice(ENTITY_WORDS) for _ in range(3)) + f"{i}有限公司"
                entities.write_row(
                    (eid, source, None, None, now, now, now, 1, community, grid, code, name[:128],
                     "enterprise", rng.choice(SURNAMES) + rng.choice(GIVEN), rng.choice(INDUSTRIES), "")
                )  # fmt: skip
        with raw.copy(f"COPY registry_operation ({operation_cols}) FROM STDIN") as copy:
            for i in range(counts["entities"]):
                eid = first_eid + i
                rid, community, grid = rooms.get(_room_of(i + 7, len(rooms)))
                copy.write_row(
                    (operation_ids.take(), eid, rid, "2020-01-01", None, community, grid, source, None, None,
                     now, now, now, 1)
                )  # fmt: skip
        entity_ids.finish(cursor)
        operation_ids.finish(cursor)
        timings["entities_s"] = round(time.perf_counter() - t0, 1)
        log(f"{counts['entities']:,} entities and operations: {timings['entities_s']} s")

        t0 = time.perf_counter()
        for definition in indexes:
            cursor.execute(definition)
        timings["indexes_s"] = round(time.perf_counter() - t0, 1)
        log(f"{len(indexes)} secondary indexes rebuilt: {timings['indexes_s']} s")
        t0 = time.perf_counter()
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")
        timings["analyze_s"] = round(time.perf_counter() - t0, 1)
        timings["total_load_s"] = round(time.perf_counter() - started, 1)
    return timings


class Rooms:
    """Rooms as three compact integer arrays (11 M tuples would take gigabytes)."""

    def __init__(self):
        self.ids, self.communities, self.grids = array("q"), array("q"), array("q")

    def add(self, rid: int, community: int, grid: int) -> None:
        self.ids.append(rid)
        self.communities.append(community)
        self.grids.append(grid)

    def get(self, index: int) -> tuple[int, int, int]:
        return self.ids[index], self.communities[index], self.grids[index]

    def all(self):
        return zip(self.ids, self.communities, self.grids, strict=True)

    def __len__(self) -> int:
        return len(self.ids)


def _room_of(i: int, rooms: int) -> int:
    """A person's room: a fixed scatter of the person's number (no list of residences kept)."""
    return (i * 2_654_435_761 + 12_345) % rooms


def sizes() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        total = cursor.fetchone()[0]
        cursor.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname = ANY(%s)",
            [list(TABLES)],
        )
        tables = {name: round(size / 2**20) for name, size in cursor.fetchall()}
    return {"database_mb": round(total / 2**20), "tables_mb": tables}


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def timed(fn, n: int) -> dict:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return {
        "p50_ms": p(samples, 0.5),
        "p95_ms": p(samples, 0.95),
        "mean_ms": round(statistics.mean(samples), 1),
    }


def queries(samples: int, seed: int) -> dict:
    from django.contrib.auth import get_user_model

    from zhiwang.geo.models import StandardAddress
    from zhiwang.registry.selectors import building_view, counts, entity_search, person_search

    rng = random.Random(seed + 1)
    users = {u.username: u for u in get_user_model().objects.filter(username__in=[
        "demo_admin", "demo_ns_dispatcher", "demo_grid_worker"])}  # fmt: skip
    results = {}
    for name, user in sorted(users.items()):
        visible = StandardAddress.objects.visible_to(user).filter(level="building", code__startswith="S")
        total = visible.count()
        if not total:
            continue
        # All visible buildings (~180k at Shenzhen scale), not the first few: cold pages count too.
        ids = list(visible.values_list("pk", flat=True))
        picks = [rng.choice(ids) for _ in range(samples)]
        buildings = iter(StandardAddress.objects.in_bulk(picks)[pk] for pk in picks)

        def page(user=user, buildings=buildings):
            view = building_view(user=user, building=next(buildings))
            assert view.units

        def people_prefix(user=user):
            return list(person_search(user=user, q=rng.choice(SURNAMES) + rng.choice(GIVEN)))

        def people_surname(user=user):
            return list(person_search(user=user, q=rng.choice(SURNAMES)))

        def entities(user=user):
            return list(entity_search(user=user, q="".join(rng.choice(ENTITY_WORDS) for _ in range(2))))

        def entities_rare(user=user):
            # Three words in a row: rare (about 1 name in 8,000), served by the trigram index.
            return list(entity_search(user=user, q="".join(rng.choice(ENTITY_WORDS) for _ in range(3))))

        results[name] = {
            "building_page": timed(page, samples),
            "person_name_prefix_2_chars": timed(people_prefix, samples),
            "person_surname_1_char": timed(people_surname, samples),
            "entity_name_contains_2_chars": timed(entities, samples),
            "entity_name_contains_3_chars": timed(entities_rare, samples),
            "home_page_totals": timed(lambda user=user: counts(user=user), samples),
        }
        log(f"{name}: {json.dumps(results[name])}")
    return results


def refresh_totals() -> float:
    """The home page's stored totals, as the periodic task computes them; answers the seconds taken."""
    from zhiwang.registry.services.totals import totals_refresh

    t0 = time.perf_counter()
    rows = totals_refresh()
    seconds = round(time.perf_counter() - t0, 1)
    log(f"registry totals refreshed ({rows:,} community/grid rows): {seconds} s")
    return seconds


def explain() -> dict:
    """The plans of the two searches (to check the indexes are used)."""
    from django.contrib.auth import get_user_model

    from zhiwang.registry.selectors import entity_search, person_search

    admin = get_user_model().objects.get(username="demo_admin")
    return {
        "person_search": person_search(user=admin, q="王伟").explain(),
        "entity_search": entity_search(user=admin, q="华鹏").explain(),
        "entity_search_3_chars": entity_search(user=admin, q="华鹏科").explain(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--people", type=int, default=1_000_000, help="people; rooms and entities keep the ratios"
    )
    parser.add_argument("--scale", choices=["shenzhen"], help="18 M people, 11 M rooms, 2.4 M entities")
    parser.add_argument("--samples", type=int, default=200, help="timed calls per query and user")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg", default=os.environ.get("ZHIWANG_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--measure-only",
        action="store_true",
        help="time the queries on a database kept by an earlier --keep run (no load; kept again)",
    )
    args = parser.parse_args()
    people = SHENZHEN["people"] if args.scale else args.people
    counts = {
        "people": people,
        "rooms": round(people * SHENZHEN["rooms"] / SHENZHEN["people"]),
        "entities": round(people * SHENZHEN["entities"] / SHENZHEN["people"]),
    }
    from registry_import_bench import machine_info

    print(json.dumps(machine_info(), ensure_ascii=False), flush=True)
    if args.measure_only:
        setup(args.pg, fresh=False)
        result = {"size": sizes()}
        log(f"measuring the kept {DB_NAME}, size: {json.dumps(result['size'])}")
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)  # indexes added since the load
        result["totals_refresh_s"] = refresh_totals()
        result["queries"] = queries(args.samples, args.seed)
        result["plans"] = explain()
        for name, plan in result["plans"].items():
            print(f"--- {name}\n{plan}")
        print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
        return
    setup(args.pg)
    from django.core.management import call_command

    from zhiwang.accounts.demo import demo_accounts_create
    from zhiwang.geo.demo import demo_geography_build

    log(f"migrating {DB_NAME}, building the demo city (tiny) …")
    call_command("migrate", verbosity=0, interactive=False)
    demo_geography_build(scale="tiny", seed=args.seed)
    demo_accounts_create()
    log(f"loading {json.dumps(counts)}")
    result = {"counts": counts, "load": load(counts, args.seed)}
    result["size"] = sizes()
    log(f"size: {json.dumps(result['size'])}")
    result["totals_refresh_s"] = refresh_totals()
    result["queries"] = queries(args.samples, args.seed)
    result["plans"] = explain()
    for name, plan in result["plans"].items():
        print(f"--- {name}\n{plan}")
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
    if not args.keep:
        from django.db import connection

        connection.close()
        import psycopg

        admin = args.pg.rstrip("/").replace("postgres://", "postgresql://", 1) + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
