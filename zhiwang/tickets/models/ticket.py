"""The ticket itself: its queryset (scoping), the day counter for numbers, the timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.scoping import ScopedQuerySet, scope_of
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.core.workflow import TimelineEntry
from zhiwang.tickets.models.configuration import Category
from zhiwang.tickets.models.vocabularies import (
    OPEN_STATUSES,
    Channel,
    Satisfaction,
    TicketKind,
    TicketStatus,
    Urgency,
)


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
    #: SHA-256 of the cleaned content of a submission with a caller's key
    #: (``services.intake_validation.submission_fingerprint``): the API refuses a retry of the key
    #: with other content. Empty: no caller's key, or written before fingerprints were kept.
    idempotency_fingerprint = models.CharField(
        _("idempotency fingerprint"), max_length=64, blank=True, default=""
    )
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
    # In the city's language, for old readers and search; pages and the API render route_reason.
    route_explanation = models.CharField(_("why this route"), max_length=255, blank=True)
    route_reason = models.JSONField(
        _("route reason"),
        default=dict,
        blank=True,
        help_text=_(
            "Why this route, as a code and its parameters; empty on tickets routed before it was kept"
        ),
    )
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
    # indexed by tickets_received (received_at, id): the lists' order, and every range on received_at
    received_at = models.DateTimeField(_("received at"))
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
            # the lists' order, newest first with ties by id: a page's ids (deep pages first read
            # ids only, core.pagination.page_rows) come from the index alone
            models.Index(fields=["received_at", "id"], name="tickets_received"),
            # the dispatcher's "near or past the deadline" tab, nearest deadline first: only the
            # tickets being handled (a city's closed history has deadlines too, millions of them)
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(status__in=[TicketStatus.DISPATCHED, TicketStatus.ACCEPTED]),
                name="tickets_handling_due",
            ),
            # the lists' "overdue" filter and the counts of it (status in handling, due_at before
            # now): SQLite read every ticket for it (2.6 s at 1,000,000 tickets)
            models.Index(fields=["status", "due_at"], name="tickets_status_due"),
            # duplicates at one address / callers' history
            models.Index(fields=["address", "category", "status"], name="tickets_dup_address"),
            models.Index(fields=["community", "category", "received_at"], name="tickets_dup_area"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def route_text(self) -> str:
        """Why this route, in the reader's language (``tickets.explanations.ticket_route_text``)."""
        from zhiwang.tickets.explanations import ticket_route_text

        return ticket_route_text(self)

    @property
    def deadline_text(self) -> str:
        """The time limit in words ("15 working days"), in the reader's language."""
        from zhiwang.tickets.explanations import deadline_text

        return deadline_text(self.deadline_amount, self.deadline_unit)

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
