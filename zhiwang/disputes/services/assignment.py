"""Assigning a case to a mediation organisation and a mediator, fairly by workload."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, PermissionDeniedError, ServiceError
from zhiwang.disputes import texts
from zhiwang.disputes.models import (
    WORKLOAD_STATUSES,
    AlertKind,
    DisputeCase,
    MediationOrganisation,
    Mediator,
)
from zhiwang.disputes.services.casekit import A, _alert, _apply, _serves
from zhiwang.disputes.services.common import (
    clean,
)
from zhiwang.disputes.texts import SystemText
from zhiwang.disputes.workflow import may_assign


def organisation_candidates(case: DisputeCase) -> list[MediationOrganisation]:
    """Active organisations serving the case's place and category, most local first, then least loaded."""
    orgs = [
        org
        for org in MediationOrganisation.objects.filter(is_active=True)
        .select_related("division")
        .prefetch_related("categories")
        .annotate(load=Count("cases", filter=Q(cases__status__in=WORKLOAD_STATUSES)))
        if _serves(org, case.division)
    ]
    orgs = [o for o in orgs if not o.categories.all() or case.category in o.categories.all()]
    orgs.sort(key=lambda o: (o.mediation_type != case.mediation_type, -o.division.depth, o.load, o.code))
    return orgs


def mediator_workloads(organisation: MediationOrganisation) -> list[Mediator]:
    """Active mediators of an organisation with ``load`` (open cases), least loaded first."""
    return list(
        Mediator.objects.filter(organisation=organisation, is_active=True, user__is_active=True)
        .select_related("user")
        .annotate(
            load=Count("user__dispute_cases", filter=Q(user__dispute_cases__status__in=WORKLOAD_STATUSES))
        )
        .order_by("load", "user__username")
    )


@transaction.atomic
def case_assign(
    *,
    case: DisputeCase,
    actor,
    organisation: MediationOrganisation | None = None,
    mediator=None,
    note: str = "",
) -> DisputeCase:
    """Assign to an organisation and a mediator; either left out is chosen fairly by workload.

    Without ``organisation``: the most local active organisation serving the case's
    division (of the case's mediation type and category), least loaded first. Without
    ``mediator``: that organisation's active mediator with the fewest open cases, below
    capacity. Raises ``workflow.permission_denied`` first when ``actor`` may not assign the
    case (before anything is said about the organisation or mediator named), then
    ``disputes.no_organisation``, ``disputes.organisation_out_of_area``,
    ``disputes.mediator_not_member``, ``disputes.mediator_full``.
    """
    _check_may_assign(actor, case)
    if organisation is None:
        if mediator is not None and hasattr(mediator, "mediator"):
            organisation = mediator.mediator.organisation
        else:
            candidates = organisation_candidates(case)
            if not candidates:
                raise ServiceError(
                    "disputes.no_organisation",
                    _("No active mediation organisation serves this place."),
                    field="organisation",
                )
            organisation = candidates[0]
    if not organisation.is_active or not _serves(organisation, case.division):
        raise ServiceError(
            "disputes.organisation_out_of_area",
            _("%(org)s does not serve the place of this dispute.") % {"org": organisation.name},
            field="organisation",
        )
    # the organisation's mediators are locked before their open cases are counted: another
    # assignment to one of them waits for this one to commit, then counts it (two dispatchers
    # could otherwise both give a mediator at capacity − 1 a case, and pass the capacity)
    list(
        Mediator.objects.select_for_update()
        .filter(organisation=organisation)
        .order_by("pk")
        .values_list("pk")
    )
    loads = {m.user_id: m for m in mediator_workloads(organisation)}
    if mediator is None:
        free = [m for m in loads.values() if m.load < m.capacity]
        if not free:
            raise ServiceError(
                "disputes.mediator_full",
                _("Every mediator of %(org)s is at capacity.") % {"org": organisation.name},
                field="mediator",
            )
        chosen = free[0]
    else:
        chosen = loads.get(mediator.pk)
        if chosen is None:  # never their name: whether they are a mediator elsewhere is not said here
            raise ServiceError(
                "disputes.mediator_not_member",
                _("This user is not an active mediator of %(org)s.") % {"org": organisation.name},
                field="mediator",
            )
        if chosen.load >= chosen.capacity and case.mediator_id != mediator.pk:
            raise ServiceError(
                "disputes.mediator_full",
                _("%(name)s already has %(n)d open cases.")
                % {"name": mediator.display_name, "n": chosen.load},
                field="mediator",
            )
    previous = (case.organisation_id, case.mediator_id)
    case.organisation = organisation
    case.mediator = chosen.user
    case.assigned_at = timezone.now()
    payload = {
        "organisation": organisation.code,
        "mediator": chosen.user.username,
        "mediator_load": chosen.load,
        "previous": list(previous),
    }
    note = clean(note)
    if not note:  # no words given: the system's, worded for each reader
        default = SystemText(texts.ASSIGNED, {"org": organisation.name, "name": chosen.user.display_name})
        note, payload = default.stored, {**payload, **default.note_keys()}
    _apply(
        case,
        A.ASSIGN,
        actor=actor,
        note=note,
        payload=payload,
        fields=["organisation", "mediator", "assigned_at"],
    )
    _alert(
        case,
        [chosen.user],
        AlertKind.ASSIGNED,
        due_key=f"v{case.version}",
        text=SystemText(texts.ASSIGNED_TO_YOU, {"number": case.number}),
    )
    return case


def _check_may_assign(actor, case: DisputeCase) -> None:
    if not may_assign(actor, case):
        raise PermissionDeniedError(
            "workflow.permission_denied",
            _("You may not do “%(action)s” here.") % {"action": A.ASSIGN.label},
        )


def case_assign_named(
    *, case: DisputeCase, actor, organisation: str = "", mediator: str = "", note: str = ""
) -> DisputeCase:
    """``case_assign`` with the organisation's code and the mediator's username, as a form or the API
    sends them; either left empty is chosen fairly by workload.

    Whether ``actor`` may assign the case is checked first, so a caller who may not learns
    nothing about the names they try. A code that names no organisation answers
    ``disputes.organisation_unknown`` (field ``organisation``) — never an automatic choice in
    its place. A username is taken only when it names an active mediator of an active
    organisation serving the case's place (of the organisation named, when one is): anything
    else — no such user, somebody who is no mediator, an inactive one, a mediator of another
    organisation — is the one answer ``disputes.mediator_unknown`` (field ``mediator``), the
    same words whoever the name belongs to, so the form cannot be used to find out who works
    where. An organisation named that does not serve the place is refused
    (``disputes.organisation_out_of_area``) before the username is looked at.
    """
    _check_may_assign(actor, case)
    organisation_code, username = clean(organisation), clean(mediator)
    errors = ErrorList()
    found_organisation = found_mediator = None
    if organisation_code:
        found_organisation = MediationOrganisation.objects.filter(code=organisation_code).first()
        if found_organisation is None:
            errors.add("organisation", "disputes.organisation_unknown", _("Unknown organisation."))
    if username and (found_organisation is None or _serves_case(found_organisation, case)):
        # (an organisation named that does not serve the place is refused by ``case_assign``,
        # whoever is named; an unknown one has no mediators: the same refusal, whatever the name)
        row = None if errors.errors else _member_named(case, username, found_organisation)
        if row is None:
            errors.add(
                "mediator",
                "disputes.mediator_unknown",
                _("No mediator who may take this case has this user name."),
            )
        else:
            found_mediator, found_organisation = row.user, row.organisation
    if errors.errors:
        errors.raise_if_any(errors.errors[0].code if len(errors.errors) == 1 else "disputes.invalid")
    return case_assign(
        case=case, actor=actor, organisation=found_organisation, mediator=found_mediator, note=note
    )


def _serves_case(organisation: MediationOrganisation, case: DisputeCase) -> bool:
    return organisation.is_active and _serves(organisation, case.division)


def _member_named(case: DisputeCase, username: str, organisation: MediationOrganisation | None):
    """The active mediator ``username`` of ``organisation`` (or of any active organisation serving
    the case's place when none is named), or None."""
    rows = Mediator.objects.select_related("user", "organisation__division").filter(
        user__username=username, is_active=True, user__is_active=True, organisation__is_active=True
    )
    if organisation is not None:
        rows = rows.filter(organisation=organisation)
    row = rows.first()
    if row is None or not _serves(row.organisation, case.division):
        return None
    return row
