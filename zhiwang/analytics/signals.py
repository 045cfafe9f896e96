"""The one hook into the tickets app: count each timeline row in the transaction that writes it.

Rows written with ``bulk_create`` send no signal; ``rollups.rollup_catch_up`` counts them.
"""

from django.db.models.signals import post_save
from django.dispatch import receiver

from zhiwang.analytics.rollups import rollup_event_saved
from zhiwang.tickets.models import TicketEvent


@receiver(post_save, sender=TicketEvent, dispatch_uid="analytics_rollup_event")
def ticket_event_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        rollup_event_saved(instance)
