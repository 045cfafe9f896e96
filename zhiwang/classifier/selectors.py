"""Reads of the model registry. Models are not scoped by jurisdiction: every unit shares them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.conf import settings
from django.db.models import QuerySet

from zhiwang.classifier.ml.selective import DriftResult, RecentLabel, drift_check, unknown_check
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


#: Above this share of recent decided tickets in categories the active model never learned
#: (catch-alls apart), the drift check warns that it should be retrained
#: (``settings.ZHIWANG_CLASSIFIER_UNKNOWN_SHARE``). The same 5 points as the confidence and
#: agreement drops: each such ticket is one the model cannot get right, so its agreement with
#: dispatchers on all traffic is that much below what it measured.
DEFAULT_UNKNOWN_SHARE = 0.05


def unknown_share_limit() -> float:
    """The share (0–1) of unknown categories above which the drift check warns (the setting, else 5 %)."""
    value = getattr(settings, "ZHIWANG_CLASSIFIER_UNKNOWN_SHARE", DEFAULT_UNKNOWN_SHARE)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return DEFAULT_UNKNOWN_SHARE
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else DEFAULT_UNKNOWN_SHARE


def model_drift(
    model: ClassifierModel,
    *,
    recent_confidences: Sequence[float],
    recent_agreement: Sequence[bool] | None = None,
    recent_categories: Sequence[RecentLabel] | None = None,
    max_drop: float = 0.05,
    max_unknown_share: float | None = None,
    min_recent: int = 30,
) -> DriftResult:
    """Drift of ``model`` on recent traffic against its own reference figures.

    The reference is what the model measured on labelled data: its held-back evaluation
    when there is one (``model_compare``), else its cross-validation at training time:
    mean top confidence, and accuracy as the expected agreement with dispatchers.
    ``recent_confidences`` are the top probabilities it gave lately; ``recent_agreement``
    says for the recent tickets a dispatcher handled whether they kept its top suggestion.

    ``recent_categories`` are the final categories people decided for the recent tickets (the
    caller's window, the one of ``recent_confidences``): when given, the share of them in
    categories the model never learned is measured (``result.unknown``) and warns above
    ``max_unknown_share`` (default :func:`unknown_share_limit`), catch-alls apart
    (``ml.selective.unknown_check``). A model that names no labels is not measured.
    """
    metrics = model.metrics or {}
    reference = metrics.get("held_back") or metrics
    confidence = reference.get("mean_confidence")
    accuracy = reference.get("accuracy")
    result = drift_check(
        reference_confidences=[] if confidence is None else [confidence],
        recent_confidences=list(recent_confidences),
        reference_agreement=None if accuracy is None else [accuracy],
        recent_agreement=None if recent_agreement is None else list(recent_agreement),
        max_confidence_drop=max_drop,
        max_agreement_drop=max_drop,
        min_recent=min_recent,
    )
    if recent_categories is not None and model.labels:
        result.add_unknown(
            unknown_check(
                known_labels=model.labels,
                recent=recent_categories,
                max_share=unknown_share_limit() if max_unknown_share is None else max_unknown_share,
                min_recent=min_recent,
            )
        )
    return result
