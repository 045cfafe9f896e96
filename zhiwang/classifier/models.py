"""The registry of trained classifier models: which versions exist, which one is in use.

The model itself lives in a directory on disk (see ``ml.model``); a row here records it
with its labels and measured metrics and carries its status. At most one model per
name (``category`` today; ``kind``, ``urgency``, … later) is active; a fresh install has
none and the platform then runs on rules and keywords alone.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


def model_root() -> Path:
    """Folder holding the model directories: ``ZHIWANG_MODEL_DIR`` or ``DATA_DIR/models``."""
    configured = getattr(settings, "ZHIWANG_MODEL_DIR", None)
    if configured:
        return Path(configured)
    return Path(settings.DATA_DIR) / "models"


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", _("Candidate")  # trained and registered, not used for suggestions yet
    ACTIVE = "active", _("Active")  # the one model of its name that answers suggestions
    RETIRED = "retired", _("Retired")  # was active once; can be promoted again (rollback)


#: Allowed status changes; ``model_promote`` and ``model_retire`` apply them.
TRANSITIONS: dict[str, set[str]] = {
    ModelStatus.CANDIDATE: {ModelStatus.ACTIVE, ModelStatus.RETIRED},
    ModelStatus.ACTIVE: {ModelStatus.RETIRED},
    ModelStatus.RETIRED: {ModelStatus.ACTIVE},
}


class ClassifierModel(models.Model):
    """One trained model version: where its files are, what it predicts, how well it did.

    ``path`` is relative to :func:`model_root` when the directory lies inside it (so the
    data folder can move), absolute otherwise. ``threshold`` is the auto-dispatch threshold
    in force for this model; it starts as the one measured at training time (98 % precision
    on cross-validation) and an administrator may change it from the precision/coverage curve.
    """

    name = models.CharField(_("name"), max_length=64, help_text=_("What the model predicts, e.g. category"))
    version = models.PositiveIntegerField(_("version"))
    path = models.CharField(_("model directory"), max_length=500)
    labels = models.JSONField(_("labels"), default=list)
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)
    training_size = models.PositiveIntegerField(_("training size"), default=0)
    threshold = models.FloatField(
        _("auto-dispatch threshold"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],  # a probability (the admin form)
        help_text=_("Suggestions at least this confident are dispatched automatically; empty: never"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    promoted_at = models.DateTimeField(_("promoted at"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        verbose_name = _("classifier model")
        verbose_name_plural = _("classifier models")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="classifier_model_name_version_unique"),
            # the invariant behind model_promote: one active model per name
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(status="active"),
                name="classifier_one_active_model_per_name",
            ),
        ]
        indexes = [
            models.Index(fields=["name", "status"], name="classifier_name_status_idx")
        ]  # active_model()

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.get_status_display()})"

    @property
    def directory(self) -> Path:
        """Absolute path of the model directory."""
        path = Path(self.path)
        return path if path.is_absolute() else model_root() / path

    @property
    def macro_f1(self) -> float | None:
        return (self.metrics or {}).get("macro_f1")

    @property
    def coverage_at_target(self) -> float | None:
        return (self.metrics or {}).get("coverage_at_target")

    @property
    def measurement_note(self) -> str:
        """What the training-time metrics do not cover, in words ("" when they cover everything)."""
        from zhiwang.classifier.ml.training import measurement_note

        return measurement_note(self.metrics)
