"""The governance index (治理指数): the admin-editable ``IndexFormula`` and the monthly
``GovernanceIndex`` scores of each division."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


def default_weights() -> dict:
    return {
        "on_time_closure_rate": 0.30,
        "satisfaction_rate": 0.25,
        "resolution_rate": 0.25,
        "rework_rate": 0.10,
        "response_rate": 0.10,
        # optional term (disputes): 0 leaves the ranking as it was until an administrator weighs it
        "dispute_success_rate": 0.0,
    }


class IndexFormula(models.Model):
    """治理指数 formula: weights over indicators (rates 0–1; rework counts as 1 − rework rate).

    score = 100 × Σ weight × value ÷ Σ weight over the indicators that have a value. The red list
    is the top ``red_count`` of a level, the black list the bottom ``black_count`` and anybody
    under ``black_below`` (who is never red). A division with fewer than ``min_volume`` tickets
    due to close that month (the on-time closure rate's denominator) is scored but not ranked and
    on neither list. The active formula is the newest with ``is_active``; each computed month
    keeps a copy of the formula it was scored by.
    """

    name = models.CharField(_("name"), max_length=64)
    weights = models.JSONField(_("weights"), default=default_weights)
    red_count = models.PositiveSmallIntegerField(_("red list size"), default=3)
    black_count = models.PositiveSmallIntegerField(_("black list size"), default=3)
    black_below = models.FloatField(_("black list below score"), null=True, blank=True)
    #: the fewest tickets due to close in the month (the on-time closure rate's denominator) a
    #: division needs to be ranked; below it the score is shown, unranked and on neither list
    min_volume = models.PositiveSmallIntegerField(
        _("minimum tickets to rank"),
        default=5,
        help_text=_(
            "A place with fewer tickets due to close in the month is scored but not ranked, and is "
            "on neither the red nor the black list. 0 ranks every place that has a score."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("index formula")
        verbose_name_plural = _("index formulas")
        ordering = ["-updated_at", "-pk"]

    def __str__(self) -> str:
        return self.name


class Standing(models.TextChoices):
    RED = "red", _("Red list")
    BLACK = "black", _("Black list")
    NONE = "", _("—")


class GovernanceIndexQuerySet(models.QuerySet):
    def visible_to(self, user):
        from zhiwang.core.scoping import scope_of

        scope = scope_of(user)
        if scope.everything:
            return self
        if scope.is_empty:
            return self.none()
        return self.filter(division_id__in=scope.division_ids)


class UnrankedReason(models.TextChoices):
    """Why a row of the index has no rank."""

    TOO_FEW_TICKETS = "too_few_tickets", _("Too few tickets to rank")
    NO_SCORE = "no_score", _("No indicator value this month")


class GovernanceIndex(models.Model):
    """One division's index for one month, with the indicator values it came from."""

    month = models.DateField(_("month"))  # first day of the month
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("division"), on_delete=models.CASCADE, related_name="+"
    )
    level = models.CharField(_("level"), max_length=12)
    formula = models.ForeignKey(
        IndexFormula, verbose_name=_("formula"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: the formula as it was when this row was computed (name, weights, list sizes, black_below,
    #: min_volume):
    #: the FK may since point to an edited formula, or to none
    formula_used = models.JSONField(_("formula used"), default=dict, blank=True)
    score = models.FloatField(_("score"), null=True, blank=True)
    rank = models.PositiveIntegerField(_("rank"), null=True, blank=True)
    standing = models.CharField(_("standing"), max_length=8, choices=Standing.choices, blank=True, default="")
    values = models.JSONField(_("indicators"), default=dict)
    #: tickets due to close in the month (the on-time closure rate's denominator), compared with
    #: the formula's ``min_volume``; null on rows computed before it was kept
    volume = models.PositiveIntegerField(_("tickets due to close"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    objects = GovernanceIndexQuerySet.as_manager()

    class Meta:
        verbose_name = _("governance index")
        verbose_name_plural = _("governance indices")
        ordering = ["month", "level", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["month", "division"], name="analytics_index_month_division")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.division_id}: {self.score}"

    @property
    def ranked(self) -> bool:
        return self.rank is not None

    @property
    def min_volume(self) -> int:
        """The minimum of the formula that scored this row (0 for rows scored before there was one)."""
        return int((self.formula_used or {}).get("min_volume") or 0)

    @property
    def unranked_reason(self) -> str | None:
        """``None`` when ranked; ``too_few_tickets`` when scored on fewer tickets than the
        formula's minimum; ``no_score`` when no indicator had a value."""
        if self.rank is not None:
            return None
        if self.score is None:
            return UnrankedReason.NO_SCORE.value
        return UnrankedReason.TOO_FEW_TICKETS.value
