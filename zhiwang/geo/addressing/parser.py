"""Free-text Chinese address → components, by rules and name lists (no database).

The parser walks the cleaned text left to right. At each position it tries, from
the coarsest level that may still come, a name list (provinces, cities and
counties of the whole country from the ``cpca`` package's table; the city's own
divisions and aliases when the resolver passes them) and then a pattern per level
(``…镇``, ``…村``, ``…路``, ``12号``, ``3栋``, ``2单元``, ``12楼``, ``1201室``,
``12-01`` …). Text no pattern claims becomes the estate / POI. A level is filled
once; a repeated province or city (``浙江省宁波市…浙江省宁波市…``) is skipped.

``ParsedAddress.components`` keeps the text as written (after clean-up);
``keys`` holds the canonical forms the resolver compares: building, unit and room
numbers with Chinese numerals converted (三栋 → 3, 12楼01 → floor 12, room 1201).
"""

from __future__ import annotations

import csv
import importlib.util
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from zhiwang.geo.addressing.text import CN_NUM, MAX_NUMBER_DIGITS, clean, cn_to_int, number_key

#: Components in the order they appear in an address, coarsest first.
COMPONENTS = (
    "province",
    "city",
    "district",
    "subdistrict",  # 街道 / 镇 / 乡 (town level)
    "community",  # 社区 / 村 / 居委会
    "road",
    "road_number",
    "estate",  # estate, compound, building complex or POI
    "building",
    "unit",
    "floor",
    "room",
)
RANK = {name: i for i, name in enumerate(COMPONENTS)}
ADMIN = ("province", "city", "district", "subdistrict", "community")

# Characters that end a name of one level, so a name of the level below cannot swallow them.
_STOP = r"\d路街道巷弄村号区市县镇乡栋幢座楼层室单元"
_NUM = rf"(?:\d+|[{CN_NUM}]+)"
_BUILDING_ID = rf"(?:\d+[A-Za-z]?|[A-Za-z]\d*|[{CN_NUM}]+)"

PATTERNS: list[tuple[str, re.Pattern]] = [
    ("subdistrict", re.compile(rf"[^{_STOP}]{{1,6}}?(?:街道办事处|街道办|街道|镇|乡)(?![路街道区])")),
    (
        "community",
        re.compile(rf"[^{_STOP}]{{1,8}}?(?:社区居民委员会|社区居委会|社区|居委会|村委会|村)(?![路街道口])"),
    ),
    (
        "devzone",
        re.compile(rf"[^{_STOP}]{{0,8}}?(?:经济技术开发区|开发区|工业园区|高新区|保税区|科技园|工业区|新区)"),
    ),
    (
        "road",
        re.compile(rf"[^{_STOP}]{{1,10}}?[东南西北中]?(?:大道|大街|路|街|巷)(?:[东南西北中]段|{_NUM}段)?"),
    ),
    ("district", re.compile(rf"[^{_STOP}]{{1,4}}?(?:区|县)(?![路街道])")),
    ("city", re.compile(rf"[^{_STOP}]{{2,4}}?市(?![场路街道])")),
]
# Numbers: (pattern, handler name); tried in this order after the names.
_ROAD_NO = re.compile(r"\d+(?:-\d+)?(?:号|弄)|\d+(?=$|[^\d\-号弄栋幢座楼层室单元A-Za-z#])")
_BUILDING = re.compile(rf"(?:第)?{_BUILDING_ID}(?:号楼|栋|幢|座|#楼|#|号?楼(?=\d+单元))")
_UNIT = re.compile(rf"(?:第)?{_NUM}(?:单元|门(?!口))")
_FLOOR = re.compile(rf"(?:第)?(?:{_NUM}|(?:负|地下){_NUM}|[Bb]\d+)(?:楼|层|[Ff](?![A-Za-z]))|首层|地下室")
_ROOM = re.compile(r"\d+[A-Za-z]?(?:室|房|号房|铺|号)|[A-Za-z]?\d+[A-Za-z]?(?:-\d+)?(?![\d])")
_TRIPLE = re.compile(r"(\d+)-(\d+)-(\d+(?:室|房)?)")
_GROUP = re.compile(rf"{_NUM}(?:组|队)")
_HOUSE_NO = re.compile(r"\d+号(?!楼)")


@dataclass
class ParsedAddress:
    """What the parser found: text spans per component, canonical keys, and what was left over."""

    text: str
    components: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)  # POI words after the estate, noise

    def get(self, name: str, default: str = "") -> str:
        return self.components.get(name, default)


# ---------------------------------------------------------------------------------------------------
# Name lists


def _short(name: str) -> str:
    for suffix in (
        "特别行政区",
        "维吾尔自治区",
        "壮族自治区",
        "回族自治区",
        "自治区",
        "自治州",
        "自治县",
        "省",
        "市",
        "区",
        "县",
        "地区",
        "盟",
    ):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def lengths_by_first_char(names) -> dict[str, tuple[int, ...]]:
    """For a longest-match scan: the lengths of the names starting with each character, longest first."""
    lengths: dict[str, set[int]] = {}
    for name in names:
        lengths.setdefault(name[0], set()).add(len(name))
    return {ch: tuple(sorted(values, reverse=True)) for ch, values in lengths.items()}


class Gazetteer:
    """Names of places by level, full and short (浙江省 / 浙江), longest match first."""

    def __init__(self) -> None:
        self.names: dict[str, tuple[str, bool]] = {}  # name → (level, is_short)
        self.max_len = 0
        self.complete = False  # True: already holds the national names (see ``merged``)
        #: A district's name (full and short) → the names of the cities and provinces it lies in.
        self.within: dict[str, frozenset[str]] = {}
        self._lengths: tuple[dict[str, tuple[int, ...]], int] | None = None

    def add(self, name: str, level: str, *, short: bool = True) -> None:
        if not name or len(name) < 2:
            return
        current = self.names.get(name)
        # A full name beats a short form; a coarser level wins between two full names.
        if current is None or current[1] or RANK[level] < RANK[current[0]]:
            self.names[name] = (level, False)
        self.max_len = max(self.max_len, len(name))
        if short:
            abbreviated = _short(name)
            if abbreviated != name and abbreviated not in self.names:
                self.names[abbreviated] = (level, True)

    def merged(self, other: Gazetteer | None) -> Gazetteer:
        if other is None:
            return self
        result = Gazetteer()
        result.names = {**self.names, **other.names}
        result.max_len = max(self.max_len, other.max_len)
        result.within = {**self.within, **other.within}
        result.complete = True
        return result

    def match(self, text: str, pos: int) -> tuple[str, str, bool] | None:
        """The longest known name at ``pos``: (name, level, is_short)."""
        if self._lengths is None or self._lengths[1] != len(self.names):
            self._lengths = (lengths_by_first_char(self.names), len(self.names))
        for length in self._lengths[0].get(text[pos], ()):
            hit = self.names.get(text[pos : pos + length])
            if hit is not None:
                return text[pos : pos + length], hit[0], hit[1]
        return None


_national_lock = threading.Lock()
_national: dict = {}


def national_gazetteer() -> Gazetteer:
    """Provinces, prefecture cities and counties of China, from the ``cpca`` package's table.

    Empty (the parser then relies on its patterns) when ``cpca`` is not installed.
    """
    with _national_lock:
        if "g" in _national:
            return _national["g"]
        gazetteer = Gazetteer()
        try:
            # Only cpca's data file is read: locating the package without importing it
            # keeps pandas (which cpca imports) out of every web and worker process.
            spec = importlib.util.find_spec("cpca")
            if spec is None or not spec.submodule_search_locations:
                raise ImportError("cpca")
            path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"
            with path.open(encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        except (ImportError, OSError):  # pragma: no cover - cpca is a declared dependency
            rows = []
        order = {"province": 0, "city": 1, "district": 2}
        entries = []
        names_by_code: dict[str, str] = {}
        for row in rows:
            code, name = row["adcode"], row["name"]
            if name in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):
                continue
            level = "province" if code[2:6] == "0000" else "city" if code[4:6] == "00" else "district"
            entries.append((order[level], name, level, code))
            names_by_code[code[:6]] = name
        within: dict[str, set[str]] = {}
        for _order, name, level, code in sorted(entries):
            gazetteer.add(name, level)
            if level == "district":
                places = {names_by_code.get(code[:4] + "00"), names_by_code.get(code[:2] + "0000")} - {None}
                places |= {_short(place) for place in places}
                for form in {name, _short(name)}:
                    within.setdefault(form, set()).update(places)
        gazetteer.within = {name: frozenset(places) for name, places in within.items()}
        _national["g"] = gazetteer
        return gazetteer


# ---------------------------------------------------------------------------------------------------
# Parsing

#: A short form (南山, 宝安) followed by one of these is part of a road or estate name, not a
#: division; the same for another province's or city's short form in a Shenzhen landmark named
#: after it (上海宾馆, 江西宾馆, 湖南商会大楼, 潮州会馆). 中心区 stays a division's (福田中心区).
_CONTINUES_NAME = re.compile(
    r"[东南西北中]?(?:[一二三四五六七八九十\d]?路|大道|大街|街|巷|花园|小区|广场|大厦|公寓|新村"
    r"|宾馆|酒店|大酒店|饭店|大楼|会馆|商会|中心(?!区)|商场|商城|商厦|公园|医院)"
)


def _assign(parsed: ParsedAddress, name: str, value: str, state: dict) -> None:
    if name in parsed.components:
        if name in ADMIN:  # a repeated division: redundant
            return
        parsed.extra.append(value)
        return
    parsed.components[name] = value
    state["rank"] = max(state["rank"], RANK[name])


def _flush(parsed: ParsedAddress, state: dict) -> None:
    buffer = state["buffer"]
    if buffer:
        if len(buffer) >= 2 and "estate" not in parsed.components and state["rank"] < RANK["building"]:
            _assign(parsed, "estate", buffer, state)
        else:
            parsed.extra.append(buffer)
    state["buffer"] = ""


def parse_address(text: str, *, gazetteer: Gazetteer | None = None, cleaned: bool = False) -> ParsedAddress:
    """Split a free-text address into ``COMPONENTS``.

    ``gazetteer`` adds local names (the resolver passes the city's divisions and aliases)
    to the national list; pass ``national_gazetteer().merged(local)`` once to avoid merging per call. ``cleaned=True`` says ``text`` already went through ``clean``.
    """
    s = text if cleaned else clean(text)
    parsed = ParsedAddress(text=s)
    names = (
        gazetteer if gazetteer is not None and gazetteer.complete else national_gazetteer().merged(gazetteer)
    )
    state = {"rank": -1, "buffer": ""}
    pos, n = 0, len(s)
    while pos < n:
        rank = state["rank"]
        step = _step(s, pos, rank, names, parsed, state["buffer"])
        if step is None:
            state["buffer"] += s[pos]
            pos += 1
            continue
        name, value, end = step
        if name == "text":  # a district's short name inside a longer name (深业上城): the name's text
            state["buffer"] += value
            pos = end
            continue
        _flush(parsed, state)
        if name == "devzone":
            parsed.extra.append(value)
            state["rank"] = max(state["rank"], RANK["community"])
        elif name == "triple":
            a, b, c = value
            _assign(parsed, "building", a, state)
            _assign(parsed, "unit", b, state)
            _assign(parsed, "room", c, state)
        elif name == "building_room":
            _assign(parsed, "building", value[0], state)
            _assign(parsed, "room", value[1], state)
        elif name == "skip":
            pass
        else:
            _assign(parsed, name, value, state)
        pos = end
    _flush(parsed, state)
    parsed.keys = _keys(parsed)
    return parsed


def _embedded_district(
    s: str,
    end: int,
    name: str,
    level: str,
    short: bool,
    pending: str,
    parsed: ParsedAddress,
    names: Gazetteer,
) -> bool:
    """Whether a district's short form ``name`` (ending at ``end``) ends a longer name instead.

    深业上城 is a complex in Futian, not Hangzhou's 上城区: the short form 上城 comes after text no
    rule claimed (深业), and nothing before it names the province or city 上城区 lies in. An
    address names its district before the places in it, so a short district name that comes
    after the start of a place name is read as part of that name unless the text placed it:

    * a province or city it lies in was written before it (杭州深业上城, 浙江…上城): a district;
      another one (深圳深业上城: 上城区 is not in 深圳) places it nowhere: part of the name;
    * the address goes on with a smaller division or a road (原单号黄岩北城经济开发区: noise, then
      a district and what lies in it): a district.

    Not for the full name (上城区 is a district written out) nor a short form at the start of the
    text or after a component (上城, 南山书城, 福田区…). The city's own names count as any other
    (天安龙岗数码新城 is one name): the resolver finds its divisions anywhere in the text by its own
    scan, so a Shenzhen name still places the address.
    """
    if not (level == "district" and short and pending):
        return False
    written = {parsed.components.get("province"), parsed.components.get("city")} - {None}
    if written:
        around = names.within.get(name, frozenset())
        if not around or written & around:
            return False  # placed by what was written (or a name we cannot place: as before)
    if end >= len(s):
        return True
    hit = names.match(s, end)
    if hit is not None and RANK[hit[1]] > RANK["district"]:
        return False
    return not any(pattern.match(s, end) for lvl, pattern in PATTERNS if lvl not in ("district", "city"))


def _step(s: str, pos: int, rank: int, names: Gazetteer, parsed: ParsedAddress, pending: str = ""):
    """The component that starts at ``pos``, or None: (name, value, end). ``pending``: the text
    read since the last component, which no rule has claimed yet (it becomes the estate)."""
    ch = s[pos]
    if rank < RANK["road"]:
        hit = names.match(s, pos)
        if hit is not None:
            name, level, short = hit
            end = pos + len(name)
            if (
                short
                and s[end : end + 1] in ("市", "区", "县")
                and s[end + 1 : end + 2] not in ("场", "路", "街")
            ):
                # 富阳市 after the county became 富阳区: the written form wins.
                name, short, end = s[pos : end + 1], False, end + 1
                if level == "city" and name.endswith(("区", "县")):
                    level = "district"
            if level == "province" and name.endswith("市") and not short:
                level = "city"  # 北京市, 上海市, 天津市, 重庆市: written as cities
            follows = s[end:]
            if not (short and (_CONTINUES_NAME.match(follows) or follows[:1] in ("路", "街", "道"))):
                if RANK[level] > rank:
                    if level not in parsed.components:
                        if _embedded_district(s, end, name, level, short, pending, parsed, names):
                            return "text", name, end
                        return level, name, end
                elif not short and level in parsed.components:
                    return "skip", name, end
        for level, pattern in PATTERNS:
            if level in RANK and RANK[level] <= rank:
                continue
            if level == "devzone" and rank >= RANK["road"]:
                continue
            m = pattern.match(s, pos)
            if m:
                value = m.group()
                if level == "city" and "city" in parsed.components:
                    level = "district"
                    if "district" in parsed.components:
                        continue
                return level, value, m.end()
    elif rank < RANK["road_number"] and "estate" not in parsed.components:
        m = PATTERNS[3][1].match(s, pos)  # a second road name: crossing or sub-road
        if m and not ch.isdigit():
            return "skip", m.group(), m.end()
    if ch.isdigit() or ch in CN_NUM or ch in "第负首地" or ch.isascii() and ch.isalpha():
        if rank < RANK["road"] and "community" in parsed.components:
            m = _GROUP.match(s, pos)
            if m:
                return "road", m.group(), m.end()
        m = _TRIPLE.match(s, pos)
        if m and rank < RANK["building"] and s[m.end() : m.end() + 1] not in ("号", "弄"):
            return "triple", m.groups(), m.end()
        if rank == RANK["road"]:
            m = _ROAD_NO.match(s, pos)
            if m:
                return "road_number", m.group(), m.end()
        if rank < RANK["building"]:
            m = _BUILDING.match(s, pos)
            if m:
                return "building", m.group(), m.end()
        if rank < RANK["unit"]:
            m = _UNIT.match(s, pos)
            if m:
                return "unit", m.group(), m.end()
        if rank < RANK["floor"]:
            m = _FLOOR.match(s, pos)
            if m:
                return "floor", m.group(), m.end()
        if rank < RANK["building"] and rank != RANK["road"] and "road_number" not in parsed.components:
            m = _HOUSE_NO.match(s, pos)
            if m and "estate" not in parsed.components and "road" not in parsed.components:
                return "road_number", m.group(), m.end()
        if rank < RANK["building"] and "estate" in parsed.components:
            m = _HOUSE_NO.match(s, pos)
            if m:
                return "building", m.group(), m.end()
        if rank < RANK["room"] and (ch.isdigit() or ch.isascii()):
            m = _ROOM.match(s, pos)
            if m and (ch.isdigit() or any(c.isdigit() for c in m.group())):
                value = m.group()
                if rank < RANK["building"] and "-" in value:
                    left, right = value.split("-", 1)
                    if len(right) >= 3 and left.isdigit():
                        return "building_room", (left, right), m.end()
                return "room", value, m.end()
    return None


def _room_key(value: str, floor: str) -> tuple[str, str]:
    """(room key, floor key): 1201室 → (1201, 12); 12-01 → (1201, 12); 01 after 12楼 → (1201, 12).

    A basement room has the key ``B`` + floor + two digits, however it is written or named:
    B1-01, B101, -101, 负1-01, or 01 after 负一层 / B1层 / 地下室 → (B101, -1).
    A run of digits longer than ``MAX_NUMBER_DIGITS`` is no room number: it is its own key
    (matching nothing), never a number (``int()`` refuses thousands of digits).
    """
    raw = value.upper()
    raw = re.sub(r"(室|号房|房|铺|号)$", "", raw)
    m = re.fullmatch(r"(?:B|-|负)(\d{1,2})-?(\d{2})", raw)
    if m and int(m.group(1)) > 0:
        return f"B{int(m.group(1))}{m.group(2)}", str(-int(m.group(1)))
    m = re.fullmatch(r"(\d{1,2})-(\d{2})", raw)
    if m:
        return f"{int(m.group(1))}{m.group(2)}", str(int(m.group(1)))
    m = re.fullmatch(r"([A-Z]?)(\d+)([A-Z]?)", raw)
    if not m or len(m.group(2)) > MAX_NUMBER_DIGITS:
        return raw, floor
    digits = m.group(2)
    below = floor.startswith("-") and floor[1:].isdigit() and int(floor[1:]) > 0
    if below and not m.group(1) and len(digits) <= 2:
        return f"B{int(floor[1:])}{int(digits):02d}{m.group(3)}", floor
    if floor and not below and len(digits) <= 2:
        digits = f"{int(floor)}{int(digits):02d}"
    elif len(digits) >= 3 and not floor:
        floor = str(int(digits[:-2]))
    return f"{m.group(1)}{int(digits)}{m.group(3)}", floor


def _keys(parsed: ParsedAddress) -> dict[str, str]:
    c = parsed.components
    keys: dict[str, str] = {}
    for name in ("building", "unit"):
        if c.get(name):
            keys[name] = number_key(c[name])
    if c.get("road_number"):
        m = re.match(r"\d+(?:-\d+)?", c["road_number"])
        keys["road_number"] = m.group() if m else c["road_number"]
    floor = ""
    if c.get("floor"):
        f = c["floor"]
        if f in ("首层",):
            floor = "1"
        elif f == "地下室":
            floor = "-1"
        else:
            m = re.search(rf"(负|地下|[Bb])?(\d+|[{CN_NUM}]+)", f)
            if m:
                value = cn_to_int(m.group(2))
                floor = "" if value is None else str(-value if m.group(1) else value)
    if c.get("room"):
        keys["room"], floor = _room_key(c["room"], floor)
    if floor:
        keys["floor"] = floor
    return keys
