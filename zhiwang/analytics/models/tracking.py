"""What the rollups remember between events, so every timeline row is counted exactly once.

``TicketTrack``: the last event counted and the overdue flag of one ticket, whatever path wrote
the row; ``RollupState``: the catch-up watermark for timeline rows written without a signal
(bulk paths).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TicketTrack(models.Model):
    """The rollups' memory of one ticket: the place and dimensions counted, the last event counted.

    ``last_event`` makes counting idempotent (a row at or below it is never counted again);
    ``overdue`` is whether the ticket is in an overdue episode (entered on the first overdue
    warning, urge after the deadline or supervision; left on reply, extension, reopening,
    return or a final state).
    """

    ticket_id = models.BigIntegerField(_("ticket"), primary_key=True)
    last_event = models.BigIntegerField(_("last event counted"), default=0)
    overdue = models.BooleanField(_("overdue"), default=False)

    class Meta:
        verbose_name = _("ticket rollup state")
        verbose_name_plural = _("ticket rollup states")

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.last_event}"


class RollupState(models.Model):
    """Singleton (pk 1): the highest timeline row the catch-up has looked at."""

    watermark = models.BigIntegerField(_("watermark"), default=0)
    rebuilt_at = models.DateTimeField(_("last rebuilt"), null=True, blank=True)
    caught_up_at = models.DateTimeField(_("last catch-up"), null=True, blank=True)

    class Meta:
        verbose_name = _("rollup state")
        verbose_name_plural = _("rollup states")

    def __str__(self) -> str:
        return f"watermark {self.watermark}"
