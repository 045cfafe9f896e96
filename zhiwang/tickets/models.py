"""Tickets (工单): one request or incident, from any channel to closure.

The catalogue (``Category``) says what a ticket is about and how long it may take;
``RoutingRule`` says who must act; ``Ticket`` carries the state, the clock and the
place; ``TicketEvent`` is the append-only timeline every indicator is computed from.
"""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.scoping import ScopedQuerySet, scope_of
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.core.workflow import TimelineEntry


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


def normalize_phone(value) -> str:
    """A phone number as stored and compared: digits only, without the +86 / 0086 country prefix.

    Returns "" when ``value`` is not a phone number (letters, or not 7–15 digits), so
    callers can tell "none given" (empty input) from "invalid" (non-empty input, "" out).
    """
    # NFKC: full-width digits typed with a Chinese input method count as digits.
    text = "".join(unicodedata.normalize("NFKC", str(value or "")).split())
    for separator in "-()":
        text = text.replace(separator, "")
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isdigit() or not digits.isascii():
        return ""
    for prefix in ("86", "0086"):
        if (plus or prefix == "0086") and digits.startswith(prefix) and len(digits) - len(prefix) >= 7:
            digits, plus = digits[len(prefix) :], False
            break
    if not 7 <= len(digits) <= 15:
        return ""
    return ("+" if plus else "") + digits


class Satisfaction(models.TextChoices):
    """满意度 recorded at the follow-up (DOMAIN.md: three levels)."""

    SATISFIED = "satisfied", _("Satisfied")  # 满意
    BASICALLY = "basically_satisfied", _("Basically satisfied")  # 基本满意
    UNSATISFIED = "unsatisfied", _("Unsatisfied")  # 不满意


class Category(models.Model):
    """事项分类: a node of the catalogue tree; leaves carry the handling rules.

    Deadline rule per leaf: an amount and a unit (working hours, working days or
    natural days), separately for urgent tickets. Empty → the kind's default
    (``KindDeadline``). ``accept_hours`` is the time to sign for a ticket.
    """

    code = models.CharField(_("category code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    kinds = models.JSONField(
        _("kinds"), default=list, blank=True, help_text=_("Kinds this category is used for; empty = all")
    )
    keywords = models.CharField(
        _("keywords"), max_length=255, blank=True, help_text=_("Comma-separated, for suggestions")
    )
    description = models.TextField(_("description"), blank=True)
    deadline_amount = models.DecimalField(
        _("time limit"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    deadline_unit = models.CharField(
        _("time limit unit"), max_length=16, choices=LimitUnit.choices, blank=True
    )
    urgent_deadline_amount = models.DecimalField(
        _("urgent time limit"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    urgent_deadline_unit = models.CharField(
        _("urgent time limit unit"), max_length=16, choices=LimitUnit.choices, blank=True
    )
    accept_hours = models.DecimalField(
        _("time to accept (working hours)"), max_digits=5, decimal_places=1, default=2
    )
    requires_verification = models.BooleanField(_("on-site verification required"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def path_name(self) -> str:
        names, node = [], self
        while node is not None:
            names.append(node.name)
            node = node.parent
        return " / ".join(reversed(names))


class KindDeadline(models.Model):
    """Default time limits per kind and urgency (Guangdong rules, editable)."""

    kind = models.CharField(_("kind"), max_length=16, choices=TicketKind.choices)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    amount = models.DecimalField(_("time limit"), max_digits=6, decimal_places=1)
    unit = models.CharField(_("time limit unit"), max_length=16, choices=LimitUnit.choices)

    class Meta:
        verbose_name = _("default time limit")
        verbose_name_plural = _("default time limits")
        constraints = [
            models.UniqueConstraint(fields=["kind", "urgency"], name="tickets_kind_deadline_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.get_urgency_display()}: {self.amount} {self.get_unit_display()}"


class RoutingRule(models.Model):
    """(category × division) → handling unit. The most specific matching rule wins.

    A rule matches a ticket when its category is the ticket's category or an
    ancestor of it (or empty = any) and its division contains the ticket's place
    (or empty = anywhere). Specificity: deeper category first, then deeper
    division, then ``priority``. ``auto_dispatch`` lets the ticket skip the
    dispatcher queue when the rule is certain.
    """

    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="routing_rules",
    )
    division = models.ForeignKey(
        "geo.Division",
        verbose_name=_("division"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    unit = models.ForeignKey(
        "accounts.OrgUnit",
        verbose_name=_("handling unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Empty: the division office of the ticket's place at the given tier"),
    )
    tier = models.CharField(
        _("tier"),
        max_length=16,
        blank=True,
        choices=[
            ("community", _("Community")),
            ("subdistrict", _("Subdistrict")),
            ("district", _("District")),
            ("city", _("City")),
        ],
        help_text=_("With no unit: route to the division office at this level"),
    )
    auto_dispatch = models.BooleanField(_("dispatch automatically"), default=False)
    priority = models.IntegerField(_("priority"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        target = self.unit.name if self.unit_id else self.get_tier_display()
        return f"{self.category or '*'} @ {self.division or '*'} → {target}"


class CategorySource(models.TextChoices):
    """Who decided a ticket's category (``Ticket.category_source``)."""

    REPORTER = "reporter", _("Chosen at intake")  # by the citizen or the intake operator
    MODEL = "model", _("Set by the classifier (confident)")  # an "auto" suggestion, may dispatch
    MODEL_UNSURE = "model_unsure", _("Classifier's best guess, to be checked")  # queued
    KEYWORDS = "keywords", _("Keyword match, to be checked")  # no model: catalogue keywords
    DISPATCHER = "dispatcher", _("Set or confirmed by a dispatcher")


class TicketQuerySet(ScopedQuerySet):
    """Tickets scoped by their finest known division (``division``) and grid.

    Besides the jurisdiction of ``core.scoping``, a handler sees every ticket of
    their own unit (a district bureau handles tickets of places it does not
    govern), and anybody sees the tickets they reported themselves.
    """

    scope_division_field = "division"
    scope_grid_field = "grid"

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def visible_to(self, user):
        scope = scope_of(user)
        if scope.everything:
            return self
        if not (getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)):
            return self.none()
        conditions = [models.Q(reporter_id=user.pk)]
        if scope.division_ids:
            conditions.append(models.Q(division__in=scope.division_ids))
        if scope.grid_ids:
            conditions.append(models.Q(grid__in=scope.grid_ids))
        if getattr(user, "role", "") == "handler" and getattr(user, "org_unit_id", None):
            conditions.append(models.Q(handling_unit_id=user.org_unit_id))
        condition = conditions[0]
        for extra in conditions[1:]:
            condition |= extra
        return self.filter(condition)


class Ticket(models.Model):
    """工单: a request or incident, its place, its handling unit, its clock.

    The place is denormalized (grid, community, subdistrict, district, and the
    finest of them as ``division``) at submit time, so scoping and rollups filter
    on indexed columns; a ticket located only to a district is still in the
    district dispatcher's scope. ``version`` goes up on
    every change: a writer that saw an older version loses with a clear error.
    """

    number = models.CharField(_("ticket number"), max_length=20, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=TicketKind.choices)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="tickets"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    idempotency_key = models.CharField(_("idempotency key"), max_length=160, unique=True)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"))
    status = models.CharField(_("status"), max_length=20, choices=TicketStatus.choices, db_index=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    # who
    reporter_name = models.CharField(_("reporter name"), max_length=64, blank=True)
    reporter_phone = models.CharField(_("reporter phone"), max_length=20, blank=True, db_index=True)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_tickets",
    )
    # where
    address_text = models.CharField(_("address as given"), max_length=255, blank=True)
    address = models.ForeignKey(
        "geo.StandardAddress",
        verbose_name=_("standard address"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    lon = models.FloatField(_("longitude (WGS84)"), null=True, blank=True)
    lat = models.FloatField(_("latitude (WGS84)"), null=True, blank=True)
    grid = models.ForeignKey(
        "geo.Grid",
        verbose_name=_("grid"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
    )
    community = models.ForeignKey(
        "geo.Division",
        verbose_name=_("community"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    subdistrict = models.ForeignKey(
        "geo.Division",
        verbose_name=_("subdistrict"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    district = models.ForeignKey(
        "geo.Division",
        verbose_name=_("district"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    division = models.ForeignKey(
        "geo.Division",
        verbose_name=_("finest division"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The most specific division known (community, else subdistrict, else district)"),
        db_index=False,  # the composite index tickets_scope (division, status) serves both
    )
    # who acts
    handling_unit = models.ForeignKey(
        "accounts.OrgUnit",
        verbose_name=_("handling unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    dispatch_center = models.ForeignKey(
        "accounts.OrgUnit",
        verbose_name=_("dispatch queue"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="queued_tickets",
        help_text=_("The command center whose dispatchers own this ticket"),
    )
    suggested_unit = models.ForeignKey(
        "accounts.OrgUnit",
        verbose_name=_("suggested unit"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("What the routing rules proposed, for the dispatcher"),
    )
    route_explanation = models.CharField(_("why this route"), max_length=255, blank=True)
    # smart dispatch (tickets.classify): who chose the category, and what the classifier said
    category_source = models.CharField(
        _("category chosen by"),
        max_length=16,
        choices=CategorySource.choices,
        default=CategorySource.REPORTER,
    )
    classification = models.JSONField(
        _("classifier suggestion"),
        default=dict,
        blank=True,
        help_text=_("The model, its top categories with confidences, and its decision (auto or queue)"),
    )
    # clock
    received_at = models.DateTimeField(_("received at"), db_index=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    accept_due_at = models.DateTimeField(_("accept by"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True, db_index=True)
    warn_at = models.DateTimeField(
        _("warn at"),
        null=True,
        blank=True,
        # xgettext:no-python-format
        help_text=_("When the deadline warning goes out (ZHIWANG_WARNING_RATIO of the time limit)"),
    )
    supervise_at = models.DateTimeField(_("supervise at"), null=True, blank=True)
    clock_stage = models.PositiveSmallIntegerField(
        _("clock stage"),
        default=0,
        help_text=_("0 running, 1 warned, 2 urged, 3 supervised (for the current deadline)"),
    )
    accept_warned = models.BooleanField(_("accept deadline missed"), default=False)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended since"), null=True, blank=True)
    deadline_amount = models.DecimalField(_("time limit"), max_digits=6, decimal_places=1)
    deadline_unit = models.CharField(_("time limit unit"), max_length=16, choices=LimitUnit.choices)
    # outcome
    reply = models.TextField(_("reply"), blank=True)
    rework_count = models.PositiveSmallIntegerField(_("rework count"), default=0)
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation level"), default=0, help_text=_("0 none, 1 urged, 2+ supervised")
    )
    resolved = models.BooleanField(_("resolved"), null=True, blank=True)
    satisfaction = models.CharField(
        _("satisfaction"), max_length=24, choices=Satisfaction.choices, blank=True
    )
    unreachable = models.BooleanField(_("reporter unreachable"), default=False)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-received_at"]
        indexes = [
            # dispatcher queues, handler inboxes, the deadline sweep
            models.Index(fields=["status", "dispatch_center"], name="tickets_queue"),
            models.Index(fields=["handling_unit", "status"], name="tickets_inbox"),
            models.Index(fields=["clock_stage", "warn_at"], name="tickets_sweep_warn"),
            models.Index(fields=["clock_stage", "due_at"], name="tickets_sweep_due"),
            models.Index(fields=["clock_stage", "supervise_at"], name="tickets_sweep_supervise"),
            models.Index(fields=["accept_warned", "accept_due_at"], name="tickets_sweep_accept"),
            # scoping (visible_to) with the usual status filter
            models.Index(fields=["division", "status"], name="tickets_scope"),
            # duplicates at one address / callers' history
            models.Index(fields=["address", "category", "status"], name="tickets_dup_address"),
            models.Index(fields=["community", "category", "received_at"], name="tickets_dup_area"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TicketCounter(models.Model):
    """The last ticket number given out on a day (ZW + yyyymmdd + 6-digit sequence)."""

    day = models.DateField(unique=True)
    value = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("ticket counter")
        verbose_name_plural = _("ticket counters")

    def __str__(self) -> str:
        return f"{self.day}: {self.value}"


class TicketEvent(TimelineEntry):
    """One row of a ticket's timeline: who did what, when, from which state to which."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="events"
    )
    unit = models.ForeignKey(
        "accounts.OrgUnit",
        verbose_name=_("unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The handling unit concerned (for indicators per unit)"),
    )

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["action", "at"], name="tickets_event_action_at")]


class RequestKind(models.TextChoices):
    """What a handler may ask the dispatcher for."""

    RETURN = "return", _("Return")  # 退单
    EXTENSION = "extension", _("Extension")  # 延期
    SUSPENSION = "suspension", _("Suspension")  # 挂起


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")
    # The ticket moved on before a decision (replied, reassigned, merged): nothing left to decide.
    WITHDRAWN = "withdrawn", _("Withdrawn")


class TicketRequest(models.Model):
    """A handler's request that a dispatcher must decide: return, extension or suspension."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="requests"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=RequestKind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    reason = models.TextField(_("reason"))
    legal_basis = models.CharField(_("legal basis"), max_length=255, blank=True)
    wrong_dispatch = models.BooleanField(_("wrongly dispatched"), default=False)
    extra_days = models.PositiveSmallIntegerField(_("extra working days"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("handler request")
        verbose_name_plural = _("handler requests")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"], condition=models.Q(status="pending"), name="tickets_one_pending_request"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket.number} {self.get_kind_display()} ({self.get_status_display()})"


class Attachment(models.Model):
    """A photo or document attached to a ticket (by the reporter or the handler)."""

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to="tickets/%Y/%m/")
    name = models.CharField(_("name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    size = models.PositiveIntegerField(_("size"), default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    is_reply = models.BooleanField(_("part of the reply"), default=False)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class ClockAlert(models.Model):
    """A deadline threshold already acted on, so the sweep acts exactly once per threshold."""

    class Kind(models.TextChoices):
        ACCEPT_WARNING = "accept_warning", _("Accept deadline missed")
        WARNING = "warning", _("Deadline near (80 %)")
        OVERDUE = "overdue", _("Overdue")
        URGE = "urge", _("Urged")
        SUPERVISE = "supervise", _("Supervised")

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="clock_alerts"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    deadline = models.DateTimeField(_("deadline concerned"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("clock alert")
        verbose_name_plural = _("clock alerts")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "kind", "deadline"], name="tickets_clock_alert_once")
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.deadline:%Y-%m-%d %H:%M}"


class Notification(models.Model):
    """An in-app message for a staff user or a whole unit (inbox); outbound copies go through adapters."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    unit = models.ForeignKey(
        "accounts.OrgUnit",
        verbose_name=_("unit"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    kind = models.CharField(_("kind"), max_length=32)
    message = models.CharField(_("message"), max_length=500)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.message


class OutboundMessage(models.Model):
    """An SMS or e-mail to a citizen, recorded whatever adapter sent it (the log adapter by default)."""

    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbound_messages",
    )
    channel = models.CharField(_("channel"), max_length=16)  # sms / email
    to = models.CharField(_("to"), max_length=128)
    body = models.TextField(_("text"))
    adapter = models.CharField(_("adapter"), max_length=64)
    status = models.CharField(_("status"), max_length=16, default="sent")
    error = models.CharField(_("error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")

    def __str__(self) -> str:
        return f"{self.channel} → {self.to}"


class ConfigVersion(models.Model):
    """A counter bumped whenever configuration cached in every process changes (see ``tickets.cache``).

    One row per cached area (``routing``: routing rules, units, categories, default time
    limits). Each process compares it (with row counts) at most every
    ``ZHIWANG_TICKETS_CACHE_CHECK_SECONDS`` and reloads when it moved.
    """

    key = models.CharField(_("key"), max_length=32, unique=True)
    version = models.PositiveBigIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("configuration version")
        verbose_name_plural = _("configuration versions")

    def __str__(self) -> str:
        return f"{self.key}: {self.version}"


# --- smart dispatch: what the classifier suggested, what people decided ----------------


#: Categories nobody has looked at yet: the dispatcher confirms them (dispatch) or corrects them.
UNCHECKED_SOURCES = (CategorySource.MODEL, CategorySource.MODEL_UNSURE, CategorySource.KEYWORDS)


class CorrectionSource(models.TextChoices):
    """Where a person decided a ticket's category."""

    INTAKE = "intake", _("Intake")  # the operator chose, with the suggestion in view
    DISPATCH = "dispatch", _("Dispatch")  # the dispatcher dispatched with the suggested category
    RECATEGORISE = "recategorise", _("Category changed")  # the dispatcher changed it


class CategoryCorrection(models.Model):
    """One person's decision about a ticket's category, beside what the classifier suggested.

    The training data of smart dispatch (the text and the final label) and the record the
    administrator's precision/coverage curve and the drift check are measured on (did the
    person keep the suggestion?). Rows are appended, never edited.
    """

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="category_corrections"
    )
    text = models.TextField(_("text"))
    suggested_label = models.CharField(_("suggested category"), max_length=32, blank=True)
    suggested_confidence = models.FloatField(_("confidence"), null=True, blank=True)
    model = models.CharField(_("model"), max_length=64, blank=True)
    from_category = models.ForeignKey(
        Category,
        verbose_name=_("category before"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    final_category = models.ForeignKey(
        Category, verbose_name=_("final category"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("where"), max_length=16, choices=CorrectionSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("at"), db_index=True)  # the last N for the curve and the drift check

    class Meta:
        verbose_name = _("category correction")
        verbose_name_plural = _("category corrections")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.suggested_label or '-'} → {self.final_category_id}"

    @property
    def agreed(self) -> bool | None:
        """Whether the person kept the classifier's top suggestion (None: there was none)."""
        if not self.suggested_label:
            return None
        return self.suggested_label == self.final_category.code


class TrainingStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class TrainingRun(models.Model):
    """One retraining of the category model from the corrected history, run by the task worker.

    ``progress`` (0–100) and ``stage`` are written as training goes, for the admin page.
    The newest corrections are held back from training (``held_back``) and measure the
    candidate against the active model (``comparison``).
    """

    status = models.CharField(
        _("status"), max_length=16, choices=TrainingStatus.choices, default=TrainingStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    stage = models.CharField(_("stage"), max_length=64, blank=True)
    examples = models.PositiveIntegerField(_("training examples"), default=0)
    held_back = models.PositiveIntegerField(_("held-back examples"), default=0)
    model = models.ForeignKey(
        "classifier.ClassifierModel",
        verbose_name=_("candidate model"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    comparison = models.JSONField(_("comparison"), default=dict, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("training run")
        verbose_name_plural = _("training runs")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.status} {self.progress}%"
