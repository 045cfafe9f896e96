"""Selective prediction: dispatch automatically only when the model is very likely right.

The rule is one number, a confidence threshold. A suggestion whose top probability
reaches it is dispatched automatically; everything else goes to the dispatcher's queue.
The threshold is read off a precision/coverage curve measured on predictions whose
truth is known (cross-validation at training time, or the last N corrected tickets):

* coverage(t)  = share of items with confidence >= t (what goes automatically),
* precision(t) = share of those whose top suggestion was right.

:func:`drift_check` compares a recent window of confidences (and, where dispatchers
have corrected the suggestions, agreement) with a reference window and warns when
either has dropped; :func:`unknown_check` measures how many recent decided items are in
labels the model never learned (which those two leave out), catch-all labels apart.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from zhiwang.core.sentences import join_sentences

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


#: The kinds of drift finding (``DriftResult.findings``); each is put in words when shown.
TOO_LITTLE_DATA = "too_little_data"
CONFIDENCE_FELL = "confidence_fell"
AGREEMENT_FELL = "agreement_fell"
UNKNOWN_CATEGORIES = "unknown_categories"
#: How many of the unknown categories a finding names (the most frequent); the rest are counted.
UNKNOWN_NAMED = 5


def _percent(value: float) -> str:
    """A share in percent as the dashboards write it ("23.0%")."""
    return f"{float(value):.1f}%"


def _named(categories) -> str:
    """The first :data:`UNKNOWN_NAMED` of ``(code, name, count)`` as "道路积水 (61), 共享单车 (40)"."""
    return pgettext("list separator", ", ").join(
        _("%(name)s (%(count)d)") % {"name": name or code, "count": count}
        for code, name, count in list(categories)[:UNKNOWN_NAMED]
    )


def _more_text(more: int) -> str:
    if more <= 0:
        return ""
    return ngettext(
        "%(more)d more category is not named.", "%(more)d more categories are not named.", more
    ) % {"more": more}


def _unknown_text(params: dict) -> str:
    text = _(
        "%(share)s of the last %(total)d tickets people decided are in categories the model never "
        "learned (more than %(limit)s): %(categories)s."
    ) % {
        "share": _percent(params["share"]),
        "total": params["total"],
        "limit": _percent(params["limit"]),
        "categories": _named(params.get("categories") or []),
    }
    return join_sentences([text, _more_text(int(params.get("more") or 0))])


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
    if code == UNKNOWN_CATEGORIES:
        return _unknown_text(params)
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
    #: The share of recent decided tickets in categories the model never learned (None: not measured).
    unknown: UnknownCategories | None = None

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
            "unknown_categories": None if self.unknown is None else self.unknown.as_dict(),
        }

    def add_unknown(self, unknown: UnknownCategories) -> DriftResult:
        """Add the unknown-categories figures; their finding (if any) raises the warning too."""
        self.unknown = unknown
        if unknown.finding is not None:
            self.warning = True
            self.findings.append(unknown.finding)
        return self


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


# --- categories the model never learned ----------------------------------------------------------


@dataclass(frozen=True)
class RecentLabel:
    """The final label of one recent item a person decided: its code, its name for people, and
    whether it is a catch-all ("其他") the platform leaves to people (never in the alarm)."""

    code: str
    name: str = ""
    catch_all: bool = False


@dataclass
class UnknownCategories:
    """How many recent decided items are in labels the model never learned (:func:`unknown_check`).

    ``count`` and ``share`` leave out catch-all labels (``catch_all`` counts those apart);
    ``categories`` are ``(code, name, count)`` of the unknown ones, most frequent first.
    ``finding`` is the drift finding when ``share`` is above ``limit`` (and there are at
    least ``minimum`` decided items), else None.
    """

    total: int
    count: int
    catch_all: int
    limit: float
    minimum: int
    categories: list[tuple[str, str, int]] = field(default_factory=list)
    catch_all_categories: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        """The unknown (non-catch-all) share, 0–1; None when nothing was decided."""
        return self.count / self.total if self.total else None

    @property
    def catch_all_share(self) -> float | None:
        return self.catch_all / self.total if self.total else None

    @property
    def measured(self) -> bool:
        """Enough decided items to judge (``minimum``)."""
        return self.total >= self.minimum and self.total > 0

    @property
    def alarm(self) -> bool:
        return self.measured and self.share is not None and self.share > self.limit

    @property
    def finding(self) -> tuple[str, dict] | None:
        if not self.alarm:
            return None
        named = self.categories[:UNKNOWN_NAMED]
        return (
            UNKNOWN_CATEGORIES,
            {
                "share": round(100 * self.share, 1),
                "count": self.count,
                "total": self.total,
                "limit": round(100 * self.limit, 1),
                "categories": [[code, name, count] for code, name, count in named],
                "more": len(self.categories) - len(named),
            },
        )

    @property
    def summary(self) -> str:
        """The figures in words for the page, in the active language (whether or not they alarm)."""
        if not self.total:
            return _(
                "No recent ticket decided by a person yet: the share in categories the model never learned is not measured."
            )
        parts = [
            _(
                "Categories the model never learned: %(share)s of the last %(total)d tickets people "
                "decided (%(count)d; the warning is raised above %(limit)s)."
            )
            % {
                "share": _percent(100 * self.share),
                "total": self.total,
                "count": self.count,
                "limit": _percent(100 * self.limit),
            }
        ]
        if self.categories:
            parts.append(_("The most frequent: %(categories)s.") % {"categories": _named(self.categories)})
            parts.append(_more_text(len(self.categories) - UNKNOWN_NAMED))
        if self.catch_all:
            parts.append(
                ngettext(
                    "%(count)d ticket (%(share)s) is in catch-all categories the model leaves to people: "
                    "not counted.",
                    "%(count)d tickets (%(share)s) are in catch-all categories the model leaves to people: "
                    "not counted.",
                    self.catch_all,
                )
                % {"count": self.catch_all, "share": _percent(100 * self.catch_all_share)}
            )
        if not self.measured:
            parts.append(_("Too few to judge (at least %(minimum)d needed).") % {"minimum": self.minimum})
        return join_sentences(parts)

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "count": self.count,
            "share": self.share,
            "limit": self.limit,
            "minimum": self.minimum,
            "alarm": self.alarm,
            "categories": [[code, name, count] for code, name, count in self.categories],
            "catch_all": self.catch_all,
            "catch_all_categories": [[code, name, count] for code, name, count in self.catch_all_categories],
            "summary": self.summary,
        }


def unknown_check(
    *,
    known_labels: Collection[str],
    recent: Sequence[RecentLabel],
    max_share: float = 0.05,
    min_recent: int = 30,
) -> UnknownCategories:
    """The share of ``recent`` decided items whose label is not in ``known_labels``.

    A label the model never learned is one it cannot suggest: every such item is an error
    by construction, and a growing share (a category added since training, a new kind of
    request) means the model should be retrained, which its confidence and agreement cannot
    show (they leave such items out: the reference figures hold none). Catch-all labels
    (``RecentLabel.catch_all``) are counted apart and never alarm: what lands there is the
    residue of everything the catalogue does not name, which no retraining will teach.
    Above ``max_share`` (0–1, strictly) with at least ``min_recent`` items, ``finding`` is set.
    """
    known = set(known_labels)
    unknown: Counter[tuple[str, str]] = Counter()
    catch_all: Counter[tuple[str, str]] = Counter()
    for item in recent:
        if item.code in known:
            continue
        (catch_all if item.catch_all else unknown)[(item.code, item.name)] += 1

    def ranked(counter: Counter) -> list[tuple[str, str, int]]:
        return [
            (code, name, n) for (code, name), n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0][0]))
        ]

    return UnknownCategories(
        total=len(recent),
        count=sum(unknown.values()),
        catch_all=sum(catch_all.values()),
        limit=float(max_share),
        minimum=int(min_recent),
        categories=ranked(unknown),
        catch_all_categories=ranked(catch_all),
    )
