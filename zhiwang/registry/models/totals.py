"""Registry totals per community and grid, refreshed in the background for the registry home page."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.scoping import ScopedQuerySet


class TotalsQuerySet(ScopedQuerySet):
    # The same place fields as the records they count, so ``visible_to`` picks exactly the
    # rows of the records a user may see (their communities, or their grids).
    scope_division_field = "community"
    scope_grid_field = "grid"


class RegistryTotals(models.Model):
    """How many people, legal entities, housing and rental housing records one (community, grid) holds.

    The registry home page shows these totals for the viewer's jurisdiction. Counting them
    live took 3–6 s for a city-wide or district user at Shenzhen scale (18 M people) and
    0.1–0.3 s for a grid worker, so a periodic task (``registry.tasks.totals_refresh_task``)
    recomputes them and the page sums the visible rows, saying when they were computed.
    Empty community and grid: the records with no known place (city-wide roles only).
    """

    community = models.ForeignKey(
        "geo.Division",
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    grid = models.ForeignKey(
        "geo.Grid", verbose_name=_("grid"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    people = models.PositiveBigIntegerField(_("people"), default=0)
    entities = models.PositiveBigIntegerField(_("legal entities"), default=0)
    housing = models.PositiveBigIntegerField(_("housing"), default=0)
    rentals = models.PositiveBigIntegerField(_("rental housing"), default=0)
    computed_at = models.DateTimeField(_("computed at"))

    objects = TotalsQuerySet.as_manager()

    class Meta:
        verbose_name = _("registry totals")
        verbose_name_plural = _("registry totals")

    def __str__(self) -> str:
        return f"{self.community_id}/{self.grid_id}: {self.people} people"
