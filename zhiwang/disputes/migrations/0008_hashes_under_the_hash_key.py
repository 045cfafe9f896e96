"""Visitors' and parties' hashes move onto the platform's hash key (docs/disputes.md, "Keyed hashes").

``Visitor.id_hash`` and ``Party.identifier_hash`` were ``HMAC(SECRET_KEY, "disputes:" + value)``:
a key of their own, which no command recomputed (changing ``SECRET_KEY`` registered every
returning visitor anew). They are now ``core.keyed_hash("disputes", value)``: the same
construction under ``ZHIWANG_REGISTRY_HASH_KEY`` (else ``SECRET_KEY``), which ``zhiwang rehash-all``
recomputes after a key change. Where the hash key is ``SECRET_KEY`` nothing changes; elsewhere
every hash is recomputed here from the stored value (``Visitor.id_number``, ``Party.identifier``,
kept in plain), so a returning visitor is found again by the same number.

An earlier ``SECRET_KEY`` change may have left two visitors with one ID number (the second
registered when the first was no longer found). Both cannot hold the new hash (one visitor per
hash): the one found today (its hash is the old construction's under the current
``SECRET_KEY``) keeps it, else the earliest; the others are retired: hash emptied, number and
visits kept (they were not found before either). ``disputes.rekey`` applies the same rule.

Backwards, the hashes are recomputed under the old construction; retired visitors stay retired.
The construction is frozen here: a migration does not follow later code. On PostgreSQL the
migration rewrites every visitor and party whose hash changes in one transaction (a hash key other
than ``SECRET_KEY``): on a large installation, run it in a quiet hour.
"""

import hashlib
import hmac

from django.conf import settings
from django.db import migrations
from django.db.models import Count

BATCH = 2000


def _new_hash(value):
    # core.keyed_hash("disputes", value) as it is today, written out (a migration does not
    # follow later code)
    key = (getattr(settings, "ZHIWANG_REGISTRY_HASH_KEY", "") or settings.SECRET_KEY).encode("utf-8")
    return hmac.new(key, f"disputes:{value}".encode(), hashlib.sha256).hexdigest()


def _old_hash(value):
    return hmac.new(settings.SECRET_KEY.encode(), b"disputes:" + value.encode(), hashlib.sha256).hexdigest()


def _retire_duplicates(Visitor, db):
    """One hashed visitor per ID number: the one found today, else the earliest."""
    hashed = Visitor.objects.using(db).exclude(id_number="").exclude(id_hash="")
    numbers = list(
        hashed.order_by()
        .values("id_number")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("id_number", flat=True)
    )
    for number in numbers:
        rows = list(hashed.filter(id_number=number).order_by("pk").values_list("pk", "id_hash"))
        live = [pk for pk, digest in rows if digest == _old_hash(number)]
        keeper = live[0] if live else rows[0][0]
        hashed.filter(id_number=number).exclude(pk=keeper).update(id_hash="")


def _rehash(queryset, value_field, hash_field, digest_of):
    model, db = queryset.model, queryset.db
    last_pk = 0
    while True:
        rows = list(
            queryset.filter(pk__gt=last_pk).order_by("pk").values_list("pk", value_field, hash_field)[:BATCH]
        )
        if not rows:
            return
        last_pk = rows[-1][0]
        fresh = ((pk, digest_of(value), digest) for pk, value, digest in rows)
        stale = [model(pk=pk, **{hash_field: new}) for pk, new, digest in fresh if new != digest]
        if stale:
            model.objects.using(db).bulk_update(stale, [hash_field])


def _run(apps, schema_editor, digest_of, *, retire):
    Visitor = apps.get_model("disputes", "Visitor")
    Party = apps.get_model("disputes", "Party")
    db = schema_editor.connection.alias
    if retire:
        _retire_duplicates(Visitor, db)
    visitors = Visitor.objects.using(db).exclude(id_number="").exclude(id_hash="")
    _rehash(visitors, "id_number", "id_hash", digest_of)
    parties = Party.objects.using(db).exclude(identifier="")
    _rehash(parties, "identifier", "identifier_hash", digest_of)


def forwards(apps, schema_editor):
    _run(apps, schema_editor, _new_hash, retire=True)


def backwards(apps, schema_editor):
    _run(apps, schema_editor, _old_hash, retire=False)


class Migration(migrations.Migration):
    dependencies = [
        ("disputes", "0007_alert_message_codes_application_source"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
