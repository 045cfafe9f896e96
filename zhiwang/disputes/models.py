"""Disputes (矛盾纠纷多元化解) and the one-stop service centre (1 window + 8 function areas + N rooms).

A visitor is registered once (``Visitor``, found again by a keyed hash of the ID
number) and each matter becomes a ``Visit`` in the queue of one ``FunctionArea`` of a
``ServiceCentre``. A matter for mediation becomes a ``DisputeCase``: parties,
sessions, an agreement, judicial confirmation, performance follow-up, referral and
closure, each state change a ``CaseEvent`` row (see ``disputes.workflow``).
Mediation organisations and their mediators form a small registry with workload.
See docs/disputes.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.masking import mask_id_number, mask_middle, mask_name, mask_phone
from zhiwang.core.scoping import ScopedQuerySet
from zhiwang.core.workflow import TimelineEntry

# --- vocabularies ----------------------------------------------------------------


class MediationType(models.TextChoices):
    """调解类型 (DOMAIN.md)."""

    PEOPLES = "peoples", _("People's mediation")  # 人民调解
    ADMINISTRATIVE = "administrative", _("Administrative mediation")  # 行政调解
    JUDICIAL = "judicial", _("Judicial mediation")  # 司法调解
    PROFESSIONAL = "professional", _("Professional (sector) mediation")  # 行业性专业性调解


class CaseSource(models.TextChoices):
    """Where a case came from (DOMAIN.md: proactive, on application, on referral)."""

    WINDOW = "window", _("Service window (on application)")  # 窗口申请
    TICKET = "ticket", _("From a ticket (12345)")  # 工单转调解
    GRID = "grid", _("Found by a grid worker (proactive)")  # 网格排查
    PETITION = "petition", _("Referred by the petition office")  # 信访移交
    COURT = "court", _("Referred by a court")  # 法院委派
    POLICE = "police", _("Referred by the police")  # 公安移交
    PROACTIVE = "proactive", _("Proactive screening")  # 主动排查


class RiskColour(models.TextChoices):
    """风险等级: red is reported up at once, orange the same day, yellow handled at grid level."""

    RED = "red", _("Red")
    ORANGE = "orange", _("Orange")
    YELLOW = "yellow", _("Yellow")
    BLUE = "blue", _("Blue")


class CaseScale(models.TextChoices):
    """规模: group disputes (群体性) are watched more closely."""

    INDIVIDUAL = "individual", _("Individual")  # 一般
    GROUP = "group", _("Group (5 or more people)")  # 群体性
    MAJOR = "major", _("Major")  # 重大


class CaseStatus(models.TextChoices):
    """Where a case is (transitions in ``disputes.workflow``)."""

    RECEIVED = "received", _("Awaiting assignment")  # 待分派
    ASSIGNED = "assigned", _("Assigned")  # 已分派
    MEDIATING = "mediating", _("Being mediated")  # 调解中
    AGREED = "agreed", _("Agreement reached")  # 已达成协议 (performance followed up)
    REFERRED = "referred", _("Referred")  # 已移交 (arbitration, litigation…)
    CLOSED = "closed", _("Closed")  # 已结案


OPEN_CASE_STATUSES = (CaseStatus.RECEIVED, CaseStatus.ASSIGNED, CaseStatus.MEDIATING, CaseStatus.AGREED)
#: Statuses that count in a mediator's or organisation's workload.
WORKLOAD_STATUSES = (CaseStatus.ASSIGNED, CaseStatus.MEDIATING)


class CaseOutcome(models.TextChoices):
    """调解结果, required to close a case."""

    SUCCESS = "success", _("Mediated successfully")  # 调解成功
    FAILED = "failed", _("Mediation failed")  # 调解不成
    WITHDRAWN = "withdrawn", _("Withdrawn by the applicant")  # 撤回申请
    REFERRED = "referred", _("Referred elsewhere")  # 移交其他途径


class ReferralKind(models.TextChoices):
    """No agreement → another channel (DOMAIN.md)."""

    ARBITRATION = "arbitration", _("Arbitration")  # 仲裁
    LITIGATION = "litigation", _("Litigation")  # 诉讼
    PETITION = "petition", _("Petition")  # 信访
    RECONSIDERATION = "reconsideration", _("Administrative reconsideration")  # 行政复议


class AgreementForm(models.TextChoices):
    ORAL = "oral", _("Oral agreement")  # 口头协议
    WRITTEN = "written", _("Written agreement")  # 书面协议


class PerformanceStatus(models.TextChoices):
    """履行情况 as found at the follow-up visit."""

    PENDING = "pending", _("Not yet due")  # 待履行
    PERFORMED = "performed", _("Performed")  # 已履行
    PARTLY = "partly", _("Partly performed")  # 部分履行
    NOT_PERFORMED = "not_performed", _("Not performed")  # 未履行


class ConfirmationStatus(models.TextChoices):
    """司法确认 of an agreement (within 30 days of it)."""

    NONE = "", _("Not applied for")
    APPLIED = "applied", _("Applied for")
    CONFIRMED = "confirmed", _("Confirmed by the court")
    REFUSED = "refused", _("Refused by the court")


class PartyRole(models.TextChoices):
    APPLICANT = "applicant", _("Applicant")  # 申请人
    RESPONDENT = "respondent", _("Respondent")  # 被申请人
    THIRD_PARTY = "third_party", _("Third party")  # 第三人


class PartyKind(models.TextChoices):
    PERSON = "person", _("Person")  # 自然人
    ENTITY = "entity", _("Legal entity")  # 法人或其他组织


class OrganisationKind(models.TextChoices):
    PEOPLES_COMMITTEE = "peoples_committee", _("People's mediation committee")  # 人民调解委员会
    SECTOR = "sector", _("Sector mediation body")  # 行业性专业性调解组织
    ADMINISTRATIVE = "administrative", _("Administrative mediation office")  # 行政调解
    JUDICIAL = "judicial", _("Court mediation office")  # 诉调对接
    OTHER = "other", _("Other")


class VisitStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")  # 排队中
    SERVING = "serving", _("Being served")  # 办理中
    DONE = "done", _("Done")  # 已办结
    CASE_OPENED = "case_opened", _("Dispute case opened")  # 已立案调解


# --- configurable tables ---------------------------------------------------------


class FunctionArea(models.Model):
    """A desk of the one-stop centre (the "8" of 1+8+N); administrators edit the list.

    ``mediation_type`` set: a visit routed here may be turned into a dispute case of
    that type. Seeded by ``disputes.defaults.defaults_seed``.
    """

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    mediation_type = models.CharField(
        _("mediation type"), max_length=16, choices=MediationType.choices, blank=True
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("function area")
        verbose_name_plural = _("function areas")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class DisputeCategory(models.Model):
    """纠纷类别, the Ministry of Justice statistics list (DOMAIN.md); administrators edit it."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("dispute category")
        verbose_name_plural = _("dispute categories")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


# --- places and people that work cases -------------------------------------------


class ServiceCentreQuerySet(ScopedQuerySet):
    scope_division_field = "division"


class ServiceCentre(models.Model):
    """综治中心 / 综合服务中心 of a division: one window, the function areas, the rooms.

    Its staff are the members of ``org_unit``: a window operator sees their centre.
    """

    org_unit = models.OneToOneField(
        "accounts.OrgUnit",
        verbose_name=_("org unit"),
        on_delete=models.PROTECT,
        related_name="service_centre",
    )
    name = models.CharField(_("name"), max_length=128)
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("division"), on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = ServiceCentreQuerySet.as_manager()

    class Meta:
        verbose_name = _("service centre")
        verbose_name_plural = _("service centres")
        ordering = ["division__code", "name"]

    def __str__(self) -> str:
        return self.name


class OrganisationQuerySet(ScopedQuerySet):
    scope_division_field = "division"


class MediationOrganisation(models.Model):
    """A people's mediation committee or a sector body, serving a division (and everything below it).

    Its mediators are ``Mediator`` rows; its members sign in as users of ``org_unit``.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=24, choices=OrganisationKind.choices)
    mediation_type = models.CharField(
        _("mediation type"), max_length=16, choices=MediationType.choices, default=MediationType.PEOPLES
    )
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("division served"), on_delete=models.PROTECT, related_name="+"
    )
    org_unit = models.OneToOneField(
        "accounts.OrgUnit",
        verbose_name=_("org unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mediation_organisation",
    )
    categories = models.ManyToManyField(
        DisputeCategory,
        verbose_name=_("categories"),
        blank=True,
        related_name="+",
        help_text=_("Categories it takes; empty = all (sector bodies name theirs)"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = OrganisationQuerySet.as_manager()

    class Meta:
        verbose_name = _("mediation organisation")
        verbose_name_plural = _("mediation organisations")
        ordering = ["division__code", "code"]

    def __str__(self) -> str:
        return self.name


class Mediator(models.Model):
    """A user with the mediator role working for one organisation; ``capacity`` caps open cases."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="mediator"
    )
    organisation = models.ForeignKey(
        MediationOrganisation,
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="mediators",
    )
    capacity = models.PositiveSmallIntegerField(_("capacity (open cases)"), default=20)
    specialities = models.CharField(_("specialities"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("mediator")
        verbose_name_plural = _("mediators")
        ordering = ["organisation__code", "user__username"]

    def __str__(self) -> str:
        return str(self.user)


# --- visitors and visits ---------------------------------------------------------


class Visitor(models.Model):
    """A resident registered once at a window; found again by ``id_hash`` (keyed hash of the ID number).

    The raw number is kept for the documents that must carry it (agreements) and is only
    shown masked unless a permitted user reveals it (logged). ``person`` links the
    registry's record: set when the operator picks the visitor from the registry, or found
    by the registry's keyed hash of the ID number (``registry.hashing``).
    """

    name = models.CharField(_("name"), max_length=64)
    id_number = models.CharField(_("ID number"), max_length=18, blank=True)
    id_hash = models.CharField(_("ID number hash"), max_length=64, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    person = models.ForeignKey(
        "registry.Person",
        verbose_name=_("registry person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        constraints = [
            models.UniqueConstraint(
                fields=["id_hash"], condition=~models.Q(id_hash=""), name="disputes_visitor_once"
            )
        ]

    def __str__(self) -> str:
        return mask_name(self.name)

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number) if self.id_number else ""


class VisitQuerySet(ScopedQuerySet):
    scope_division_field = "centre__division"


class Visit(models.Model):
    """One matter brought to the window, waiting in (or served by) one function area's queue."""

    number = models.CharField(_("visit number"), max_length=20, unique=True)
    centre = models.ForeignKey(
        ServiceCentre, verbose_name=_("service centre"), on_delete=models.PROTECT, related_name="visits"
    )
    visitor = models.ForeignKey(
        Visitor, verbose_name=_("visitor"), on_delete=models.PROTECT, related_name="visits"
    )
    area = models.ForeignKey(
        FunctionArea, verbose_name=_("function area"), on_delete=models.PROTECT, related_name="visits"
    )
    matter = models.TextField(_("matter"))
    status = models.CharField(
        _("status"), max_length=16, choices=VisitStatus.choices, default=VisitStatus.WAITING, db_index=True
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=160, unique=True)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("registered by"), on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    served_at = models.DateTimeField(_("served at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    outcome_note = models.TextField(_("outcome"), blank=True)

    objects = VisitQuerySet.as_manager()

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["registered_at", "pk"]
        indexes = [models.Index(fields=["centre", "area", "status"], name="disputes_visit_queue")]

    def __str__(self) -> str:
        return self.number


class VisitEvent(TimelineEntry):
    """Timeline of a visit: registered, called, routed, done, case opened."""

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.PROTECT, related_name="events")

    class Meta:
        verbose_name = _("visit event")
        verbose_name_plural = _("visit events")
        ordering = ["at", "pk"]


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
        DisputeCategory, verbose_name=_("category"), on_delete=models.PROTECT, related_name="cases"
    )
    mediation_type = models.CharField(
        _("mediation type"), max_length=16, choices=MediationType.choices, default=MediationType.PEOPLES
    )
    source = models.CharField(_("source"), max_length=16, choices=CaseSource.choices)
    scale = models.CharField(
        _("scale"), max_length=16, choices=CaseScale.choices, default=CaseScale.INDIVIDUAL
    )
    people_involved = models.PositiveIntegerField(_("people involved"), default=2)
    amount = models.DecimalField(_("amount involved (CNY)"), max_digits=14, decimal_places=2, default=0)
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
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("registered by"), on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(_("received at"), db_index=True)
    target_at = models.DateTimeField(
        _("target date"), db_index=True, help_text=_("One month after receipt; later when the parties agree")
    )
    extended = models.BooleanField(_("extended with the parties' consent"), default=False)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
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

    ``identifier`` is validated (GB 11643 / GB 32100) and ``identifier_hash`` (HMAC with the
    secret key) finds the same party across cases without comparing raw numbers.
    ``person`` / ``entity`` link the registry's record: set when picked from the registry,
    or matched on save by the registry's keyed ID-number hash / the credit code.
    """

    case = models.ForeignKey(
        DisputeCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="parties"
    )
    role = models.CharField(_("role"), max_length=16, choices=PartyRole.choices)
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
    """调解协议: parties, facts, terms, manner and deadline of performance (DOMAIN.md).

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
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
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
    message = models.CharField(_("message"), max_length=500)
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


# --- online mediation ------------------------------------------------------------------


class OnlineMeeting(models.Model):
    """A mediation session scheduled online (在线调解): a meeting room and, when a video service is
    configured (``ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE``), the link to it. Held, it is recorded as a
    ``MediationSession`` with ``online`` set, like any other sitting."""

    case = models.ForeignKey(
        DisputeCase, verbose_name=_("case"), on_delete=models.CASCADE, related_name="online_meetings"
    )
    scheduled_at = models.DateTimeField(_("scheduled for"))
    room = models.CharField(_("meeting room"), max_length=32, unique=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("scheduled by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("online mediation meeting")
        verbose_name_plural = _("online mediation meetings")
        ordering = ["scheduled_at", "pk"]

    def __str__(self) -> str:
        return f"{self.case.number} {self.room}"

    @property
    def video_url(self) -> str:
        """The room's link built from the configured template; "" when no video service is configured."""
        template = getattr(settings, "ZHIWANG_DISPUTE_VIDEO_URL_TEMPLATE", "")
        return template.replace("{room}", self.room) if template else ""


class ConfirmationLink(models.Model):
    """A one-time, expiring, signed link by which one party confirms the agreement online.

    Only a hash of the link's secret part is stored: the link itself is sent to the party
    and shown once to the mediator. Issuing a new link for the same party ends the older one.
    """

    agreement = models.ForeignKey(
        Agreement, verbose_name=_("agreement"), on_delete=models.CASCADE, related_name="confirmation_links"
    )
    party = models.ForeignKey(
        Party, verbose_name=_("party"), on_delete=models.CASCADE, related_name="confirmation_links"
    )
    secret_hash = models.CharField(_("secret hash"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("expires at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("issued by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    used_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    used_ip = models.GenericIPAddressField(_("confirmed from IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("agreement confirmation link")
        verbose_name_plural = _("agreement confirmation links")
        ordering = ["agreement", "party", "-created_at"]

    def __str__(self) -> str:
        return f"{self.agreement.number} → {self.party_id}"
