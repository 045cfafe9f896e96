"""Training: from texts and labels to a :class:`TrainedModel` with measured metrics.

The default model is a linear SVM on TF-IDF of jieba words plus character 1–3-grams,
with Platt (sigmoid) calibration fitted out of fold, so ``predict`` gives probabilities
that a threshold can be set on. The choice is measured, not assumed: see
``benchmarks/classifier_eval.py`` and ``docs/classifier.md``.

With ``cv >= 2`` the whole recipe (features included) is cross-validated first; the
out-of-fold predictions give the stored metrics and the auto-dispatch threshold for
98 % precision. Identical and near-identical texts are kept in the same fold so that
re-posted messages cannot leak from training into test. A label with too few distinct
texts to be split over the folds does not stop the measurement of the others: its rows
are trained on in every fold and left out of the measurement, and the metrics say so
(``measured_size``, ``unmeasured_labels``; :func:`measurement_note` puts it in words).
"""

from __future__ import annotations

import platform
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from django.utils.translation import gettext as _

from zhiwang.classifier.ml.features import FeatureConfig, build_features
from zhiwang.classifier.ml.model import FORMAT_VERSION, MAX_TEXT_CHARS, TrainedModel
from zhiwang.classifier.ml.selective import MIN_EVIDENCE, precision_coverage_curve
from zhiwang.core.errors import ServiceError

#: ``progress(stage, done, total)``; stages: "prepare", "cross-validate", "fit".
ProgressCallback = Callable[[str, int, int], None]

TARGET_PRECISION = 0.98
#: Texts whose word TF-IDF cosine reaches this are near-duplicates (re-posted messages) and share a fold.
NEAR_DUPLICATE_COSINE = 0.8
_NEAR_DUPLICATE_MAX_DOCS = 60_000  # above this only exact duplicates are grouped (the check is quadratic)
DEFAULT_C = 0.5
_PREPARE_CHUNK = 500
#: Cross-validation uses at least this many folds (fewer when ``cv`` asks for fewer): a label
#: with fewer distinct texts is trained on but not measured, rather than lowering the folds
#: for every label down to two.
MIN_FOLDS = 3
#: Why a model has no cross-validated metrics (``metrics["not_measured"]``).
NOT_MEASURED_DISABLED = "disabled"  # cv=0 (or 1) asked for none
NOT_MEASURED_TOO_SMALL = "too_small"  # fewer than two labels have enough distinct texts
_NOTE_LABELS = 10  # labels named in a measurement note at most


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


@dataclass
class CrossValidation:
    """Out-of-fold predictions of the full recipe, and what they cover.

    ``proba`` and ``evidence`` have a row per text; only the rows in ``measured`` were
    predicted out of fold (the others are zeros). ``unmeasured`` counts, per label index,
    the rows of labels with too few distinct texts to be split over ``folds`` folds: they
    were trained on in every fold and are not measured. ``proba`` is None when nothing
    could be measured (``reason``: one of the ``NOT_MEASURED_*`` codes).
    """

    folds: int
    proba: np.ndarray | None
    evidence: np.ndarray | None = None
    measured: np.ndarray | None = None
    unmeasured: dict[int, int] = field(default_factory=dict)
    reason: str = ""


def _group_counts(y: np.ndarray, groups: np.ndarray, n_labels: int) -> np.ndarray:
    """Per label, how many distinct duplicate groups (distinct texts) it has."""
    pairs = np.unique(np.stack([y, groups]), axis=1)
    return np.bincount(pairs[0], minlength=n_labels)


def _plan_folds(y, groups, n_labels, cv, random_state):
    """(folds, measurable labels, [(train, test) index arrays]) or None when too small.

    Folds: ``cv``, lowered to the number of distinct texts of the smallest label but not
    below ``min(cv, MIN_FOLDS)`` (lower still, down to two, only when fewer than two labels
    could be measured otherwise). Labels with fewer distinct texts than folds are trained on
    in every fold and not measured; so is a label that the split leaves out of a training
    fold (all its texts in one test fold). A training fold leaves out the rows of
    unmeasured labels that duplicate a text of its test fold, unless that would leave out
    the label altogether.
    """
    per_label = _group_counts(y, groups, n_labels)
    first = min(cv, max(int(per_label.min()), min(cv, MIN_FOLDS)))
    for folds in range(first, 1, -1):
        measurable = set(np.flatnonzero(per_label >= folds).tolist())
        while len(measurable) >= 2:
            plan, lost = _split(y, groups, measurable, folds, random_state)
            if plan is None:
                break
            if not lost:
                return folds, measurable, plan
            measurable -= lost  # a label the split cannot keep in every training fold: not measured
    return None


def _split(y, groups, measurable: set[int], folds: int, random_state: int):
    """([(train, test)], labels missing from a training fold) for the measurable labels' rows."""
    from sklearn.model_selection import StratifiedGroupKFold

    everything = np.arange(len(y))
    inside = np.isin(y, sorted(measurable))
    rows, rest = everything[inside], everything[~inside]
    if len(np.unique(groups[rows])) < folds:
        return None, set()
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=random_state)
    plan, lost = [], set()
    for train_pos, test_pos in splitter.split(rows, y[rows], groups[rows]):
        train_idx, test_idx = rows[train_pos], rows[test_pos]
        lost |= measurable - set(np.unique(y[train_idx]).tolist())
        extra = rest[~np.isin(groups[rest], np.unique(groups[test_idx]))]
        gone = set(np.unique(y[rest]).tolist()) - set(np.unique(y[extra]).tolist())
        if gone:  # keep every label in training: take back its rows, duplicates or not
            extra = np.concatenate([extra, rest[np.isin(y[rest], sorted(gone))]])
        plan.append((np.sort(np.concatenate([train_idx, extra])), test_idx))
    return plan, lost


def cross_validation(
    prepared: Sequence[str],
    y: np.ndarray,
    *,
    config: FeatureConfig,
    cv: int = 5,
    C: float = DEFAULT_C,
    calibration: str = "sigmoid",
    random_state: int = 0,
    progress: ProgressCallback | None = None,
) -> CrossValidation:
    """Cross-validate the full recipe on every label that has enough distinct texts (see :func:`_plan_folds`)."""
    n_labels = int(y.max()) + 1 if len(y) else 0
    if cv < 2:
        return CrossValidation(folds=0, proba=None, reason=NOT_MEASURED_DISABLED)
    groups = duplicate_groups(prepared)
    planned = _plan_folds(y, groups, n_labels, cv, random_state)
    if planned is None:
        return CrossValidation(folds=0, proba=None, reason=NOT_MEASURED_TOO_SMALL)
    folds, measurable, plan = planned
    measured = np.isin(y, sorted(measurable))
    unmeasured = {int(k): int(v) for k, v in enumerate(np.bincount(y[~measured], minlength=n_labels)) if v}
    proba = np.zeros((len(y), n_labels))
    evidence = np.zeros(len(y), dtype=np.int64)
    docs = list(prepared)
    for fold, (train_idx, test_idx) in enumerate(plan):
        y_train = y[train_idx]
        if not any(docs[i] for i in train_idx):
            # only texts without a usable word in the training fold
            return CrossValidation(folds=0, proba=None, reason=NOT_MEASURED_TOO_SMALL)
        pipeline = build_pipeline(config, y_train, n_docs=len(train_idx), C=C, calibration=calibration)
        pipeline.fit([docs[i] for i in train_idx], y_train)
        model = TrainedModel(
            pipeline=pipeline, labels=[str(i) for i in range(n_labels)], feature_config=config
        )
        proba[test_idx], evidence[test_idx] = model.score_prepared([docs[i] for i in test_idx])
        if progress:
            progress("cross-validate", fold + 1, folds)
    return CrossValidation(
        folds=folds, proba=proba, evidence=evidence, measured=measured, unmeasured=unmeasured
    )


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

    Shortcut for :func:`cross_validation`; rows of labels too small to be measured are zeros.
    """
    return cross_validation(
        prepared,
        y,
        config=config,
        cv=cv,
        C=C,
        calibration=calibration,
        random_state=random_state,
        progress=progress,
    ).proba


def metrics_from_proba(
    proba: np.ndarray,
    y: np.ndarray,
    labels: Sequence[str],
    *,
    evidence: np.ndarray | None = None,
    measured: np.ndarray | None = None,
) -> dict:
    """Macro-F1, accuracy, per-label F1, the precision/coverage summary and the 98 % threshold.

    Only the rows in ``measured`` count (default: all). With ``evidence`` the rows are
    counted as the platform treats them: a blind text (0) predicts nothing, and a text
    with less than ``MIN_EVIDENCE`` never goes automatically (see ``ml.evaluation``).
    """
    from sklearn.metrics import accuracy_score, f1_score

    if measured is not None:
        proba, y = proba[measured], y[measured]
        evidence = None if evidence is None else np.asarray(evidence)[measured]
    pred = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    automatic = confidence.astype(np.float64)
    if evidence is not None:
        pred = np.where(evidence == 0, -1, pred)  # blind: no prediction, an error
        automatic = np.where(evidence < MIN_EVIDENCE, -np.inf, automatic)  # always queued
    curve = precision_coverage_curve(list(zip(automatic, pred == y, strict=True)))
    threshold = curve.threshold_for_precision(TARGET_PRECISION)
    present = sorted(set(y.tolist()))
    per_label = f1_score(y, pred, average=None, labels=present, zero_division=0)
    return {
        "evaluated_on": "cross-validation (out-of-fold)",
        "macro_f1": round(float(f1_score(y, pred, labels=present, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "f1_per_label": {labels[i]: round(float(v), 4) for i, v in zip(present, per_label, strict=True)},
        "target_precision": TARGET_PRECISION,
        "threshold": threshold,
        "coverage_at_target": round(curve.coverage_at_precision(TARGET_PRECISION), 4),
        "curve": curve.summary(),
        "mean_confidence": round(float(confidence.mean()), 4),
    }


def _label_shown(label: str, count: int, label_names: Mapping[str, str] | None) -> str:
    """``name (code, count)`` when the label has a name, else ``code (count)``."""
    name = (label_names or {}).get(label)
    if name and name != label:
        return f"{name} ({label}, {count})"
    return f"{label} ({count})"


def measurement_note(metrics: dict | None, *, label_names: Mapping[str, str] | None = None) -> str:
    """In words, what the stored metrics do not cover ("" when they cover every training row).

    For the model page and the ``classify train`` output: no cross-validation at all (and so
    no automatic dispatch until a threshold is set), or labels left out of the measurement,
    each with its number of distinct texts and, given ``label_names`` (``{label: name}``, e.g.
    the category names the caller knows), its name before the code.
    """
    metrics = metrics or {}
    reason = metrics.get("not_measured")
    if reason == NOT_MEASURED_DISABLED:
        return _("Not cross-validated when trained: no auto-dispatch threshold was measured then.")
    if reason == NOT_MEASURED_TOO_SMALL:
        return _(
            "Not measured: the data are too small to cross-validate (fewer than two labels have two "
            "distinct texts or more); no auto-dispatch threshold was measured."
        )
    unmeasured = metrics.get("unmeasured_labels") or {}
    if unmeasured:
        shown = [_label_shown(label, n, label_names) for label, n in list(unmeasured.items())[:_NOTE_LABELS]]
        if len(unmeasured) > _NOTE_LABELS:
            shown.append("…")
        return _(
            "Measured on %(measured)d of %(total)d training texts. Trained on but not measured (fewer "
            "distinct texts than the %(folds)d cross-validation folds): %(labels)s."
        ) % {
            "measured": metrics.get("measured_size") or 0,
            "total": (metrics.get("measured_size") or 0) + sum(unmeasured.values()),
            "folds": metrics.get("cv_folds_used") or 0,
            "labels": ", ".join(shown),
        }
    return ""


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
    so the model never dispatches automatically until one is measured). Labels too small for
    the folds are trained on but left out of the measurement (``metrics["unmeasured_labels"]``).
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

    result = cross_validation(
        prepared,
        y,
        config=config,
        cv=cv or 0,
        C=C,
        calibration=calibration,
        random_state=random_state,
        progress=progress,
    )
    if result.proba is None:
        metrics: dict = {"evaluated_on": None, "threshold": None, "not_measured": result.reason}
    else:
        metrics = metrics_from_proba(
            result.proba, y, names, evidence=result.evidence, measured=result.measured
        )
        metrics.update(
            measured_size=int(result.measured.sum()),
            cv_folds_used=result.folds,
            unmeasured_labels={names[i]: n for i, n in sorted(result.unmeasured.items())},
        )
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
