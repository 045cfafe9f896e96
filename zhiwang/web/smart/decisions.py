"""What an administrator must know before changing the model in use, and where its threshold came from.

Promoting a candidate that the comparison on held-back tickets does not recommend, or that
could not be compared (no corrected tickets yet), takes an explicit confirmation: one click
once promoted a model at 0.09 held-back accuracy over one at 0.66. The comparison is the one
``smart.classifier_compare`` makes, run when "Promote" is pressed against the model in use at
that moment, so the verdict the administrator confirms cannot be stale (it also refreshes both
models' held-back figures on the page). A rollback goes to ``classifier.selectors.previous_model``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from zhiwang.classifier import selectors as classifier_selectors
from zhiwang.classifier import services as classifier_services
from zhiwang.classifier.models import ClassifierModel, Origin
from zhiwang.core.errors import ServiceError
from zhiwang.tickets.classify import MODEL_NAME
from zhiwang.tickets.services import smart

#: The verdicts of :func:`promotion_check`.
BETTER = "better"  # the comparison recommends the candidate
NOT_BETTER = "not_better"  # it does not: confirmation needed
NOT_COMPARED = "not_compared"  # no held-back tickets to compare on: confirmation needed
NOTHING_IN_USE = "nothing_in_use"  # no model in use: the candidate can only help
#: ``smart.classifier_compare``'s refusal when there is nothing to compare on.
NO_HELD_BACK = "tickets.no_held_back_data"


@dataclass
class PromotionCheck:
    """The comparison of ``model`` with ``current`` (the model in use) made before promoting it.

    ``candidate`` and ``in_use`` are the held-back figures (``Evaluation.as_dict``) of both, on
    the same tickets; ``reasons`` the comparison's sentences; ``why_not_compared`` the reason
    there was no comparison.
    """

    model: ClassifierModel
    current: ClassifierModel | None
    verdict: str
    candidate: dict | None = None
    in_use: dict | None = None
    reasons: list[str] = field(default_factory=list)
    why_not_compared: str = ""

    @property
    def needs_confirmation(self) -> bool:
        return self.verdict in (NOT_BETTER, NOT_COMPARED)

    @property
    def figures(self) -> list[dict]:
        """The rows the confirmation shows: one per figure, the candidate's beside the model in use's."""
        if not self.candidate:
            return []
        precision = self.candidate.get("target_precision")
        rows = [
            ("accuracy", _("Accuracy")),
            ("macro_f1", _("Macro-F1")),
            (
                "coverage_at_target",
                _("Coverage at %(precision)s precision") % {"precision": _share(precision)}
                if isinstance(precision, int | float)
                else _("Coverage at the target precision"),
            ),
        ]
        return [
            {
                "key": key,
                "label": label,
                "candidate": self.candidate.get(key),
                "in_use": (self.in_use or {}).get(key),
            }
            for key, label in rows
        ]


def _share(value: float) -> str:
    return f"{100 * value:g}%"


def promotion_check(model: ClassifierModel) -> PromotionCheck:
    """Compare ``model`` with the model in use on the held-back tickets, to decide whether to ask first.

    The model's files are read first: one that cannot be read is refused here with the
    service's error (as promoting it would be), before anybody is asked to confirm anything.
    Other ``ServiceError``s of the comparison propagate too.
    """
    classifier_services.load_model(model)
    current = classifier_selectors.active_model(model.name)
    if current is None:
        return PromotionCheck(model=model, current=None, verdict=NOTHING_IN_USE)
    try:
        result = smart.classifier_compare(model=model)
    except ServiceError as error:
        if error.code != NO_HELD_BACK:
            raise
        return PromotionCheck(
            model=model, current=current, verdict=NOT_COMPARED, why_not_compared=error.message
        )
    return PromotionCheck(
        model=model,
        current=current,
        verdict=BETTER if result["recommend"] else NOT_BETTER,
        candidate=result["candidate"],
        in_use=result["current"],
        reasons=list(result["reasons"]),
    )


def model_in_use() -> ClassifierModel | None:
    """The category model in use (None: rules and keywords alone)."""
    return classifier_selectors.active_model(MODEL_NAME)


def rollback_target() -> ClassifierModel | None:
    """The model a rollback would bring back (None: nothing earlier; the page hides the button)."""
    return classifier_selectors.previous_model(MODEL_NAME)


def _same(threshold: float, other) -> bool:
    return (
        isinstance(other, int | float)
        and not isinstance(other, bool)
        and math.isclose(threshold, other, abs_tol=5e-7)
    )


def threshold_source(model: ClassifierModel | None) -> str:
    """Where the auto-dispatch threshold of ``model`` came from, in words ("" when it has none).

    The registry keeps the threshold, not who set it, so this is read off the figures it
    matches: the one cross-validation measured at training time, the one the last held-back
    measurement reached the target precision at, else a person set it after training (the demo
    setup reads its own off held-back requests; the held-back figures of a later comparison
    replace the ones it used). Shown beside the threshold, where "no threshold was measured at
    training time" alone read as a contradiction.
    """
    if model is None or model.threshold is None:
        return ""
    metrics = model.metrics or {}
    threshold = float(model.threshold)
    if _same(threshold, metrics.get("threshold")) and not metrics.get("not_measured"):
        return _(
            "Measured by cross-validation when the model was trained: it reaches %(precision)s precision."
        ) % {"precision": _share(metrics.get("target_precision") or 0.98)}
    held_back = metrics.get("held_back")
    if isinstance(held_back, dict) and _same(threshold, held_back.get("threshold")):
        measured = held_back.get("measured_at")
        parsed = parse_datetime(measured) if isinstance(measured, str) else None
        if parsed is not None and timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, UTC)
        return _(
            "Measured on %(count)s held-back examples (%(when)s): the threshold that reaches %(precision)s "
            "precision on them."
        ) % {
            "count": held_back.get("count", "?"),
            "when": timezone.localtime(parsed).strftime("%Y-%m-%d %H:%M") if parsed else "—",
            "precision": _share(held_back.get("target_precision") or 0.98),
        }
    if ((metrics.get("origin") or {}).get("code")) == Origin.DEMO:
        return _(
            "Set after training: read off held-back requests when the demo model was installed, "
            "or changed by an administrator since."
        )
    return _("Set by an administrator after training (on this page or in the admin).")
