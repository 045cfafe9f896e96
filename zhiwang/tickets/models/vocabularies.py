"""Vocabularies of tickets: kinds, channels, urgency, statuses, satisfaction.

``normalize_phone`` is the platform's phone rule (``zhiwang.core.phones``), re-exported here
because the web forms and views read it as ``tickets.models.normalize_phone``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.phones import normalize_phone as normalize_phone


class TicketKind(models.TextChoices):
    """诉求类型 (12345): what the citizen wants."""

    INQUIRY = "inquiry", _("Inquiry")  # 咨询
    HELP = "help", _("Request for help")  # 求助
    COMPLAINT = "complaint", _("Complaint")  # 投诉
    REPORT = "report", _("Report")  # 举报
    SUGGESTION = "suggestion", _("Suggestion")  # 建议
    PRAISE = "praise", _("Praise")  # 表扬
    INCIDENT = "incident", _("Incident")  # 事件 (found on patrol or by a sensor)


class Channel(models.TextChoices):
    """渠道: where a ticket came in; part of the idempotency key (channel + external id)."""

    HOTLINE = "hotline", _("12345 hotline")
    WEB = "web", _("Web form")
    APP = "app", _("Mobile app")
    API = "api", _("REST API")
    OPEN311 = "open311", _("Open311")
    PATROL = "patrol", _("Grid patrol")
    VIDEO = "video", _("Video / sensor")
    PETITION = "petition", _("Petition office")
    VOLUNTEER = "volunteer", _("Volunteer")
    DEPARTMENT = "department", _("Department push")
    WINDOW = "window", _("Service window")


class Urgency(models.TextChoices):
    """Urgent tickets use the category's urgent time limit (hours rather than days)."""

    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent")


class TicketStatus(models.TextChoices):
    """Where a ticket is in the closed loop (transitions in ``tickets.workflow``)."""

    PENDING_DISPATCH = "pending_dispatch", _("Awaiting dispatch")  # 待分拨: in a dispatcher queue
    DISPATCHED = "dispatched", _("Dispatched")  # 已派遣: waiting for the unit to accept
    ACCEPTED = "accepted", _("Being handled")  # 办理中: signed for by the unit
    SUSPENDED = "suspended", _("Suspended")  # 挂起: clock stopped (approved)
    REPLIED = "replied", _("Replied")  # 已答复: the unit's answer awaits review
    VERIFYING = "verifying", _("On-site verification")  # 核查: a grid worker checks the fix
    FOLLOW_UP = "follow_up", _("Awaiting follow-up")  # 待回访
    CLOSED = "closed", _("Closed")  # 已办结
    REJECTED = "rejected", _("Not accepted")  # 不予受理
    MERGED = "merged", _("Merged into another ticket")  # 合并 (duplicate)


OPEN_STATUSES = (
    TicketStatus.PENDING_DISPATCH,
    TicketStatus.DISPATCHED,
    TicketStatus.ACCEPTED,
    TicketStatus.SUSPENDED,
    TicketStatus.REPLIED,
    TicketStatus.VERIFYING,
    TicketStatus.FOLLOW_UP,
)
FINAL_STATUSES = (TicketStatus.CLOSED, TicketStatus.REJECTED, TicketStatus.MERGED)


class Satisfaction(models.TextChoices):
    """满意度 recorded at the follow-up (DOMAIN.md: three levels)."""

    SATISFIED = "satisfied", _("Satisfied")  # 满意
    BASICALLY = "basically_satisfied", _("Basically satisfied")  # 基本满意
    UNSATISFIED = "unsatisfied", _("Unsatisfied")  # 不满意
