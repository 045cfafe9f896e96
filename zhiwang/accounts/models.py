"""Org units, users, roles, jurisdiction, grid assignments, API tokens, login throttling."""

from __future__ import annotations

import hashlib
from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zhiwang.core.phones import normalize_phone, validate_phone
from zhiwang.core.scoping import Scope
from zhiwang.geo.models import Division, Grid


class Role(models.TextChoices):
    """What a user does all day (DESIGN.md, "Who uses it")."""

    CITIZEN = "citizen", _("Citizen")  # 市民
    GRID_WORKER = "grid_worker", _("Grid worker")  # 网格员
    INTAKE_OPERATOR = "intake_operator", _("Intake operator")  # 受理员
    DISPATCHER = "dispatcher", _("Dispatcher")  # 分拨员
    HANDLER = "handler", _("Handler")  # 承办人
    MEDIATOR = "mediator", _("Mediator")  # 调解员
    LEADER = "leader", _("Leader / analyst")  # 领导 / 分析员
    DATA_STEWARD = "data_steward", _("Data steward")  # 数据管理员
    ADMINISTRATOR = "administrator", _("Administrator")  # 系统管理员
    INTEGRATION = "integration", _("Integration client")  # 对接系统 (API only)


class OrgUnitKind(models.TextChoices):
    COMMAND_CENTER = "command_center", _("Command center")  # 指挥中心 / 综治中心
    DEPARTMENT = "department", _("Department")  # 职能部门
    DIVISION_OFFICE = "division_office", _("Division office")  # 区政府 / 街道办 / 社区工作站
    GRID_STATION = "grid_station", _("Grid station")  # 网格工作站
    MEDIATION_ORG = "mediation_org", _("Mediation organisation")  # 调解组织
    SERVICE_CENTER = "service_center", _("Service center")  # 综合服务中心 / 窗口
    OTHER = "other", _("Other")


class OrgUnitQuerySet(models.QuerySet):
    pass


class OrgUnit(models.Model):
    """A unit in the government tree: command centers, departments, division offices.

    ``division`` is the division the unit serves (a district's urban management
    bureau serves the district); handling units for tickets are org units.
    """

    code = models.CharField(_("unit code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("kind"), max_length=32, choices=OrgUnitKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    division = models.ForeignKey(
        Division,
        verbose_name=_("division served"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="org_units",
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = OrgUnitQuerySet.as_manager()

    class Meta:
        verbose_name = _("org unit")
        verbose_name_plural = _("org units")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in: staff of an org unit, a citizen, or an integration client.

    Jurisdiction is a set of division subtrees (``jurisdictions``) and, for grid
    workers, the grids assigned through ``GridAssignment``. ``scope`` turns both
    into the :class:`~zhiwang.core.scoping.Scope` that every selector uses.
    """

    role = models.CharField(
        _("role"), max_length=32, choices=Role.choices, default=Role.CITIZEN, db_index=True
    )
    full_name = models.CharField(_("full name"), max_length=64, blank=True)
    #: By the platform's phone rule (``core.phones``), stored in its form: see ``clean_fields``.
    phone = models.CharField(_("phone"), max_length=20, blank=True, validators=[validate_phone])
    org_unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("org unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    jurisdictions = models.ManyToManyField(
        Division,
        verbose_name=_("jurisdiction"),
        blank=True,
        related_name="+",
        help_text=_("The user sees records inside these divisions and everything below them."),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username

    def clean_fields(self, exclude=None):
        """The phone by the platform's rule, wherever a user is validated (``user_create``, the
        admin's forms): a number is stored in ``normalize_phone``'s form ("138 1234-5678" →
        "13812345678"), one that is not a phone is refused (``validate_phone``, the field named).

        A value already stored before the rule (a mistyped "1381234567") is kept as it is while
        nobody changes it: the user stays editable (a new role, a new unit) by whoever cannot
        know the right number; a changed phone must be a phone."""
        exclude = set(exclude or ())
        if "phone" not in exclude:
            text = str(self.phone or "").strip()
            phone = normalize_phone(text)
            if phone or not text:
                self.phone = phone
            elif self.pk and text == self._stored_phone().strip():
                exclude.add("phone")
        super().clean_fields(exclude=exclude)

    def _stored_phone(self) -> str:
        stored = type(self)._default_manager.filter(pk=self.pk).values_list("phone", flat=True).first()
        return stored or ""

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    @cached_property
    def scope(self) -> Scope:
        # Imported here: selectors import models, models must not import selectors at import time.
        from zhiwang.accounts.scoping import scope_for_user

        return scope_for_user(self)


class GridDuty(models.TextChoices):
    """一格多员: the members a grid has besides its grid worker."""

    GRID_WORKER = "grid_worker", _("Grid worker")  # 专职网格员
    GRID_LEADER = "grid_leader", _("Grid leader")  # 网格长
    POLICE = "police", _("Community police officer")  # 社区民警
    SAFETY = "safety", _("Safety inspector")  # 安全员
    URBAN_MANAGEMENT = "urban_management", _("Urban management officer")  # 城管队员
    VOLUNTEER = "volunteer", _("Volunteer")  # 志愿者


class GridAssignment(models.Model):
    """A user serving a grid in a duty (one grid, many members; one member, several grids)."""

    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), on_delete=models.CASCADE, related_name="assignments"
    )
    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="grid_assignments"
    )
    duty = models.CharField(_("duty"), max_length=32, choices=GridDuty.choices, default=GridDuty.GRID_WORKER)
    since = models.DateField(_("since"), default=timezone.localdate)

    class Meta:
        verbose_name = _("grid assignment")
        verbose_name_plural = _("grid assignments")
        constraints = [
            models.UniqueConstraint(fields=["grid", "user", "duty"], name="accounts_grid_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.grid} · {self.get_duty_display()}"


class IntegrationClient(models.Model):
    """Another system that calls the API (a department system, the 12345 platform, a big screen).

    It acts through its own service user, so its tokens are scoped like any user's.
    """

    name = models.CharField(_("name"), max_length=128, unique=True)
    org_unit = models.ForeignKey(
        OrgUnit,
        verbose_name=_("org unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="clients",
    )
    service_user = models.OneToOneField(
        User, verbose_name=_("service user"), on_delete=models.PROTECT, related_name="integration_client"
    )
    contact = models.CharField(_("contact"), max_length=128, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("integration client")
        verbose_name_plural = _("integration clients")

    def __str__(self) -> str:
        return self.name


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the key is shown once."""

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    client = models.ForeignKey(
        IntegrationClient,
        verbose_name=_("integration client"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tokens",
    )
    #: The token whose bearer issued this one (``POST /accounts/tokens`` called with a token), if
    #: any: revoking it revokes this one too (``api_token_revoke``), and deleting it deletes this
    #: one, so a key minted with a stolen key does not outlive the stolen key's revocation.
    parent = models.ForeignKey(
        "self",
        verbose_name=_("issued with"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="issued",
    )
    name = models.CharField(_("name"), max_length=128)
    prefix = models.CharField(_("key prefix"), max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class LoginAttempt(models.Model):
    """One failed or successful sign-in, for throttling and audit."""

    username = models.CharField(_("username"), max_length=150, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    succeeded = models.BooleanField(_("succeeded"), default=False)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("login attempt")
        verbose_name_plural = _("login attempts")
        indexes = [models.Index(fields=["username", "at"], name="accounts_login_user_at")]

    def __str__(self) -> str:
        return f"{self.username} {'✓' if self.succeeded else '✗'} {self.at:%Y-%m-%d %H:%M}"
