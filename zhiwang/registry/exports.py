"""Exports of registry lists: masked unless the exporter holds the permission and gives a reason.

A masked export gives the birth date as year and month; a full (unmasked) export needs the
explicit Django permission
``registry.reveal_personal_data`` (a role alone is not enough: an export leaves the
platform) and a reason; it writes one ``AccessLog`` row per exported person, committed
before that person's row is sent (chunk by chunk, ``LOG_BATCH`` people at a time).

The rows hold the values as stored; whoever writes them into a file writes each cell through
``core.spreadsheet`` (``views.people_export``: ``csv_row``), so a name such as ``=HYPERLINK(…)``
stays text in Excel or WPS.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from django.db import transaction
from django.utils.translation import gettext as _

from zhiwang.core.errors import PermissionDeniedError, ServiceError
from zhiwang.registry import selectors
from zhiwang.registry.models import AccessLog, RecordKind

HEADER = ("姓名", "公民身份号码", "性别", "出生日期", "人口类型", "联系电话", "社区")
#: The masked export's birth-date column holds the year and month only.
MASKED_HEADER = ("姓名", "公民身份号码", "性别", "出生年月", "人口类型", "联系电话", "社区")
#: People per chunk of a full export: their access-log rows are written, then their rows sent.
LOG_BATCH = 1000


def may_export_full(user) -> bool:
    return bool(user is not None and user.is_active and user.has_perm("registry.reveal_personal_data"))


def people_export(*, user, q: str = "", full: bool = False, reason: str = "") -> Iterator[list[str]]:
    """Rows (header first) of the people the user may see matching ``q``; streamed, constant memory.

    Checks run before the first row, so a refused export yields nothing. A ``q`` that is an
    ID number or phone counts as a search by identifier (``services.audit``: logged, limited).
    """
    reason = (reason or "").strip()
    if full:
        if not may_export_full(user):
            raise PermissionDeniedError(
                "registry.permission_denied", _("Exporting unmasked data needs the personal-data permission.")
            )
        if not reason:
            raise ServiceError(
                "registry.reason_required", _("Say why you need the full data."), field="reason"
            )
    qs = selectors.person_search(user=user, q=q, limit=None).select_related("community")

    def row(person) -> list[str]:
        return [
            person.name,
            person.id_number if full else person.masked_id_number,
            person.get_gender_display(),
            person.birth_date.isoformat() if full else person.birth_month,
            person.get_household_type_display(),
            person.phone if full else person.masked_phone,
            person.community.display_name if person.community_id else "",
        ]

    def rows() -> Iterator[list[str]]:
        yield list(HEADER if full else MASKED_HEADER)
        people = qs.iterator(chunk_size=LOG_BATCH)
        if not full:
            yield from map(row, people)
            return
        # A chunk's access-log rows are committed before the first of its rows leaves: a client
        # that hangs up has never received an unlogged unmasked row (at worst the log names up
        # to one chunk more than it received). One chunk of people in memory at a time.
        while chunk := list(islice(people, LOG_BATCH)):
            _log(
                [
                    AccessLog(
                        record_kind=RecordKind.PERSON,
                        record_id=person.pk,
                        actor=user,
                        action="export",
                        from_state="",
                        to_state="",
                        note=reason,
                        payload={"query": q},
                    )
                    for person in chunk
                ]
            )
            yield from map(row, chunk)

    return rows()


def _log(entries: list[AccessLog]) -> None:
    """Write (and, outside a caller's transaction, commit) the access-log rows of one chunk."""
    with transaction.atomic():
        AccessLog.objects.bulk_create(entries)
