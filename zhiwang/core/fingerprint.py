"""The fingerprint of a request's cleaned input, kept beside the record its idempotency key made.

A key sent again makes a retry return the first record instead of writing a second one. That
is only right when the retry asks for the same thing: the record keeps a fingerprint of the
input it was made from, and a key sent again with other input is refused (the IETF
Idempotency-Key draft answers 422) instead of silently answered with a record that is not what
the caller asked for. Each app raises its own error (``tickets.idempotency_key_reused``, …);
what belongs in the fingerprint (the cleaned fields, not the raw body) is the app's to say.

The text hashed is the same as ``open311``'s and ``disputes``' (canonical JSON with sorted keys,
dates and decimals as text), so either may move here without its stored fingerprints changing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping


def fingerprint(fields: Mapping[str, object]) -> str:
    """SHA-256 (64 hex digits) of ``fields`` as canonical JSON: keys sorted, UTF-8, values that
    JSON has no type for (dates, decimals) as their text."""
    text = json.dumps(dict(fields), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def same_input(stored: str | None, fresh: str) -> bool:
    """Whether a retry carries the input the record was made from.

    ``stored`` empty: the record was written before fingerprints were kept, and every retry of
    its key is answered with it, as it always was.
    """
    return not stored or stored == fresh
