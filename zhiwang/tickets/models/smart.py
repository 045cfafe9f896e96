"""Smart dispatch: what the classifier suggested, what people decided, training runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.tickets.models.configuration import Category
from zhiwang.tickets.models.ticket import CategorySource, Ticket

# --- smart dispatch: what the classifier suggested, what people decided ----------------


#: Categories nobody has looked at yet: the dispatcher confirms them (dispatch) or corrects them.
UNCHECKED_SOURCES = (CategorySource.MODEL, CategorySource.MODEL_UNSURE, CategorySource.KEYWORDS)


class CorrectionSource(models.TextChoices):
    """Where a person decided a ticket's category."""

    INTAKE = "intake", _("Intake")  # the operator chose, with the suggestion in view
    DISPATCH = "dispatch", _("Dispatch")  # the dispatcher dispatched with the suggested category
    RECATEGORISE = "recategorise", _("Category changed")  # the dispatcher changed it


class CategoryCorrection(models.Model):
    """One person's decision about a ticket's category, beside what the classifier suggested.

    The training data of smart dispatch (the text and the final label) and the record the
    administrator's precision/coverage curve and the drift check are measured on (did the
    person keep the suggestion?). Rows are appended, never edited.
    """

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="category_corrections"
    )
    text = models.TextField(_("text"))
    suggested_label = models.CharField(_("suggested category"), max_length=32, blank=True)
    suggested_confidence = models.FloatField(_("confidence"), null=True, blank=True)
    model = models.CharField(_("model"), max_length=64, blank=True)
    from_category = models.ForeignKey(
        Category,
        verbose_name=_("category before"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    final_category = models.ForeignKey(
        Category, verbose_name=_("final category"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("where"), max_length=16, choices=CorrectionSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("at"), db_index=True)  # the last N for the curve and the drift check

    class Meta:
        verbose_name = _("category correction")
        verbose_name_plural = _("category corrections")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.suggested_label or '-'} → {self.final_category_id}"

    @property
    def agreed(self) -> bool | None:
        """Whether the person kept the classifier's top suggestion (None: there was none)."""
        if not self.suggested_label:
            return None
        return self.suggested_label == self.final_category.code


class TrainingStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class TrainingRun(models.Model):
    """One retraining of the category model from the corrected history, run by the task worker.

    ``progress`` (0–100) and ``stage`` are written as training goes, for the admin page
    (``updated_at`` with them).
    The newest corrections are held back from training (``held_back``) and measure the
    candidate against the active model (``comparison``).
    """

    status = models.CharField(
        _("status"), max_length=16, choices=TrainingStatus.choices, default=TrainingStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    stage = models.CharField(_("stage"), max_length=64, blank=True)
    examples = models.PositiveIntegerField(_("training examples"), default=0)
    held_back = models.PositiveIntegerField(_("held-back examples"), default=0)
    model = models.ForeignKey(
        "classifier.ClassifierModel",
        verbose_name=_("candidate model"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    comparison = models.JSONField(_("comparison"), default=dict, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    #: Moves with every status or progress write: a queued or running run that has not moved
    #: for long was left by a dead worker (``classifier_retrain_request`` gives it up).
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("training run")
        verbose_name_plural = _("training runs")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Two retrain requests at the same moment queue one run, not two trainings.
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="queued"),
                name="tickets_one_queued_training_run",
            )
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.status} {self.progress}%"
