"""The action buttons of a ticket: which ones a user sees, their forms, the one service each calls.

What may be shown comes from ``TICKET_WORKFLOW.allowed_actions(state, actor=, obj=)``;
several workflow actions share one form where one service decides between them
(the review decides approve-reply vs. send-to-verify, the follow-up decides close vs.
reopen, a decision approves or refuses the pending request).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.tickets import selectors, services
from zhiwang.tickets.models import RequestKind, Ticket
from zhiwang.tickets.services.triage import DIRECT_ANSWER_KINDS
from zhiwang.tickets.workflow import TICKET_WORKFLOW, TicketAction
from zhiwang.web.tickets import forms as f
from zhiwang.web.tickets.uploads import attach

A = TicketAction


@dataclass(frozen=True)
class UIAction:
    slug: str
    label: str
    form_class: type
    triggers: tuple[str, ...]  # workflow actions that make this one available
    style: str = ""  # "primary" · "danger" · ""
    inline: bool = False  # a button with no fields to fill
    multipart: bool = False
    run: Callable | None = None
    buttons: tuple[tuple[str, str, str], ...] = ()  # (decision value, label, style) for two-button forms


@dataclass
class Context:
    """What a run needs: the ticket, the user, the version the user saw, the pending request."""

    ticket: Ticket
    user: object
    version: int | None
    request: object = None


def versioned(service, ctx: Context, **kwargs):
    """Call ``service`` with the version the user saw: a stale page loses with ``Conflict``."""
    return service(expected_version=ctx.version, **kwargs)


def unit_choices(*, user, include=()) -> list:
    """Units the user may dispatch to (``selectors.handling_unit_choices``), plus the suggested/current ones.

    With their division's parents: the picker groups the units by the district they serve
    (``forms.unit_choice_groups``), a grid station's two levels up."""
    chosen = selectors.handling_unit_choices(user=user).select_related("division__parent__parent")
    units = {u.pk: u for u in chosen}
    for unit in include:
        if unit is not None and unit.is_active:
            units.setdefault(unit.pk, unit)
    return list(units.values())


# --- runs: one service each (uploads are rows of the same transaction) -----------------------------


def _dispatch(ctx, data):
    versioned(
        services.ticket_dispatch, ctx, ticket=ctx.ticket, unit=data["unit"], actor=ctx.user, note=data["note"]
    )
    return _("Dispatched to %(unit)s.") % {"unit": data["unit"].name}


def _reassign(ctx, data):
    versioned(
        services.ticket_reassign, ctx, ticket=ctx.ticket, unit=data["unit"], actor=ctx.user, note=data["note"]
    )
    return _("Reassigned to %(unit)s.") % {"unit": data["unit"].name}


def _accept(ctx, data):
    ticket = versioned(services.ticket_accept, ctx, ticket=ctx.ticket, actor=ctx.user)
    if ticket.due_at is None:
        return _("Accepted. The handling deadline is shown on the ticket.")
    due = date_format(timezone.localtime(ticket.due_at), "Y-m-d H:i")  # the city's clock, as pages show it
    return _("Accepted. Reply by %(due)s.") % {"due": due}


def _request(kind):
    def run(ctx, data):
        versioned(
            services.ticket_request,
            ctx,
            ticket=ctx.ticket,
            kind=kind,
            actor=ctx.user,
            reason=data["reason"],
            legal_basis=data.get("legal_basis", ""),
            wrong_dispatch=data.get("wrong_dispatch", False),
            extra_days=data.get("extra_days"),
        )
        return _("Your request was sent to the dispatcher.")

    return run


def _decide(ctx, data):
    if ctx.request is None:
        raise ServiceError("tickets.request_decided", _("This request has already been decided."))
    approve = data["decision"] == "yes"
    versioned(
        services.ticket_decide, ctx, request=ctx.request, approve=approve, actor=ctx.user, note=data["note"]
    )
    return _("Request approved.") if approve else _("Request refused.")


def _resume(ctx, data):
    versioned(services.ticket_resume, ctx, ticket=ctx.ticket, actor=ctx.user)
    return _("Handling resumed; the deadline moved by the time the clock stood still.")


def _reply(ctx, data):
    with transaction.atomic():
        versioned(services.ticket_reply, ctx, ticket=ctx.ticket, actor=ctx.user, reply=data["reply"])
        attach(ticket=ctx.ticket, uploads=data["files"], user=ctx.user, is_reply=True)
    return _("Reply sent for review.")


def _review(ctx, data):
    approve = data["decision"] == "yes"
    versioned(
        services.ticket_review, ctx, ticket=ctx.ticket, actor=ctx.user, approve=approve, note=data["note"]
    )
    return _("Reply approved.") if approve else _("Sent back to the handling unit.")


def _verify(ctx, data):
    passed = data["decision"] == "yes"
    versioned(
        services.ticket_verify, ctx, ticket=ctx.ticket, actor=ctx.user, passed=passed, note=data["note"]
    )
    return _("Recorded: fixed on site.") if passed else _("Recorded: not fixed; back to the handling unit.")


def _follow_up(ctx, data):
    unreachable = data["unreachable"]
    resolved = None if unreachable or not data["resolved"] else data["resolved"] == "yes"
    ticket = versioned(
        services.ticket_follow_up,
        ctx,
        ticket=ctx.ticket,
        actor=ctx.user,
        resolved=resolved,
        satisfaction="" if unreachable else data["satisfaction"],
        unreachable=unreachable,
        note=data["note"],
    )
    if ticket.status == "closed":
        return _("Follow-up recorded; the ticket is closed.")
    return _("Follow-up recorded; the ticket was reopened for the handling unit.")


def _urge(ctx, data):
    versioned(services.ticket_urge, ctx, ticket_id=ctx.ticket.pk, actor=ctx.user, note=data["note"])
    return _("Urge notice sent.")


def _supervise(ctx, data):
    versioned(services.ticket_supervise, ctx, ticket_id=ctx.ticket.pk, actor=ctx.user, note=data["note"])
    return _("Supervision notice sent.")


def _merge(ctx, data):
    number = data["master_number"].strip().upper()
    try:
        master = selectors.ticket_get(user=ctx.user, number=number)
    except Http404:  # not visible is the same as not there
        raise ServiceError(
            "tickets.master_invalid",
            _("There is no ticket %(number)s that you can see.") % {"number": number},
            field="master",
        ) from None
    versioned(services.ticket_merge, ctx, ticket=ctx.ticket, master=master, actor=ctx.user, note=data["note"])
    return _("Merged into %(number)s.") % {"number": master.number}


def _reject(ctx, data):
    versioned(services.ticket_reject, ctx, ticket=ctx.ticket, actor=ctx.user, reason=data["reason"])
    return _("The ticket is not accepted; the citizen is told why.")


def _answer(ctx, data):
    versioned(services.ticket_answer_directly, ctx, ticket=ctx.ticket, actor=ctx.user, reply=data["reply"])
    return _("Answered and closed.")


def _reveal(ctx, data):
    """Not a message but the contact itself: the page shows it once (the service logs the look)."""
    return services.ticket_reveal_contact(ticket=ctx.ticket, actor=ctx.user, reason=data["reason"])


def _recategorise(ctx, data):
    versioned(
        services.ticket_recategorise,
        ctx,
        ticket=ctx.ticket,
        category=data["category"],
        actor=ctx.user,
        note=data["note"],
    )
    return _("Category changed; the correction is kept to train the classifier.")


def _note(ctx, data):
    versioned(services.ticket_note, ctx, ticket=ctx.ticket, actor=ctx.user, note=data["note"])
    return _("Note added.")


REGISTRY: list[UIAction] = [
    UIAction("accept", gettext_lazy("Accept"), f.ConfirmForm, (A.ACCEPT,), "primary", inline=True, run=_accept),
    UIAction("dispatch", gettext_lazy("Dispatch"), f.UnitForm, (A.DISPATCH,), "primary", run=_dispatch),
    UIAction("reply", gettext_lazy("Reply"), f.ReplyForm, (A.REPLY,), "primary", multipart=True, run=_reply),
    UIAction("review", gettext_lazy("Review the reply"), f.DecisionForm, (A.APPROVE_REPLY, A.SEND_TO_VERIFY, A.SEND_BACK), "primary", run=_review,
             buttons=(("yes", gettext_lazy("Approve the reply"), "primary"), ("no", gettext_lazy("Send back"), "danger"))),
    UIAction("verify", gettext_lazy("On-site verification"), f.DecisionForm, (A.VERIFY_PASS, A.VERIFY_FAIL), "primary", run=_verify,
             buttons=(("yes", gettext_lazy("Fixed on site"), "primary"), ("no", gettext_lazy("Not fixed"), "danger"))),
    UIAction("follow_up", gettext_lazy("Record the follow-up"), f.FollowUpForm, (A.CLOSE, A.REOPEN), "primary", run=_follow_up),
    UIAction("decide", gettext_lazy("Decide the request"), f.DecisionForm, (), "primary", run=_decide,
             buttons=(("yes", gettext_lazy("Approve"), "primary"), ("no", gettext_lazy("Refuse"), "danger"))),
    UIAction("answer_directly", gettext_lazy("Answer directly"), f.AnswerForm, (A.ANSWER_DIRECTLY,), run=_answer),
    UIAction("resume", gettext_lazy("Resume"), f.ConfirmForm, (A.RESUME,), inline=True, run=_resume),
    UIAction("reassign", gettext_lazy("Reassign"), f.ReassignForm, (A.REASSIGN,), run=_reassign),
    UIAction("request_extension", gettext_lazy("Ask for an extension"), f.RequestExtensionForm, (A.REQUEST_EXTENSION,), run=_request(RequestKind.EXTENSION)),
    UIAction("request_suspension", gettext_lazy("Ask to suspend"), f.RequestSuspensionForm, (A.REQUEST_SUSPENSION,), run=_request(RequestKind.SUSPENSION)),
    UIAction("request_return", gettext_lazy("Ask to return"), f.RequestReturnForm, (A.REQUEST_RETURN,), "danger", run=_request(RequestKind.RETURN)),
    UIAction("urge", gettext_lazy("Urge"), f.NoteForm, (A.URGE,), run=_urge),
    UIAction("supervise", gettext_lazy("Supervise"), f.RequiredNoteForm, (A.SUPERVISE,), run=_supervise),
    UIAction("merge", gettext_lazy("Merge as duplicate"), f.MergeForm, (A.MERGE,), run=_merge),
    UIAction("reject", gettext_lazy("Do not accept"), f.ReasonForm, (A.REJECT,), "danger", run=_reject),
    UIAction("recategorise", gettext_lazy("Change the category"), f.RecategoriseForm, (A.RECATEGORISE,), run=_recategorise),
    UIAction("note", gettext_lazy("Add a note"), f.NoteForm, (A.NOTE,), run=_note),
    UIAction("reveal_contact", gettext_lazy("Show the reporter's name and phone"), f.RevealForm, (A.REVEAL_CONTACT,), run=_reveal),
]  # fmt: skip
BY_SLUG = {ui.slug: ui for ui in REGISTRY}

_DECISIONS = {
    RequestKind.RETURN: A.APPROVE_RETURN,
    RequestKind.EXTENSION: A.APPROVE_EXTENSION,
    RequestKind.SUSPENSION: A.APPROVE_SUSPENSION,
}
_REQUESTS = {"request_return", "request_extension", "request_suspension"}


def available(ticket: Ticket, user, *, pending=None) -> list[UIAction]:
    """Exactly the actions ``user`` may take on ``ticket`` now, in the order they are shown."""
    allowed = set(TICKET_WORKFLOW.allowed_actions(ticket.status, actor=user, obj=ticket))
    shown = []
    for ui in REGISTRY:
        if ui.slug == "decide":
            if pending is not None and _DECISIONS[pending.kind] in allowed:
                shown.append(ui)
            continue
        if not allowed.intersection(ui.triggers):
            continue
        if ui.slug in _REQUESTS and pending is not None:
            continue  # one request at a time
        if ui.slug == "request_extension" and ticket.due_at and ticket.due_at <= timezone.now():
            continue  # asked before the deadline only
        if ui.slug == "supervise" and (ticket.due_at is None or ticket.due_at > timezone.now()):
            continue  # supervision is for overdue tickets; before the deadline: urge
        if ui.slug == "answer_directly" and ticket.kind not in DIRECT_ANSWER_KINDS:
            continue  # the service answers inquiries only; anything else goes to a unit
        if ui.slug == "reveal_contact" and not (ticket.reporter_phone or ticket.reporter_name):
            continue  # nothing masked to show
        shown.append(ui)
    return shown


def build_form(ui: UIAction, ticket: Ticket, user, *, data=None, files=None, auto_id: str = "id_%s"):
    """The form of one action, bound or not, with the version the page shows."""
    kwargs = {"prefix": ui.slug, "initial": {"expected_version": ticket.version}, "auto_id": auto_id}
    if ui.form_class in (f.UnitForm, f.ReassignForm):
        include = (ticket.suggested_unit, ticket.handling_unit)
        kwargs["units"] = unit_choices(user=user, include=include)
        kwargs["suggested"] = ticket.suggested_unit if ui.slug == "dispatch" else None
    if ui.form_class is f.ReassignForm:
        kwargs["current"] = ticket.handling_unit
    if ui.form_class is f.RecategoriseForm:
        kwargs["kind"] = ticket.kind
    return ui.form_class(data, files, **kwargs) if data is not None else ui.form_class(**kwargs)


def run(ui: UIAction, ticket: Ticket, user, form, *, pending=None) -> str:
    """Call the action's service; raises ``ServiceError`` (and subclasses) on any refusal."""
    data = form.cleaned_data
    ctx = Context(ticket=ticket, user=user, version=data.get("expected_version"), request=pending)
    if pending is None and ui.slug == "decide":
        raise NotFound("tickets.request_decided", _("This request has already been decided."))
    return ui.run(ctx, data)
