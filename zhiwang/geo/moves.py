"""The current ancestor chain of every division, for re-deriving places after a division moves.

An administrative adjustment (区划调整) moves a division under another parent, with a new code
under its new parent (``divisions_load_csv``: the row's ``previous_code``). Records that keep the
place of something in coarse columns (a ticket's subdistrict and district, the analytics
rollups) still name the old parent; ``division_chains`` says what they must name now and
``subtree_ids`` which divisions a move reaches. Both read the ~900 divisions of a city once, in
memory (a chain is at most four levels deep), so callers can group their writes per target
and issue a few set-based ``UPDATE``s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zhiwang.geo.models import Division, DivisionLevel


@dataclass(frozen=True)
class Chain:
    """The district, subdistrict and community a division lies in (itself included); None: none."""

    district: int | None
    subdistrict: int | None
    community: int | None


@dataclass(frozen=True)
class Tree:
    """The division tree as it is now: levels, parents, children and chains by primary key."""

    level: dict[int, str]
    parent: dict[int, int | None]

    @classmethod
    def load(cls) -> Tree:
        rows = list(Division.objects.values_list("pk", "parent_id", "level"))
        return cls(level={pk: lvl for pk, _p, lvl in rows}, parent={pk: p for pk, p, _l in rows})

    def chain(self, pk: int) -> Chain:
        found: dict[str, int] = {}
        current, hops = pk, 0
        while current is not None and current in self.level and hops < 8:  # hops: a cycle ends
            found.setdefault(self.level[current], current)
            current, hops = self.parent.get(current), hops + 1
        return Chain(
            found.get(DivisionLevel.DISTRICT),
            found.get(DivisionLevel.SUBDISTRICT),
            found.get(DivisionLevel.COMMUNITY),
        )

    def subtree(self, roots: Iterable[int]) -> set[int]:
        """``roots`` and every division below them by the parent links (not by code prefix)."""
        children: dict[int, list[int]] = {}
        for pk, parent in self.parent.items():
            if parent is not None:
                children.setdefault(parent, []).append(pk)
        out: set[int] = set()
        stack = [pk for pk in roots if pk in self.level]
        while stack:
            pk = stack.pop()
            if pk not in out:
                out.add(pk)
                stack.extend(children.get(pk, ()))
        return out


def moved_targets(division_ids: Iterable[int]) -> tuple[dict[tuple, list[int]], dict[int | None, list[int]]]:
    """Where the places inside the moved divisions now lie, grouped for set-based writes.

    Returns ``(communities, subdistricts)``: every community of the moved subtrees grouped by its
    (subdistrict, district) now, and every subdistrict of them grouped by its district now. A
    writer updates the rows of each group whose columns differ (rows that already agree are not
    touched, so a repeated run writes nothing).
    """
    tree = Tree.load()
    communities: dict[tuple, list[int]] = {}
    subdistricts: dict[int | None, list[int]] = {}
    for pk in sorted(tree.subtree(division_ids)):
        chain = tree.chain(pk)
        if tree.level[pk] == DivisionLevel.COMMUNITY:
            communities.setdefault((chain.subdistrict, chain.district), []).append(pk)
        elif tree.level[pk] == DivisionLevel.SUBDISTRICT:
            subdistricts.setdefault(chain.district, []).append(pk)
    return communities, subdistricts
