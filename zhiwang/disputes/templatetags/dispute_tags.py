"""Template helpers of the disputes pages: figures written as the analytics dashboard writes them,
and the sub-navigation with only the pages the user may use."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from zhiwang.core.figures import percent_text, yuan_text
from zhiwang.disputes import selectors
from zhiwang.disputes.models import RiskColour
from zhiwang.disputes.workflow import may_register_cases, may_use_workbench

register = template.Library()


@register.filter
def percent(value) -> str:
    """A rate (0–1) as a percentage with one decimal and no space ("50.0%"), as the analytics
    dashboard and the reports print it; "—" when there is no rate (nothing to divide by)."""
    return percent_text(value)


@register.filter
def yuan(value) -> str:
    """An amount in yuan with thousands separated by commas and two decimals ("460,000.00"), as
    the analytics dashboard writes it (zh-hans number formatting has no thousand separator)."""
    return yuan_text(value)


@register.filter
def risk_label(value) -> str:
    """A risk colour's label ("red" → 红色), for a colour read as of a moment (``period_risk``)
    rather than the case's field."""
    return str(dict(RiskColour.choices).get(value, value))


@register.filter
def period_status_label(value) -> str:
    """A status read as of a period's end (``period_status``) in words: "open" (在办) or the
    status's label."""
    return selectors.period_status_label(value)


#: The sub-navigation: (URL name, label, who may use the page). Checked in this order.
TABS = (
    ("disputes:home", _("Disputes"), lambda user: True),
    (
        "disputes:window",
        pgettext_lazy("dispute", "Service window"),
        lambda user: selectors.may_use_window(user),
    ),
    ("disputes:workbench", _("Mediator workbench"), may_use_workbench),
    ("disputes:ledger", _("Ledger"), lambda user: True),
    ("disputes:organisations", _("Mediation organisations"), lambda user: True),
    ("disputes:case_new", _("Register a case"), may_register_cases),
)


@register.simple_tag(takes_context=True)
def dispute_tabs(context) -> list[dict]:
    """The tabs ``request.user`` may use, the current one marked (``current``: ``aria-current``).

    A tab the user cannot use is not shown at all: its page only refuses them (the page itself
    refuses too, whoever types its address).
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    match = getattr(request, "resolver_match", None)
    current = f"{match.namespace}:{match.url_name}" if match is not None else ""
    return [
        {"url": reverse(name), "label": label, "current": name == current}
        for name, label, allowed in TABS
        if allowed(user)
    ]
