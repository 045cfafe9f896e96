"""The smart-dispatch administration page (administrators only).

The precision/coverage curve of the active category model on the last N corrected
tickets, the auto-dispatch threshold, retraining (with progress), comparing a candidate
with the active model on held-back data, promote and roll back, the drift status, and the
routes the dispatchers keep correcting (the routing rules to revisit).
Thin: each POST calls one service of ``tickets.services.smart``.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.classifier.models import ClassifierModel
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import smart_selectors
from zhiwang.tickets.routing_corrections import DEFAULT_DAYS as CORRECTION_DAYS
from zhiwang.tickets.routing_corrections import route_corrections
from zhiwang.tickets.services import smart
from zhiwang.web.tickets.access import role_required

#: Only administrators (``role_required`` always lets them in; no other role is listed).
ADMINISTRATORS = frozenset()
CURVE_SIZES = (100, 200, 500, 1000, 2000)


def _last(request) -> int:
    try:
        value = int(request.GET.get("last", 500))
    except ValueError:
        value = 500
    return value if value in CURVE_SIZES else 500


@role_required(ADMINISTRATORS)
def smart_dispatch(request):
    last = _last(request)
    curve = smart_selectors.classifier_curve(last=last)
    runs = smart_selectors.training_runs()
    return render(
        request,
        "web/smart/index.html",
        {
            "curve": curve,
            "last": last,
            "sizes": CURVE_SIZES,
            "models": smart_selectors.classifier_models(),
            "drift": smart_selectors.classifier_drift(),
            "runs": runs,
            "running": next((r for r in runs if r.status in ("queued", "running")), None),
            # the units the rules suggest and the dispatchers keep changing (the rules' owner acts)
            "corrections": route_corrections(user=request.user),
            "corrections_days": CORRECTION_DAYS,
        },
    )


@role_required(ADMINISTRATORS)
def run_progress(request, pk):
    run = smart_selectors.training_run_get(pk)
    if run is None:
        raise Http404
    return render(request, "web/smart/_run.html", {"run": run})


def _model(pk) -> ClassifierModel:
    model = next((m for m in smart_selectors.classifier_models() if m.pk == pk), None)
    if model is None:
        raise Http404
    return model


def _act(request, work, done: str):
    try:
        result = work()
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done if not callable(done) else done(result))
    return redirect("web:smart_dispatch")


@require_POST
@role_required(ADMINISTRATORS)
def set_threshold(request):
    raw = (request.POST.get("threshold") or "").strip()
    try:
        threshold = None if raw == "" else float(raw)
    except ValueError:
        messages.error(request, _("The threshold must be a number between 0 and 1."))
        return redirect("web:smart_dispatch")
    return _act(
        request,
        lambda: smart.classifier_set_threshold(threshold=threshold),
        _("Auto-dispatch threshold saved.")
        if threshold is not None
        else _("Automatic dispatch switched off."),
    )


@require_POST
@role_required(ADMINISTRATORS)
def retrain(request):
    run, created = smart.classifier_retrain_request(actor=request.user)
    if created:
        messages.success(request, _("Retraining started; progress is shown below."))
    else:
        messages.info(request, _("A retraining is already running."))
    return redirect("web:smart_dispatch")


@require_POST
@role_required(ADMINISTRATORS)
def compare(request, pk):
    model = _model(pk)
    return _act(
        request,
        lambda: smart.classifier_compare(model=model),
        lambda result: (
            _("Compared on held-back tickets: %(verdict)s")
            % {
                "verdict": _("the candidate is better.")
                if result["recommend"]
                else _("the candidate is not better.")
            }
        ),
    )


@require_POST
@role_required(ADMINISTRATORS)
def promote(request, pk):
    model = _model(pk)
    return _act(
        request,
        lambda: smart.classifier_promote(model=model),
        _("The %(model)s is now in use.") % {"model": model.display_name},
    )


@require_POST
@role_required(ADMINISTRATORS)
def rollback(request):
    return _act(
        request,
        smart.classifier_rollback,
        lambda model: _("Rolled back to %(model)s.") % {"model": model.display_name},
    )
