from django import template

from zhiwang.analytics.selectors import alert_tickets_link
from zhiwang.core.figures import as_number as _number
from zhiwang.core.figures import percent_text, yuan_text

register = template.Library()


@register.filter
def tickets_link(alert) -> str:
    return alert_tickets_link(alert)


@register.filter
def percent(value) -> str:
    """A rate (a fraction, 0–1) as a percentage with one decimal ("72.0%"), as the reports print
    it; "—" when there is no rate (nothing to divide by) or the value is not a number."""
    return percent_text(value)


@register.filter
def counted(value) -> str:
    """A numerator as counted: a whole number plainly ("72"), a weighted one (满意率's "basically
    satisfied" × 0.8, the handling time's hours) to at most two decimals without trailing zeros
    ("58.2", not "58.20"); "—" when it is not a number."""
    number = _number(value)
    if number is None:
        return "—"
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


@register.filter
def yuan(value) -> str:
    """An amount in yuan with thousands separated by commas, as Chinese accounts write it
    ("451,000.00"): Django's zh-hans format has no thousand separator, so "2g" printed
    "451000.00"; "—" when it is not a number."""
    return yuan_text(value)
