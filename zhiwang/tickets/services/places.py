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
