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

A schema's class name is its component name in the OpenAPI document, one namespace for every
app's API: ninja keeps the last of two models of one name, so the other's operations were
documented with the wrong body. A tickets schema whose plain name another app uses carries the
ticket's word (``TicketEventOut``, ``RequestDecisionIn``, ``DispatcherQueueOut``…); the wire
format does not change with it (tests/tickets/test_openapi_components.py).
"""

# ruff: isort: skip_file
from zhiwang.tickets.api.base import router
from zhiwang.tickets.api import catalogue, submit, lists, public, actions  # noqa: F401  (registers the routes)

__all__ = ["router"]
