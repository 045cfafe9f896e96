"""Web pages of the registry app (thin: parse, call a selector or service, render).

Search, person and entity pages (masked by default; reveal with a reason; correct on
the spot with history), and the import wizard with progress and the validation report.
The building and room pages combine tickets too, so they live in ``web.places``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from contextlib import closing
from functools import wraps
from pathlib import Path

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhiwang.core.errors import Conflict, NotFound, PermissionDeniedError, ServiceError
from zhiwang.core.signed_out import signed_out
from zhiwang.core.spreadsheet import csv_row
from zhiwang.registry import exports, selectors, services
from zhiwang.registry.forms import (
    CorrectionForm,
    EntityCorrectionForm,
    ImportForm,
    ResidenceCorrectionForm,
    RevealForm,
    apply_error,
)
from zhiwang.registry.imports.pipeline import (
    header_summary,
    import_batch_create,
    import_batch_publish,
    import_batch_resume,
)
from zhiwang.registry.imports.report import report_workbook
from zhiwang.registry.imports.sample import sample_workbook
from zhiwang.registry.models import ImportStatus, RecordKind

#: Roles that open registry pages at all (defined with the other role sets in services).
READER_ROLES = services.READER_ROLES


def readers_only(view):
    """Admit the roles that open the registry (``services.may_read``, the same rule as the API)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return signed_out(request)  # an htmx poller or panel: 401, never the sign-in page inside it
        if not services.may_read(request.user):
            return render(request, "registry/forbidden.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None
        except PermissionDeniedError as error:
            return render(request, "registry/forbidden.html", {"message": error.message}, status=403)

    return wrapper


#: A search page lists at most this many people or entities, and says so when more matched.
SEARCH_PAGE_ROWS = 50


def _first(rows, limit: int = SEARCH_PAGE_ROWS) -> tuple[list, bool]:
    """The first ``limit`` of ``rows`` (a search asked for ``limit + 1``), and whether more matched."""
    rows = list(rows)
    return rows[:limit], len(rows) > limit


def search_params(request):
    """Where a registry search's text is read: the POST body, which the search form sends.

    The text is a name, an ID number, a phone or an address: in a URL it would sit in proxy
    access logs and browser history, which the registry's own masked audit log never sees. A
    GET ``?q=`` (an old bookmark, a link from before) is still answered, but no page of the
    registry writes one any more.
    """
    return request.POST if request.method == "POST" else request.GET


@readers_only
def home(request):
    """Search people, entities and places (POST: the text stays out of URLs); counts; the
    steward's recent imports. The result is the POST's own page, never a redirect to a URL
    carrying the text; only a matched place redirects, to its code."""
    params = search_params(request)
    q = params.get("q", "").strip()
    kind = params.get("kind", "person")
    context = {
        "q": q,
        "kind": kind,
        "counts": selectors.counts(user=request.user),
        "page_rows": SEARCH_PAGE_ROWS,
    }
    status = 200
    if q:
        if kind == "entity":
            found = selectors.entity_search(user=request.user, q=q, limit=SEARCH_PAGE_ROWS + 1)
            context["entities"], context["entities_truncated"] = _first(found)
            context["entities_capped"] = selectors.entity_search_is_capped(user=request.user, q=q)
            context["entity_scan"] = selectors.NAME_SEARCH_SCAN
        elif kind == "place":
            match, address = selectors.place_search(user=request.user, q=q)
            if address is not None:
                return redirect("web:place_detail", code=address.code)
            context["match"] = match
        else:
            try:
                found = selectors.person_search(user=request.user, q=q, limit=SEARCH_PAGE_ROWS + 1)
                context["people"], context["people_truncated"] = _first(found)
            except ServiceError as error:  # registry.search_limit
                context["search_error"] = error.message
                status = error.status
    if services.may_import(request.user):
        context["batches"] = list(selectors.import_batches(user=request.user)[:5])
    return render(request, "registry/home.html", context, status=status)


def _person_page(request, person, *, form=None, residence_form=None, revealed=None, status=200):
    user = request.user
    residences = selectors.person_residences(user=user, person=person)
    may_edit = services.may_edit(user, person)
    # the residence a correction changes (``services.person_residence_correct``): the current one
    current = next((r for r in residences if r.until is None), None)
    if residence_form is None and may_edit and current is not None:
        residence_form = ResidenceCorrectionForm(person=person, residence=current)
    context = {
        "person": person,
        "residences": residences,
        "tags": selectors.visible_tags(user=user, person=person),
        "eligible": selectors.person_eligibility(user=user, person=person),
        "sources": list(selectors.person_sources(person=person)),
        "history": list(
            selectors.record_history(user=user, kind=RecordKind.PERSON, record_id=person.pk)[:50]
        ),
        # reads of the person's data apart from registrations of their number (which show nothing)
        "accesses": list(
            selectors.access_log(user=user, kind=RecordKind.PERSON, record_id=person.pk, registrations=False)[
                :50
            ]
        ),
        # each registration kept for a steward with its review, to say what became of it
        "registrations": selectors.with_reviews(
            user=user,
            rows=list(
                selectors.access_log(
                    user=user, kind=RecordKind.PERSON, record_id=person.pk, registrations=True
                )[:50]
            ),
        ),
        "may_edit": may_edit,
        "may_reveal": services.may_reveal(user, person),
        "form": form or CorrectionForm(person=person),
        "residence_form": residence_form,
        "current_residence": current,
        "reveal_form": RevealForm(),
        "revealed": revealed,
    }
    return render(request, "registry/person_detail.html", context, status=status)


@readers_only
def person_detail(request, pk: int):
    return _person_page(request, selectors.person_get(user=request.user, pk=pk))


@require_POST
@readers_only
def person_correct(request, pk: int):
    person = selectors.person_get(user=request.user, pk=pk)
    form = CorrectionForm(request.POST, person=person)
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k not in ("note", "expected_version")}
        try:
            services.person_correct(
                person=person,
                actor=request.user,
                data=data,
                note=form.cleaned_data["note"],
                expected_version=form.cleaned_data["expected_version"],
            )
        except (ServiceError, Conflict) as error:
            apply_error(form, error)
        else:
            return redirect("registry:person_detail", pk=pk)
    return _person_page(request, person, form=form, status=400)


@require_POST
@readers_only
def person_residence_correct(request, pk: int):
    """The current residence's address (or start) was typed wrong: corrected in place, no move."""
    person = selectors.person_get(user=request.user, pk=pk)
    current = next(
        (r for r in selectors.person_residences(user=request.user, person=person) if r.until is None), None
    )
    if current is None:
        # nothing to correct (the page offers no form then): said on the page, nothing written
        messages.error(
            request, _("This person has no current residence to correct. Register the address instead.")
        )
        return redirect("registry:person_detail", pk=pk)
    form = ResidenceCorrectionForm(request.POST, person=person, residence=current)
    status = 400
    if form.is_valid():
        try:
            services.person_residence_correct(
                person=person,
                actor=request.user,
                address=form.cleaned_data["address"] or None,
                since=form.cleaned_data["since"],
                note=form.cleaned_data["note"],
                expected_version=form.cleaned_data["expected_version"],
            )
        except (ServiceError, Conflict) as error:
            if isinstance(error, PermissionDeniedError) and error.field is None:
                raise  # the record or its address is not the user's: the forbidden page
            apply_error(form, error)
            status = error.status  # 403 for a new address outside the jurisdiction, 409 for a stale version
        else:
            messages.success(request, _("The address was corrected; no move was recorded."))
            return redirect("registry:person_detail", pk=pk)
    return _person_page(request, person, residence_form=form, status=status)


@require_POST
@readers_only
def person_reveal(request, pk: int):
    person = selectors.person_get(user=request.user, pk=pk)
    form = RevealForm(request.POST)
    if not form.is_valid():
        return _person_page(request, person, status=400)
    revealed = services.person_reveal(person=person, actor=request.user, reason=form.cleaned_data["reason"])
    return _person_page(request, person, revealed=revealed)


class _Echo:
    def write(self, value):
        return value


@readers_only
def people_export(request):
    """CSV of the people I may see (masked); POST with a reason and the permission for the full data.

    The search page's export button POSTs its text (``search_params``): a masked export of an
    ID number search is no reason to put the number in a URL."""
    full = request.method == "POST" and request.POST.get("full") == "1"
    params = search_params(request)
    try:
        rows = exports.people_export(
            user=request.user, q=params.get("q", ""), full=full, reason=params.get("reason", "")
        )
    except PermissionDeniedError:
        raise
    except ServiceError as error:  # e.g. the full data without a reason: not a matter of role
        context = {"message": error.message, "title": _("The export was not made")}
        return render(request, "registry/forbidden.html", context, status=error.status)
    writer = csv.writer(_Echo())

    def stream():
        # closing(): a dropped download closes the rows at once (and their database cursor)
        with closing(rows):
            yield "\ufeff"
            for row in rows:
                # names and addresses are other people's text: never a formula in Excel or WPS
                yield writer.writerow(csv_row(row))

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="people.csv"'
    return response


@readers_only
def entity_detail(request, pk: int):
    entity = selectors.entity_get(user=request.user, pk=pk)
    form = None
    if request.method == "POST":
        form = EntityCorrectionForm(request.POST, entity=entity)
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k not in ("note", "expected_version")}
            try:
                services.entity_correct(
                    entity=entity,
                    actor=request.user,
                    data=data,
                    note=form.cleaned_data["note"],
                    expected_version=form.cleaned_data["expected_version"],
                )
            except ServiceError as error:
                apply_error(form, error)
            else:
                return redirect("registry:entity_detail", pk=pk)
    user = request.user
    context = {
        "entity": entity,
        "operations": selectors.entity_operations(entity=entity),
        "sources": list(selectors.entity_sources(entity=entity)),
        "history": list(
            selectors.record_history(user=user, kind=RecordKind.ENTITY, record_id=entity.pk)[:50]
        ),
        # The registrations of its credit code by callers who may not change it (refused), for
        # those who read the person page's log (``selectors.access_log``). No reads: the page shows
        # no personal data unmasked (the legal representative and the phone are masked, with no
        # reveal), so nothing reads an entity in a way the access log records.
        "registrations": list(
            selectors.access_log(user=user, kind=RecordKind.ENTITY, record_id=entity.pk, registrations=True)[
                :50
            ]
        ),
        "may_edit": services.may_edit(request.user, entity),
        "form": form or EntityCorrectionForm(entity=entity),
    }
    return render(request, "registry/entity_detail.html", context, status=400 if form is not None else 200)


# --- import wizard ---------------------------------------------------------------------


def _repeated_upload_message(batch, *, validate_only: bool) -> str:
    """What the batch page says when an upload answered an existing batch (``_same_import`` in
    ``imports.pipeline``: the same bytes, record kind, source department and column mapping, not
    failed and its file kept; an import answers an outstanding validation of the file first).
    A batch whose file was purged answers no upload: the file uploaded again is a new batch."""
    if batch.status == ImportStatus.RUNNING:
        return _("This import is still running.")
    if batch.validate_only and batch.status == ImportStatus.VALIDATED and not validate_only:
        return _(
            "This file was validated before (the same file, record kind, source department and "
            "mapping): below is that validation. Publish it to import the file."
        )
    if batch.validate_only:
        return _(
            "This file was uploaded for validation before (the same file, record kind, source "
            "department and mapping): below is that validation, not a new one."
        )
    return _(
        "This file was uploaded before (the same file, record kind, source department and "
        "mapping): below is its import, not a new one."
    )


def _import_new_page(request, form, *, status=200):
    context = {"form": form, "guides": selectors.mapping_template_guides()}
    return render(request, "registry/import_new.html", context, status=status)


@readers_only
def import_new(request):
    """Step 1: the file, its kind, its department and the mapping template (with the headers each
    template reads, and a sample file of them)."""
    if not services.may_import(request.user):
        return render(request, "registry/forbidden.html", status=403)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        suffix = Path(upload.name).suffix.lower()
        digest = hashlib.sha256()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            with open(path, "wb") as handle:
                for block in upload.chunks():
                    digest.update(block)
                    handle.write(block)
            # the batches of these bytes before: an upload answered by one of them is said so
            earlier = selectors.import_batch_ids_of_file(sha256=digest.hexdigest())
            try:
                batch = import_batch_create(
                    actor=request.user,
                    kind=form.cleaned_data["kind"],
                    source=form.cleaned_data["source"],
                    template=form.cleaned_data["template"],
                    file_path=path,
                    file_name=upload.name,
                    validate_only=form.cleaned_data["validate_only"],
                )
            except ServiceError as error:
                apply_error(form, error)
                return _import_new_page(request, form, status=400)
        if batch.status == ImportStatus.PENDING:
            from zhiwang.registry.tasks import import_batch_task

            transaction.on_commit(lambda: import_batch_task(batch.pk))
        if batch.pk in earlier:
            message = _repeated_upload_message(batch, validate_only=form.cleaned_data["validate_only"])
            messages.info(request, message)
        return redirect("registry:import_detail", pk=batch.pk)
    return _import_new_page(request, form, status=400 if form.errors else 200)


@readers_only
def import_template_sample(request, pk: int):
    """A mapping template's sample file: its headers (one per field) and one invented row, as a
    UTF-8 CSV with a BOM (Excel and WPS open it without asking for the encoding)."""
    if not services.may_import(request.user):
        return render(request, "registry/forbidden.html", status=403)
    guide = selectors.mapping_template_guide(selectors.mapping_template_get(user=request.user, pk=pk))
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in guide.sample_rows():
        writer.writerow(csv_row(row))
    response = HttpResponse(buffer.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    filename = _("%(template)s-sample.csv") % {"template": guide.template.name}
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@readers_only
def import_template_sample_xlsx(request, pk: int):
    """The same sample as an Excel workbook whose ID-number and phone cells are text
    (``imports.sample``): a CSV saved again in Excel turns an 18-digit ID number into 4.4E+17."""
    if not services.may_import(request.user):
        return render(request, "registry/forbidden.html", status=403)
    guide = selectors.mapping_template_guide(selectors.mapping_template_get(user=request.user, pk=pk))
    return FileResponse(
        io.BytesIO(sample_workbook(guide)),
        as_attachment=True,
        filename=_("%(template)s-sample.xlsx") % {"template": guide.template.name},
    )


@readers_only
def import_list(request):
    if not services.may_import(request.user):
        return render(request, "registry/forbidden.html", status=403)
    return render(
        request,
        "registry/import_list.html",
        {"batches": list(selectors.import_batches(user=request.user)[:100])},
    )


def _batch_context(request, pk: int) -> dict:
    batch = selectors.import_batch_get(user=request.user, pk=pk)
    return {
        "batch": batch,
        "issues": selectors.import_issues(batch=batch),
        "running": batch.status in (ImportStatus.PENDING, ImportStatus.RUNNING),
        # a validation whose file was deleted at the end of its keeping period cannot be published
        # (``import.file_purged``): the page asks for the file again instead of offering a 409
        "may_publish": (
            batch.status == ImportStatus.VALIDATED
            and batch.file_purged_at is None
            and services.may_import(request.user)
        ),
        "may_resume": (
            batch.status in (ImportStatus.RUNNING, ImportStatus.FAILED) and batch.file_purged_at is None
        ),
    }


@readers_only
def import_detail(request, pk: int, *, publish_error: ServiceError | None = None):
    context = _batch_context(request, pk)
    try:
        context["header"] = header_summary(context["batch"])
    except ServiceError as error:
        context["header_error"] = error.message
    context["publish_error"] = publish_error.message if publish_error else ""
    status = publish_error.status if publish_error else 200
    return render(request, "registry/import_detail.html", context, status=status)


@require_POST
@readers_only
def import_publish(request, pk: int):
    """A data steward publishes a validated batch: it is imported for real, in the background."""
    batch = selectors.import_batch_get(user=request.user, pk=pk)
    try:
        batch = import_batch_publish(batch=batch, actor=request.user)
    except ServiceError as error:
        return import_detail(request, pk, publish_error=error)
    from zhiwang.registry.tasks import import_batch_task

    transaction.on_commit(lambda: import_batch_task(batch.pk))
    return redirect("registry:import_detail", pk=batch.pk)


@readers_only
def import_progress(request, pk: int):
    """The htmx fragment polled while the batch runs."""
    return render(request, "registry/_import_progress.html", _batch_context(request, pk))


@require_POST
@readers_only
def import_resume(request, pk: int):
    batch = selectors.import_batch_get(user=request.user, pk=pk)
    try:
        # only a failed or interrupted batch, by someone who may import, and with its file
        batch = import_batch_resume(batch=batch, actor=request.user)
    except ServiceError as error:
        return import_detail(request, pk, publish_error=error)
    from zhiwang.registry.tasks import import_batch_task

    transaction.on_commit(lambda: import_batch_task(batch.pk))
    return redirect("registry:import_detail", pk=batch.pk)


def _posted_pk(value) -> int | None:
    """A record id sent in a form: ASCII digits only (``"abc"`` or ``"²"`` would make the lookup
    raise), and no longer than a 64-bit id, else None (answered as "no such record")."""
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _settled_message(settled: services.ConflictSettled) -> str:
    """The steward's confirmation: which record, which value it holds now, and from whom."""
    record = settled.record
    values = {
        "kind": record._meta.verbose_name,
        "record": settled.name_before,
        "field": record._meta.get_field(settled.field).verbose_name,
        "value": settled.value,
        "source": settled.source_name,
        "other": settled.other_value,
    }
    if settled.accepted:
        message = _(
            "Accepted: %(kind)s “%(record)s” now has the %(field)s “%(value)s”, as %(source)s records it."
        )
    else:
        message = _(
            "Kept: %(kind)s “%(record)s” keeps the %(field)s “%(value)s”; the value of %(source)s "
            "(“%(other)s”) was not taken."
        )
    return message % values


def _review_decided(request):
    """A steward's decision on a registration kept for review (``services.registration_review_resolve``).

    Looked up open or not: a steward who decides a review another one decided a moment before
    (two tabs, two stewards) is told so by the service (409 ``registry.already_resolved``), not
    answered "not found"."""
    pk = _posted_pk(request.POST.get("review"))
    found = selectors.registration_reviews(user=request.user, open_only=False)
    review = found.filter(pk=pk).first() if pk else None
    if review is None:
        raise Http404
    moved = request.POST.get("moved") == "1"
    try:
        services.registration_review_resolve(review=review, actor=request.user, moved=moved)
    except ServiceError as error:
        error.review = review.pk  # the page shows the refusal beside that registration's card
        raise
    if moved and review.address_id is None:  # no address given: only the empty fields were filled
        message = _(
            "Registration #%(review)s confirmed: the empty fields of the record of “%(person)s” were "
            "filled from it."
        )
    elif moved:
        message = _(
            "Registration #%(review)s confirmed: the record of “%(person)s” moved to the address given."
        )
    else:
        message = _("Registration #%(review)s declined: the record of “%(person)s” is unchanged.")
    messages.success(request, message % {"review": review.pk, "person": review.person.masked_name})


@readers_only
def conflicts(request):
    """The steward's queues: merge conflicts (keep the stored value or take the other department's)
    and registrations of known ID numbers kept for review (the person moved here, or decline)."""
    if not services.may_import(request.user):
        return render(request, "registry/forbidden.html", status=403)
    error, error_status, error_review, review_error = None, 400, None, ""
    if request.method == "POST" and "review" in request.POST:
        try:
            _review_decided(request)
        except ServiceError as failure:
            error_review = getattr(failure, "review", None)
            error, error_status = failure.message, failure.status
            if error_review is not None:  # said beside its card too; up here, which one it was
                review_error = failure.message
                error = _("Registration #%(review)s: %(message)s") % {
                    "review": error_review,
                    "message": failure.message,
                }
        else:
            return redirect("registry:conflicts")
    elif request.method == "POST":
        pk = _posted_pk(request.POST.get("issue"))
        # open or not: a conflict settled a moment before by another steward is a 409 from the service
        issue = (
            selectors.merge_conflicts(user=request.user, open_only=False).filter(pk=pk).first()
            if pk
            else None
        )
        if issue is None:
            raise Http404
        try:
            settled = services.merge_conflict_resolve(
                issue=issue, actor=request.user, accept=request.POST.get("accept") == "1"
            )
        except ServiceError as failure:
            error, error_status = failure.message, failure.status
        else:
            messages.success(request, _settled_message(settled))
            return redirect("registry:conflicts")
    rows = list(selectors.merge_conflicts(user=request.user)[:200])
    # what confirming each registration would do (fields filled, masked; the move's date, and
    # whether it would be refused), shown on its card before the steward decides
    # (the fields each one fills or gives otherwise are named by the page, ``history_field``: 民族, not ethnicity)
    reviews = services.review_previews(selectors.registration_reviews(user=request.user)[:200])
    return render(
        request,
        "registry/conflicts.html",
        {
            "rows": rows,
            "reviews": reviews,
            "error": error,
            "error_review": error_review,
            "review_error": review_error,
        },
        status=error_status if error else 200,
    )


@readers_only
def import_report(request, pk: int):
    """The validation report as an Excel workbook (values masked)."""
    batch = selectors.import_batch_get(user=request.user, pk=pk)
    buffer = io.BytesIO()
    report_workbook(batch, buffer)
    buffer.seek(0)
    return FileResponse(
        buffer,
        as_attachment=True,
        filename=_("import-report-%(pk)s.xlsx") % {"pk": batch.pk},
    )
