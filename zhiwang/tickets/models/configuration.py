"""What configures intake: the category catalogue with its deadlines, the routing rules, the configuration version."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.tickets.models.vocabularies import TicketKind, Urgency


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
