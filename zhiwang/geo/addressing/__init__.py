"""Free-text Chinese address → components → the most specific standard address or division.

``parse_address`` (rules and name lists, no database) splits a text into
components; ``match_address`` / ``match_many`` resolve it against the city's
divisions and standard addresses. See docs/addressing.md.
"""

from zhiwang.geo.addressing.parser import COMPONENTS, Gazetteer, ParsedAddress, parse_address
from zhiwang.geo.addressing.resolver import (
    NO_MATCH,
    AddressIndex,
    AddressMatch,
    DivisionRef,
    addresses_changed,
    get_address_index,
    match_address,
    match_many,
    reset_address_index,
)
from zhiwang.geo.addressing.text import clean, cn_to_int, normalize, number_key

__all__ = [
    "COMPONENTS",
    "NO_MATCH",
    "AddressIndex",
    "AddressMatch",
    "DivisionRef",
    "Gazetteer",
    "ParsedAddress",
    "addresses_changed",
    "clean",
    "cn_to_int",
    "get_address_index",
    "match_address",
    "match_many",
    "normalize",
    "number_key",
    "parse_address",
    "reset_address_index",
]
