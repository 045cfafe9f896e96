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
from django.utils.translation import gettext, pgettext_lazy
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


#: What each model name predicts, in words (a model's name stays the code, e.g. ``category``).
MODEL_KIND_LABELS = {
    "category": _("category model"),
    "kind": _("kind model"),
    "urgency": _("urgency model"),
}


def model_label(name: str, version: int | str) -> str:
    """A model version in words for people, e.g. "category model v3" (分类模型 第 3 版)."""
    kind = MODEL_KIND_LABELS.get(name, name)
    return gettext("%(kind)s v%(version)s") % {"kind": kind, "version": version}


def tag_label(tag: str) -> str:
    """The stored tag of a model (``"category v3"``, what suggestions record) in words; other text as it is."""
    name, _space, version = (tag or "").strip().rpartition(" v")
    if name and version.isdigit() and " " not in name:
        return model_label(name, int(version))
    return tag or ""


class Origin:
    """Where a model came from, kept as data in ``metrics["origin"]`` and put in words when shown.

    ``{"code": "retrained", "count": 210}`` (retrained here from the labelled tickets),
    ``{"code": "demo"}`` (the demo city's synthetic requests), ``{"code": "folder"}``
    (registered from a model folder, e.g. ``zhiwang classify train``).
    """

    RETRAINED = "retrained"
    DEMO = "demo"
    FOLDER = "folder"

    @staticmethod
    def as_dict(code: str, **params) -> dict:
        return {"code": code, **params}

    @staticmethod
    def text(origin) -> str:
        if not isinstance(origin, dict):
            return ""
        code = origin.get("code")
        if code == Origin.RETRAINED:
            return gettext("Retrained from %(count)s labelled tickets") % {"count": origin.get("count", 0)}
        if code == Origin.DEMO:
            return gettext("Demo: trained on synthetic requests of the demo city")
        if code == Origin.FOLDER:
            return gettext("Registered from a model folder")
        return ""


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
    def display_name(self) -> str:
        """The version in words, in the reader's language: "category model v3" (分类模型 第 3 版)."""
        return model_label(self.name, self.version)

    @property
    def tag(self) -> str:
        """The stable tag suggestions and corrections record, e.g. ``category v3`` (a code, not for people)."""
        return f"{self.name} v{self.version}"

    @property
    def origin_text(self) -> str:
        """Where the model came from, in the reader's language ("" when not recorded)."""
        return Origin.text((self.metrics or {}).get("origin"))

    @property
    def history(self) -> list[tuple]:
        """Its times in use, oldest first: ``(when, what)`` pairs in the reader's language.

        From the :class:`ModelActivation` rows (promotions, rollbacks, retirements); nothing
        is overwritten, so a model promoted, rolled back and restored shows all of it.
        """
        events = []
        for activation in self.activations.all():
            events.append((activation.activated_at, activation.get_via_display()))
            if activation.ended_at is not None:
                events.append((activation.ended_at, activation.get_ended_by_display()))
        return sorted(events, key=lambda event: event[0])

    @property
    def macro_f1(self) -> float | None:
        return (self.metrics or {}).get("macro_f1")

    @property
    def coverage_at_target(self) -> float | None:
        return (self.metrics or {}).get("coverage_at_target")

    @property
    def measurement_note(self) -> str:
        """What the training-time metrics do not cover, in words ("" when they cover everything).

        Labels are named through ``self.label_names`` (``{label: name}``) when a caller that
        knows them (e.g. the smart-dispatch page: category names) set it, else shown as codes.
        """
        from zhiwang.classifier.ml.training import measurement_note

        return measurement_note(self.metrics, label_names=getattr(self, "label_names", None))


class ActivationVia(models.TextChoices):
    """How a model came into use."""

    PROMOTE = "promote", pgettext_lazy("model history", "Promoted")
    ROLLBACK = "rollback", pgettext_lazy("model history", "Restored by a rollback")


class ActivationEnd(models.TextChoices):
    """How a model's time in use ended."""

    REPLACED = "replaced", pgettext_lazy("model history", "Replaced by another model")
    ROLLED_BACK = "rolled_back", pgettext_lazy("model history", "Rolled back")
    RETIRED = "retired", pgettext_lazy("model history", "Switched off")


class ModelActivation(models.Model):
    """One stretch of time a model was the active one of its name: the promotion history.

    Appended by ``model_promote`` and ``model_rollback``, closed when the model stops
    being active; never rewritten otherwise. ``previous`` is the stretch a rollback from
    this one goes back to: a promotion points at the stretch it replaced, a rollback at
    the one *before* the stretch it restored, so successive rollbacks walk back through
    the promotions (v3 → v2 → v1) and never forward.
    """

    name = models.CharField(_("name"), max_length=64)
    model = models.ForeignKey(
        ClassifierModel, verbose_name=_("model"), on_delete=models.CASCADE, related_name="activations"
    )
    via = models.CharField(_("how it came into use"), max_length=16, choices=ActivationVia.choices)
    activated_at = models.DateTimeField(_("in use from"))
    ended_at = models.DateTimeField(_("in use until"), null=True, blank=True)
    ended_by = models.CharField(
        _("how its use ended"), max_length=16, choices=ActivationEnd.choices, blank=True
    )
    previous = models.ForeignKey(
        "self",
        verbose_name=_("a rollback returns to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("model activation")
        verbose_name_plural = _("model activations")
        ordering = ["activated_at", "pk"]
        indexes = [models.Index(fields=["name", "ended_at"], name="classifier_activation_open_idx")]

    def __str__(self) -> str:
        return f"{self.model.tag} {self.via} {self.activated_at:%Y-%m-%d %H:%M}"
