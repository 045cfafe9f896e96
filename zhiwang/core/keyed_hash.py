"""Keyed hashes (HMAC-SHA256) of personal data: a stored key that matches the same value again
without holding it, and that cannot be reversed by hashing every candidate.

An unkeyed hash of a phone is no protection: there are about 10^10 mainland mobiles (and 10^4 once
the masked number "138****5678" is shown beside it), few enough to hash them all. Without the
secret key an HMAC cannot be enumerated.

The key is the registry's (``registry.hashing`` reads it the same way):
``settings.ZHIWANG_REGISTRY_HASH_KEY``, falling back to ``SECRET_KEY`` outside production (settings
refuses to start a production installation without it). One secret to keep and to rotate. Apps
that may not import the registry (analytics) read it here. ``purpose`` separates the uses: an
analytics caller key never equals the registry's ``phone_hash`` of the same number, so the two
tables cannot be joined on it.

Changing the key changes every keyed hash derived from it: ``zhiwang rehash-all`` rebuilds every
keyed hash of every app (each app's ``rekey.REKEY_STEPS``; docs/production.md, "Rotating the hash
key").
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def hash_key() -> bytes:
    """The secret of every keyed hash: ``ZHIWANG_REGISTRY_HASH_KEY``, else ``SECRET_KEY``."""
    key = getattr(settings, "ZHIWANG_REGISTRY_HASH_KEY", "") or settings.SECRET_KEY
    return key.encode("utf-8")


def keyed_hash(purpose: str, value: str) -> str:
    """Hex HMAC-SHA256 of ``purpose:value`` under ``hash_key()`` (the registry's construction, so
    a purpose the registry uses gives its hashes)."""
    return hmac.new(hash_key(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
