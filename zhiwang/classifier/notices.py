"""Administrator notices of the classifier, put in words when read (``core.models.AdminNotice.text``).

``classifier.drift.<name>``: the active model of ``name`` may be drifting, or too many recent
tickets are in categories it never learned (``ml.selective.UNKNOWN_CATEGORIES``: one notice
per model, one finding among the others, so it is resolved by the same events). Raised by the
drift check with its figures as data (``drift_notice_params``), so each administrator
reads it in their own language; resolved when the model in use changes (``services``) or
the next check finds it back in line.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from zhiwang.classifier.ml.selective import (
    AGREEMENT_FELL,
    CONFIDENCE_FELL,
    UNKNOWN_CATEGORIES,
    DriftResult,
    finding_text,
    join_sentences,
)
from zhiwang.classifier.models import ClassifierModel, model_label

DRIFT_PREFIX = "classifier.drift."


def drift_notice_params(model: ClassifierModel, result: DriftResult) -> dict:
    """What the drift notice keeps: the model and the findings with their figures."""
    return {
        "name": model.name,
        "version": model.version,
        "findings": [[code, dict(params)] for code, params in result.findings],
    }


def drift_notice_text(params: dict) -> str:
    """The drift notice in the active language ("" when ``params`` are not a drift notice's)."""
    name, version = params.get("name"), params.get("version")
    if not name or version is None:
        return ""
    findings = params.get("findings") or []
    reasons = [finding_text(code, figures) for code, figures in findings]
    codes = {code for code, _figures in findings}
    model = model_label(name, version)
    if UNKNOWN_CATEGORIES in codes and not codes & {CONFIDENCE_FELL, AGREEMENT_FELL}:
        # the model is not worse at what it knows: people now use categories it does not know
        heading = _("The %(model)s is missing categories people now use:") % {"model": model}
    else:
        heading = _("The %(model)s may be drifting:") % {"model": model}
    if UNKNOWN_CATEGORIES in codes:
        advice = _("Consider retraining it so that it learns these categories.")
    else:
        advice = _("Consider retraining it.")
    return join_sentences([heading, *reasons, advice])


def render_notice(notice) -> str:
    return drift_notice_text(notice.params or {})
