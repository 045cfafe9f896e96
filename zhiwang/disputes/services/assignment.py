"""Assigning a case to a mediation organisation and a mediator, fairly by workload."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ServiceError
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
    capacity. Raises ``disputes.no_organisation``, ``disputes.organisation_out_of_area``,
    ``disputes.mediator_not_member``, ``disputes.mediator_full``.
    """
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
        if chosen is None:
            raise ServiceError(
                "disputes.mediator_not_member",
                _("%(name)s is not an active mediator of %(org)s.")
                % {"name": mediator.display_name, "org": organisation.name},
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
    _apply(
        case,
        A.ASSIGN,
        actor=actor,
        note=clean(note)
        or _("Assigned to %(org)s, mediator %(name)s.")
        % {"org": organisation.name, "name": chosen.user.display_name},
        payload={
            "organisation": organisation.code,
            "mediator": chosen.user.username,
            "mediator_load": chosen.load,
            "previous": list(previous),
        },
        fields=["organisation", "mediator", "assigned_at"],
    )
    _alert(
        case,
        [chosen.user],
        AlertKind.ASSIGNED,
        due_key=f"v{case.version}",
        message=_("Case %(number)s was assigned to you.") % {"number": case.number},
    )
    return case
