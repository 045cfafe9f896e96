"""Reads of the model registry. Models are not scoped by jurisdiction: every unit shares them."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from zhiwang.classifier.ml.selective import DriftResult, drift_check
from zhiwang.classifier.models import ClassifierModel, ModelActivation, ModelStatus


def active_model(name: str = "category") -> ClassifierModel | None:
    """The active model of ``name``, or None (a fresh install has none)."""
    return ClassifierModel.objects.filter(name=name, status=ModelStatus.ACTIVE).first()


def model_list(*, name: str | None = None) -> QuerySet[ClassifierModel]:
    """All registered models, newest version first within each name."""
    qs = ClassifierModel.objects.all()
    if name:
        qs = qs.filter(name=name)
    return qs.order_by("name", "-version")


def previous_model(name: str = "category") -> ClassifierModel | None:
    """The model a rollback would bring back: the one in use before the current one.

    Read from the promotion history (``ModelActivation``): a rollback from a restored model
    goes further back, never forward. With no model in use, the one in use last. A candidate
    that was never in use (rejected) is never brought back.
    """
    current = active_model(name)
    activations = ModelActivation.objects.filter(name=name).select_related("previous__model")
    if current is not None:
        running = (
            activations.filter(model=current, ended_at__isnull=True).order_by("-activated_at", "-pk").first()
        )
        target = running.previous if running is not None else None
    else:
        target = activations.order_by("-activated_at", "-pk").first()
    if target is None or target.model.status != ModelStatus.RETIRED:
        return None
    return target.model


def model_drift(
    model: ClassifierModel,
    *,
    recent_confidences: Sequence[float],
    recent_agreement: Sequence[bool] | None = None,
    max_drop: float = 0.05,
    min_recent: int = 30,
) -> DriftResult:
    """Drift of ``model`` on recent traffic against its own reference figures.

    The reference is what the model measured on labelled data: its held-back evaluation
    when there is one (``model_compare``), else its cross-validation at training time:
    mean top confidence, and accuracy as the expected agreement with dispatchers.
    ``recent_confidences`` are the top probabilities it gave lately; ``recent_agreement``
    says for the recent tickets a dispatcher handled whether they kept its top suggestion.
    """
    metrics = model.metrics or {}
    reference = metrics.get("held_back") or metrics
    confidence = reference.get("mean_confidence")
    accuracy = reference.get("accuracy")
    return drift_check(
        reference_confidences=[] if confidence is None else [confidence],
        recent_confidences=list(recent_confidences),
        reference_agreement=None if accuracy is None else [accuracy],
        recent_agreement=None if recent_agreement is None else list(recent_agreement),
        max_confidence_drop=max_drop,
        max_agreement_drop=max_drop,
        min_recent=min_recent,
    )
