"""Tickets API: submit from any client, every workflow action, scoped lists and queues.

Thin handlers: a ``…In`` schema checks the shape, a selector finds the ticket in the
caller's scope (404 outside it, like a ticket that does not exist), one service does
the work, a ``…Out`` schema shapes the answer. Every action body takes an optional
``expected_version``: when the ticket has changed since, the answer is 409
``tickets.version_conflict`` and nothing is written. Phones are masked in every
answer; ``POST /{number}/contact`` unmasks them for staff who give a reason (logged).

The endpoints live by area (``catalogue``, ``submit``, ``lists``, ``public``,
``actions``), all on the one ``router`` of ``base``; the order of the imports below
is the order of the routes (fixed paths before ``/{number}``).
"""

# ruff: isort: skip_file
from zhiwang.tickets.api.base import router
from zhiwang.tickets.api import catalogue, submit, lists, public, actions  # noqa: F401  (registers the routes)

__all__ = ["router"]
