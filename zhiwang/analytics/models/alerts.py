"""Early warnings (``Alert``), the tickets each counted (``AlertTicket``) and who is told about them
(``AlertSubscription``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext, gettext_noop, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from zhiwang.core.scoping import ScopedQuerySet, scope_of


class AlertKind(models.TextChoices):
    SURGE = "surge", _("Surge")  # 激增: a (place, category) series far above its baseline
    ADDRESS_CLUSTER = "address_cluster", _("Cluster at one address")  # 群体性: one address
    TOPIC_CLUSTER = "topic_cluster", _("Cluster on one topic")  # 群体性: one topic
    REPEAT_CALLER = "repeat_caller", _("Repeated caller")  # 重复来电
    REPEAT_REOPEN = "repeat_reopen", _("Repeatedly reopened")  # 反复重办


class AlertStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("alert", "Open")  # 待处理 (a ticket's "Open" is 在办)
    HANDLED = "handled", _("Handled")
    FALSE = "false", _("False alarm")
    # closed by the detectors, not by a person: its problem is over (``services.alerts_resolve``)
    RESOLVED = "resolved", _("Resolved automatically")


#: The statuses a person chose (``alert_decide``); a decision holds for the evidence it was made on.
DECIDED_STATUSES = (AlertStatus.HANDLED, AlertStatus.FALSE)

#: An alert's explanation per kind, rendered in the reader's language from ``detail["explain"]``.
EXPLANATIONS = {
    AlertKind.SURGE: gettext_noop(
        "%(place)s, %(category)s: %(observed)s tickets in %(days)s days, expected %(expected)s ± %(spread)s"
    ),
    AlertKind.ADDRESS_CLUSTER: gettext_noop(
        "%(address)s: %(observed)s tickets in %(days)s days, expected %(expected)s"
    ),
    AlertKind.TOPIC_CLUSTER: gettext_noop("%(observed)s tickets in %(days)s days about “%(words)s”"),
    AlertKind.REPEAT_CALLER: gettext_noop("Caller %(phone)s: %(observed)s tickets in %(days)s days"),
    AlertKind.REPEAT_REOPEN: gettext_noop("%(number)s (%(category)s) reopened %(n)s times"),
}

#: Why the detectors resolved an alert (``detail["resolved"]``), rendered in the reader's language.
RESOLUTIONS = {
    "ticket_closed": gettext_noop("Its ticket is no longer open."),
    # a merged ticket counts by its master ticket (``alerts_resolve``): the text says so, and
    # says "not being handled", not "closed" (a ticket may also have been rejected)
    "tickets_closed": gettext_noop(
        "Its window is over and none of its tickets is still being handled "
        "(a merged ticket counts by its master ticket)."
    ),
}


def expected_text(value, *, like=None) -> str:
    """An expected count (or its spread, printed ``like`` the count) as printed: one decimal below
    10 ("0.1±0.3", "2.5±1.6"), whole above ("14±4"); "0±0" would claim a certainty (and read as
    a division by zero) that a small expectation never has."""
    number = float(value or 0)
    scale = abs(float(number if like is None else like or 0))
    return f"{number:.1f}" if scale < 10 else f"{number:.0f}"


def explain(kind: str, params: dict) -> str:
    """The explanation of an alert of ``kind`` with ``params`` in the active language."""
    values = dict(params)
    if "spread" in values:
        values["spread"] = expected_text(values["spread"], like=values.get("expected"))
    if "expected" in values:
        values["expected"] = expected_text(values["expected"])
    if isinstance(values.get("words"), list):
        values["words"] = "、".join(str(w) for w in values["words"])
    return gettext(EXPLANATIONS[kind]) % values


class AlertQuerySet(ScopedQuerySet):
    """The rule of ``core.scoping``: alerts inside the user's divisions, and for grid-scoped users
    the alerts of their grids; an alert without a grid (about a whole community or wider) is
    theirs when it is about one of their grids' communities, as for models without a grid.
    City-wide alerts (no division): city-wide users only."""

    scope_division_field = "division"
    scope_grid_field = "grid"

    def visible_to(self, user):
        scope = scope_of(user)
        visible = super().visible_to(user)
        if scope.everything or scope.is_empty or not scope.grid_community_ids:
            return visible
        return visible | self.filter(grid__isnull=True, division_id__in=scope.grid_community_ids)


class Alert(models.Model):
    """An early warning with its explanation; one per ``key`` (de-duplication) while it is open.

    ``key`` names the series and the window ("surge:community:123:cat:45"); a detector that
    finds the same thing again updates the open alert instead of raising a second one.
    """

    kind = models.CharField(_("kind"), max_length=20, choices=AlertKind.choices)
    key = models.CharField(_("key"), max_length=160)
    status = models.CharField(
        _("status"), max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN
    )
    division = models.ForeignKey(
        "geo.Division",
        verbose_name=_("division"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    grid = models.ForeignKey(
        "geo.Grid", verbose_name=_("grid"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.ForeignKey(
        "tickets.Category",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    window_start = models.DateTimeField(_("window start"))
    window_end = models.DateTimeField(_("window end"))
    observed = models.IntegerField(_("observed"), default=0)
    expected = models.FloatField(_("expected"), default=0)
    spread = models.FloatField(_("spread"), default=0)
    score = models.FloatField(_("score"), default=0)
    explanation = models.CharField(_("explanation"), max_length=500)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=pgettext_lazy("alert", "decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(pgettext_lazy("alert", "decided at"), null=True, blank=True)
    decision_note = models.CharField(pgettext_lazy("alert", "decision note"), max_length=500, blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(status="open"), name="analytics_alert_open_once"
            )
        ]
        indexes = [models.Index(fields=["status", "kind", "created_at"], name="analytics_alert_list")]

    def __str__(self) -> str:
        return self.explanation_text

    @property
    def explanation_text(self) -> str:
        """The explanation in the reader's language, from its parameters (``detail["explain"]``);
        alerts raised before the parameters were kept show the sentence stored then."""
        params = (self.detail or {}).get("explain")
        if isinstance(params, dict) and self.kind in EXPLANATIONS:
            try:
                # the page's sentence (the tickets' own days), not only the detector's
                from zhiwang.analytics.finding import explain as explain_alert

                return explain_alert(self.kind, params)
            except (KeyError, TypeError, ValueError):
                pass
        return self.explanation

    @property
    def ticket_ids(self) -> list[int]:
        """Every ticket the alert counted, in id order (``AlertTicket``; one query)."""
        return list(self.memberships.order_by("ticket_id").values_list("ticket_id", flat=True))

    @property
    def ticket_count(self) -> int:
        """How many tickets the alert counted; ``selectors.alert_list`` annotates it (``n_tickets``)
        so a page of alerts costs no query per row."""
        n = getattr(self, "n_tickets", None)
        return self.memberships.count() if n is None else n

    @property
    def resolution_text(self) -> str:
        """Why the detectors resolved this alert (empty unless ``status`` is resolved)."""
        reason = (self.detail or {}).get("resolved")
        if self.status != AlertStatus.RESOLVED or reason not in RESOLUTIONS:
            return ""
        return gettext(RESOLUTIONS[reason])


class AlertTicket(models.Model):
    """One ticket an alert counted (its membership): every one, however many (a group incident
    can count thousands). Written by ``services.alert_raise`` in bulk, only for alerts it creates
    or updates and only for the tickets that changed. The unique pair serves the alert's ticket
    list (the ticket list's ``alert=<id>`` filter, the new-evidence comparison); the ticket's
    index serves "which alerts counted this ticket" and a ticket's deletion."""

    alert = models.ForeignKey(
        Alert,
        verbose_name=_("alert"),
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,  # the unique pair (alert, ticket) leads with the alert
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = _("ticket of an alert")
        verbose_name_plural = _("tickets of alerts")
        constraints = [
            models.UniqueConstraint(fields=["alert", "ticket"], name="analytics_alert_ticket_once")
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} ∋ {self.ticket_id}"


class AlertSubscription(models.Model):
    """A unit is told (in-app notification) about new alerts in a division, optionally of some kinds."""

    unit = models.ForeignKey(
        "accounts.OrgUnit", verbose_name=_("unit"), on_delete=models.CASCADE, related_name="+"
    )
    division = models.ForeignKey(
        "geo.Division", verbose_name=_("division"), on_delete=models.CASCADE, related_name="+"
    )
    kinds = models.JSONField(_("kinds"), default=list, blank=True, help_text=_("Empty: every kind"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("alert subscription")
        verbose_name_plural = _("alert subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["unit", "division"], name="analytics_subscription_unique")
        ]

    def __str__(self) -> str:
        return f"{self.unit} ← {self.division}"
