"""The registry of mediation organisations and their mediators, with their open-case load."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from zhiwang.disputes.models import WORKLOAD_STATUSES, MediationOrganisation
from zhiwang.disputes.workflow import mediator_organisation_id, role_of


def organisation_list(*, user) -> QuerySet[MediationOrganisation]:
    """Organisations inside the user's jurisdiction (a mediator: their own), with open-case load."""
    qs = MediationOrganisation.objects.select_related("division").annotate(
        load=Count("cases", filter=Q(cases__status__in=WORKLOAD_STATUSES)),
        mediator_count=Count("mediators", filter=Q(mediators__is_active=True), distinct=True),
    )
    role = role_of(user)
    if role == "mediator":
        return qs.filter(pk=mediator_organisation_id(user))
    if role in ("", "system", "citizen"):
        return qs.none()
    return qs.visible_to(user).order_by("division__code", "code")


def mediators_of(*, user, organisation: MediationOrganisation):
    from zhiwang.disputes.services.assignment import mediator_workloads

    if not organisation_list(user=user).filter(pk=organisation.pk).exists():
        return []
    return mediator_workloads(organisation)
