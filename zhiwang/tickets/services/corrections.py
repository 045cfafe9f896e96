"""People's category decisions as training data: recategorise, and confirmation at dispatch.

Every time a person decides a ticket's category with a suggestion in view, a
``CategoryCorrection`` row records the text, what the classifier suggested (label,
confidence, model) and the final label, who and when:

* at intake, an operator's own choice (``submit._record_intake_choice``);
* at dispatch, a dispatcher who dispatches a ticket whose category came from the model or
  the keywords confirms it (``confirm_category``);
* ``ticket_recategorise``: a dispatcher or operator changes the category (改分类), with its
  own timeline row.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
from zhiwang.tickets.cache import routing_config
from zhiwang.tickets.classify import allows_kind, leaf_by_code, ticket_text
from zhiwang.tickets.explanations import NOTE_RECATEGORISED, system_note
from zhiwang.tickets.models import (
    UNCHECKED_SOURCES,
    Category,
    CategoryCorrection,
    CategorySource,
    CorrectionSource,
    Ticket,
    TicketStatus,
)
from zhiwang.tickets.routing import route
from zhiwang.tickets.services.transition import A, apply_transition, permission_first


def _suggested(ticket: Ticket) -> tuple[str, float | None, str]:
    record = ticket.classification or {}
    choices = record.get("choices") or []
    if not choices:
        return "", None, record.get("model", "")
    label, confidence = choices[0]
    return str(label), float(confidence), record.get("model", "")


def correction_record(
    ticket: Ticket, *, final: Category, before: Category | None, source: str, actor
) -> CategoryCorrection:
    """Append one training example for ``ticket`` (its text, the suggestion, the final label)."""
    label, confidence, model = _suggested(ticket)
    return CategoryCorrection.objects.create(
        ticket=ticket,
        text=ticket_text(title=ticket.title, description=ticket.description),
        suggested_label=label,
        suggested_confidence=confidence,
        model=model,
        from_category=before,
        final_category=final,
        source=source,
        actor=actor if getattr(actor, "pk", None) else None,
        at=timezone.now(),
    )


def confirm_category_fields(ticket: Ticket, *, actor) -> list[str]:
    """A person dispatching a ticket whose category nobody had checked confirms it.

    Marks the ticket (the caller saves the returned fields with its own transition) and,
    after that transition succeeded, ``confirm_category_record`` appends the example.
    Nothing for the system or for categories people chose.
    """
    if actor is None or ticket.category_source not in UNCHECKED_SOURCES:
        return []
    ticket.category_source = CategorySource.DISPATCHER
    ticket._category_confirmed = True
    return ["category_source"]


def confirm_category_record(ticket: Ticket, *, actor) -> None:
    if getattr(ticket, "_category_confirmed", False):
        del ticket._category_confirmed
        correction_record(
            ticket,
            final=ticket.category,
            before=ticket.category,
            source=CorrectionSource.DISPATCH,
            actor=actor,
        )


def _leaf(category: Category | str | None, *, kind: str) -> Category:
    code = category.code if isinstance(category, Category) else (category or "").strip()
    leaf = leaf_by_code(code) if code else None
    if leaf is None:
        known = code and any(c.code == code for c in routing_config().categories.values())
        raise ServiceError(
            "tickets.category_not_leaf" if known else "tickets.category_unknown",
            _("Choose the most specific category.") if known else _("Choose a category from the catalogue."),
            field="category",
        )
    if not allows_kind(leaf, kind):
        raise ServiceError(
            "tickets.kind_not_allowed",
            _("The category %(name)s is not used for this kind.") % {"name": leaf.name},
            field="category",
        )
    return leaf


@transaction.atomic
def ticket_recategorise(
    *, ticket: Ticket, category: Category | str, actor, note: str = "", expected_version: int | None = None
) -> Ticket:
    """Change the ticket's category (改分类) and record the correction as a training example.

    While the ticket waits for dispatch the route is worked out again for the new
    category (suggested unit, explanation) and so is its time limit; once dispatched,
    the unit and the citizen's deadline stay (reassign if the unit must change).
    """
    permission_first(ticket, A.RECATEGORISE, actor=actor)
    leaf = _leaf(category, kind=ticket.kind)
    if leaf.pk == ticket.category_id:
        raise ServiceError(
            "tickets.same_category",
            _("The ticket is already in %(name)s.") % {"name": leaf.name},
            field="category",
        )
    before = ticket.category
    ticket.category = leaf
    ticket.category_source = CategorySource.DISPATCHER
    fields = ["category", "category_source"]
    payload = {
        "from_category": before.code,
        "to_category": leaf.code,
        "suggested": _suggested(ticket)[0],
    }
    if ticket.status == TicketStatus.PENDING_DISPATCH:
        from zhiwang.tickets.services.submit import deadline_rule

        decided = route(category=leaf, place=routing_config().division(ticket.division_id))
        ticket.suggested_unit = decided.unit
        ticket.route_explanation = decided.stored_explanation  # in the city's language
        ticket.route_reason = decided.reason  # rendered in each reader's language
        ticket.deadline_amount, ticket.deadline_unit = deadline_rule(
            category=leaf, kind=ticket.kind, urgency=ticket.urgency
        )
        fields += ["suggested_unit", "route_explanation", "route_reason", "deadline_amount", "deadline_unit"]
        payload["route"] = ticket.route_explanation
        payload["route_reason"] = decided.reason
    note = (note or "").strip()
    if not note:  # no words given: the change itself, worded for each reader (tickets.explanations)
        note, note_keys = system_note(NOTE_RECATEGORISED, before=before.name, after=leaf.name)
        payload.update(note_keys)
    apply_transition(
        ticket,
        A.RECATEGORISE,
        actor=actor,
        note=note,
        payload=payload,
        fields=fields,
        expected_version=expected_version,
    )
    correction_record(ticket, final=leaf, before=before, source=CorrectionSource.RECATEGORISE, actor=actor)
    return ticket
