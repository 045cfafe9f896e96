"""Alerts resolved "by themselves" while a merged ticket's master was still being handled are open again.

Until ``services.alerts_resolve`` counted a merged ticket by its master ticket, an alert all of
whose tickets had been merged into one master (six wage-arrears calls merged into the one ticket
that is being handled) was resolved as "its tickets are closed". Nobody may reopen an automatic
resolution, and the detector does not raise the same tickets again (a decision holds for its
evidence), so such an alert stayed closed for good. This step reopens each automatically resolved
alert that has a merged ticket whose master is open today; the next detection run resolves it
again when that master is finished. An alert whose key is held by an open alert meanwhile (one open
alert per key) stays as it is. The withdrawn resolution is kept in ``detail["resolution_withdrawn"]``.

Frozen here (a migration does not follow later code): the open ticket statuses of
``tickets.models.OPEN_STATUSES`` and the automatic resolution reasons of ``alerts_resolve``.
Backwards nothing is done.
"""

from django.db import migrations
from django.utils import timezone

OPEN_STATUSES = (
    "pending_dispatch",
    "dispatched",
    "accepted",
    "suspended",
    "replied",
    "verifying",
    "follow_up",
)
AUTOMATIC = ("tickets_closed", "ticket_closed")


def reopen(apps, schema_editor):
    Alert = apps.get_model("analytics", "Alert")
    AlertTicket = apps.get_model("analytics", "AlertTicket")
    db = schema_editor.connection.alias
    ids = set(
        AlertTicket.objects.using(db)
        .filter(
            alert__status="resolved",
            alert__decided_by__isnull=True,
            ticket__status="merged",
            ticket__merged_into__status__in=OPEN_STATUSES,
        )
        .order_by()
        .values_list("alert_id", flat=True)
        .distinct()
    )
    if not ids:
        return
    held = set(Alert.objects.using(db).filter(status="open").values_list("key", flat=True))
    now = timezone.now().isoformat()
    # the newest first: of two resolved alerts with one key, the later one is the matter's
    for alert in Alert.objects.using(db).filter(pk__in=ids).order_by("-pk"):
        detail = dict(alert.detail or {})
        if detail.get("resolved") not in AUTOMATIC or alert.key in held:
            continue
        detail["resolution_withdrawn"] = {
            "was": detail.pop("resolved"),
            "at": now,
            "why": "merged_master_open",
        }
        Alert.objects.using(db).filter(pk=alert.pk).update(status="open", decided_at=None, detail=detail)
        held.add(alert.key)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0012_caller_keys_keyed"),
        ("tickets", "0019_import_restarted_by"),
    ]

    operations = [
        migrations.RunPython(reopen, migrations.RunPython.noop, elidable=False),
    ]
