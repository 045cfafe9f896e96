"""Administrator notices of the classifier, put in words when read (``core.models.AdminNotice.text``).

``classifier.drift.<name>``: the active model of ``name`` may be drifting. Raised by the
drift check with its figures as data (``drift_notice_params``), so each administrator
reads it in their own language; resolved when the model in use changes (``services``).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from zhiwang.classifier.ml.selective import DriftResult, finding_text, join_sentences
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
    reasons = [finding_text(code, figures) for code, figures in params.get("findings") or []]
    return join_sentences(
        [
            _("The %(model)s may be drifting:") % {"model": model_label(name, version)},
            *reasons,
            _("Consider retraining it."),
        ]
    )


def render_notice(notice) -> str:
    return drift_notice_text(notice.params or {})
