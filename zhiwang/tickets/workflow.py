"""The ticket's closed loop as one transition table, with who may do what.

receive → (pending_dispatch | dispatched) → accepted → replied → (verifying) →
follow_up → closed, with the side paths of DOMAIN.md: return (approved by a
dispatcher), reassign, extension, suspend/resume, urge, supervise, reopen, merge,
reject, answer directly. Actions that leave the state unchanged (urge, requests,
refusals) are still transitions, so every one of them writes a timeline row.

Permissions take the role and the jurisdiction into account: a dispatcher acts
on tickets whose place is inside their jurisdiction, a handler only on tickets of
their own unit, a citizen only rates their own ticket; ``actor=None`` is the
system (auto-dispatch, the deadline sweep).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.errors import ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.core.workflow import Workflow
from zhiwang.tickets.models import TicketStatus as S


class TicketAction(models.TextChoices):
    RECEIVE = "receive", _("Receive")  # 受理
    DISPATCH = "dispatch", _("Dispatch")  # 派遣
    REASSIGN = "reassign", _("Reassign")  # 改派
    ACCEPT = "accept", _("Accept")  # 签收
    REQUEST_RETURN = "request_return", _("Ask to return")  # 申请退单
    APPROVE_RETURN = "approve_return", _("Approve return")
    REFUSE_RETURN = "refuse_return", _("Refuse return")
    REQUEST_EXTENSION = "request_extension", _("Ask for an extension")  # 申请延期
    APPROVE_EXTENSION = "approve_extension", _("Approve extension")
    REFUSE_EXTENSION = "refuse_extension", _("Refuse extension")
    REQUEST_SUSPENSION = "request_suspension", _("Ask to suspend")  # 申请挂起
    APPROVE_SUSPENSION = "approve_suspension", _("Approve suspension")
    REFUSE_SUSPENSION = "refuse_suspension", _("Refuse suspension")
    RESUME = "resume", _("Resume")  # 解挂
    REPLY = "reply", _("Reply")  # 办结答复
    APPROVE_REPLY = "approve_reply", _("Approve reply")  # 审核通过
    SEND_BACK = "send_back", _("Send back to the handler")  # 审核退回
    SEND_TO_VERIFY = "send_to_verify", _("Send for on-site verification")
    VERIFY_PASS = "verify_pass", _("Verified on site")  # 核查通过
    VERIFY_FAIL = "verify_fail", _("Not fixed on site")  # 核查不通过
    CLOSE = "close", _("Close after follow-up")  # 回访结案
    REOPEN = "reopen", _("Reopen")  # 重办
    URGE = "urge", _("Urge")  # 催办
    SUPERVISE = "supervise", _("Supervise")  # 督办
    MERGE = "merge", _("Merge as duplicate")  # 合并
    REJECT = "reject", _("Do not accept")  # 不予受理
    ANSWER_DIRECTLY = "answer_directly", _("Answer directly")  # 直接答复
    # Handed to another procedure (e.g. mediation, 转调解); the ticket closes here.
    TRANSFER = "transfer", _("Transfer to another procedure")  # 移交
    WARN = "warn", _("Deadline warning")  # 预警 (system)
    NOTE = "note", _("Note")
    # Not a change of state: a dispatcher or operator corrects the category (a training example).
    RECATEGORISE = "recategorise", _("Change the category")  # 改分类
    # Not a change of state: the audit row written when somebody unmasks the reporter's contact.
    REVEAL_CONTACT = "reveal_contact", _("Viewed the reporter's contact")


A = TicketAction
HANDLING = (S.DISPATCHED, S.ACCEPTED)
CLOCK_RUNNING = (S.DISPATCHED, S.ACCEPTED, S.REPLIED, S.VERIFYING)

_TABLE: dict[tuple[str, str], str] = {
    (S.PENDING_DISPATCH, A.DISPATCH): S.DISPATCHED,
    (S.PENDING_DISPATCH, A.REJECT): S.REJECTED,
    (S.PENDING_DISPATCH, A.ANSWER_DIRECTLY): S.CLOSED,
    (S.PENDING_DISPATCH, A.MERGE): S.MERGED,
    (S.DISPATCHED, A.MERGE): S.MERGED,
    (S.ACCEPTED, A.MERGE): S.MERGED,
    (S.DISPATCHED, A.REASSIGN): S.DISPATCHED,
    (S.ACCEPTED, A.REASSIGN): S.DISPATCHED,
    (S.DISPATCHED, A.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, A.REPLY): S.REPLIED,
    (S.REPLIED, A.APPROVE_REPLY): S.FOLLOW_UP,
    (S.REPLIED, A.SEND_TO_VERIFY): S.VERIFYING,
    (S.REPLIED, A.SEND_BACK): S.ACCEPTED,
    (S.VERIFYING, A.VERIFY_PASS): S.FOLLOW_UP,
    (S.VERIFYING, A.VERIFY_FAIL): S.ACCEPTED,
    (S.FOLLOW_UP, A.CLOSE): S.CLOSED,
    (S.FOLLOW_UP, A.REOPEN): S.DISPATCHED,
    (S.ACCEPTED, A.APPROVE_SUSPENSION): S.SUSPENDED,
    (S.ACCEPTED, A.REFUSE_SUSPENSION): S.ACCEPTED,
    (S.SUSPENDED, A.RESUME): S.ACCEPTED,
}
for _state in HANDLING:
    _TABLE[(_state, A.REQUEST_RETURN)] = _state
    _TABLE[(_state, A.APPROVE_RETURN)] = S.PENDING_DISPATCH
    _TABLE[(_state, A.REFUSE_RETURN)] = _state
    _TABLE[(_state, A.REQUEST_EXTENSION)] = _state
    _TABLE[(_state, A.APPROVE_EXTENSION)] = _state
    _TABLE[(_state, A.REFUSE_EXTENSION)] = _state
_TABLE[(S.ACCEPTED, A.REQUEST_SUSPENSION)] = S.ACCEPTED
for _state in CLOCK_RUNNING:
    _TABLE[(_state, A.URGE)] = _state
    _TABLE[(_state, A.SUPERVISE)] = _state
    _TABLE[(_state, A.WARN)] = _state
for _state in (*CLOCK_RUNNING, S.PENDING_DISPATCH, S.SUSPENDED, S.FOLLOW_UP):
    _TABLE[(_state, A.NOTE)] = _state
for _state in S.values:
    _TABLE[(_state, A.REVEAL_CONTACT)] = _state
#: Open states whose category may still be corrected (not once replied: the answer was to it).
RECATEGORISABLE = (S.PENDING_DISPATCH, S.DISPATCHED, S.ACCEPTED, S.SUSPENDED)
for _state in RECATEGORISABLE:
    _TABLE[(_state, A.RECATEGORISE)] = _state
#: Open states a ticket can be transferred from (not once replied: the unit's answer then stands).
TRANSFERABLE = (S.PENDING_DISPATCH, S.DISPATCHED, S.ACCEPTED, S.SUSPENDED)
for _state in TRANSFERABLE:
    _TABLE[(_state, A.TRANSFER)] = S.CLOSED


# --- who may act --------------------------------------------------------------


def _role(actor) -> str:
    if actor is None:
        return "system"
    if not getattr(actor, "is_active", False):
        return ""
    return "administrator" if getattr(actor, "is_superuser", False) else getattr(actor, "role", "")


def in_jurisdiction(actor, ticket) -> bool:
    """The ticket's place (its finest known division) is inside the actor's jurisdiction.

    A ticket located nowhere (an inquiry without an address) belongs to city-wide roles only.
    """
    scope = scope_of(actor)
    return scope.everything or scope.allows_division(ticket.division_id)


def is_dispatcher(actor, ticket) -> bool:
    """System (the sweep, auto-dispatch) or a dispatcher/administrator of the ticket's place."""
    if actor is None:
        return True
    return _role(actor) in {"dispatcher", "administrator"} and in_jurisdiction(actor, ticket)


def is_dispatcher_or_leader(actor, ticket) -> bool:
    """Urge and supervise (催办, 督办) are also a leader's tools, inside their jurisdiction."""
    return is_dispatcher(actor, ticket) or (_role(actor) == "leader" and in_jurisdiction(actor, ticket))


def is_handler(actor, ticket) -> bool:
    """A member of the handling unit (handler role) while the unit is active, or an administrator.

    A deactivated unit (dissolved, merged into another) acts no more: its open tickets wait for
    a dispatcher to reassign them.
    """
    if _role(actor) == "administrator":
        return True
    if not (
        _role(actor) == "handler"
        and ticket.handling_unit_id is not None
        and getattr(actor, "org_unit_id", None) == ticket.handling_unit_id
    ):
        return False
    unit = getattr(actor, "org_unit", None)
    return unit is not None and unit.is_active


def is_operator_or_dispatcher(actor, ticket) -> bool:
    """Intake operators answer, reject, merge at intake and follow up; dispatchers too."""
    return is_dispatcher(actor, ticket) or (
        _role(actor) == "intake_operator" and in_jurisdiction(actor, ticket)
    )


def is_reporter(actor, ticket) -> bool:
    """The signed-in citizen who reported the ticket (rates the answer)."""
    return (
        actor is not None
        and _role(actor) != ""
        and ticket.reporter_id is not None
        and ticket.reporter_id == getattr(actor, "pk", None)
    )


def may_follow_up(actor, ticket) -> bool:
    return is_operator_or_dispatcher(actor, ticket) or is_reporter(actor, ticket)


def may_resume(actor, ticket) -> bool:
    """The dispatcher, or the handling unit itself once the obstacle is gone (the clock only restarts)."""
    return is_dispatcher(actor, ticket) or is_handler(actor, ticket)


def is_verifier(actor, ticket) -> bool:
    """A member of the ticket's grid (一格多员), or a dispatcher."""
    if is_dispatcher(actor, ticket):
        return True
    if _role(actor) != "grid_worker" or ticket.grid_id is None:
        return False
    return scope_of(actor).allows_grid(ticket.grid_id)


def is_involved(actor, ticket) -> bool:
    """Staff who work on the ticket: dispatchers, intake operators, the handling unit, its grid's members."""
    return (
        is_operator_or_dispatcher(actor, ticket)
        or is_handler(actor, ticket)
        or (_role(actor) == "grid_worker" and is_verifier(actor, ticket))
    )


def may_see_contact(actor, ticket) -> bool:
    """Who may unmask the reporter's phone (with a reason, logged): those who must call back.

    On a confidential ticket (a 举报 report, a petition, a category never published:
    ``tickets.disclosure``) only the intake operators and dispatchers: the handling unit may be
    the very unit reported on, and a whistle-blower's identity stays with the centre.
    """
    if actor is None:
        return False
    if is_operator_or_dispatcher(actor, ticket):
        return True
    from zhiwang.tickets.disclosure import is_confidential

    return is_handler(actor, ticket) and not is_confidential(ticket)


#: The roles for which ``may_see_contact`` can hold on some ticket (the rest never call back).
CONTACT_ROLES = frozenset({"intake_operator", "dispatcher", "handler", "administrator"})


def may_search_by_contact(actor) -> bool:
    """Who may look tickets up by the reporter's phone (caller history).

    A search by a full number answers whether that number is a ticket's, so it is a reveal of
    the masked phone: only the roles that may reveal it at all may search, and
    ``caller_history`` keeps only the tickets on which ``may_see_contact`` holds.
    """
    return actor is not None and _role(actor) in CONTACT_ROLES


PERMISSIONS = {
    **{
        a: is_dispatcher
        for a in (
            A.DISPATCH,
            A.REASSIGN,
            A.APPROVE_RETURN,
            A.REFUSE_RETURN,
            A.APPROVE_EXTENSION,
            A.REFUSE_EXTENSION,
            A.APPROVE_SUSPENSION,
            A.REFUSE_SUSPENSION,
            A.APPROVE_REPLY,
            A.SEND_BACK,
            A.SEND_TO_VERIFY,
            A.WARN,
        )
    },
    **{
        a: is_handler
        for a in (A.ACCEPT, A.REPLY, A.REQUEST_RETURN, A.REQUEST_EXTENSION, A.REQUEST_SUSPENSION)
    },
    A.RESUME: may_resume,
    A.URGE: is_dispatcher_or_leader,
    A.SUPERVISE: is_dispatcher_or_leader,
    A.MERGE: is_operator_or_dispatcher,
    A.REJECT: is_operator_or_dispatcher,
    A.VERIFY_PASS: is_verifier,
    A.VERIFY_FAIL: is_verifier,
    A.CLOSE: may_follow_up,
    A.REOPEN: may_follow_up,
    A.ANSWER_DIRECTLY: is_operator_or_dispatcher,
    A.TRANSFER: is_operator_or_dispatcher,
    A.RECATEGORISE: is_operator_or_dispatcher,
    A.NOTE: is_involved,
    A.REVEAL_CONTACT: may_see_contact,
}


def may_dispatch_to(ticket, *, actor, payload) -> bool:
    """Dispatch and reassign (a guard): a person sends tickets only where ``handling_unit_choices``
    offers (active handling units serving a division in their jurisdiction, or the whole city —
    never a command centre or a mediation body), or to the unit the routing rules suggested for
    the ticket (the web form offers it too). The system (``actor=None``: automatic dispatch, the
    sweep) is not limited: its rules were set by administrators.

    Checked after the version, the state and the permission (a stale view is a conflict, an
    outsider is refused for being one); raises ``ServiceError`` ``tickets.unit_not_allowed``.
    """
    unit_id = (payload or {}).get("unit_id")
    if actor is None or unit_id is None or unit_id == ticket.suggested_unit_id:
        return True
    from zhiwang.tickets.catalogue_selectors import handling_unit_choices

    if handling_unit_choices(user=actor).filter(pk=unit_id).exists():
        return True
    raise ServiceError(
        "tickets.unit_not_allowed",
        _("You cannot send tickets to %(unit)s: choose a handling unit in your jurisdiction.")
        % {"unit": payload.get("unit", "")},
        field="unit",
    )


GUARDS = {A.DISPATCH: may_dispatch_to, A.REASSIGN: may_dispatch_to}

TICKET_WORKFLOW = Workflow(_TABLE, states=S, actions=TicketAction, permissions=PERMISSIONS, guards=GUARDS)
