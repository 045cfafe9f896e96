"""Helpers shared by the disputes services: numbers, hashes, validation of parties, recipients."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList, ServiceError
from zhiwang.core.keyed_hash import keyed_hash as core_keyed_hash
from zhiwang.core.phones import normalize_phone
from zhiwang.core.validators import validate_credit_code, validate_id_number
from zhiwang.disputes.models import CaseCounter, Party, PartyKind, PartyRole
from zhiwang.disputes.services.registry import (
    entity_for_credit_code,
    person_for_id_number,
    picked_entity,
    picked_person,
)
from zhiwang.geo.models import Division, DivisionLevel

#: The longest texts a party keeps (``Party`` fields): longer is refused, never cut.
PARTY_LIMITS = {
    name: Party._meta.get_field(name).max_length for name in ("name", "address", "representative")
}


def too_long(text: str, limit: int, field: str, errors: ErrorList) -> None:
    """``disputes.too_long`` on ``field`` when ``text`` does not fit: refused, never silently cut."""
    if len(text) > limit:
        errors.add(field, "disputes.too_long", _("At most %(limit)d characters.") % {"limit": limit})


def clean(value) -> str:
    return str(value or "").strip()


def require(value, field: str, message: str) -> str:
    text = clean(value)
    if not text:
        raise ServiceError("disputes.required", message, field=field)
    return text


#: ``core.keyed_hash`` purpose of the disputes' own hashes (``Visitor.id_hash``,
#: ``Party.identifier_hash``). Not the registry's ``id``: a disputes hash never equals
#: ``Person.id_number_hash`` of the same number (``services.registry``). The same bytes as the
#: earlier ``HMAC(SECRET_KEY, "disputes:" + value)``, so where the hash key is ``SECRET_KEY``
#: the stored hashes were already right (migration ``disputes.0008_hashes_under_the_hash_key``).
HASH_PURPOSE = "disputes"


def keyed_hash(value: str) -> str:
    """The keyed hash (``core.keyed_hash``, purpose ``disputes``) of a normalized identifier: finds
    the same visitor or party again without comparing raw numbers. Changing the hash key changes
    it: ``zhiwang rehash-all`` recomputes the stored ones (``disputes.rekey``)."""
    return core_keyed_hash(HASH_PURPOSE, value)


def next_number(prefix: str, at: datetime | None = None) -> str:
    """``prefix`` + yyyymmdd + 5-digit sequence of the day (row-locked counter, safe under concurrency)."""
    day = timezone.localdate(at or timezone.now())
    with transaction.atomic():
        if not CaseCounter.objects.filter(prefix=prefix, day=day).update(value=F("value") + 1):
            try:
                with transaction.atomic():
                    CaseCounter.objects.create(prefix=prefix, day=day, value=1)
            except IntegrityError:
                CaseCounter.objects.filter(prefix=prefix, day=day).update(value=F("value") + 1)
        value = CaseCounter.objects.get(prefix=prefix, day=day).value
    return f"{prefix}{day:%Y%m%d}{value:05d}"


def add_months(moment: datetime, months: int = 1) -> datetime:
    """The same day ``months`` later (clamped to the month's last day): "within one month".

    Counted on the local calendar (Asia/Shanghai): a case received at 01:00 on 1 March
    is due on 1 April, although in UTC it was received on the last day of February.
    """
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def parse_phone(value, field: str, errors: ErrorList) -> str:
    """A visitor's or party's phone by the platform's rule (``core.phones.normalize_phone``, as
    tickets store one: digits, no +86, 7–15 digits, and a mainland mobile with its 11 digits —
    "1381234567" is a mistyped mobile, not a landline). ``disputes.phone_invalid`` otherwise."""
    text = clean(value)
    if not text:
        return ""
    phone = normalize_phone(text)
    if not phone:
        errors.add(field, "disputes.phone_invalid", _("This is not a phone number."))
    return phone


def parse_amount(value, field: str = "amount") -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        amount = None
    # NaN and infinities are not amounts (and comparing a NaN raises InvalidOperation).
    if amount is None or not amount.is_finite():
        raise ServiceError("disputes.amount_invalid", _("Enter the amount as a number."), field=field)
    if amount < 0 or amount >= Decimal("1e12"):
        raise ServiceError(
            "disputes.amount_invalid", _("The amount must be zero or more (in yuan)."), field=field
        )
    return amount.quantize(Decimal("0.01"))


def parse_date(value, field: str) -> date:
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ServiceError("disputes.date_invalid", _("Enter a date as YYYY-MM-DD."), field=field) from None


def validate_parties(parties, *, actor=None) -> list[dict]:
    """Clean the parties of a case; at least one applicant and one respondent.

    Each party is a dict with ``role``, ``kind`` (person/entity), ``name``, ``identifier``
    (ID number for a person, credit code for an entity; optional), ``phone``, ``address``,
    ``representative``, and optionally ``person_id`` / ``entity_id``: a record picked from
    the registry (resolved through ``actor``'s registry scope), whose name, identifier and
    phone replace the typed ones. An unpicked party with an identifier the registry knows is
    linked to that record (``disputes.services.registry``). Raises ``ServiceError`` ``disputes.parties_missing`` or
    ``disputes.invalid`` with one field error per bad value (``parties.<i>.<field>``).
    """
    parties = [
        p
        for p in (parties or [])
        if any(clean(p.get(k)) for k in ("name", "identifier", "phone", "person_id", "entity_id"))
    ]
    roles = {p.get("role") for p in parties}
    if PartyRole.APPLICANT not in roles or PartyRole.RESPONDENT not in roles:
        raise ServiceError(
            "disputes.parties_missing",
            _("A dispute needs at least one applicant and one respondent."),
            field="parties",
        )
    errors = ErrorList()
    cleaned = []
    for index, party in enumerate(parties):
        prefix = f"parties.{index}"
        role = party.get("role") or ""
        kind = party.get("kind") or PartyKind.PERSON
        if role not in PartyRole.values:
            errors.add(f"{prefix}.role", "disputes.party_role", _("Choose the party's role."))
        if kind not in PartyKind.values:
            errors.add(f"{prefix}.kind", "disputes.party_kind", _("Choose person or legal entity."))
        person = entity = None
        pick_failed = False
        try:
            if kind == PartyKind.ENTITY:
                entity = picked_entity(actor=actor, pk=party.get("entity_id"), field=f"{prefix}.name")
            else:
                person = picked_person(actor=actor, pk=party.get("person_id"), field=f"{prefix}.name")
        except ServiceError as error:
            errors.add(error.field, error.code, error.message)
            pick_failed = True
        if person is not None:
            party = {**party, "name": person.name, "identifier": person.id_number}
            party["phone"] = clean(party.get("phone")) or person.phone
        elif entity is not None:
            party = {**party, "name": entity.name, "identifier": entity.credit_code}
            party["phone"] = clean(party.get("phone")) or entity.phone
            party["representative"] = clean(party.get("representative")) or entity.legal_representative
        name = clean(party.get("name"))
        if not name and not pick_failed:  # a failed pick already says what is wrong with the name
            errors.add(f"{prefix}.name", "disputes.required", _("Enter the party's name."))
        identifier = clean(party.get("identifier"))
        if identifier:
            try:
                if kind == PartyKind.ENTITY:
                    identifier = validate_credit_code(identifier, field=f"{prefix}.identifier")
                else:
                    identifier = validate_id_number(identifier, field=f"{prefix}.identifier")
            except ServiceError as error:
                errors.add(f"{prefix}.identifier", error.code, error.message)
                identifier = ""
        if identifier and person is None and entity is None:
            if kind == PartyKind.ENTITY:
                entity = entity_for_credit_code(identifier)
            else:
                person = person_for_id_number(identifier)
        phone = parse_phone(party.get("phone"), f"{prefix}.phone", errors)
        address = clean(party.get("address"))
        representative = clean(party.get("representative"))
        for field, text in (("name", name), ("address", address), ("representative", representative)):
            too_long(text, PARTY_LIMITS[field], f"{prefix}.{field}", errors)
        cleaned.append(
            {
                "role": role,
                "kind": kind,
                "name": name,
                "identifier": identifier,
                "identifier_hash": keyed_hash(identifier) if identifier else "",
                "phone": phone,
                "address": address,
                "representative": representative,
                "person": person,
                "entity": entity,
            }
        )
    errors.raise_if_any("disputes.invalid")
    return cleaned


def division_ancestors(division: Division) -> list[Division]:
    """The division and every division above it (by code prefix: no walk up the tree)."""
    codes = {division.code}
    if division.level in (DivisionLevel.COMMUNITY, DivisionLevel.SUBDISTRICT):
        codes.add(division.code[:9] + "000")
    if division.level != DivisionLevel.CITY:
        codes.add(division.code[:6] + "000000")
    return list(Division.objects.filter(Q(code__in=codes) | Q(level=DivisionLevel.CITY)))


def users_over(division: Division, roles: tuple[str, ...]):
    """Active users of ``roles`` whose jurisdiction holds ``division`` (those a report goes up to)."""
    from zhiwang.accounts.models import User

    return (
        User.objects.filter(is_active=True, role__in=roles, jurisdictions__in=division_ancestors(division))
        .distinct()
        .order_by("pk")
    )
