"""Selective prediction: dispatch automatically only when the model is very likely right.

The rule is one number, a confidence threshold. A suggestion whose top probability
reaches it is dispatched automatically; everything else goes to the dispatcher's queue.
The threshold is read off a precision/coverage curve measured on predictions whose
truth is known (cross-validation at training time, or the last N corrected tickets):

* coverage(t)  = share of items with confidence >= t (what goes automatically),
* precision(t) = share of those whose top suggestion was right.

:func:`drift_check` compares a recent window of confidences (and, where dispatchers
have corrected the suggestions, agreement) with a reference window and warns when
either has dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _

AUTO = "auto"
QUEUE = "queue"
#: The least evidence a text must give for an automatic dispatch: this many distinct known
#: words of two characters or more (word and lexicon models), or known character pairs
#: (character-only models). A one- or two-word text ("学校", "垃圾！！！", "学校噪音") can
#: make the model very confident, yet says too little to send a ticket without a person
#: looking: it is queued whatever its confidence (its suggestions are still shown).
MIN_EVIDENCE = 3


def enough_evidence(evidence: int | None) -> bool:
    """Whether a text with ``evidence`` known words may be dispatched automatically (None: unknown, yes)."""
    return evidence is None or int(evidence) >= MIN_EVIDENCE


def decide(
    probs: Sequence[tuple[str, float]] | Sequence[float] | float | None,
    threshold: float | None,
    *,
    evidence: int | None = None,
) -> str:
    """``"auto"`` when the top probability reaches ``threshold``, else ``"queue"``.

    ``probs`` is a ranked suggestion list ``[(label, p), …]``, a list of probabilities or a
    single confidence. No threshold, no suggestion, or a non-finite value always queues;
    so does a text with less than :data:`MIN_EVIDENCE` known words (``evidence``, see
    ``TrainedModel.score``), however confident the model is about it.
    """
    if threshold is None or probs is None or not enough_evidence(evidence):
        return QUEUE
    if isinstance(probs, int | float | np.floating):
        confidence = float(probs)
    else:
        values = [p[1] if isinstance(p, tuple | list) else p for p in probs]
        if not values:
            return QUEUE
        confidence = float(max(values))
    if not math.isfinite(confidence) or not math.isfinite(threshold):
        return QUEUE
    return AUTO if confidence >= threshold else QUEUE


@dataclass(frozen=True)
class CurvePoint:
    """One candidate threshold with the coverage and precision it would give."""

    threshold: float
    coverage: float
    precision: float
    count: int  # items at or above the threshold


@dataclass
class PrecisionCoverageCurve:
    """Precision and coverage for every distinct confidence, highest threshold first."""

    points: list[CurvePoint]
    total: int

    def threshold_for_precision(self, target: float) -> float | None:
        """The lowest threshold whose precision still reaches ``target`` (the most coverage).

        ``None`` when no threshold does, i.e. nothing should be dispatched automatically.
        """
        best = None
        for point in self.points:
            if point.precision >= target and (best is None or point.coverage > best.coverage):
                best = point
        return None if best is None else best.threshold

    def at(self, threshold: float | None) -> CurvePoint:
        """Coverage and precision if ``threshold`` were used on this data."""
        if threshold is None:
            return CurvePoint(threshold=math.inf, coverage=0.0, precision=1.0, count=0)
        chosen = [p for p in self.points if p.threshold >= threshold]
        if not chosen:
            return CurvePoint(threshold=threshold, coverage=0.0, precision=1.0, count=0)
        last = chosen[-1]
        return CurvePoint(
            threshold=threshold, coverage=last.coverage, precision=last.precision, count=last.count
        )

    def coverage_at_precision(self, target: float) -> float:
        return self.at(self.threshold_for_precision(target)).coverage

    def summary(self, targets: Sequence[float] = (0.9, 0.95, 0.98, 0.99)) -> list[dict]:
        """A few rows for a page or metadata: target → threshold, coverage, precision."""
        rows = []
        for target in targets:
            threshold = self.threshold_for_precision(target)
            point = self.at(threshold)
            rows.append(
                {
                    "target_precision": target,
                    "threshold": threshold,
                    "coverage": round(point.coverage, 4),
                    "precision": round(point.precision, 4),
                }
            )
        return rows


def precision_coverage_curve(pairs: Sequence[tuple[float, bool]]) -> PrecisionCoverageCurve:
    """The curve from ``(confidence, correct)`` pairs; ties share one point (same threshold)."""
    if len(pairs) == 0:
        return PrecisionCoverageCurve(points=[], total=0)
    conf = np.asarray([float(c) for c, _ok in pairs], dtype=np.float64)
    correct = np.asarray([bool(ok) for _c, ok in pairs], dtype=np.float64)
    finite = np.isfinite(conf)
    conf, correct = conf[finite], correct[finite]
    total = len(pairs)
    order = np.argsort(-conf, kind="stable")
    conf, correct = conf[order], correct[order]
    hits = np.cumsum(correct)
    # the last index of each run of equal confidences: a threshold takes all of its ties
    ends = np.flatnonzero(np.r_[conf[1:] != conf[:-1], True]) if len(conf) else np.array([], int)
    points = [
        CurvePoint(
            threshold=float(conf[i]),
            coverage=(i + 1) / total,
            precision=float(hits[i] / (i + 1)),
            count=int(i + 1),
        )
        for i in ends
    ]
    return PrecisionCoverageCurve(points=points, total=total)


def threshold_for_precision(pairs: Sequence[tuple[float, bool]], target: float) -> float | None:
    """Shortcut: the threshold reaching ``target`` precision on ``pairs`` (``None`` if none does)."""
    return precision_coverage_curve(pairs).threshold_for_precision(target)


#: Sentence-ending and clause-ending marks after which Chinese text takes no space.
_CJK_STOPS = "。！？；：，、）」』】"


def join_sentences(parts: Sequence[str]) -> str:
    """Join sentences as the language writes them: a space after Latin punctuation, none after "。" or "："."""
    out = ""
    for part in (str(p).strip() for p in parts):
        if not part:
            continue
        if out and not out.endswith(tuple(_CJK_STOPS)):
            out += " "
        out += part
    return out


#: The kinds of drift finding (``DriftResult.findings``); each is put in words when shown.
TOO_LITTLE_DATA = "too_little_data"
CONFIDENCE_FELL = "confidence_fell"
AGREEMENT_FELL = "agreement_fell"


def finding_text(code: str, params: dict) -> str:
    """One drift finding in words, in the active language (read time: the figures are stored)."""
    if code == TOO_LITTLE_DATA:
        return (
            _("Too little data to judge drift (%(recent)d recent items; at least %(minimum)d needed).")
            % params
        )
    if code == CONFIDENCE_FELL:
        return _("Mean confidence fell from %(before).2f to %(after).2f (more than %(limit).2f).") % params
    if code == AGREEMENT_FELL:
        return _("Agreement with dispatchers fell from %(before).0f%% to %(after).0f%%.") % params
    return ""


@dataclass
class DriftResult:
    """Outcome of :func:`drift_check`; ``warning`` is what a dashboard alerts on.

    ``findings`` are ``(code, figures)`` pairs, kept as data so that they can be stored (an
    administrator notice) and put in words in the reader's language: ``reasons`` and
    ``explanation`` render them when read.
    """

    warning: bool
    findings: list[tuple[str, dict]] = field(default_factory=list)
    reference_confidence: float | None = None
    recent_confidence: float | None = None
    reference_agreement: float | None = None
    recent_agreement: float | None = None
    recent_count: int = 0

    @property
    def reasons(self) -> list[str]:
        return [finding_text(code, params) for code, params in self.findings]

    @property
    def explanation(self) -> str:
        if self.findings:
            return join_sentences(self.reasons)
        return _("No drift: recent confidence and agreement are in line with the reference window.")

    def as_dict(self) -> dict:
        return {
            "warning": self.warning,
            "explanation": self.explanation,
            "reasons": list(self.reasons),
            "findings": [[code, dict(params)] for code, params in self.findings],
            "reference_confidence": self.reference_confidence,
            "recent_confidence": self.recent_confidence,
            "reference_agreement": self.reference_agreement,
            "recent_agreement": self.recent_agreement,
            "recent_count": self.recent_count,
        }


def _mean(values: Sequence[float] | None) -> float | None:
    if not values:
        return None
    return float(np.mean(np.asarray(values, dtype=np.float64)))


def drift_check(
    *,
    reference_confidences: Sequence[float],
    recent_confidences: Sequence[float],
    reference_agreement: Sequence[bool] | None = None,
    recent_agreement: Sequence[bool] | None = None,
    max_confidence_drop: float = 0.05,
    max_agreement_drop: float = 0.05,
    min_recent: int = 30,
) -> DriftResult:
    """Warn when recent mean confidence or agreement with dispatchers has dropped.

    Confidences are the top probabilities the model gave; agreement flags say whether a
    dispatcher kept the top suggestion. A drop larger than ``max_*_drop`` (absolute, in
    probability / share points) raises the warning. Fewer than ``min_recent`` recent items
    is too little to judge: no warning, and the reason says so.
    """
    result = DriftResult(
        warning=False,
        reference_confidence=_mean(reference_confidences),
        recent_confidence=_mean(recent_confidences),
        reference_agreement=_mean([float(a) for a in reference_agreement or []]),
        recent_agreement=_mean([float(a) for a in recent_agreement or []]),
        recent_count=len(recent_confidences),
    )
    if len(recent_confidences) < min_recent or result.reference_confidence is None:
        result.findings.append((TOO_LITTLE_DATA, {"recent": len(recent_confidences), "minimum": min_recent}))
        return result
    drop = result.reference_confidence - result.recent_confidence
    if drop > max_confidence_drop:
        result.warning = True
        result.findings.append(
            (
                CONFIDENCE_FELL,
                {
                    "before": result.reference_confidence,
                    "after": result.recent_confidence,
                    "limit": max_confidence_drop,
                },
            )
        )
    if result.reference_agreement is not None and result.recent_agreement is not None:
        drop = result.reference_agreement - result.recent_agreement
        if drop > max_agreement_drop:
            result.warning = True
            result.findings.append(
                (
                    AGREEMENT_FELL,
                    {"before": 100 * result.reference_agreement, "after": 100 * result.recent_agreement},
                )
            )
    return result
