"""Parsed components → the most specific standard address or division, with a confidence.

One in-memory index per process (``AddressIndex``): division names with their
short forms and aliases, the parser's local name list, and the buildings by
estate, by road + number and by alias. It is rebuilt when a cheap fingerprint of
the tables changes (read at most every ``ZHIWANG_GEO_INDEX_CHECK_SECONDS``, like
the locate index), or at once after ``addresses_changed()``. Units and rooms are
looked up in the database under the building found, so the index holds buildings
only (about 650,000 for Shenzhen).

How a match is decided (documented in docs/addressing.md):

1. Divisions named in the text (full names, short names, aliases) are collected;
   the deepest division with the best balance of agreeing and conflicting mentions
   is chosen (a mention agrees when it names the division or one of its ancestors,
   conflicts when it is neither an ancestor nor a descendant; each mention weighs
   3 for an official name, 2 for a short name or alias, 1 for a derived short form).
2. Buildings are scored on the estate, road + number, alias and building number
   found in the text; buildings outside the chosen division lose points, so the
   same road name in two districts is told apart by the district written.
3. Under the building, the unit and the room are looked up by canonical number.
"""

from __future__ import annotations

import csv
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max

from zhiwang.geo.addressing.parser import (
    _CONTINUES_NAME,
    Gazetteer,
    ParsedAddress,
    _room_key,
    lengths_by_first_char,
    national_gazetteer,
    parse_address,
)
from zhiwang.geo.addressing.text import clean, number_key
from zhiwang.geo.models import (
    LEVEL_DEPTH,
    AddressAlias,
    AddressLevel,
    Division,
    DivisionAlias,
    DivisionLevel,
    GeoIndexVersion,
    StandardAddress,
)

SHIPPED_ALIASES = Path(__file__).resolve().parents[1] / "data" / "division_aliases.csv"
CITY_NAMES = ("深圳市", "深圳")
PROVINCE_NAMES = ("广东省", "广东")

#: Longer texts (after clean-up) are no address: answered ``none`` with the note ``too_long``
#: (parsing a pasted page would cost seconds of one worker's time and find nothing).
MAX_TEXT_LENGTH = 500

#: Name strengths: an official name, a short name or alias, a derived short form.
FULL, ALIAS, DERIVED = 3, 2, 1


@dataclass(frozen=True, slots=True)
class DivisionRef:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None

    @property
    def prefix(self) -> str:
        return self.code[: {"city": 4, "district": 6, "subdistrict": 9, "community": 12}[self.level]]


@dataclass(frozen=True)
class AddressMatch:
    """The answer for one text: the standard address (building / unit / room) if one was
    found, else the most specific division; ``level`` says which, ``confidence`` how sure.

    ``district`` / ``subdistrict`` / ``community`` are the division chain of the answer,
    ``components`` what the parser read, ``note`` why the answer is not more specific.
    """

    address: StandardAddress | None
    division: Division | None
    level: str  # room / unit / building / community / subdistrict / district / none
    confidence: float
    components: dict = field(default_factory=dict, compare=False)
    district: DivisionRef | None = None
    subdistrict: DivisionRef | None = None
    community: DivisionRef | None = None
    address_code: str = ""
    note: str = ""

    @property
    def codes(self) -> dict[str, str]:
        return {
            "district": self.district.code if self.district else "",
            "subdistrict": self.subdistrict.code if self.subdistrict else "",
            "community": self.community.code if self.community else "",
            "address": self.address_code,
        }


NO_MATCH = AddressMatch(None, None, "none", 0.0)


@dataclass(slots=True)
class _Building:
    id: int
    community_id: int
    road: str
    number: str
    estate: str
    key: str


def _derived_names(division: Division) -> list[tuple[str, int]]:
    """Names people write for a division besides its own: 南山区 → 南山, 粤海街道 → 粤海, 横岗镇."""
    out = [(division.name, FULL)]
    if division.short_name and division.short_name != division.name:
        out.append((division.short_name, ALIAS))
    for name in {division.name, division.short_name} - {""}:
        for suffix, extra in (
            ("街道办事处", ("镇",)),
            ("街道", ("镇",)),
            ("社区居民委员会", ("社区", "村")),
            ("社区", ("村",)),
            ("区", ()),
        ):
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                stem = name[: -len(suffix)]
                if division.level in (DivisionLevel.DISTRICT, DivisionLevel.SUBDISTRICT):
                    out.append((stem, DERIVED))
                out.extend((stem + tail, DERIVED) for tail in extra)
                break
    return out


class AddressIndex:
    """Names and buildings of the city in memory; see the module docstring."""

    def __init__(self, key: tuple) -> None:
        self.key = key
        self.divisions: dict[int, DivisionRef] = {}
        self.by_code: dict[str, DivisionRef] = {}
        self.names: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.max_name = 0
        self.gazetteer = Gazetteer()
        self.buildings: dict[int, _Building] = {}
        self.by_estate: dict[str, list[int]] = defaultdict(list)
        self.by_road: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.aliases: dict[str, list[int]] = defaultdict(list)  # alias → address ids (any level)
        self.lengths: dict[str, dict[str, tuple[int, ...]]] = {}
        self.longest: dict[str, int] = {}  # per kind of ``lengths``: the longest name

    # -- building -----------------------------------------------------------------------------------

    @classmethod
    def build(cls, key: tuple) -> AddressIndex:
        index = cls(key)
        for d in Division.objects.order_by("code").only(
            "id", "code", "name", "short_name", "level", "parent_id"
        ):
            ref = DivisionRef(d.id, d.code, d.display_name, d.level, d.parent_id)
            index.divisions[d.id] = ref
            index.by_code[d.code] = ref
            if d.level == DivisionLevel.CITY:
                continue
            for name, strength in _derived_names(d):
                index._add_name(name, d.id, strength, d.level)
        for division_id, alias in DivisionAlias.objects.values_list("division_id", "alias"):
            if division_id in index.divisions:
                index._add_name(alias, division_id, ALIAS, index.divisions[division_id].level)
        if SHIPPED_ALIASES.is_file():
            with SHIPPED_ALIASES.open(encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    ref = index.by_code.get(row["code"])
                    if ref is not None:
                        index._add_name(row["alias"], ref.id, ALIAS, ref.level)
        rows = (
            StandardAddress.objects.filter(level=AddressLevel.BUILDING)
            .values_list("id", "community_id", "road", "road_number", "estate", "name")
            .iterator(chunk_size=20_000)
        )
        for pk, community_id, road, number, estate, name in rows:
            road, estate = clean(road), clean(estate)
            number = _number(number)
            index.buildings[pk] = _Building(pk, community_id, road, number, estate, number_key(name))
            if estate:
                index.by_estate[estate].append(pk)
            if road:
                index.by_road[road][number].append(pk)
        for address_id, alias in AddressAlias.objects.values_list("address_id", "alias").iterator(
            chunk_size=20_000
        ):
            alias = clean(alias)
            if len(alias) >= 2:
                index.aliases[alias].append(address_id)
        index.by_road = {road: dict(numbers) for road, numbers in index.by_road.items()}
        index.gazetteer = national_gazetteer().merged(index.gazetteer)
        index.lengths = {
            "names": lengths_by_first_char(index.names),
            "aliases": lengths_by_first_char(index.aliases),
            "estates": lengths_by_first_char(index.by_estate),
            "roads": lengths_by_first_char(index.by_road),
        }
        index.longest = {
            kind: max((lengths[0] for lengths in table.values()), default=0)
            for kind, table in index.lengths.items()
        }
        return index

    def _add_name(self, name: str, division_id: int, strength: int, level: str) -> None:
        name = clean(name)
        if len(name) < 2:
            return
        entries = self.names[name]
        if all(pk != division_id for pk, _s in entries):
            entries.append((division_id, strength))
        self.max_name = max(self.max_name, len(name))
        parser_level = "subdistrict" if level == DivisionLevel.SUBDISTRICT else level
        current = self.gazetteer.names.get(name)
        if current is None or strength > DERIVED:
            self.gazetteer.names[name] = (parser_level, strength == DERIVED)
            self.gazetteer.max_len = max(self.gazetteer.max_len, len(name))

    # -- matching -----------------------------------------------------------------------------------

    def _mentions(self, s: str) -> list[list[tuple[int, int]]]:
        """Division names in the text, longest first, left to right, not overlapping."""
        found = []
        pos, n = 0, len(s)
        lengths = self.lengths["names"]
        while pos < n:
            for length in lengths.get(s[pos], ()):
                entries = self.names.get(s[pos : pos + length])
                if not entries:
                    continue
                if all(strength == DERIVED for _pk, strength in entries) and _CONTINUES_NAME.match(
                    s, pos + length
                ):
                    continue  # 南山花园, 宝安北路: part of an estate or a road name
                found.append(self._coarsest(entries))
                pos += length
                break
            else:
                pos += 1
        return found

    def _coarsest(self, entries: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """南山 names 南山区 and its own 南山街道: keep the district (the safer answer)."""
        refs = [(self.divisions[pk], strength) for pk, strength in entries]
        keep = []
        for ref, strength in refs:
            nested = any(
                other.id != ref.id and ref.code.startswith(other.prefix) and other.level != ref.level
                for other, _s in refs
            )
            if not nested:
                keep.append((ref.id, strength))
        return keep or entries

    def _choose_division(self, mentions) -> tuple[DivisionRef | None, int]:
        """The deepest division most mentions agree with; and how many mentions conflict with it."""
        best, best_key, best_conflicts = None, None, 0
        candidates = {pk for entries in mentions for pk, _s in entries}
        for pk in candidates:
            ref = self.divisions[pk]
            support = against = conflicts = 0
            for entries in mentions:
                agree = [s for other, s in entries if ref.code.startswith(self.divisions[other].prefix)]
                if agree:
                    support += max(agree)
                elif not any(self.divisions[other].code.startswith(ref.prefix) for other, _s in entries):
                    conflicts += 1
                    against += max(s for _other, s in entries)
            key = (support - against, LEVEL_DEPTH[ref.level], -pk)
            if best_key is None or key > best_key:
                best, best_key, best_conflicts = ref, key, conflicts
        return best, best_conflicts

    def _scan(self, s: str, table: dict, kind: str) -> list[tuple[str, int]]:
        """Known names of ``table`` in ``s``: (name, end position), longest first, not overlapping."""
        hits = []
        pos, n = 0, len(s)
        lengths = self.lengths[kind]
        while pos < n:
            for length in lengths.get(s[pos], ()):
                name = s[pos : pos + length]
                if name in table:
                    hits.append((name, pos + length))
                    pos += length
                    break
            else:
                pos += 1
        return hits

    def _held_by_local_name(self, s: str, name: str) -> bool:
        """Whether ``name`` (where it first occurs in ``s``) lies inside a building alias, an estate
        or a division name of the city written there."""
        pos = s.find(name)
        if pos < 0:
            return False
        for table, kind in ((self.aliases, "aliases"), (self.by_estate, "estates"), (self.names, "names")):
            lengths = self.lengths[kind]
            for start in range(max(0, pos - self.longest[kind] + 1), pos + 1):
                for length in lengths.get(s[start], ()):
                    if start + length > pos and s[start : start + length] in table:
                        return True
        return False

    def chain(self, ref: DivisionRef | None) -> dict[str, DivisionRef]:
        out = {}
        while ref is not None:
            out[ref.level] = ref
            ref = self.divisions.get(ref.parent_id) if ref.parent_id else None
        return out

    def within(self, community_id: int, scope: DivisionRef | None) -> bool:
        if scope is None:
            return True
        community = self.divisions.get(community_id)
        return community is not None and community.code.startswith(scope.prefix)

    def resolve(self, text: str) -> _Resolved:
        return self.resolve_many([text])[0]

    def resolve_many(self, texts: list[str]) -> list[_Resolved]:
        """``resolve`` for many texts: the units and rooms of all of them in two bulk queries."""
        resolved = [self._resolve(text) for text in texts]
        self._below([r for r in resolved if r.below])
        return resolved

    def _resolve(self, text: str) -> _Resolved:
        """Divisions and building of one text; the unit and room written are left in ``below``."""
        if len(text) > 4 * MAX_TEXT_LENGTH:  # not worth cleaning: no address is that long
            return _Resolved(None, None, "none", 0.0, {}, note="too_long")
        s = clean(text)
        if not s:
            return _Resolved(None, None, "none", 0.0, {}, note="empty")
        if len(s) > MAX_TEXT_LENGTH:
            return _Resolved(None, None, "none", 0.0, {}, note="too_long")
        parsed = parse_address(s, gazetteer=self.gazetteer, cleaned=True)
        components = dict(parsed.components)
        city = parsed.get("city")
        province = parsed.get("province")
        elsewhere = [
            name
            for name, local in ((city, CITY_NAMES), (province, PROVINCE_NAMES))
            if name and name not in local
        ]
        # Another province or city written, and no 深圳: the text is elsewhere, unless a local
        # name (a building's alias or estate, a division) holds it: 上海宾馆 and 潮州会馆 are here.
        if elsewhere and "深圳" not in s and not all(self._held_by_local_name(s, name) for name in elsewhere):
            return _Resolved(None, None, "none", 0.0, components, note="outside_city")
        mentions = self._mentions(s)
        scope, conflicts = self._choose_division(mentions) if mentions else (None, 0)
        building, confidence, note = self._building(s, parsed, scope)
        if building is not None:
            if scope is not None and not self.within(building.community_id, scope):
                confidence -= 0.2
                note = "division_conflict"
            confidence -= 0.1 * conflicts
            community = self.divisions.get(building.community_id)
            below = (parsed.keys.get("unit", ""), parsed.keys.get("room", ""))
            if not any(below):
                confidence = round(max(confidence, 0.05), 2)
            return _Resolved(
                building.id,
                community,
                AddressLevel.BUILDING,
                confidence,
                components,
                note=note,
                below=below if any(below) else None,  # ``_below`` rounds the confidence then
            )
        if scope is None:
            return _Resolved(None, None, "none", 0.0, components, note=note or "no_place_named")
        confidence = 0.5 + 0.1 * LEVEL_DEPTH[scope.level] - 0.15 * conflicts
        return _Resolved(None, scope, scope.level, round(max(confidence, 0.05), 2), components, note=note)

    def _building(self, s: str, parsed: ParsedAddress, scope: DivisionRef | None):
        """(building, confidence, note) or (None, 0, note)."""
        scores: dict[int, float] = defaultdict(float)
        evidence: dict[int, set] = defaultdict(set)
        for alias, _end in self._scan(s, self.aliases, "aliases"):
            for pk in self.aliases[alias]:
                if pk in self.buildings:
                    scores[pk] += 5
                    evidence[pk].add("alias")
        for estate, _end in self._scan(s, self.by_estate, "estates"):
            for pk in self.by_estate[estate]:
                scores[pk] += 2
                evidence[pk].add("estate")
        for road, end in self._scan(s, self.by_road, "roads"):
            m = re.match(r"(\d+(?:-\d+)?)(?:号|弄)?", s[end:])
            number = m.group(1) if m else parsed.keys.get("road_number", "")
            for pk in self.by_road[road].get(number, ()) if number else ():
                scores[pk] += 2
                evidence[pk].add("road_number")
        if not scores:
            return None, 0.0, "no_building_named" if parsed.get("building") else ""
        key = parsed.keys.get("building", "")
        for pk in scores:
            b = self.buildings[pk]
            if key and b.key == key:
                scores[pk] += 3
                evidence[pk].add("building")
            elif key and "alias" not in evidence[pk]:
                scores[pk] -= 3
            if not self.within(b.community_id, scope):
                scores[pk] -= 4
        top = max(scores.values())
        best = [pk for pk, score in scores.items() if score == top]
        if len(best) > 1 or (
            key and "building" not in evidence[best[0]] and "alias" not in evidence[best[0]]
        ):
            return None, 0.0, "building_ambiguous" if len(best) > 1 else "building_unknown"
        pk = best[0]
        found = evidence[pk]
        if "alias" in found:
            confidence = 0.95
        elif "building" in found:
            confidence = 0.95 if {"estate", "road_number"} <= found else 0.9
        else:  # no building number written: only when estate / road number names one building
            confidence = 0.75 if "road_number" in found else 0.7
        return self.buildings[pk], confidence, ""

    def _below(self, resolved: list[_Resolved]) -> None:
        """The unit and room written under each building found, in place; round the confidences.

        Two queries per 900 buildings whatever the number of texts: the children (units, and
        rooms hung directly on a building) of every building, then the rooms of the units searched.
        """
        children: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
        for chunk in _chunks(sorted({r.address_id for r in resolved})):
            rows = StandardAddress.objects.filter(parent_id__in=chunk).values_list(
                "id", "level", "name", "parent_id"
            )
            for pk, level, name, parent_id in rows:
                children[parent_id].append((pk, level, name))
        plans = []
        searched: set[int] = set()
        for r in resolved:
            unit_key, room_key = r.below
            units = [(pk, name) for pk, level, name in children[r.address_id] if level == AddressLevel.UNIT]
            unit_id = None
            if unit_key:
                hits = [pk for pk, name in units if number_key(name) == unit_key]
                unit_id = hits[0] if len(hits) == 1 else None
            elif len(units) == 1:
                unit_id = units[0][0]
            # A room named with its unit is looked for there; else in every unit of the building.
            inside = [unit_id] if unit_id is not None else [pk for pk, _name in units]
            if room_key:
                searched.update(inside)
            plans.append((r, unit_id, inside))
        rooms: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for chunk in _chunks(sorted(searched)):
            rows = StandardAddress.objects.filter(parent_id__in=chunk, level=AddressLevel.ROOM).values_list(
                "id", "name", "parent_id"
            )
            for pk, name, parent_id in rows:
                rooms[parent_id].append((pk, name))
        for r, unit_id, inside in plans:
            unit_key, room_key = r.below
            if room_key:
                candidates = [room for pk in inside for room in rooms[pk]]
                if unit_id is None:  # rooms hung directly on the building
                    candidates += [
                        (pk, name) for pk, level, name in children[r.address_id] if level == AddressLevel.ROOM
                    ]
                hits = [pk for pk, name in candidates if _room_key(name, "")[0] == room_key]
                if len(hits) == 1:
                    r.address_id, r.level = hits[0], AddressLevel.ROOM
                    r.confidence = round(max(min(r.confidence + 0.02, 0.99), 0.05), 2)
                    continue
            if unit_id is not None and unit_key:
                r.address_id, r.level = unit_id, AddressLevel.UNIT
            else:
                r.confidence -= 0.05  # a unit or room written but not found
            r.confidence = round(max(r.confidence, 0.05), 2)


@dataclass(slots=True)
class _Resolved:
    address_id: int | None
    division: DivisionRef | None
    level: str
    confidence: float
    components: dict
    note: str = ""
    below: tuple[str, str] | None = None  # (unit key, room key) still to look up under the building


def _chunks(ids: list[int], size: int = 900):
    """``id__in`` lists short enough for SQLite's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _number(value: str) -> str:
    m = re.match(r"\d+(?:-\d+)?", clean(value or ""))
    return m.group() if m else clean(value or "")


# -------------------------------------------------------------------------------------------------------
# The process-wide index

_lock = threading.Lock()
_state: dict = {"index": None, "checked_at": 0.0}


def _fingerprint() -> tuple:
    """Cheap: a few aggregate queries on indexed columns, never a scan of the rooms."""
    versions = dict(
        GeoIndexVersion.objects.filter(key__in=("boundaries", "addresses")).values_list("key", "version")
    )
    divisions = Division.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    division_aliases = DivisionAlias.objects.aggregate(n=Count("id"), top=Max("id"))
    buildings = StandardAddress.objects.filter(level=AddressLevel.BUILDING).aggregate(
        n=Count("id"), top=Max("id")
    )
    aliases = AddressAlias.objects.aggregate(n=Count("id"), top=Max("id"))
    return (
        versions.get("boundaries", 0),
        versions.get("addresses", 0),
        divisions["n"],
        divisions["at"],
        division_aliases["n"],
        division_aliases["top"],
        buildings["n"],
        buildings["top"],
        aliases["n"],
        aliases["top"],
    )


def get_address_index() -> AddressIndex:
    """The process-wide index, rebuilt when the divisions, aliases or buildings changed."""
    index = _state["index"]
    now = time.monotonic()
    if index is not None and now - _state["checked_at"] < getattr(
        settings, "ZHIWANG_GEO_INDEX_CHECK_SECONDS", 5
    ):
        return index
    key = _fingerprint()
    with _lock:
        index = _state["index"]
        if index is None or index.key != key:
            index = AddressIndex.build(key)
            _state["index"] = index
        _state["checked_at"] = now
    return index


def reset_address_index() -> None:
    """Forget the index (tests; after a database is swapped under a running process)."""
    with _lock:
        _state["index"] = None
        _state["checked_at"] = 0.0


def addresses_changed() -> int:
    """Tell every process to rebuild its address index (after editing addresses or aliases in place).

    Call inside the transaction that changed them: it bumps the ``addresses`` version, which is
    part of every process's fingerprint (``_fingerprint``), so each rebuilds at its next check;
    this process forgets its index at once and again at commit (a rebuild in between may have
    read the rows before the edit). Inserts and deletes are noticed without it (counts and
    highest ids); renaming an estate, a road or an alias in place is not. The admin calls it on
    every save and delete of a building or an alias.
    """
    row, _created = GeoIndexVersion.objects.get_or_create(key="addresses")
    GeoIndexVersion.objects.filter(pk=row.pk).update(version=F("version") + 1)
    reset_address_index()
    transaction.on_commit(reset_address_index)
    return row.version + 1


# -------------------------------------------------------------------------------------------------------
# Public entry points


def _finish(resolved: list[_Resolved], index: AddressIndex) -> list[AddressMatch]:
    address_ids = {r.address_id for r in resolved if r.address_id}
    division_ids = {r.division.id for r in resolved if r.division}
    addresses = StandardAddress.objects.in_bulk(address_ids) if address_ids else {}
    divisions = Division.objects.in_bulk(division_ids) if division_ids else {}
    out = []
    for r in resolved:
        address = addresses.get(r.address_id) if r.address_id else None
        if r.address_id and address is None:  # deleted since the index was built
            out.append(NO_MATCH)
            continue
        chain = index.chain(r.division)
        out.append(
            AddressMatch(
                address=address,
                division=divisions.get(r.division.id) if r.division else None,
                level=str(r.level),
                confidence=r.confidence,
                components=r.components,
                district=chain.get(DivisionLevel.DISTRICT),
                subdistrict=chain.get(DivisionLevel.SUBDISTRICT),
                community=chain.get(DivisionLevel.COMMUNITY),
                address_code=address.code if address else "",
                note=r.note,
            )
        )
    return out


def match_address(text: str) -> AddressMatch:
    """The most specific standard address or division named by ``text``."""
    if not clean(text or ""):
        return NO_MATCH
    index = get_address_index()
    return _finish([index.resolve(text)], index)[0]


def match_many(texts: list[str]) -> list[AddressMatch]:
    """``match_address`` for many texts with one index: two bulk queries for the units and rooms
    under the buildings found, two for the objects answered (per 900 of them), whatever the count."""
    index = get_address_index()
    return _finish(index.resolve_many([t or "" for t in texts]), index)
