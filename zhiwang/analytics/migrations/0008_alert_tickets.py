"""An alert knows every ticket it counted (docs/analytics.md, "Click-through"): membership moves
from the capped list ``Alert.ticket_ids`` (a JSON list of at most 200 ids) to the table
``AlertTicket`` (alert, ticket), written in bulk by the detectors.

The data step copies each alert's stored ids into the table (tickets deleted since are left out:
the table's foreign key names existing tickets only), then the JSON column is dropped. An alert
raised before kept at most 200 ids: it lists those until its detector finds it again (the next
run rewrites the membership of every alert it updates, all of its tickets). Backwards, the ids
go back to the column (all of them).
"""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 500


def ids_to_table(apps, schema_editor):
    """``Alert.ticket_ids`` → ``AlertTicket`` rows, a batch of alerts at a time (tickets that no
    longer exist are skipped; duplicates in an old list count once)."""
    Alert = apps.get_model("analytics", "Alert")
    AlertTicket = apps.get_model("analytics", "AlertTicket")
    Ticket = apps.get_model("tickets", "Ticket")
    db = schema_editor.connection.alias

    def flush(batch):
        wanted = {pk for _alert, ids in batch for pk in ids}
        existing = set()
        listed = sorted(wanted)
        for first in range(0, len(listed), BATCH):
            existing.update(
                Ticket.objects.using(db)
                .filter(pk__in=listed[first : first + BATCH])
                .values_list("pk", flat=True)
            )
        AlertTicket.objects.using(db).bulk_create(
            [
                AlertTicket(alert_id=alert_id, ticket_id=pk)
                for alert_id, ids in batch
                for pk in sorted(set(ids) & existing)
            ],
            batch_size=BATCH,
            ignore_conflicts=True,
        )

    batch = []
    for alert_id, ids in Alert.objects.using(db).order_by("pk").values_list("pk", "ticket_ids").iterator():
        clean = []
        for value in ids if isinstance(ids, list) else []:
            try:
                clean.append(int(value))
            except (TypeError, ValueError):
                continue
        if clean:
            batch.append((alert_id, clean))
        if len(batch) >= BATCH:
            flush(batch)
            batch = []
    if batch:
        flush(batch)


def table_to_ids(apps, schema_editor):
    """Backwards: the table's rows back into ``Alert.ticket_ids`` (in id order)."""
    Alert = apps.get_model("analytics", "Alert")
    AlertTicket = apps.get_model("analytics", "AlertTicket")
    db = schema_editor.connection.alias
    members = {}
    for alert_id, ticket_id in (
        AlertTicket.objects.using(db).order_by("alert_id", "ticket_id").values_list("alert_id", "ticket_id")
    ):
        members.setdefault(alert_id, []).append(ticket_id)
    for alert_id, ids in members.items():
        Alert.objects.using(db).filter(pk=alert_id).update(ticket_ids=ids)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0007_alert_resolved"),
        ("tickets", "0014_notification_link"),
    ]

    operations = [
        migrations.CreateModel(
            name="AlertTicket",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "alert",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="analytics.alert",
                        verbose_name="alert",
                    ),
                ),
                (
                    "ticket",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tickets.ticket",
                        verbose_name="ticket",
                    ),
                ),
            ],
            options={
                "verbose_name": "ticket of an alert",
                "verbose_name_plural": "tickets of alerts",
                "constraints": [
                    models.UniqueConstraint(fields=("alert", "ticket"), name="analytics_alert_ticket_once")
                ],
            },
        ),
        migrations.RunPython(ids_to_table, table_to_ids, elidable=False),
        migrations.RemoveField(model_name="alert", name="ticket_ids"),
    ]
