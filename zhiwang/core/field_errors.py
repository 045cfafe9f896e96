"""Request-field errors in the house form: a stable code and a message in the reader's language.

Django Ninja checks request fields with pydantic, whose error ``type`` names belong to pydantic
(they have changed between its versions) and whose messages are English. API clients get
``{"field", "code", "message", "type"}`` per field instead: ``code`` is ours (``field.…``) and
stays, ``message`` is translated, ``type`` is pydantic's name, kept for debugging.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

#: pydantic error type → our field code.
FIELD_CODES = {
    "missing": "field.required",
    "int_parsing": "field.not_an_integer",
    "int_type": "field.not_an_integer",
    "int_from_float": "field.not_an_integer",
    "float_parsing": "field.not_a_number",
    "float_type": "field.not_a_number",
    "decimal_parsing": "field.not_a_number",
    "decimal_type": "field.not_a_number",
    "finite_number": "field.not_a_number",
    "bool_parsing": "field.not_a_boolean",
    "bool_type": "field.not_a_boolean",
    "date_parsing": "field.not_a_date",
    "date_type": "field.not_a_date",
    "date_from_datetime_parsing": "field.not_a_date",
    "date_from_datetime_inexact": "field.not_a_date",
    "datetime_parsing": "field.not_a_datetime",
    "datetime_type": "field.not_a_datetime",
    "datetime_from_date_parsing": "field.not_a_datetime",
    "datetime_object_invalid": "field.not_a_datetime",
    "time_parsing": "field.not_a_time",
    "time_type": "field.not_a_time",
    "string_type": "field.not_text",
    "string_too_short": "field.too_short",
    "string_too_long": "field.too_long",
    "string_pattern_mismatch": "field.bad_format",
    "too_short": "field.too_few",
    "too_long": "field.too_many",
    "greater_than": "field.too_small",
    "greater_than_equal": "field.too_small",
    "less_than": "field.too_large",
    "less_than_equal": "field.too_large",
    "literal_error": "field.not_a_choice",
    "enum": "field.not_a_choice",
    "list_type": "field.not_a_list",
    "dict_type": "field.not_an_object",
    "model_type": "field.not_an_object",
    "model_attributes_type": "field.not_an_object",
    "json_invalid": "field.invalid_json",
    "extra_forbidden": "field.unknown",
    "uuid_parsing": "field.not_a_uuid",
    "uuid_type": "field.not_a_uuid",
    "value_error": "field.invalid",
    "assertion_error": "field.invalid",
}


def _message(kind: str, ctx: dict, raw: str) -> str:
    if kind == "missing":
        return _("This field is required.")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("Enter a whole number.")
    if kind in ("float_parsing", "float_type", "decimal_parsing", "decimal_type", "finite_number"):
        return _("Enter a number.")
    if kind in ("bool_parsing", "bool_type"):
        return _("Enter true or false.")
    if kind.startswith("date_"):
        return _("Enter a date as YYYY-MM-DD.")
    if kind.startswith("datetime_"):
        return _("Enter a date and time (ISO 8601, e.g. 2026-11-27T09:30:00+08:00).")
    if kind.startswith("time_"):
        return _("Enter a time as HH:MM.")
    if kind == "string_type":
        return _("Enter text.")
    if kind == "string_too_short":
        return _("Enter at least %(n)s characters.") % {"n": ctx.get("min_length", "?")}
    if kind == "string_too_long":
        return _("Enter at most %(n)s characters.") % {"n": ctx.get("max_length", "?")}
    if kind == "string_pattern_mismatch":
        return _("This value does not have the expected format.")
    if kind == "too_short":
        return _("Give at least %(n)s items.") % {"n": ctx.get("min_length", "?")}
    if kind == "too_long":
        return _("Give at most %(n)s items.") % {"n": ctx.get("max_length", "?")}
    if kind == "greater_than":
        return _("Enter a value greater than %(n)s.") % {"n": ctx.get("gt", "?")}
    if kind == "greater_than_equal":
        return _("Enter a value of at least %(n)s.") % {"n": ctx.get("ge", "?")}
    if kind == "less_than":
        return _("Enter a value less than %(n)s.") % {"n": ctx.get("lt", "?")}
    if kind == "less_than_equal":
        return _("Enter a value of at most %(n)s.") % {"n": ctx.get("le", "?")}
    if kind in ("literal_error", "enum"):
        return _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected", "")}
    if kind == "list_type":
        return _("Send a list.")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("Send an object.")
    if kind == "json_invalid":
        return _("The body is not valid JSON.")
    if kind == "extra_forbidden":
        return _("This field is not known.")
    if kind in ("uuid_parsing", "uuid_type"):
        return _("Enter a UUID.")
    if kind in ("value_error", "assertion_error"):
        # Raised by our own validators, whose text is already in the reader's language.
        for prefix in ("Value error, ", "Assertion failed, "):
            if raw.startswith(prefix):
                return raw[len(prefix) :]
        return raw or _("This value is not valid.")
    return _("This value is not valid.")


def describe(error: dict) -> dict:
    """One pydantic error as the API answers it: ``{"field", "code", "message", "type"}``."""
    loc = [
        str(part) for part in error.get("loc", []) if part not in ("body", "query", "path", "form", "payload")
    ]
    kind = str(error.get("type", ""))
    return {
        "field": ".".join(loc),
        "code": FIELD_CODES.get(kind, "field.invalid"),
        "message": str(_message(kind, error.get("ctx") or {}, str(error.get("msg", "")))),
        "type": kind,
    }
