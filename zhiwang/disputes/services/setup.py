"""Writes that set up the registry of organisations, mediators and service centres (admin and demo)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from zhiwang.accounts.models import OrgUnit
from zhiwang.core.errors import ServiceError
from zhiwang.disputes.models import (
    MediationOrganisation,
    MediationType,
    Mediator,
    OrganisationKind,
    ServiceCentre,
)
from zhiwang.geo.models import Division


@transaction.atomic
def organisation_create(
    *,
    code: str,
    name: str,
    division: Division,
    kind: str = OrganisationKind.PEOPLES_COMMITTEE,
    mediation_type: str = MediationType.PEOPLES,
    org_unit: OrgUnit | None = None,
) -> MediationOrganisation:
    """Create or refresh a mediation organisation (idempotent by code)."""
    if kind not in OrganisationKind.values:
        raise ServiceError("disputes.choice_invalid", _("Choose one of the offered values."), field="kind")
    if mediation_type not in MediationType.values:
        raise ServiceError(
            "disputes.choice_invalid", _("Choose one of the offered values."), field="mediation_type"
        )
    organisation, _created = MediationOrganisation.objects.update_or_create(
        code=code,
        defaults={
            "name": name,
            "division": division,
            "kind": kind,
            "mediation_type": mediation_type,
            "org_unit": org_unit,
            "is_active": True,
        },
    )
    return organisation


@transaction.atomic
def mediator_enrol(
    *, user, organisation: MediationOrganisation, capacity: int = 20, specialities: str = ""
) -> Mediator:
    """Make a user with the mediator role a mediator of ``organisation`` (idempotent)."""
    if getattr(user, "role", "") != "mediator":
        raise ServiceError(
            "disputes.not_a_mediator", _("Only a user with the mediator role can be enrolled."), field="user"
        )
    if capacity < 1:
        raise ServiceError("disputes.capacity_invalid", _("Capacity must be at least 1."), field="capacity")
    mediator, _created = Mediator.objects.update_or_create(
        user=user,
        defaults={
            "organisation": organisation,
            "capacity": capacity,
            "specialities": specialities,
            "is_active": True,
        },
    )
    user.__dict__.pop("_dispute_org_id", None)
    return mediator


@transaction.atomic
def service_centre_create(*, org_unit: OrgUnit, name: str, division: Division) -> ServiceCentre:
    """Create or refresh the service centre run by ``org_unit`` (idempotent)."""
    centre, _created = ServiceCentre.objects.update_or_create(
        org_unit=org_unit, defaults={"name": name, "division": division, "is_active": True}
    )
    return centre
