"""Dispute cases: parties, sessions, agreement, follow-up, timeline, alerts and the number counter."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from zhiwang.core.masking import mask_id_number, mask_middle, mask_name, mask_phone
from zhiwang.core.scoping import ScopedQuerySet
from zhiwang.core.workflow import TimelineEntry
from zhiwang.disputes.models.setup import DisputeCategory, MediationOrganisation, ServiceCentre
from zhiwang.disputes.models.visits import Visit
from zhiwang.disputes.models.vocabularies import (
    OPEN_CASE_STATUSES,
    AgreementForm,
    CaseOutcome,
    CaseScale,
    CaseSource,
    CaseStatus,
    ConfirmationStatus,
    MediationType,
    PartyKind,
    PartyRole,
    PerformanceStatus,
    ReferralKind,
    RiskColour,
)

# --- dispute cases ---------------------------------------------------------------


class CaseQuerySet(ScopedQuerySet):
    """Division scoping for dispatchers and leaders; ``disputes.selectors`` adds the role rules."""

    scope_division_field = "division"


class DisputeCase(models.Model):
    """One dispute from registration to closure: the row every ledger line is."""

    number = models.CharField(_("case number"), max_length=20, unique=True)
    title = models.CharField(_("title"), max_length=200)
    facts = models.TextField(_("facts of the dispute"))
    category = models.ForeignKey(
        DisputeCategory,
        verbose_name=pgettext_lazy("dispute", "category"),
        on_delete=models.PROTECT,
        related_name="cases",
    )
    mediation_type = models.CharField(
        _("mediation type"), max_length=16, choices=MediationType.choices, default=MediationType.PEOPLES
    )
    source = models.CharField(_("source"), max_length=16, choices=CaseSource.choices)
    scale = models.CharField(
        _("scale"), max_length=16, choices=CaseScale.choices, default=CaseScale.INDIVIDUAL
    )
    people_involved = models.PositiveIntegerField(_("people involved"), default=2)
    amount = models.DecimalField(_("amount involved (yuan)"), max_digits=14, decimal_places=2, default=0)
    risk = models.CharField(
        _("risk colour"), max_length=8, choices=RiskColour.choices, default=RiskColour.BLUE
    )
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("division"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("status"), max_length=16, choices=CaseStatus.choices, db_index=True)
    organisation = models.ForeignKey(
        MediationOrganisation,
        verbose_name=_("mediation organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
    )
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("mediator"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dispute_cases",
    )
    centre = models.ForeignKey(
        ServiceCentre,
        verbose_name=_("service centre"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
    )
    visit = models.OneToOneField(
        Visit, verbose_name=_("visit"), null=True, blank=True, on_delete=models.PROTECT, related_name="case"
    )
    ticket = models.OneToOneField(
        "tickets.Ticket",
        verbose_name=_("ticket"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dispute_case",
    )
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=160, null=True, blank=True, unique=True
    )
    # SHA-256 of what the registration asked for: the same key sent again with other content is
    # refused, not answered with this case. Empty on cases registered before it existed.
    idempotency_fingerprint = models.CharField(
        _("idempotency fingerprint"), max_length=64, blank=True, default=""
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("registered by"), on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(_("received at"), db_index=True)
    target_at = models.DateTimeField(
        _("target date"), db_index=True, help_text=_("One month after receipt; later when the parties agree")
    )
    extended = models.BooleanField(_("extended with the parties' consent"), default=False)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    closed_at = models.DateTimeField(pgettext_lazy("dispute", "closed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=CaseOutcome.choices, blank=True)
    outcome_note = models.TextField(_("outcome note"), blank=True)
    referral_kind = models.CharField(
        _("referred to"), max_length=16, choices=ReferralKind.choices, blank=True
    )
    referral_reason = models.TextField(_("reason for referral"), blank=True)
    referred_at = models.DateTimeField(_("referred at"), null=True, blank=True)
    reported_up_at = models.DateTimeField(_("reported upward at"), null=True, blank=True)
    # 积案 / 包案
    is_backlog = models.BooleanField(_("backlog petition case"), default=False, db_index=True)
    backlog_deadline = models.DateField(_("backlog time limit"), null=True, blank=True)
    responsible_leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible leader"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="backlog_cases",
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("dispute case")
        verbose_name_plural = _("dispute cases")
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["division", "status"], name="disputes_case_scope"),
            models.Index(fields=["organisation", "status"], name="disputes_case_org"),
            models.Index(fields=["mediator", "status"], name="disputes_case_mediator"),
            models.Index(fields=["status", "target_at"], name="disputes_case_target"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CASE_STATUSES


class Party(models.Model):
    """申请人 / 被申请人 / 第三人 of a case, a person (ID number) or an entity (credit code).

    ``identifier`` is validated (GB 11643 / GB 32100) and ``identifier_hash``
    (``core.keyed_hash``, purpose ``disputes``) finds the same party across cases without comparing raw numbers.
    ``person`` / ``entity`` link the registry's record: set when picked from the registry,
    or matched on save by the registry's keyed ID-number hash / the credit code.
    """

    case = models.ForeignKey(
        DisputeCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="parties"
    )
    role = models.CharField(pgettext_lazy("dispute party", "role"), max_length=16, choices=PartyRole.choices)
    kind = models.CharField(_("kind"), max_length=8, choices=PartyKind.choices, default=PartyKind.PERSON)
    name = models.CharField(_("name"), max_length=128)
    identifier = models.CharField(_("ID number / credit code"), max_length=18, blank=True)
    identifier_hash = models.CharField(_("identifier hash"), max_length=64, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    representative = models.CharField(_("legal representative / agent"), max_length=64, blank=True)
    person = models.ForeignKey(
        "registry.Person",
        verbose_name=_("registry person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    entity = models.ForeignKey(
        "registry.LegalEntity",
        verbose_name=_("registry legal entity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["case", "role", "pk"]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.masked_name}"

    @property
    def masked_name(self) -> str:
        # An entity's name is public (business registration); a person's is personal data.
        return self.name if self.kind == PartyKind.ENTITY else mask_name(self.name)

    @property
    def masked_identifier(self) -> str:
        if not self.identifier:
            return ""
        return self.identifier if self.kind == PartyKind.ENTITY else mask_id_number(self.identifier)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    @property
    def masked_address(self) -> str:
        """A person's address down to the district or street (first 6 characters); an entity's in full."""
        if not self.address or self.kind == PartyKind.ENTITY:
            return self.address
        return mask_middle(self.address, keep_start=6, keep_end=0, min_masked=4)

    @property
    def masked_representative(self) -> str:
        return mask_name(self.representative) if self.representative else ""


class MediationSession(models.Model):
    """调解记录: one sitting, with who attended and what was said."""

    case = models.ForeignKey(
        DisputeCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="sessions"
    )
    held_at = models.DateTimeField(_("held at"))
    place = models.CharField(_("place"), max_length=128, blank=True)
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("mediator"), on_delete=models.PROTECT, related_name="+"
    )
    attendees = models.CharField(_("attendees"), max_length=255, blank=True)
    record = models.TextField(_("record"))
    online = models.BooleanField(_("online mediation"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")
        ordering = ["held_at", "pk"]

    def __str__(self) -> str:
        return f"{self.case.number} {self.held_at:%Y-%m-%d}"


class Agreement(models.Model):
    """调解协议: parties, facts, terms, amount, manner and deadline of performance (DOMAIN.md).

    Judicial confirmation may be applied for within 30 days of ``signed_on``.
    """

    case = models.OneToOneField(
        DisputeCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="agreement"
    )
    form = models.CharField(_("form"), max_length=8, choices=AgreementForm.choices)
    number = models.CharField(_("agreement number"), max_length=32, unique=True)
    facts = models.TextField(_("facts and points in dispute"))
    terms = models.TextField(_("terms agreed"))
    performance_manner = models.CharField(_("manner of performance"), max_length=255)
    performance_deadline = models.DateField(_("performance deadline"))
    # 协议金额: what the agreement settles, in yuan. The dashboard's "amount resolved" (化解金额)
    # sums it over the cases closed as mediated successfully; the case's own ``amount`` is the
    # amount involved as registered, often unknown (0) until the parties agree.
    amount = models.DecimalField(_("amount agreed (yuan)"), max_digits=14, decimal_places=2, default=0)
    signed_on = models.DateField(_("signed on"))
    confirmation_status = models.CharField(
        _("judicial confirmation"), max_length=16, choices=ConfirmationStatus.choices, blank=True, default=""
    )
    confirmation_applied_on = models.DateField(_("confirmation applied on"), null=True, blank=True)
    confirmation_court = models.CharField(_("court"), max_length=128, blank=True)
    performance_status = models.CharField(
        _("performance"), max_length=16, choices=PerformanceStatus.choices, default=PerformanceStatus.PENDING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("agreement")
        verbose_name_plural = _("agreements")

    def __str__(self) -> str:
        return self.number


class PerformanceFollowUp(models.Model):
    """回访: was the agreement performed?"""

    case = models.ForeignKey(
        DisputeCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="follow_ups"
    )
    at = models.DateTimeField(_("at"))
    status = models.CharField(_("performance"), max_length=16, choices=PerformanceStatus.choices)
    note = models.TextField(_("note"), blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=pgettext_lazy("dispute follow-up", "by"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("performance follow-up")
        verbose_name_plural = _("performance follow-ups")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.get_status_display()}"


class CaseEvent(TimelineEntry):
    """One row of a case's timeline (also the log of who revealed the parties' personal data)."""

    case = models.ForeignKey(
        DisputeCase, verbose_name=_("case"), on_delete=models.PROTECT, related_name="events"
    )

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["action", "at"], name="disputes_event_action_at")]

    @property
    def note_text(self) -> str:
        """The note for the reader: the system's words in the reader's language (``disputes.texts``)."""
        from zhiwang.disputes.texts import event_note

        return event_note(self)

    @property
    def change_text(self) -> str:
        """What the row changed (a field's values, the target date), in the reader's language; ``""``
        for a row that does not say (``disputes.texts``)."""
        from zhiwang.disputes.texts import event_change

        return event_change(self)


class AlertKind(models.TextChoices):
    ASSIGNED = "assigned", _("Case assigned to you")
    RED_RISK = "red_risk", _("Red risk reported upward")
    ORANGE_RISK = "orange_risk", _("Orange risk")
    TARGET_NEAR = "target_near", _("One-month target near")
    CONFIRMATION_CLOSING = "confirmation_closing", _("Judicial confirmation window closing")
    PERFORMANCE_DUE = "performance_due", _("Performance deadline")
    BACKLOG_DUE = "backlog_due", _("Backlog time limit near")


class DisputeAlert(models.Model):
    """An in-app alert to one user about a case; ``due_key`` makes each reminder happen once."""

    case = models.ForeignKey(
        DisputeCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="alerts"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="dispute_alerts",
    )
    kind = models.CharField(_("kind"), max_length=24, choices=AlertKind.choices)
    due_key = models.CharField(_("deadline concerned"), max_length=32, blank=True)
    # The message as stored, in the city's language: what an alert made before ``message_code``
    # existed shows, and what the admin and searches read.
    message = models.CharField(_("message"), max_length=500)
    # The system's sentence as a code with its parameters (data only), rendered in the reader's
    # language (``disputes.texts``); empty on alerts made before codes were stored.
    message_code = models.CharField(_("message code"), max_length=32, blank=True, default="")
    message_params = models.JSONField(
        _("message parameters"), default=dict, blank=True, encoder=DjangoJSONEncoder
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("dispute alert")
        verbose_name_plural = _("dispute alerts")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "recipient", "kind", "due_key"], name="disputes_alert_once"
            )
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def text(self) -> str:
        """The message for the reader, in the reader's language (``disputes.texts``)."""
        from zhiwang.disputes.texts import alert_message

        return alert_message(self)


class CaseCounter(models.Model):
    """The last number given out on a day, per prefix (TJ cases, CF visits, XY agreements)."""

    prefix = models.CharField(max_length=4)
    day = models.DateField()
    value = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("number counter")
        verbose_name_plural = _("number counters")
        constraints = [models.UniqueConstraint(fields=["prefix", "day"], name="disputes_counter_unique")]

    def __str__(self) -> str:
        return f"{self.prefix}{self.day:%Y%m%d}: {self.value}"
