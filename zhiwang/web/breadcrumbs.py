"""The breadcrumbs of the place pages (division, grid, building, room): city → … → here."""

from __future__ import annotations

from zhiwang.geo import selectors as geo_selectors


def division_breadcrumbs(user, division, *, including_self: bool = False) -> list[tuple]:
    """City → … → ``division``'s parent (and ``division`` itself when asked), each with whether
    ``user`` may open it: a crumb the user may not see is shown as text, never as a link (404).

    "May open" is the division page's own rule (``geo_selectors.division_get`` reads the same
    ``visible_to``), asked once for the whole chain.
    """
    chain = geo_selectors.division_ancestors(division=division)
    if including_self:
        chain.append(division)
    visible = set(
        geo_selectors.division_list(user=user)
        .filter(pk__in=[d.pk for d in chain])
        .values_list("pk", flat=True)
    )
    return [(d, d.pk in visible) for d in chain]
