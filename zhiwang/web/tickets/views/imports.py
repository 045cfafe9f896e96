"""The hotline batch import pages: upload a file of calls, watch the run, read what was refused.

For the staff who record calls (the intake page's roles). A run is seen by the people of
the uploader's unit (city-wide users: every run); another unit's run answers 404.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.core.errors import ServiceError
from zhiwang.tickets.hotline_import import KIND_WORDS, REQUIRED_FIELDS, field_label
from zhiwang.tickets.models import TicketImport
from zhiwang.web.tickets.access import role_required
from zhiwang.web.tickets.forms import REQUEST_KINDS, category_choices
from zhiwang.web.tickets.import_runs import (
    TicketImportForm,
    example_csv,
    field_headers,
    import_run_again,
    import_run_create,
    may_run_again,
    run_authors,
)
from zhiwang.web.tickets.views.intake import INTAKE_PAGE_ROLES

#: Recent runs listed under the form.
RECENT_RUNS = 30


def _run(request, pk: int) -> TicketImport:
    run = (
        TicketImport.objects.visible_to(request.user)
        .select_related("created_by", "restarted_by", "unit")
        .filter(pk=pk)
        .first()
    )
    if run is None:
        raise Http404
    return run


def _default_channel(user) -> str:
    """A service center's staff take calls at the window; everybody else on the hotline (as the intake page)."""
    unit = getattr(user, "org_unit", None)
    return "window" if unit is not None and unit.kind == "service_center" else "hotline"


def _columns() -> list[dict]:
    """The accepted headers of each field (the usual Chinese one first), for the page's format table;
    the kind's row lists the values it accepts."""
    kinds = "、".join(KIND_WORDS.values())
    return [
        {
            "field": name,
            "header": headers[0],
            "others": headers[1:],
            "required": name in REQUIRED_FIELDS,
            "values": kinds if name == "kind" else "",
        }
        for name, headers in field_headers().items()
    ]


@role_required(INTAKE_PAGE_ROLES)
def import_new(request):
    """The upload form, the file format and the unit's recent runs."""
    if request.method == "POST":
        form = TicketImportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                run = import_run_create(
                    actor=request.user,
                    upload=data["file"],
                    channel=data["channel"],
                    validate_only=data["validate_only"],
                )
            except ServiceError as error:
                form.add_error("file", error.message)
            else:
                return redirect("web:ticket_import_detail", pk=run.pk)
    else:
        form = TicketImportForm(initial={"channel": _default_channel(request.user)})
    runs = TicketImport.objects.visible_to(request.user).select_related("created_by")[:RECENT_RUNS]
    return render(
        request,
        "web/tickets/import_new.html",
        {"form": form, "runs": list(runs), "columns": _columns()},
        status=400 if form.errors else 200,
    )


def _run_context(request, run: TicketImport) -> dict:
    # The column as the file named it (runs before it was kept: the field's usual header).
    refused = [
        dict(r, column=r.get("column") or (field_label(r["field"]) if r.get("field") else ""))
        for r in run.refused_rows
    ]
    return {
        "run": run,
        "refused_rows": refused,
        "refused_more": max(0, run.refused - len(refused)),
        "may_run_again": may_run_again(run),
        "authors": run_authors(run),
    }


@role_required(INTAKE_PAGE_ROLES)
def import_detail(request, pk: int):
    return render(request, "web/tickets/import_detail.html", _run_context(request, _run(request, pk)))


@role_required(INTAKE_PAGE_ROLES)
def import_progress(request, pk: int):
    """The fragment htmx polls while the run is queued or running."""
    return render(request, "web/tickets/_import_progress.html", _run_context(request, _run(request, pk)))


@require_POST
@role_required(INTAKE_PAGE_ROLES)
def import_again(request, pk: int):
    """Run a failed or stalled run again, or import for real a file that was only validated."""
    run = _run(request, pk)
    try:
        queued = import_run_again(run=run, actor=request.user)
    except ServiceError as error:
        context = _run_context(request, run) | {"again_error": error.message}
        return render(request, "web/tickets/import_detail.html", context, status=error.status)
    return redirect("web:ticket_import_detail", pk=queued.pk)


@role_required(INTAKE_PAGE_ROLES)
def import_report(request, pk: int):
    """Every row's outcome as CSV (UTF-8 with BOM, opens in Excel)."""
    run = _run(request, pk)
    if not run.report:
        raise Http404
    try:
        handle = run.report.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(
        handle,
        as_attachment=True,
        filename=_("hotline-import-%(pk)s-report.csv") % {"pk": run.pk},
        content_type="text/csv; charset=utf-8",
    )


@role_required(INTAKE_PAGE_ROLES)
def import_example(request):
    """An example file with the Chinese headers, made on the fly from the active catalogue."""
    leaves = category_choices(kinds={k for k, _label in REQUEST_KINDS})
    body = example_csv([leaf.code for leaf in leaves[:2]])
    return HttpResponse(
        body,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition_header(True, _("hotline-import-example.csv"))},
    )
