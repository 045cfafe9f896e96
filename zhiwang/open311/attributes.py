"""Checking posted ``attribute[…]`` values against a service definition.

Codes the definition does not know are ignored (clients such as FixMyStreet add their
own, e.g. ``attribute[fixmystreet_id]``), and so are values for information-only
attributes. Everything else is checked: required, one value for the single-valued
datatypes, the datatype, and the allowed keys of the lists.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from zhiwang.core.errors import ErrorList
from zhiwang.open311.models import AttributeDatatype as D
from zhiwang.open311.models import ServiceAttribute
from zhiwang.open311.params import parse_w3c

MAX_STRING = 255
MAX_TEXT = 4000


def _field(attribute: ServiceAttribute) -> str:
    return f"attribute[{attribute.code}]"


def _number(raw: str) -> int | float | None:
    try:
        number = Decimal(raw)
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    as_float = float(number)
    if not math.isfinite(as_float):
        return None
    return int(number) if number == number.to_integral_value() and abs(number) < 2**53 else as_float


def clean_attributes(
    attributes: list[ServiceAttribute], posted: dict[str, list[str]], errors: ErrorList
) -> dict[str, object]:
    """The posted values as stored (``{code: value}``, lists for multivaluelist); problems go to ``errors``."""
    cleaned: dict[str, object] = {}
    for attribute in attributes:
        if not attribute.variable:
            continue
        field = _field(attribute)
        values = posted.get(attribute.code, [])
        if not values:
            if attribute.required:
                errors.add(
                    field,
                    "open311.attribute_required",
                    _("Answer “%(question)s”.") % {"question": attribute.description},
                )
            continue
        if attribute.datatype != D.MULTIVALUELIST and len(values) > 1:
            errors.add(field, "open311.attribute_single", _("Give one value only."))
            continue
        raw = values[0]
        if attribute.datatype == D.STRING:
            # any line break, not only "\n": "\r", "\v", "\f", "\x1c"–"\x1e", "\x85", "\u2028", "\u2029"
            if len(raw) > MAX_STRING or len(raw.splitlines()) > 1:
                errors.add(
                    field,
                    "open311.attribute_string",
                    _("Give one line of at most %(max)s characters.") % {"max": MAX_STRING},
                )
                continue
            cleaned[attribute.code] = raw
        elif attribute.datatype == D.TEXT:
            if len(raw) > MAX_TEXT:
                errors.add(
                    field,
                    "open311.attribute_text",
                    _("Give at most %(max)s characters.") % {"max": MAX_TEXT},
                )
                continue
            cleaned[attribute.code] = raw
        elif attribute.datatype == D.NUMBER:
            number = _number(raw)
            if number is None:
                errors.add(field, "open311.attribute_number", _("Give a number."))
                continue
            cleaned[attribute.code] = number
        elif attribute.datatype == D.DATETIME:
            when = parse_w3c(raw, field, errors)
            if when is not None:
                cleaned[attribute.code] = when.isoformat()
        else:
            allowed = attribute.option_keys()
            unknown = [v for v in values if v not in allowed]
            if unknown:
                errors.add(
                    field,
                    "open311.attribute_value",
                    _("%(value)s is not one of the options (%(keys)s).")
                    % {"value": unknown[0], "keys": ", ".join(allowed)},
                )
                continue
            if attribute.datatype == D.SINGLEVALUELIST:
                cleaned[attribute.code] = raw
            else:
                cleaned[attribute.code] = list(dict.fromkeys(values))
    return cleaned


def summary_lines(attributes: list[ServiceAttribute], cleaned: dict[str, object]) -> list[str]:
    """Lines of "question answer" for the ticket description, so handlers read the answers too."""
    lines = []
    for attribute in attributes:
        if attribute.code not in cleaned:
            continue
        answer = cleaned[attribute.code]
        names = {str(v.get("key")): str(v.get("name")) for v in attribute.values or [] if isinstance(v, dict)}
        if isinstance(answer, list):
            shown = _(", ").join(names.get(a, a) for a in answer)
        else:
            shown = names.get(str(answer), str(answer))
        lines.append(f"{attribute.description.strip()} {shown}")
    return lines
