"""Who works with tickets, and which channels each role files tickets through.

One rule for every door: the web's ticket pages (``web.tickets.access``), every endpoint of the
tickets API (``tickets.api.base``) and the submit pipeline, which every intake path runs
(``services.intake_patrol.check_patrol_place`` → ``check_channel``). Scoping
(``Ticket.objects.visible_to``) then decides which tickets a reader sees.

A domain app that needs one ticket for its own work (a mediator turning a ticket into a dispute
case, ``disputes.services.registration.case_from_ticket``) reads it through
``selectors.ticket_get`` behind its own check; these doors stay shut to roles whose work is not
tickets.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from zhiwang.core.errors import PermissionDeniedError
from zhiwang.tickets.models import Channel

#: Staff roles that read and work tickets (the lists, one ticket with its staff timeline, the
#: queues): every role but the citizen (who reads the tickets they reported) and the mediator
#: (whose work is dispute cases). Integration clients are another government system's service
#: user: they push tickets and sync their progress, scoped like any staff account.
READER_ROLES = frozenset(
    {
        "intake_operator",
        "dispatcher",
        "handler",
        "grid_worker",
        "leader",
        "data_steward",
        "administrator",
        "integration",
    }
)

#: The channels of the intake desks: a call (12345), a visit (service window), or a matter passed on
#: by the petition office, a department, volunteers, or an API client.
DESK_CHANNELS = frozenset(
    {
        Channel.HOTLINE.value,
        Channel.WINDOW.value,
        Channel.PETITION.value,
        Channel.DEPARTMENT.value,
        Channel.VOLUNTEER.value,
        Channel.API.value,
    }
)
#: The channels a citizen reports through, as the reporter.
CITIZEN_CHANNELS = frozenset({Channel.WEB.value, Channel.APP.value, Channel.API.value})

#: Which channels each role files tickets through; a role not named files none (a handler, a
#: mediator, a leader, a data steward). ``open311`` is nobody's: it comes in only through the
#: Open311 endpoint (its api_key client, no user). ``patrol`` is the grid worker's alone, in their
#: own grids (``services.intake_patrol``). Intake operators and dispatchers record calls and visits
#: (the intake form and the call import offer "hotline" and "window") and what the desks are passed
#: on; integration clients push what another system received, a video platform its alarms. Open311,
#: patrol and video are the channels whose free text the Open311 feed publishes
#: (``open311.selectors.DEFAULT_TEXT_CHANNELS``): no desk files through them.
FILING_CHANNELS: dict[str, frozenset[str]] = {
    "citizen": CITIZEN_CHANNELS,
    "grid_worker": frozenset({Channel.PATROL.value}),
    "intake_operator": DESK_CHANNELS,
    "dispatcher": DESK_CHANNELS,
    "administrator": DESK_CHANNELS,
    "integration": DESK_CHANNELS | {Channel.VIDEO.value},
}

CHANNEL_NOT_ALLOWED = "tickets.channel_not_allowed"
#: A deactivated account files nothing, through any channel. Work recorded under it before it was
#: deactivated and carried out later — a queued API submission, an import run — is refused with
#: this code, not with the role's channel message (which would tell them their role is wrong).
ACCOUNT_INACTIVE = "auth.inactive"


def role_of(user) -> str:
    """The user's role ("" for nobody: anonymous or inactive); a superuser is an administrator."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return ""
    return "administrator" if getattr(user, "is_superuser", False) else getattr(user, "role", "")


def reads_tickets(user) -> bool:
    """A staff role that reads and works tickets (``READER_ROLES``): the web's ticket pages and the
    API's staff lists (queue, inbox, duplicates, histories, batches) admit only these."""
    return role_of(user) in READER_ROLES


def uses_tickets(user) -> bool:
    """A ticket reader, or a citizen: the API's ticket endpoints admit these (a citizen sees only
    what they reported, ``visible_to``, and acts only as the reporter, ``workflow``)."""
    role = role_of(user)
    return role in READER_ROLES or role == "citizen"


def _refuse() -> PermissionDeniedError:
    return PermissionDeniedError("auth.forbidden", _("Your role does not work with tickets."))


def check_reader(user) -> None:
    """``PermissionDeniedError`` ``auth.forbidden`` unless ``reads_tickets``."""
    if not reads_tickets(user):
        raise _refuse()


def check_user(user) -> None:
    """``PermissionDeniedError`` ``auth.forbidden`` unless ``uses_tickets``."""
    if not uses_tickets(user):
        raise _refuse()


def filing_channels(user) -> frozenset[str]:
    """The channels ``user`` may file tickets through (``FILING_CHANNELS``)."""
    return FILING_CHANNELS.get(role_of(user), frozenset())


def check_channel(*, channel: str, actor) -> None:
    """``PermissionDeniedError`` ``tickets.channel_not_allowed`` (on ``channel``) when ``actor`` may
    not file a ticket through ``channel`` (``FILING_CHANNELS``), decided here whatever the client
    sent. Without an actor (the Open311 endpoint, an import without an operator) the caller is the
    system and has chosen the channel itself. A value that is no channel at all is left to the
    submission's validation ("Unknown channel").

    An actor whose account has been deactivated is refused first, whatever the channel:
    ``PermissionDeniedError`` ``auth.inactive``. A signed-in request never has such an actor; this
    is the submission queued, or the import run, before the account was deactivated (its receipt,
    or the run, says so). A retry of a submission written before still gets its ticket: the
    caller looks for it first (``submit.ticket_submit``, ``submit_batch.ticket_submit_many``)."""
    if actor is None or getattr(actor, "pk", None) is None:
        return
    if not getattr(actor, "is_active", False):
        raise inactive_error()
    if channel not in Channel.values or channel in filing_channels(actor):
        return
    raise PermissionDeniedError(CHANNEL_NOT_ALLOWED, _refusal(channel, role_of(actor)), field="channel")


def inactive_error() -> PermissionDeniedError:
    """The refusal of work done for a deactivated account (``ACCOUNT_INACTIVE``)."""
    return PermissionDeniedError(
        ACCOUNT_INACTIVE, _("This account has been deactivated; it cannot file tickets.")
    )


def _refusal(channel: str, role: str) -> str:
    named = {"label": Channel(channel).label, "channel": channel}
    if channel == Channel.OPEN311:
        return _(
            "Open311 requests (channel “open311”) come in only through the Open311 endpoint, "
            "with its client's api_key."
        )
    if channel == Channel.PATROL:
        return _("Only grid workers file patrol reports (channel “patrol”), in their own grids.")
    if role == "grid_worker":
        return (
            _(
                "A grid worker reports through the patrol channel (channel “patrol”), "
                "not through “%(label)s” (%(channel)s)."
            )
            % named
        )
    if role == "citizen":
        return (
            _(
                "Citizens report through the web form, the app or the API, not through “%(label)s” (%(channel)s)."
            )
            % named
        )
    allowed = FILING_CHANNELS.get(role)
    if not allowed:
        return (
            _(
                "Your role does not file tickets (channel “%(label)s”, %(channel)s): intake operators "
                "record calls and visits, grid workers report incidents, citizens report themselves."
            )
            % named
        )
    return _("You do not file tickets through “%(label)s” (%(channel)s); your channels: %(allowed)s.") % {
        **named,
        # the labels people know, in the order of the channel list
        "allowed": pgettext("list separator", ", ").join(
            str(choice.label) for choice in Channel if choice.value in allowed
        ),
    }
