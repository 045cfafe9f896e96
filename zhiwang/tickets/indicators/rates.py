"""The rate indicators (响应率, 按时受理率, 按时办结率, 解决率, 满意率, 返工率, 派遣准确率)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Value,
)
from django.utils import timezone

from zhiwang.tickets.indicators.frame import (
    _EVENTS,
    _NO_ROUND_END,
    _TICKETS,
    ANSWERED_STATUSES,
    FOLLOW_UP_ACTIONS,
    HANDOVER_ACTIONS,
    RESPONSE_ACTIONS,
    WITHDRAWAL_ACTIONS,
    Rate,
    _each,
    _events,
    _Frame,
    _grouped,
    _in_round,
    _rates,
    _round_end,
    _tallied,
    _visible_tickets,
    basic_satisfaction_weight,
    response_hours,
)
from zhiwang.tickets.models import Satisfaction, TicketEvent, TicketStatus
from zhiwang.tickets.workflow import TicketAction as A

# --- the indicators --------------------------------------------------------------------


def response_rate(
    *, user, start, end, by=None, division=None, unit=None, as_of=None, hours: float | None = None
) -> dict:
    """响应率: hand-overs the unit responded to within ``hours`` ÷ hand-overs whose window has closed.

    A hand-over is a dispatch, reassignment or reopening (the timeline row names the unit); a
    response is the same unit's sign-for, return request or reply in the same round. A hand-over
    counts only once its window has closed by ``as_of`` (default: now), answered within it or
    not: counting an answered one before its window closes while its unanswered neighbours wait
    would read high (a censoring bias) until the window closes. A hand-over withdrawn within its
    window before any response (the ticket merged into another or transferred to another
    procedure) is left out: the unit had nothing left to respond to.
    """
    as_of = as_of or timezone.now()
    window = timedelta(hours=response_hours() if hours is None else hours)
    limit = ExpressionWrapper(OuterRef("at") + Value(window), output_field=DateTimeField())
    qs = _EVENTS.restrict(
        _events(user).filter(action__in=HANDOVER_ACTIONS), start=start, end=end, division=division, unit=unit
    )
    qs = qs.filter(at__lte=as_of - window).annotate(round_end=_round_end())
    flags = {
        "responded": Exists(
            _in_round(action__in=RESPONSE_ACTIONS, unit_id=OuterRef("unit_id"), at__lte=limit)
        ),
        "withdrawn": Exists(_in_round(action__in=WITHDRAWAL_ACTIONS, at__lte=limit)),
    }

    def tally(f):
        # Without a response within the window, a withdrawal within it came before any response.
        if not f["responded"] and f["withdrawn"]:
            return None
        return {"due": True, "responded_n": f["responded"]}

    groups = _tallied(qs, by, _EVENTS, flags, tally)
    return _each(by, groups, partial(_rates, numerator="responded_n", denominator="due"))


def on_time_acceptance_rate(*, user, start, end, by=None, division=None, unit=None, as_of=None) -> dict:
    """按时签收率: hand-overs signed for by the accept deadline ÷ hand-overs signed for or missed,
    counted once the outcome is settled by ``as_of`` (default: now).

    A miss is the clock sweep's "not accepted in time" row in the round, a sign-for recorded as
    late (``payload.late``, written at the sign-for since 2026-11-27: it survives an approved
    return or a reassignment, which replace the ticket's deadline), or, for the ticket's
    current round, a sign-for later than ``Ticket.accept_due_at`` or, still awaiting the sign-for
    (``dispatched``), a deadline passed before ``as_of`` that the sweep has not marked yet. A
    hand-over merged away, transferred or returned before the sign-for and before a miss is
    neither, so it is left out.

    Settled, and only then counted: the round's accept deadline has passed by ``as_of`` (the
    current round: ``Ticket.accept_due_at``, cleared by an approved return, which ends the round
    too), the round has ended (a later hand-over: nothing more happens in it), or a miss is marked.
    Counting a sign-for before its deadline while the hand-overs still pending beside it wait
    would read high until the deadline (a censoring bias). An ended round keeps no deadline of its
    own, so one that ended before it (reassigned within the accept window) counts from its end.
    """
    as_of = as_of or timezone.now()
    qs = _EVENTS.restrict(
        _events(user).filter(action__in=HANDOVER_ACTIONS), start=start, end=end, division=division, unit=unit
    ).annotate(round_end=_round_end())
    flags = {
        "accepted": Exists(_in_round(action=A.ACCEPT)),
        "warned": Exists(_in_round(action=A.WARN, payload__kind="accept_overdue")),
        "late_now": Exists(_in_round(action=A.ACCEPT, at__gt=F("ticket__accept_due_at"))),
        "late_recorded": Exists(_in_round(action=A.ACCEPT, payload__late=True)),
        "current": _flag(Q(round_end=_NO_ROUND_END)),
        "deadline_passed": _flag(Q(ticket__accept_due_at__lt=as_of)),  # NULL without a deadline
        "no_deadline": _flag(Q(ticket__accept_due_at__isnull=True)),
        "awaiting": _flag(Q(ticket__status=TicketStatus.DISPATCHED)),
    }

    def tally(f):
        # as the sweep would mark it: still waiting for the sign-for after the deadline
        unmarked_miss = f["current"] and f["deadline_passed"] and f["awaiting"] and not f["accepted"]
        late = f["late_recorded"] or (f["current"] and f["late_now"])
        missed = f["warned"] or late or unmarked_miss
        settled = not f["current"] or f["deadline_passed"] or f["no_deadline"] or f["warned"]
        if not ((f["accepted"] or missed) and settled):
            return None
        on_time = f["accepted"] and not f["warned"] and not late
        return {"due": True, "on_time": on_time}

    groups = _tallied(qs, by, _EVENTS, flags, tally)
    return _each(by, groups, partial(_rates, numerator="on_time", denominator="due"))


def _flag(condition: Q) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


def on_time_closure_rate(*, user, start, end, by=None, division=None, unit=None, as_of=None) -> dict:
    """按期办结率: tickets answered by their deadline ÷ tickets due to close (deadline in the window).

    Due to close: the handling deadline ``due_at`` falls in ``[start, end)`` and has passed by
    ``as_of``, answered or not (counting a ticket answered early while the others due after
    ``as_of`` wait would read high, the same censoring bias as the response rate's); merged,
    rejected, suspended and transferred (移交: closed by another procedure, not answered by the
    unit) tickets are left out. Answered on time: the unit's reply stands (replied or later) and
    ``replied_at <= due_at``.
    """
    as_of = as_of or timezone.now()
    answered = Q(status__in=ANSWERED_STATUSES, replied_at__isnull=False)
    qs = _TICKETS.restrict(
        _visible_tickets(user)
        .filter(due_at__isnull=False)
        .exclude(status__in=(TicketStatus.MERGED, TicketStatus.REJECTED, TicketStatus.SUSPENDED))
        .exclude(Exists(TicketEvent.objects.filter(ticket=OuterRef("pk"), action=A.TRANSFER))),
        start=start,
        end=end,
        division=division,
        unit=unit,
    ).filter(due_at__lt=as_of)
    on_time = answered & Q(replied_at__lte=F("due_at"))
    groups = _grouped(qs, by, _TICKETS, due=Count("pk"), on_time=Count("pk", filter=on_time))
    return _each(by, groups, partial(_rates, numerator="on_time", denominator="due"))


def _ratings(user, *, start, end, division, unit):
    """Follow-ups in the window where the citizen was reached and rated (not unreachable)."""
    qs = _events(user).filter(action__in=FOLLOW_UP_ACTIONS).exclude(payload__unreachable=True)
    qs = qs.filter(payload__satisfaction__in=Satisfaction.values)
    return _EVENTS.restrict(qs, start=start, end=end, division=division, unit=unit)


def resolution_rate(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """解决率: follow-ups rated resolved ÷ rated follow-ups (unreachable ones left out)."""
    qs = _ratings(user, start=start, end=end, division=division, unit=unit)
    groups = _grouped(
        qs, by, _EVENTS, rated=Count("pk"), resolved=Count("pk", filter=Q(payload__resolved=True))
    )
    return _each(by, groups, partial(_rates, numerator="resolved", denominator="rated"))


def satisfaction_counts(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """``{key: {"rated", "satisfied", "basically_satisfied", "unsatisfied"}}`` of the rated follow-ups."""
    qs = _ratings(user, start=start, end=end, division=division, unit=unit)
    return _grouped(
        qs,
        by,
        _EVENTS,
        rated=Count("pk"),
        **{
            value: Count("pk", filter=Q(payload__satisfaction=value))
            for value in (Satisfaction.SATISFIED, Satisfaction.BASICALLY, Satisfaction.UNSATISFIED)
        },
    )


def satisfaction_rate(
    *, user, start, end, by=None, division=None, unit=None, basic_weight: float | None = None
) -> dict:
    """满意率: (satisfied + basically satisfied × weight) ÷ rated follow-ups."""
    weight = basic_satisfaction_weight() if basic_weight is None else basic_weight
    counts = satisfaction_counts(user=user, start=start, end=end, by=by, division=division, unit=unit)
    return _each(
        by,
        counts,
        lambda per_key: {
            key: Rate(c[Satisfaction.SATISFIED] + c[Satisfaction.BASICALLY] * weight, c["rated"])
            for key, c in per_key.items()
        },
    )


def rework_rate(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """返工率 (重办率): follow-ups that reopened the ticket ÷ follow-ups (closing or reopening), in the window.

    Rework is what ``Ticket.rework_count`` counts: a reopening after an unresolved or unsatisfied
    follow-up. A reply sent back at review or failed on site is the dispatcher's quality control,
    not rework (it shows in the handling time instead).
    """
    qs = _EVENTS.restrict(
        _events(user).filter(action__in=FOLLOW_UP_ACTIONS), start=start, end=end, division=division, unit=unit
    )
    groups = _grouped(
        qs, by, _EVENTS, follow_ups=Count("pk"), reopened=Count("pk", filter=Q(action=A.REOPEN))
    )
    return _each(by, groups, partial(_rates, numerator="reopened", denominator="follow_ups"))


_DISPATCH_FRAME = _Frame(unit_field="ticket__dispatch_center_id", time_field="at", place_prefix="ticket__")


def accurate_dispatch_rate(*, user, start, end, by=None, division=None, unit=None) -> dict:
    """准确派遣率: (dispatches − returned as wrongly dispatched − reassigned) ÷ dispatches.

    Dispatches are dispatch and reassignment decisions; "unit" is the ticket's dispatch center.
    """
    qs = _DISPATCH_FRAME.restrict(
        _events(user).filter(action__in=(A.DISPATCH, A.REASSIGN, A.APPROVE_RETURN)),
        start=start,
        end=end,
        division=division,
        unit=unit,
    )
    wrong = Q(action=A.REASSIGN) | Q(action=A.APPROVE_RETURN, payload__wrong_dispatch=True)
    groups = _grouped(
        qs,
        by,
        _DISPATCH_FRAME,
        dispatched=Count("pk", filter=Q(action__in=(A.DISPATCH, A.REASSIGN))),
        wrong=Count("pk", filter=wrong),
    )
    return _each(
        by,
        groups,
        lambda per_key: {
            key: Rate(v["dispatched"] - v["wrong"], v["dispatched"]) for key, v in per_key.items()
        },
    )
