"""Repeat-caller alert keys become keyed hashes (docs/analytics.md, "Repeated callers").

A repeat caller's alert was keyed ``caller:`` + the first 16 hex characters of the unkeyed SHA-256
of the phone: reversible by hashing every mobile (10^4 candidates once the masked number beside it
is read). The detector now keys it with an HMAC under the registry's secret
(``analytics.alerts.caller_key``, ``core.keyed_hash``).

A new key alone would lose what the old one held: de-duplication is by key (one open alert per key,
``services._open_alert``; a decision holds for its tickets, ``services._last_closed``), so every
open repeat-caller alert would be raised a second time beside the old one, and every caller marked
a false alarm raised again without new evidence. So each stored key is re-keyed here, open and
decided alerts alike, from the phone its own tickets hold: the detector groups tickets by their
stored ``reporter_phone``, so the alert's member tickets (``AlertTicket``) carry the phone; the one
whose old key (masked as ``alert_raise`` masks keys) equals the stored key is the caller's, and
the alert gets that phone's new key. No phone is kept anywhere new, and the detector carries no
code for the old key.

An alert none of whose tickets still holds its phone (tickets deleted, phones corrected since)
cannot be re-keyed; its old key, which is the reversible part, is replaced by
``caller:unmatched:<alert id>``. A later finding for that caller is about other tickets and is
judged on them as any new finding is.

Backwards nothing is done: the old unkeyed key is not written again (the earlier code would then
raise each open repeat-caller alert once more).
"""

import hashlib

from django.db import migrations

KIND = "repeat_caller"


def _old_keys(phone, mask_text):
    # The old key as stored then: masked by the masking of that time, which left 16 hex characters
    # alone. Today's also masks a 16-digit run (a bank card number): 1 such hash in about 2,000.
    raw = f"caller:{hashlib.sha256(phone.encode()).hexdigest()[:16]}"
    return {raw, mask_text(raw)[:160]}


def _new_key(phone, mask_text):
    # as alerts.caller_key (frozen here: a migration does not follow later code) and alert_raise
    from zhiwang.core.keyed_hash import keyed_hash

    return mask_text(f"caller:{keyed_hash('analytics-caller', phone)[:32]}")[:160]


def rekey_callers(apps, schema_editor):
    from zhiwang.core.masking import mask_text

    Alert = apps.get_model("analytics", "Alert")
    AlertTicket = apps.get_model("analytics", "AlertTicket")
    db = schema_editor.connection.alias
    alerts = list(Alert.objects.using(db).filter(kind=KIND).order_by("pk").values_list("pk", "key", "status"))
    for pk, key, status in alerts:
        phones = sorted(
            AlertTicket.objects.using(db)
            .filter(alert_id=pk)
            .exclude(ticket__reporter_phone="")
            .order_by()
            .values_list("ticket__reporter_phone", flat=True)
            .distinct()
        )
        if any(_new_key(phone, mask_text) == key for phone in phones):
            continue  # raised by the new detector already
        phone = next((p for p in phones if key in _old_keys(p, mask_text)), None)
        new = _new_key(phone, mask_text) if phone is not None else f"caller:unmatched:{pk}"
        if (
            status == "open"
            and Alert.objects.using(db).filter(key=new, status="open").exclude(pk=pk).exists()
        ):
            new = f"caller:unmatched:{pk}"  # one open alert per key: the other keeps it
        Alert.objects.using(db).filter(pk=pk).update(key=new)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0011_indicator_figure_counted_at"),
    ]

    operations = [
        migrations.RunPython(rekey_callers, migrations.RunPython.noop, elidable=False),
    ]
