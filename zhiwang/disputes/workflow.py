"""A dispute case's life as one transition table, with who may do what.

received → assigned → mediating → agreed → closed, or → referred → closed; a case may
be closed from mediation (failed, withdrawn) but never without an outcome. Actions
that keep the state (sessions, follow-ups, notes, reveals, reminders) are still
transitions, so each writes a ``CaseEvent`` row.

Who: a mediator acts on the cases of their own organisation; a dispatcher (or an
administrator) on cases inside their jurisdiction; a window operator on the cases
registered at their own service centre (assignment only); a leader marks backlog cases
inside their jurisdiction. ``actor=None`` is the system (reminders, red-risk reports, the amount
involved raised to an agreement's).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from zhiwang.core.scoping import scope_of
from zhiwang.core.workflow import Workflow
from zhiwang.disputes.models import CaseStatus as S
from zhiwang.disputes.models import VisitStatus as V


class CaseAction(models.TextChoices):
    RECEIVE = "receive", _("Register")  # 受理登记
    ASSIGN = "assign", _("Assign")  # 分派
    RECORD_SESSION = "record_session", _("Record a session")  # 调解记录
    REACH_AGREEMENT = "reach_agreement", _("Record the agreement")  # 达成协议
    APPLY_CONFIRMATION = "apply_confirmation", _("Apply for judicial confirmation")  # 申请司法确认
    CONFIRMATION_RESULT = "confirmation_result", _("Record the court's ruling")  # 司法确认结果
    FOLLOW_UP = "follow_up", _("Follow up performance")  # 履行回访
    EXTEND = "extend", _("Extend with the parties' consent")  # 延长调解期限
    UPDATE = "update", _("Update the case")  # 修改
    # The system raising the amount involved to what a new agreement settles (``agreement_reach``).
    RAISE_AMOUNT = "raise_amount", _("Amount involved raised with the agreement")  # 随协议调高涉及金额
    REFER = "refer", _("Refer")  # 移交
    CLOSE = "close", pgettext_lazy("dispute", "Close")  # 结案
    REPORT_UP = "report_up", _("Report upward")  # 上报
    MARK_BACKLOG = "mark_backlog", _("Mark as backlog case")  # 列为积案
    REMIND = "remind", _("Reminder")  # 提醒 (system)
    NOTE = "note", _("Note")
    # Not a change of state: the audit row written when somebody reveals the parties' personal data.
    REVEAL_PARTIES = "reveal_parties", _("Viewed the parties' personal data")
    # Online mediation (在线调解): a meeting scheduled, confirmation links sent, a party's confirmation.
    SCHEDULE_ONLINE = "schedule_online", _("Schedule an online session")
    SEND_CONFIRMATION = "send_confirmation", _("Send the agreement for online confirmation")
    PARTY_CONFIRM = "party_confirm", _("A party confirmed the agreement online")


A = CaseAction
OPEN = (S.RECEIVED, S.ASSIGNED, S.MEDIATING, S.AGREED)

_TABLE: dict[tuple[str, str], str] = {
    (S.RECEIVED, A.ASSIGN): S.ASSIGNED,
    (S.ASSIGNED, A.ASSIGN): S.ASSIGNED,
    (S.MEDIATING, A.ASSIGN): S.MEDIATING,
    (S.ASSIGNED, A.RECORD_SESSION): S.MEDIATING,
    (S.MEDIATING, A.RECORD_SESSION): S.MEDIATING,
    (S.MEDIATING, A.REACH_AGREEMENT): S.AGREED,
    (S.AGREED, A.APPLY_CONFIRMATION): S.AGREED,
    (S.AGREED, A.CONFIRMATION_RESULT): S.AGREED,
    (S.AGREED, A.FOLLOW_UP): S.AGREED,
    (S.AGREED, A.RAISE_AMOUNT): S.AGREED,
    (S.ASSIGNED, A.EXTEND): S.ASSIGNED,
    (S.MEDIATING, A.EXTEND): S.MEDIATING,
    (S.RECEIVED, A.REFER): S.REFERRED,
    (S.ASSIGNED, A.REFER): S.REFERRED,
    (S.MEDIATING, A.REFER): S.REFERRED,
    (S.AGREED, A.REFER): S.REFERRED,
    (S.ASSIGNED, A.CLOSE): S.CLOSED,
    (S.MEDIATING, A.CLOSE): S.CLOSED,
    (S.AGREED, A.CLOSE): S.CLOSED,
    (S.REFERRED, A.CLOSE): S.CLOSED,
}
for _state in OPEN:
    _TABLE[(_state, A.UPDATE)] = _state
    _TABLE[(_state, A.REPORT_UP)] = _state
    _TABLE[(_state, A.MARK_BACKLOG)] = _state
    _TABLE[(_state, A.REMIND)] = _state
for _state in (S.ASSIGNED, S.MEDIATING):
    _TABLE[(_state, A.SCHEDULE_ONLINE)] = _state
_TABLE[(S.AGREED, A.SEND_CONFIRMATION)] = S.AGREED
for _state in (S.AGREED, S.CLOSED):  # a party may confirm after the mediator closed the case
    _TABLE[(_state, A.PARTY_CONFIRM)] = _state
for _state in S.values:
    _TABLE[(_state, A.NOTE)] = _state
    _TABLE[(_state, A.REVEAL_PARTIES)] = _state


# --- who may act --------------------------------------------------------------


#: Roles that may register a case (a leader reads; grid workers report through tickets, which a
#: dispatcher turns into a case: they see no dispute case, see ``selectors.case_visible``).
REGISTERING_ROLES = frozenset({"intake_operator", "dispatcher", "mediator", "administrator"})


def may_register_cases(actor) -> bool:
    """Whether ``actor`` registers cases at all (the case form; ``case_register`` checks it too)."""
    return role_of(actor) in REGISTERING_ROLES


def may_use_workbench(actor) -> bool:
    """The mediator's workbench is a mediator's own list (an administrator may look at it)."""
    return role_of(actor) in ("mediator", "administrator")


def role_of(actor) -> str:
    if actor is None:
        return "system"
    if not getattr(actor, "is_active", False):
        return ""
    return "administrator" if getattr(actor, "is_superuser", False) else getattr(actor, "role", "")


def mediator_organisation_id(actor) -> int | None:
    """The organisation a mediator works for (their ``Mediator`` row), else None."""
    if role_of(actor) != "mediator":
        return None
    cached = getattr(actor, "_dispute_org_id", False)
    if cached is not False:
        return cached
    from zhiwang.disputes.models import Mediator

    found = (
        Mediator.objects.filter(user_id=actor.pk, is_active=True)
        .values_list("organisation_id", flat=True)
        .first()
    )
    actor._dispute_org_id = found
    return found


def mediation_organisation_of(actor):
    """The active organisation a mediator works for (their ``Mediator`` row), else None."""
    org_id = mediator_organisation_id(actor)
    if org_id is None:
        return None
    from zhiwang.disputes.models import MediationOrganisation

    return MediationOrganisation.objects.select_related("division").filter(pk=org_id, is_active=True).first()


def organisation_serves(organisation, division) -> bool:
    """Whether ``organisation`` serves the place ``division`` (its own division's subtree)."""
    return division.code.startswith(organisation.division.code_prefix)


def in_jurisdiction(actor, case) -> bool:
    return scope_of(actor).allows_division(case.division_id)


def is_case_mediator(actor, case) -> bool:
    """A mediator of the case's organisation (or the one it is assigned to), or an administrator."""
    role = role_of(actor)
    if role == "administrator":
        return True
    if role != "mediator":
        return False
    if case.mediator_id is not None and case.mediator_id == actor.pk:
        return True
    org_id = mediator_organisation_id(actor)
    return org_id is not None and case.organisation_id == org_id


def is_supervisor(actor, case) -> bool:
    """System, or a dispatcher/administrator whose jurisdiction holds the case."""
    if actor is None:
        return True
    return role_of(actor) in {"dispatcher", "administrator"} and in_jurisdiction(actor, case)


def is_centre_operator(actor, case) -> bool:
    """A window operator of the service centre where the case was registered (now, not formerly)."""
    return (
        role_of(actor) == "intake_operator"
        and case.centre_id is not None
        and getattr(actor, "org_unit_id", None) is not None
        and case.centre.org_unit_id == actor.org_unit_id
    )


def is_leader(actor, case) -> bool:
    return role_of(actor) == "leader" and in_jurisdiction(actor, case)


def may_assign(actor, case) -> bool:
    return is_supervisor(actor, case) or is_centre_operator(actor, case) or is_case_mediator(actor, case)


def may_assign_own_registration(actor, *, visit=None, division=None) -> bool:
    """Whether the case ``actor`` is registering will be theirs to assign (``may_assign``), asked
    before it exists: the case form's "assign at once" box and what the form does with it.

    A dispatcher or an administrator registers inside their jurisdiction; a window operator
    registers at their service centre (a case from ``visit``: at the visit's), whose window
    assigns. An intake operator who works at no centre (the 12345 hotline) registers a case for a
    dispatcher to assign: offering them the box only ended in a refusal on the case page.

    A mediator registers for their own organisation, and only where it serves: a case in a place
    it does not serve is nobody's until a dispatcher of the place assigns it (it leaves the
    mediator's sight). So a mediator of no active organisation is never offered the box, and where
    the place is known before the form (``division``: a visit's centre, a ticket's place) only when
    ``mediation_organisation_of(actor)`` serves it (``organisation_serves``). Where the place is
    chosen on the form, the form says after it was sent why a case was not assigned.
    """
    role = role_of(actor)
    if role in ("dispatcher", "administrator"):
        return True
    if role == "mediator":
        organisation = mediation_organisation_of(actor)
        if organisation is None:
            return False
        return division is None or organisation_serves(organisation, division)
    if role != "intake_operator" or getattr(actor, "org_unit_id", None) is None:
        return False
    if visit is not None:
        return visit.centre.org_unit_id == actor.org_unit_id
    from zhiwang.disputes.models import ServiceCentre

    # the centre ``case_register`` registers the case at (``_centre_of``)
    return ServiceCentre.objects.filter(org_unit_id=actor.org_unit_id, is_active=True).exists()


def may_decide(actor, case) -> bool:
    """Refer, close, update: the mediator or the supervising dispatcher."""
    return is_case_mediator(actor, case) or is_supervisor(actor, case)


def may_mark_backlog(actor, case) -> bool:
    return is_supervisor(actor, case) or is_leader(actor, case)


def may_see_parties(actor, case) -> bool:
    """Who may reveal the parties' ID numbers and phones (with a reason, logged)."""
    return actor is not None and (
        is_case_mediator(actor, case) or is_supervisor(actor, case) or is_centre_operator(actor, case)
    )


def is_involved(actor, case) -> bool:
    return may_decide(actor, case) or is_centre_operator(actor, case) or is_leader(actor, case)


PERMISSIONS = {
    A.ASSIGN: may_assign,
    A.RECORD_SESSION: is_case_mediator,
    A.REACH_AGREEMENT: is_case_mediator,
    A.APPLY_CONFIRMATION: is_case_mediator,
    A.CONFIRMATION_RESULT: is_case_mediator,
    A.FOLLOW_UP: is_case_mediator,
    A.EXTEND: is_case_mediator,
    A.UPDATE: may_decide,
    A.REFER: may_decide,
    A.CLOSE: may_decide,
    A.REPORT_UP: is_involved,
    A.MARK_BACKLOG: may_mark_backlog,
    A.REMIND: lambda actor, case: actor is None,
    A.RAISE_AMOUNT: lambda actor, case: actor is None,
    A.NOTE: is_involved,
    A.REVEAL_PARTIES: may_see_parties,
    A.SCHEDULE_ONLINE: is_case_mediator,
    A.SEND_CONFIRMATION: is_case_mediator,
    # Written by the public confirmation page, which checked the party's one-time link.
    A.PARTY_CONFIRM: lambda actor, case: actor is None,
}

CASE_WORKFLOW = Workflow(_TABLE, states=S, actions=CaseAction, permissions=PERMISSIONS)


# --- visits to the one-stop window ----------------------------------------------


class VisitAction(models.TextChoices):
    REGISTER = "register", _("Register")  # 登记
    CALL = "call", _("Call to the desk")  # 叫号
    ROUTE = "route", _("Route to another area")  # 转办
    COMPLETE = "complete", _("Complete")  # 办结
    OPEN_CASE = "open_case", _("Open a dispute case")  # 立案调解


def is_window_operator(actor, visit) -> bool:
    """A window operator of the visit's centre, or an administrator."""
    role = role_of(actor)
    if role == "administrator":
        return True
    return role == "intake_operator" and getattr(actor, "org_unit_id", None) == visit.centre.org_unit_id


def may_open_case(actor, visit) -> bool:
    """The window, or a mediator whose organisation serves the centre's division."""
    if is_window_operator(actor, visit):
        return True
    return role_of(actor) == "mediator" and scope_of(actor).allows_division(visit.centre.division_id)


VISIT_WORKFLOW = Workflow(
    {
        (V.WAITING, VisitAction.CALL): V.SERVING,
        (V.WAITING, VisitAction.ROUTE): V.WAITING,
        (V.SERVING, VisitAction.ROUTE): V.WAITING,
        (V.WAITING, VisitAction.COMPLETE): V.DONE,
        (V.SERVING, VisitAction.COMPLETE): V.DONE,
        (V.WAITING, VisitAction.OPEN_CASE): V.CASE_OPENED,
        (V.SERVING, VisitAction.OPEN_CASE): V.CASE_OPENED,
    },
    states=V,
    actions=VisitAction,
    permissions={
        VisitAction.CALL: is_window_operator,
        VisitAction.ROUTE: is_window_operator,
        VisitAction.COMPLETE: is_window_operator,
        VisitAction.OPEN_CASE: may_open_case,
    },
)
