"""Evaluation on held-back labelled data: one model's figures, or a new model against the current one.

Cross-validation at training time measures a model on data like its training set. Before
a new model replaces the one in use, both are measured on the same held-back texts (the
last N tickets a dispatcher confirmed or corrected, or a file), and the precision/coverage
curve of that measurement is what the auto-dispatch threshold should be read from.

A held-back label the model has never seen counts as an error (the model cannot predict
it); such labels are listed in the result so that a reader knows why. Texts are counted as
the platform treats them: a text the model knows nothing in (blind) is no prediction (an
error, never automatic), and a text with too little evidence (``MIN_EVIDENCE``) keeps its
prediction but never goes automatically, whatever the threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _

from zhiwang.classifier.ml.selective import (
    MIN_EVIDENCE,
    PrecisionCoverageCurve,
    precision_coverage_curve,
)
from zhiwang.core.errors import ServiceError

TARGET_PRECISION = 0.98
#: A candidate may be this much worse on one figure (macro-F1, coverage) and still be recommended.
COMPARE_TOLERANCE = 0.005


@dataclass
class Evaluation:
    """Figures of one model on one labelled set."""

    count: int
    macro_f1: float
    accuracy: float
    target_precision: float
    threshold: float | None  # the threshold that reaches target_precision on this set (None: none does)
    coverage_at_target: float
    precision_at_model_threshold: float | None  # with the threshold the model carries (None: it has none)
    coverage_at_model_threshold: float | None
    mean_confidence: float
    unknown_labels: dict[str, int] = field(default_factory=dict)  # held-back labels the model never saw
    curve: PrecisionCoverageCurve | None = None
    #: Texts always queued for too little evidence (blind ones included), whatever the threshold.
    queued_short: int = 0

    def as_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k != "curve"}
        data["curve"] = self.curve.summary() if self.curve is not None else []
        return data


def _check(texts: Sequence[object], labels: Sequence[object]) -> tuple[list[object], list[str]]:
    if len(texts) != len(labels):
        raise ServiceError(
            "classifier.length_mismatch",
            _("There are %(texts)d texts but %(labels)d labels.")
            % {"texts": len(texts), "labels": len(labels)},
        )
    kept = [
        (t, str(label).strip())
        for t, label in zip(texts, labels, strict=True)
        if label is not None and str(label).strip()
    ]
    if not kept:
        raise ServiceError(
            "classifier.no_labelled_data",
            _("There is no labelled text to evaluate on."),
        )
    return [t for t, _l in kept], [label for _t, label in kept]


def evaluate_proba(
    proba: np.ndarray,
    model_labels: Sequence[str],
    labels: Sequence[str],
    *,
    model_threshold: float | None = None,
    target_precision: float = TARGET_PRECISION,
    evidence: np.ndarray | None = None,
) -> Evaluation:
    """Figures from a probability matrix (columns: ``model_labels``) against the true ``labels``.

    With ``evidence`` (per text, from ``TrainedModel.score``) the texts the platform always
    queues count so: a blind one (0) predicts nothing, one below ``MIN_EVIDENCE`` is never
    automatic (it is left out of every threshold's automatic share, not of the total).
    """
    from sklearn.metrics import accuracy_score, f1_score

    model_labels = list(model_labels)
    predicted = [model_labels[j] for j in proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    automatic = confidence.astype(np.float64)
    queued_short = 0
    if evidence is not None:
        evidence = np.asarray(evidence)
        predicted = ["" if e == 0 else p for p, e in zip(predicted, evidence, strict=True)]
        short = evidence < MIN_EVIDENCE
        automatic = np.where(short, -np.inf, automatic)  # never at or above any threshold
        queued_short = int(short.sum())
    correct = np.asarray([p == t for p, t in zip(predicted, labels, strict=True)])
    curve = precision_coverage_curve(list(zip(automatic, correct, strict=True)))
    threshold = curve.threshold_for_precision(target_precision)
    known = set(model_labels)
    at_model = curve.at(model_threshold) if model_threshold is not None else None
    # "no prediction" (a blind text) is an error, not a class of its own
    averaged = sorted((set(labels) | set(predicted)) - {""})
    return Evaluation(
        count=len(labels),
        macro_f1=round(
            float(f1_score(list(labels), predicted, labels=averaged, average="macro", zero_division=0)), 4
        ),
        accuracy=round(float(accuracy_score(list(labels), predicted)), 4),
        target_precision=target_precision,
        threshold=threshold,
        coverage_at_target=round(float(curve.at(threshold).coverage), 4),
        precision_at_model_threshold=None if at_model is None else round(float(at_model.precision), 4),
        coverage_at_model_threshold=None if at_model is None else round(float(at_model.coverage), 4),
        mean_confidence=round(float(confidence.mean()), 4),
        unknown_labels=dict(sorted(Counter(t for t in labels if t not in known).items())),
        curve=curve,
        queued_short=queued_short,
    )


def evaluate(
    model,
    texts: Sequence[object],
    labels: Sequence[object],
    *,
    presegmented: bool | None = None,
    target_precision: float = TARGET_PRECISION,
    n_jobs: int = 1,
) -> Evaluation:
    """Macro-F1, accuracy and the precision/coverage curve of ``model`` (a TrainedModel) on labelled texts.

    Rows without a label are skipped. The returned ``threshold`` is the one that reaches
    ``target_precision`` on this data: the figure to set as the auto-dispatch threshold
    when the data are the platform's own recent corrected tickets.
    """
    texts, labels = _check(texts, labels)
    proba, evidence = model.score(texts, presegmented=presegmented, n_jobs=n_jobs)
    return evaluate_proba(
        proba,
        model.labels,
        labels,
        model_threshold=model.threshold,
        target_precision=target_precision,
        evidence=evidence,
    )


@dataclass
class Comparison:
    """A candidate model against the current one on the same held-back data."""

    candidate: Evaluation
    current: Evaluation | None
    recommend: bool  # promote the candidate?
    reasons: list[str]

    def as_dict(self) -> dict:
        return {
            "candidate": self.candidate.as_dict(),
            "current": None if self.current is None else self.current.as_dict(),
            "recommend": self.recommend,
            "reasons": list(self.reasons),
        }


def compare(
    candidate,
    current,
    texts: Sequence[object],
    labels: Sequence[object],
    *,
    presegmented: bool | None = None,
    target_precision: float = TARGET_PRECISION,
    tolerance: float = COMPARE_TOLERANCE,
    n_jobs: int = 1,
) -> Comparison:
    """Evaluate ``candidate`` and ``current`` (None: there is no model in use) on the same texts.

    The candidate is recommended when there is no current model, or when neither its macro-F1
    nor its coverage at ``target_precision`` is lower by more than ``tolerance`` and at
    least one of them is higher.
    """
    texts, labels = _check(texts, labels)
    kwargs = {"presegmented": presegmented, "target_precision": target_precision, "n_jobs": n_jobs}
    new = evaluate(candidate, texts, labels, **kwargs)
    if current is None:
        return Comparison(new, None, True, [_("No model is in use: the candidate can only help.")])
    old = evaluate(current, texts, labels, **kwargs)
    reasons = []
    recommend = True
    improved = False
    for name, label in (
        ("macro_f1", _("macro-F1")),
        ("coverage_at_target", _("coverage at target precision")),
    ):
        before, after = getattr(old, name), getattr(new, name)
        if after < before - tolerance:
            recommend = False
        if after > before:
            improved = True
        reasons.append(
            _("%(figure)s: %(after).4f for the candidate against %(before).4f for the current model.")
            % {"figure": label, "after": after, "before": before}
        )
    if recommend and not improved:
        recommend = False
        reasons.append(_("The candidate is no better than the current model."))
    return Comparison(new, old, recommend, reasons)
