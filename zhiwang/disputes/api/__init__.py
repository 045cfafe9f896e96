"""REST API of the disputes app, mounted at /api/v1/disputes/ by zhiwang.api.

Thin handlers: a ``…In`` schema checks the shape, a selector finds the case in the
caller's scope (404 outside it, like a case that does not exist), one service does the
work, a ``…Out`` schema shapes the answer. Parties' names, ID numbers and phones are
masked in every answer; ``POST /cases/{number}/parties/reveal`` unmasks them for those
who work the case and give a reason (logged on the case's timeline).

The handlers live in ``cases`` and ``window``, the shapes in ``schemas``.
"""

from zhiwang.disputes.api import cases, window  # noqa: F401  (they add their routes)
from zhiwang.disputes.api.common import router

__all__ = ["router"]
