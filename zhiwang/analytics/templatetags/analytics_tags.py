from django import template

from zhiwang.analytics.selectors import alert_tickets_link

register = template.Library()


@register.filter
def tickets_link(alert) -> str:
    return alert_tickets_link(alert)


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"
