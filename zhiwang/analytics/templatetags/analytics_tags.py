import math

from django import template

from zhiwang.analytics.selectors import alert_tickets_link

register = template.Library()


@register.filter
def tickets_link(alert) -> str:
    return alert_tickets_link(alert)


@register.filter
def percent(value) -> str:
    """A rate (a fraction, 0–1) as a percentage with one decimal ("72.0%"), as the reports print
    it; "—" when there is no rate (nothing to divide by) or the value is not a number."""
    if value is None or value == "":
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    if math.isnan(number):
        return "—"
    return f"{number * 100:.1f}%"
