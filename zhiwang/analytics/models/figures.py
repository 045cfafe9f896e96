"""``IndicatorFigure``: the DOMAIN.md indicators of one month, stored per place and per handling unit.

The figures of ``tickets.indicators`` are queries over the timeline; a page that showed them live
would scan a month of timeline rows on every view. The monthly task stores, for every month that
has ended, each indicator's numerator and denominator per group (the city, every district,
subdistrict and community, every handling unit): a quarter, or any run of whole months, is the
sum of its months, and every weighting can be recomputed from the stored parts.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FigureGroup(models.TextChoices):
    CITY = "city", _("City")  # 市: one row per indicator, key null
    DISTRICT = "district", _("District")  # key: the district's Division id
    SUBDISTRICT = "subdistrict", _("Subdistrict")
    COMMUNITY = "community", _("Community")
    UNIT = "unit", _("Handling unit")  # key: the OrgUnit id (accurate dispatch: the dispatch center)


class IndicatorFigure(models.Model):
    """One indicator of one month for one group key: numerator and denominator as counted.

    For the rates ``numerator`` ÷ ``denominator`` (a ``Rate``); for the average handling time
    ``numerator`` is the total working hours and ``denominator`` the number of replies (an
    ``Average``). ``parts`` keeps what a different weighting needs (the satisfaction rate's
    three counts and the "basically satisfied" weight it was computed with).
    """

    month = models.DateField(_("month"))  # first day of the month
    group = models.CharField(_("group"), max_length=12, choices=FigureGroup.choices)
    #: Division id (district, subdistrict, community) or OrgUnit id (unit); null for the city.
    #: Not a foreign key: it names one of two tables, by ``group``.
    key = models.BigIntegerField(_("key"), null=True, blank=True)
    indicator = models.CharField(_("indicator"), max_length=32)
    numerator = models.FloatField(_("numerator"))
    denominator = models.BigIntegerField(_("denominator"))
    parts = models.JSONField(_("parts"), default=dict, blank=True)
    #: The moment the figures were counted at (``as_of``), the same on every row of a month: the
    #: month's figures are final when it is on or after ``indicator_figures.settle_at(month)``.
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("indicator figure")
        verbose_name_plural = _("indicator figures")
        ordering = ["month", "group", "key", "indicator"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "group", "key", "indicator"], name="analytics_figure_month_group_key"
            ),
            # the city row has no key, and NULLs are distinct to a plain unique constraint
            models.UniqueConstraint(
                fields=["month", "group", "indicator"],
                condition=models.Q(key__isnull=True),
                name="analytics_figure_month_group_nokey",
            ),
        ]
        indexes = [
            # the page and the API: the rows of some keys of one group over a run of months
            models.Index(fields=["group", "key", "month"], name="analytics_figure_group_key"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.group} {self.key} {self.indicator}: {self.numerator}/{self.denominator}"
