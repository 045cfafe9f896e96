"""Re-derive the coarse place columns of tickets after divisions moved (区划调整).

A ticket keeps its place denormalized (``grid``, ``community``, ``subdistrict``, ``district`` and
the finest of them as ``division``) so that scoping, lists and rollups filter on indexed columns.
When a division moves under another parent (``geo.services.divisions_load_csv`` reports it in
``moved``; the division keeps its row, under a new code), the tickets located inside it still
name the old subdistrict or district. Statistics follow the current administrative tree, so
those columns are derived again from the ticket's community (or, located no finer, its
subdistrict). Grids do not move: a grid's community is its code's first 12 digits
(``geo.boundaries``), and a moved community keeps its row, so ``grid``, ``community`` and
``division`` stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from zhiwang.geo.models import Grid, StandardAddress
from zhiwang.geo.moves import moved_targets
from zhiwang.tickets.models import Ticket


def ticket_places_rederive(*, division_ids: Iterable[int]) -> int:
    """Set the subdistrict and district of the tickets inside ``division_ids`` to the current tree.

    Set-based: one ``UPDATE`` per target (a community's new subdistrict and district, a
    subdistrict's new district), each touching only the rows whose columns differ, so a run
    with nothing to change writes no row and an empty ``division_ids`` issues no query. The
    ticket's ``version`` is not bumped: its place (community, grid, address) has not changed, and a
    handler acting on it meanwhile must not fail with a version conflict over a re-labelling.
    No timeline row either: this is not a state change of the ticket. Returns the rows updated.
    """
    division_ids = set(division_ids)
    if not division_ids:
        return 0
    communities, subdistricts = moved_targets(division_ids)
    updated = 0
    with transaction.atomic():
        for district, members in subdistricts.items():
            updated += (
                Ticket.objects.filter(subdistrict_id__in=members, community__isnull=True)
                .exclude(district_id=district)
                .update(district_id=district)
            )
        for (subdistrict, district), members in communities.items():
            updated += (
                Ticket.objects.filter(community_id__in=members)
                .exclude(subdistrict_id=subdistrict, district_id=district)
                .update(subdistrict_id=subdistrict, district_id=district)
            )
    return updated


#: Rows per statement when tickets are re-attached (well under SQLite's bound on variables).
_REATTACH_BATCH = 2000


def ticket_place_codes() -> dict[int, tuple[str | None, str | None]]:
    """Each located ticket's standard address code and grid code, by ticket id.

    Taken before the demo city's grids and addresses are built again (``zhiwang demo`` over an
    earlier demo): those rows are deleted and made anew, and a ticket's ``address`` and ``grid``
    are set to none with them (the divisions, protected, keep their rows).
    """
    located = Ticket.objects.filter(Q(address__isnull=False) | Q(grid__isnull=False))
    return {
        pk: (address, grid)
        for pk, address, grid in located.values_list("pk", "address__code", "grid__code").iterator()
    }


def ticket_places_reattach(codes: dict[int, tuple[str | None, str | None]]) -> int:
    """Point the tickets of ``codes`` (``ticket_place_codes``) at the address and grid that now
    carry those codes; a code the new city does not have leaves that column empty.

    Codes are positional (a community's code and a sequence), so the same seed rebuilds the same
    places and a ticket is back where it was; another seed puts it at the address of that code in
    the same community. Like ``ticket_places_rederive``, no version bump and no timeline row: the
    ticket's place did not change, only the rows that stand for it. Returns the tickets updated.
    """
    if not codes:
        return 0
    address_codes = {a for a, _g in codes.values() if a}
    grid_codes = {g for _a, g in codes.values() if g}
    addresses: dict[str, tuple[int, int | None]] = {}
    for chunk in _chunks(sorted(address_codes)):
        addresses.update(
            (code, (pk, grid))
            for code, pk, grid in StandardAddress.objects.filter(code__in=chunk).values_list(
                "code", "pk", "grid_id"
            )
        )
    grids: dict[str, int] = {}
    for chunk in _chunks(sorted(grid_codes)):
        grids.update(Grid.objects.filter(code__in=chunk).values_list("code", "pk"))
    rows = []
    for pk, (address, grid) in codes.items():
        found = addresses.get(address or "")
        # an address found gives its own grid (another seed may draw the grids otherwise)
        rows.append(
            Ticket(pk=pk, address_id=found[0], grid_id=found[1])
            if found
            else Ticket(pk=pk, address_id=None, grid_id=grids.get(grid or ""))
        )
    rows = [row for row in rows if row.address_id or row.grid_id]
    with transaction.atomic():
        Ticket.objects.bulk_update(rows, ["address", "grid"], batch_size=_REATTACH_BATCH)
    return len(rows)


def _chunks(values: list[str]):
    for start in range(0, len(values), _REATTACH_BATCH):
        yield values[start : start + _REATTACH_BATCH]
