"""Keyed hashes of ID numbers and phones: lookups never scan the plain values.

HMAC-SHA256 with ``settings.ZHIWANG_REGISTRY_HASH_KEY`` (falls back to ``SECRET_KEY``), the one
construction of ``zhiwang.core.keyed_hash`` (the purpose keeps an ID-number hash from matching a
phone hash, and both from analytics' caller keys).
Changing the key invalidates every stored hash: recompute them with ``zhiwang rehash-all``
(the registry alone: ``zhiwang registry-rehash``, ``registry.services.rehash.person_hashes_rebuild``).

A phone is hashed in the form the registry stores it: ``zhiwang.core.phones.phone_digits`` (the
platform's phone rule, a foreign number without its ``+``), re-exported here as
``normalize_phone``. Hashing another form would orphan every stored ``phone_hash``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from zhiwang.core.keyed_hash import hash_key, keyed_hash
from zhiwang.core.phones import phone_digits

#: The registry's phone form (stored and hashed), under the name older callers import.
normalize_phone = phone_digits


__all__ = ["hasher", "id_number_hash", "keyed_hash", "normalize_phone", "phone_hash"]


def id_number_hash(normalized_id_number: str) -> str:
    return keyed_hash("id", normalized_id_number)


def phone_hash(normalized_phone: str) -> str:
    """The keyed hash of a phone in ``phone_digits`` form ("" for no phone)."""
    return keyed_hash("phone", normalized_phone) if normalized_phone else ""


def hasher(purpose: str) -> Callable[[str], str]:
    """``keyed_hash(purpose, ·)`` for many values (imports). HMAC (RFC 2104) spelled out on
    ``hashlib``: the key is read once and the inner state after ``purpose:`` and the outer
    state are prepared once, so each value costs two small hash copies."""
    key = hash_key()
    if len(key) > 64:  # SHA-256 block size
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + f"{purpose}:".encode())
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(value: str) -> str:
        state = inner.copy()
        state.update(value.encode())
        final = outer.copy()
        final.update(state.digest())
        return final.hexdigest()

    return digest
