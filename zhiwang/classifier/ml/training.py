"""Training: from texts and labels to a :class:`TrainedModel` with measured metrics.

The default model is a linear SVM on TF-IDF of jieba words plus character 1–3-grams,
with Platt (sigmoid) calibration fitted out of fold, so ``predict`` gives probabilities
that a threshold can be set on. The choice is measured, not assumed: see
``benchmarks/classifier_eval.py`` and ``docs/classifier.md``.

With ``cv >= 2`` the whole recipe (features included) is cross-validated first; the
out-of-fold predictions give the stored metrics and the auto-dispatch threshold for
98 % precision. Identical and near-identical texts are kept in the same fold so that
re-posted messages cannot leak from training into test.
"""

from __future__ import annotations

import platform
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
from django.utils.translation import gettext as _

from zhiwang.classifier.ml.features import FeatureConfig, build_features
from zhiwang.classifier.ml.model import FORMAT_VERSION, MAX_TEXT_CHARS, TrainedModel
from zhiwang.classifier.ml.selective import precision_coverage_curve
from zhiwang.core.errors import ServiceError

#: ``progress(stage, done, total)``; stages: "prepare", "cross-validate", "fit".
ProgressCallback = Callable[[str, int, int], None]

TARGET_PRECISION = 0.98
#: Texts whose word TF-IDF cosine reaches this are near-duplicates (re-posted messages) and share a fold.
NEAR_DUPLICATE_COSINE = 0.8
_NEAR_DUPLICATE_MAX_DOCS = 60_000  # above this only exact duplicates are grouped (the check is quadratic)
DEFAULT_C = 0.5
_PREPARE_CHUNK = 500


def build_classifier(y: np.ndarray, *, C: float = DEFAULT_C, calibration: str = "sigmoid"):
    """Calibrated LinearSVC; plain logistic regression when a class is too small to calibrate."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    smallest = int(np.bincount(y).min())
    if smallest < 3:
        # Out-of-fold calibration needs a few examples of every class; LR is probabilistic by itself.
        return LogisticRegression(C=10.0, max_iter=2000)
    return CalibratedClassifierCV(LinearSVC(C=C), method=calibration, cv=min(5, smallest), ensemble=False)


def build_pipeline(
    config: FeatureConfig, y: np.ndarray, *, n_docs: int, C: float = DEFAULT_C, calibration: str = "sigmoid"
):
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            ("features", build_features(config, n_docs=n_docs)),
            ("classifier", build_classifier(y, C=C, calibration=calibration)),
        ]
    )


def _validate(texts: Sequence[object], labels: Sequence[object]) -> tuple[list[str], list[str], int]:
    if len(texts) != len(labels):
        raise ServiceError(
            "classifier.length_mismatch",
            _("There are %(texts)d texts but %(labels)d labels.")
            % {"texts": len(texts), "labels": len(labels)},
        )
    kept_texts, kept_labels, skipped = [], [], 0
    for text, label in zip(texts, labels, strict=True):
        label = "" if label is None else str(label).strip()
        if not label or label.lower() == "nan":
            skipped += 1
            continue
        kept_texts.append("" if text is None else str(text)[:MAX_TEXT_CHARS])
        kept_labels.append(label)
    if len(set(kept_labels)) < 2:
        raise ServiceError(
            "classifier.too_few_labels",
            _("Training needs at least two different labels; found %(count)d.")
            % {"count": len(set(kept_labels))},
        )
    return kept_texts, kept_labels, skipped


def _prepare_with_progress(texts, *, presegmented, words, progress) -> list[str]:
    from zhiwang.classifier.ml.text import prepare

    prepared: list[str] = []
    for start in range(0, len(texts), _PREPARE_CHUNK):
        prepared.extend(
            prepare(texts[start : start + _PREPARE_CHUNK], presegmented=presegmented, words=words)
        )
        if progress:
            progress("prepare", len(prepared), len(texts))
    return prepared


def duplicate_groups(prepared: Sequence[str], *, threshold: float = NEAR_DUPLICATE_COSINE) -> np.ndarray:
    """A group id per text; exact and near-duplicates (cosine >= ``threshold``) share one.

    Cross-validation keeps a group in one fold. Without this, a message re-posted with small
    edits is in training and test at once, and the measured precision (hence the stored
    threshold) comes out optimistic: on the complaint data 9 % of messages have such a twin.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    from zhiwang.classifier.ml.text import split_tokens

    docs = list(prepared)
    n = len(docs)
    exact = np.unique(np.asarray(docs, dtype=object).astype(str), return_inverse=True)[1]
    rows, cols = [np.arange(n)], [np.unique(exact, return_index=True)[1][exact]]  # link to the first copy
    if n <= _NEAR_DUPLICATE_MAX_DOCS:
        try:
            x = TfidfVectorizer(analyzer=split_tokens).fit_transform(docs)
        except ValueError:  # no token at all
            x = None
        for start in range(0, n if x is not None else 0, 1000):
            similar = (x[start : start + 1000] @ x.T).tocoo()
            keep = similar.data >= threshold
            rows.append(similar.row[keep] + start)
            cols.append(similar.col[keep])
    r, c = np.concatenate(rows), np.concatenate(cols)
    adjacency = sp.coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n))
    return connected_components(adjacency, directed=False)[1]


def cross_validate(
    prepared: Sequence[str],
    y: np.ndarray,
    *,
    config: FeatureConfig,
    cv: int = 5,
    C: float = DEFAULT_C,
    calibration: str = "sigmoid",
    random_state: int = 0,
    progress: ProgressCallback | None = None,
) -> np.ndarray | None:
    """Out-of-fold probability matrix of the full recipe, or None when the data are too small.

    ``cv`` is lowered to the smallest class count and to the number of distinct texts
    (duplicate groups); below two folds there is no cross-validation.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    counts = np.bincount(y)
    if min(cv, int(counts.min())) < 2:
        return None
    groups = duplicate_groups(prepared)
    # a fold holds whole groups: there cannot be more folds than groups (all copies of one text)
    n_splits = min(cv, int(counts.min()), len(np.unique(groups)))
    if n_splits < 2:
        return None
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    proba = np.zeros((len(y), len(counts)))
    docs = list(prepared)
    for fold, (train_idx, test_idx) in enumerate(splitter.split(docs, y, groups)):
        y_train = y[train_idx]
        if len(np.unique(y_train)) < len(counts):
            return None  # a class vanished from a training fold: too small to cross-validate
        if not any(docs[i] for i in train_idx):
            return None  # only texts without a usable word in the training fold
        pipeline = build_pipeline(config, y_train, n_docs=len(train_idx), C=C, calibration=calibration)
        pipeline.fit([docs[i] for i in train_idx], y_train)
        model = TrainedModel(
            pipeline=pipeline, labels=[str(i) for i in range(len(counts))], feature_config=config
        )
        proba[test_idx] = model.predict_proba_prepared([docs[i] for i in test_idx])
        if progress:
            progress("cross-validate", fold + 1, n_splits)
    return proba


def metrics_from_proba(proba: np.ndarray, y: np.ndarray, labels: Sequence[str]) -> dict:
    """Macro-F1, accuracy, per-label F1, the precision/coverage summary and the 98 % threshold."""
    from sklearn.metrics import accuracy_score, f1_score

    pred = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    curve = precision_coverage_curve(list(zip(confidence, pred == y, strict=True)))
    threshold = curve.threshold_for_precision(TARGET_PRECISION)
    per_label = f1_score(y, pred, average=None, labels=list(range(len(labels))), zero_division=0)
    return {
        "evaluated_on": "cross-validation (out-of-fold)",
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "f1_per_label": {label: round(float(v), 4) for label, v in zip(labels, per_label, strict=True)},
        "target_precision": TARGET_PRECISION,
        "threshold": threshold,
        "coverage_at_target": round(curve.coverage_at_precision(TARGET_PRECISION), 4),
        "curve": curve.summary(),
        "mean_confidence": round(float(confidence.mean()), 4),
    }


def train(
    texts: Sequence[object],
    labels: Sequence[object],
    *,
    presegmented: bool | None = None,
    features: FeatureConfig | None = None,
    cv: int = 5,
    C: float = DEFAULT_C,
    calibration: str = "sigmoid",
    random_state: int = 0,
    progress: ProgressCallback | None = None,
    name: str = "category",
) -> TrainedModel:
    """Train a classifier on ``texts`` (raw or pre-segmented) and their string ``labels``.

    Rows with an empty label are skipped (counted in the metadata); when no text has a
    usable token at all, ``ServiceError("classifier.no_usable_text")``. ``presegmented=None``
    decides per text (see ``ml.text.looks_presegmented``). ``cv`` folds of cross-validation
    measure the metrics and the auto-dispatch threshold first (``cv=0`` skips it: no threshold,
    so the model never dispatches automatically until one is measured).
    """
    started = time.perf_counter()
    config = features or FeatureConfig()
    texts, label_values, skipped = _validate(texts, labels)
    names = sorted(set(label_values))
    index = {label: i for i, label in enumerate(names)}
    y = np.asarray([index[label] for label in label_values])
    prepared = _prepare_with_progress(
        texts, presegmented=presegmented, words=config.trains_on_words, progress=progress
    )
    if not any(prepared):
        raise ServiceError(
            "classifier.no_usable_text",
            _(
                "None of the %(count)d texts has a word or character to learn from "
                "(they are empty or punctuation only)."
            )
            % {"count": len(prepared)},
        )

    metrics: dict = {"evaluated_on": None, "threshold": None}
    if cv and cv >= 2:
        proba = cross_validate(
            prepared,
            y,
            config=config,
            cv=cv,
            C=C,
            calibration=calibration,
            random_state=random_state,
            progress=progress,
        )
        if proba is not None:
            metrics = metrics_from_proba(proba, y, names)
    pipeline = build_pipeline(config, y, n_docs=len(prepared), C=C, calibration=calibration)
    pipeline.fit(prepared, y)
    if progress:
        progress("fit", 1, 1)
    metadata = {
        "name": name,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": names,
        "label_counts": dict(sorted(Counter(label_values).items())),
        "training_size": len(label_values),
        "skipped_rows": skipped,
        "metrics": metrics,
        "feature_config": config.as_dict(),
        "classifier": {
            "type": type(pipeline.steps[-1][1]).__name__,
            "C": C,
            "calibration": calibration,
            "cv_folds": cv,
        },
        "training_seconds": round(time.perf_counter() - started, 1),
        "versions": _library_versions(),
    }
    return TrainedModel(pipeline=pipeline, labels=names, feature_config=config, metadata=metadata)


def _library_versions() -> dict:
    import jieba
    import scipy
    import sklearn

    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "jieba": getattr(jieba, "__version__", "unknown"),
    }
