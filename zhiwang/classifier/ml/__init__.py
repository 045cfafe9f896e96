"""The model half of smart dispatch, free of Django models: text, features, training, selection.

Public API::

    from zhiwang.classifier.ml import train, TrainedModel, decide, precision_coverage_curve

    model = train(texts, labels, progress=callback)      # -> TrainedModel
    model.predict(["小区门口垃圾成堆无人清理"], top_k=3)  # -> [[(label, prob), ...]]
    model.save("var/models/category-3"); TrainedModel.load("var/models/category-3")
"""

from zhiwang.classifier.ml.features import FEATURE_KINDS, FeatureConfig
from zhiwang.classifier.ml.model import FORMAT_VERSION, METADATA_FILE, MODEL_FILE, TrainedModel, read_metadata
from zhiwang.classifier.ml.selective import (
    AUTO,
    QUEUE,
    DriftResult,
    PrecisionCoverageCurve,
    decide,
    drift_check,
    precision_coverage_curve,
    threshold_for_precision,
)
from zhiwang.classifier.ml.text import normalize, prepare, segment
from zhiwang.classifier.ml.training import cross_validate, metrics_from_proba, train


def load_model(directory) -> TrainedModel:
    """Shortcut for :meth:`TrainedModel.load`."""
    return TrainedModel.load(directory)


__all__ = [
    "AUTO",
    "FEATURE_KINDS",
    "FORMAT_VERSION",
    "METADATA_FILE",
    "MODEL_FILE",
    "QUEUE",
    "DriftResult",
    "FeatureConfig",
    "PrecisionCoverageCurve",
    "TrainedModel",
    "cross_validate",
    "decide",
    "drift_check",
    "load_model",
    "metrics_from_proba",
    "normalize",
    "precision_coverage_curve",
    "prepare",
    "read_metadata",
    "segment",
    "threshold_for_precision",
    "train",
]
