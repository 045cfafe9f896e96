"""Benchmark: Zhiwang's address matcher beside the ``cpca`` package, on the same data.

Reads ../shared/data/addresses/ (never shipped; the script stops with a message when
absent) and measures, in one run:

1. Component accuracy on ``parsing_dev.csv`` (2,985 labelled addresses, mostly
   Zhejiang). For every labelled component of an address (the first segment of each
   label; ``town`` is our subdistrict, ``roadno`` road_number, ``poi`` estate,
   ``houseno`` building, ``cellno`` unit, ``floorno`` floor, ``roomno`` room):
   - *recall* = labelled components predicted with exactly the labelled text
     (after NFKC, spaces removed) ÷ labelled components;
   - *precision* = correct predictions ÷ predictions of that component.
   For province / city / district both tools are also scored *by name*: the two
   names agree when they are equal after dropping the suffix (省 市 区 县 自治区 …),
   because cpca answers the standard name (金华市) where the label is the text
   (金华). cpca infers upper levels the text does not write (a city from its
   district); such answers are not counted against it (recall only, when a
   label exists).
2. District and subdistrict accuracy on ``company_addresses_shenzhen.csv`` (1,101
   messy company addresses). Gold, derived from the text by a rule independent of
   both matchers: the district is gold when exactly one of the nine districts is
   written in full (南山区) or by its former full name (龙华新区 → 龙华区, 光明新区,
   坪山新区); the subdistrict is gold when exactly one Shenzhen subdistrict is
   written in full (粤海街道) or as its former town (横岗镇 → 横岗街道), and it lies
   in the gold district when there is one. Rows without gold are left out (counts
   printed). A harder variant removes the written district (and 深圳市) from the
   text and asks again for the district: what is left (subdistrict, community,
   common names) must carry it.
3. Addresses per second for both, single-threaded: our ``parse_address`` (no
   database) and ``match_many`` (with the divisions in a throwaway SQLite
   database), cpca's ``transform`` on the whole list.

    .venv/bin/python benchmarks/address_bench.py
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ZHIWANG_SHARED_DATA", ROOT.parent / "shared" / "data")) / "addresses"

LABELS = {
    "prov": "province",
    "city": "city",
    "district": "district",
    "town": "subdistrict",
    "community": "community",
    "road": "road",
    "roadno": "road_number",
    "poi": "estate",
    "houseno": "building",
    "cellno": "unit",
    "floorno": "floor",
    "roomno": "room",
}
FORMER_DISTRICTS = {"龙华新区": "龙华区", "光明新区": "光明区", "坪山新区": "坪山区"}
_SUFFIX = re.compile(r"(特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|自治县|省|市|区|县)$")


def canonical(name: str) -> str:
    name = unicodedata.normalize("NFKC", name or "").strip()
    return _SUFFIX.sub("", name) if len(name) > 2 else name


def setup_django(data_dir: Path) -> None:
    os.environ["ZHIWANG_DATA_DIR"] = str(data_dir)
    os.environ.pop("ZHIWANG_DATABASE_URL", None)  # always a throwaway SQLite
    os.environ["ZHIWANG_TASKS"] = "immediate"
    os.environ["DJANGO_SETTINGS_MODULE"] = "zhiwang.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from zhiwang.geo.services import divisions_load_csv

    call_command("migrate", verbosity=0, interactive=False)
    divisions_load_csv()


def load_dev(path: Path) -> list[tuple[str, dict[str, str]]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            gold: dict[str, str] = {}
            for label, text in json.loads(row["segments_json"]):
                name = LABELS.get(label)
                if name and name not in gold:
                    gold[name] = "".join(unicodedata.normalize("NFKC", text).split())
            rows.append((row["address"], gold))
    return rows


def cpca_frame(texts: list[str]):
    import cpca

    started = time.perf_counter()
    frame = cpca.transform(texts)
    return frame, time.perf_counter() - started


def eval_parsing(rows) -> dict:
    from zhiwang.geo.addressing import parse_address

    texts = [text for text, _gold in rows]
    parse_address(texts[0])  # load the national name list outside the timing
    started = time.perf_counter()
    parsed = [parse_address(text).components for text in texts]
    ours_seconds = time.perf_counter() - started
    frame, cpca_seconds = cpca_frame(texts)
    cp = list(zip(frame["省"].tolist(), frame["市"].tolist(), frame["区"].tolist(), strict=True))
    total, exact, predicted = Counter(), Counter(), Counter()
    by_name_ours, by_name_cpca = Counter(), Counter()
    for (_text, gold), ours, (p, c, d) in zip(rows, parsed, cp, strict=True):
        theirs = {"province": p, "city": c, "district": d}
        for name in ours:
            predicted[name] += 1
        for name, value in gold.items():
            total[name] += 1
            if ours.get(name) == value:
                exact[name] += 1
            if name in theirs:
                if canonical(ours.get(name, "")) == canonical(value):
                    by_name_ours[name] += 1
                their = theirs[name] if isinstance(theirs[name], str) else ""
                if canonical(their) == canonical(value):
                    by_name_cpca[name] += 1
    return {
        "n": len(rows),
        "total": total,
        "exact": exact,
        "predicted": predicted,
        "by_name_ours": by_name_ours,
        "by_name_cpca": by_name_cpca,
        "ours_rate": len(rows) / ours_seconds,
        "cpca_rate": len(rows) / cpca_seconds,
    }


def company_gold(texts: list[str]) -> list[tuple[str | None, str | None, str]]:
    """(gold district name, gold subdistrict code, text without the district) per row."""
    from zhiwang.geo.models import Division

    districts = {d.name: d for d in Division.objects.filter(level="district")}
    subs = list(Division.objects.filter(level="subdistrict").select_related("parent"))
    sub_names = {}
    for s in subs:
        sub_names[s.name] = s
        if s.name.endswith("街道"):
            sub_names[s.name[:-2] + "镇"] = s
    district_re = re.compile("|".join(sorted([*districts, *FORMER_DISTRICTS], key=len, reverse=True)))
    sub_re = re.compile("|".join(sorted(sub_names, key=len, reverse=True)))
    out = []
    for text in texts:
        t = "".join(unicodedata.normalize("NFKC", text).split())
        found = {FORMER_DISTRICTS.get(m, m) for m in district_re.findall(t)}
        district = found.pop() if len(found) == 1 else None
        subs_found = {sub_names[m].code for m in sub_re.findall(t)}
        sub = subs_found.pop() if len(subs_found) == 1 else None
        if sub and district and not sub.startswith(districts[district].code[:6]):
            sub = None
        stripped = district_re.sub("", t).replace("深圳市", "").replace("深圳", "") if district else ""
        out.append((district, sub, stripped))
    return out


def eval_company(path: Path) -> dict:
    from zhiwang.geo.addressing import match_many, reset_address_index

    with path.open(encoding="utf-8") as fh:
        texts = [row["raw_address"] for row in csv.DictReader(fh)]
    gold = company_gold(texts)
    reset_address_index()
    match_many(texts[:1])  # build the index outside the timing
    started = time.perf_counter()
    ours = match_many(texts)
    ours_seconds = time.perf_counter() - started
    frame, cpca_seconds = cpca_frame(texts)
    their_districts = [d if isinstance(d, str) else "" for d in frame["区"].tolist()]
    stripped_idx = [i for i, (d, _s, _t) in enumerate(gold) if d]
    ours_stripped = match_many([gold[i][2] for i in stripped_idx])
    their_stripped_frame, _secs = cpca_frame([gold[i][2] for i in stripped_idx])
    their_stripped = [d if isinstance(d, str) else "" for d in their_stripped_frame["区"].tolist()]
    res = Counter()
    for i, (district, sub, _t) in enumerate(gold):
        if district:
            res["district_n"] += 1
            res["district_ours"] += bool(ours[i].district and ours[i].district.name == district)
            res["district_cpca"] += their_districts[i] == district
        if sub:
            res["sub_n"] += 1
            res["sub_ours"] += bool(ours[i].subdistrict and ours[i].subdistrict.code == sub)
    for k, i in enumerate(stripped_idx):
        district = gold[i][0]
        res["stripped_ours"] += bool(ours_stripped[k].district and ours_stripped[k].district.name == district)
        res["stripped_cpca"] += their_stripped[k] == district
    res["rows"] = len(texts)
    res["levels"] = Counter(m.level for m in ours)
    res["ours_rate"] = len(texts) / ours_seconds
    res["cpca_rate"] = len(texts) / cpca_seconds
    return res


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DATA), help="folder with the address files")
    args = parser.parse_args(argv)
    data = Path(args.data)
    if not (data / "parsing_dev.csv").is_file():
        print(
            f"address data not found in {data} (set ZHIWANG_SHARED_DATA); nothing to measure", file=sys.stderr
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="zw_address_bench_") as tmp:
        setup_django(Path(tmp))
        import cpca

        print(f"# address matching — {dt.date.today()} — {platform.processor() or platform.machine()}, "
              f"Python {platform.python_version()}, cpca {getattr(cpca, '__version__', '?')}")  # fmt: skip
        p = eval_parsing(load_dev(data / "parsing_dev.csv"))
        print(f"\n## Components on parsing_dev.csv ({p['n']} addresses)\n")
        print(
            "| component | labelled | ours recall (exact text) | ours precision | ours by name | cpca by name |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for name in LABELS.values():
            n = p["total"][name] or 1
            row = f"| {name} | {p['total'][name]} | {p['exact'][name] / n:.1%} | "
            row += f"{p['exact'][name] / (p['predicted'][name] or 1):.1%} | "
            if name in ("province", "city", "district"):
                row += f"{p['by_name_ours'][name] / n:.1%} | {p['by_name_cpca'][name] / n:.1%} |"
            else:
                row += "— | — |"
            print(row)
        all_exact = sum(p["exact"].values()) / sum(p["total"].values())
        print(f"\nAll labelled components, ours (exact text): {all_exact:.1%}")
        print(f"Speed (parse only, one process): ours {p['ours_rate']:,.0f} addresses/s, "
              f"cpca {p['cpca_rate']:,.0f} addresses/s")  # fmt: skip
        c = eval_company(data / "company_addresses_shenzhen.csv")
        print(f"\n## Shenzhen company addresses ({c['rows']} rows)\n")
        print("| measure | rows with gold | ours | cpca |")
        print("|---|---:|---:|---:|")
        dn, sn = c["district_n"] or 1, c["sub_n"] or 1
        print(
            f"| district | {c['district_n']} | {c['district_ours'] / dn:.1%} | {c['district_cpca'] / dn:.1%} |"
        )
        print(f"| district, written district removed | {c['district_n']} | {c['stripped_ours'] / dn:.1%} | "
              f"{c['stripped_cpca'] / dn:.1%} |")  # fmt: skip
        print(f"| subdistrict | {c['sub_n']} | {c['sub_ours'] / sn:.1%} | n/a (cpca stops at the county) |")
        print(f"\nLevels reached by ours: {dict(c['levels'])}")
        print(f"Speed (match with the division index, one process): ours {c['ours_rate']:,.0f} addresses/s, "
              f"cpca {c['cpca_rate']:,.0f} addresses/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
