"""Free-text address → the most specific place the platform can name today.

This is the first, simple matcher used by ticket intake: an exact standard address
or alias, else the most specific division whose name appears in the text. The
registry work (issue 4) replaces it with full address parsing; callers only rely on
``match_address(text) -> AddressMatch``.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass

from zhiwang.geo.models import LEVEL_DEPTH, AddressAlias, Division, StandardAddress


@dataclass(frozen=True)
class AddressMatch:
    address: StandardAddress | None
    division: Division | None
    level: str  # room / unit / building / community / subdistrict / district / none
    confidence: float


NO_MATCH = AddressMatch(None, None, "none", 0.0)


def normalize(text: str) -> str:
    """Full-width → half-width, no spaces, no 广东省 prefix noise."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(text.split())
    for prefix in ("中国", "广东省"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text


_names_lock = threading.Lock()
_names_cache: dict = {"key": None, "names": []}


def _division_names() -> list[tuple[str, int, int]]:
    """(name, division id, depth), longest names first; cached until divisions change."""
    key = (
        Division.objects.count(),
        Division.objects.order_by("-updated_at").values_list("updated_at", flat=True).first(),
    )
    with _names_lock:
        if _names_cache["key"] != key:
            names = []
            for pk, name, short, level in Division.objects.values_list("pk", "name", "short_name", "level"):
                for candidate in {name, short}:
                    if candidate and len(candidate) >= 2 and level != "city":
                        names.append((candidate, pk, LEVEL_DEPTH[level]))
            names.sort(key=lambda item: (-len(item[0]), -item[2]))
            _names_cache.update(key=key, names=names)
        return _names_cache["names"]


def match_address(text: str) -> AddressMatch:
    """The most specific standard address or division named by ``text``."""
    cleaned = normalize(text)
    if not cleaned:
        return NO_MATCH
    candidates = {cleaned, cleaned if cleaned.startswith("深圳市") else "深圳市" + cleaned}
    address = StandardAddress.objects.filter(full_name__in=candidates).select_related("community").first()
    if address is None:
        alias = AddressAlias.objects.filter(alias=cleaned).select_related("address__community").first()
        address = alias.address if alias else None
    if address is not None:
        return AddressMatch(
            address, address.community, address.level, 1.0 if address.full_name in candidates else 0.9
        )
    best = None
    for name, pk, depth in _division_names():
        if name in cleaned and (best is None or depth > best[1]):
            best = (pk, depth)
    if best is None:
        return NO_MATCH
    division = Division.objects.get(pk=best[0])
    return AddressMatch(None, division, division.level, 0.5 + 0.1 * best[1])
