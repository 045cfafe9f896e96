"""The REST API (Django Ninja): one NinjaAPI that mounts each app's router.

Authentication: a bearer token (``Authorization: Bearer zw_…``, per user or per
integration client) or the web session (with CSRF). Errors always come back as
``{"error": {"code", "message", "field", "fields"}}`` with a stable code; each of ``fields``
has its own ``code`` (``field.…``, ``core.field_errors``). Messages are in the caller's language:
the language cookie, else a supported language of ``Accept-Language``, else zh-hans.
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import SessionAuth

from zhiwang.accounts.api import TokenAuth
from zhiwang.accounts.api import router as accounts_router
from zhiwang.analytics.api import router as analytics_router
from zhiwang.core.errors import ServiceError
from zhiwang.core.field_errors import describe
from zhiwang.disputes.api import router as disputes_router
from zhiwang.geo.api import router as geo_router
from zhiwang.registry.api import router as registry_router
from zhiwang.tickets.api import router as tickets_router
from zhiwang.tickets.api.notifications import router as notifications_router

api = NinjaAPI(
    title="Zhiwang API",
    version="1",
    description="织网 municipal social-governance platform",
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
)


def _error(request, status: int, code: str, message: str, fields=None, field=None):
    body = {"error": {"code": code, "message": str(message), "field": field, "fields": fields or []}}
    return api.create_response(request, body, status=status)


#: Django's own validation codes (and the bare ones some older rules still use) → the API's
#: field codes (docs/api.md, the ``request.invalid`` row); any other bare code is ``field.invalid``.
BARE_FIELD_CODES = {
    "required": "field.required",
    "blank": "field.required",
    "null": "field.required",
    "max_length": "field.too_long",
    "too_long": "field.too_long",
    "min_length": "field.too_short",
    "too_short": "field.too_short",
    "max_value": "field.too_large",
    "min_value": "field.too_small",
    "step_size": "field.invalid",
    "invalid_choice": "field.not_a_choice",
    "invalid_date": "field.not_a_date",
    "invalid_time": "field.not_a_time",
    "invalid_datetime": "field.not_a_datetime",
    "max_digits": "field.too_large",
    "max_decimal_places": "field.bad_format",
    "max_whole_digits": "field.too_large",
    "invalid_list": "field.not_a_list",
    "list": "field.not_a_list",
}
#: The top-level codes without a namespace that the error table documents.
BARE_CODES = frozenset({"validation_failed", "not_found"})


def field_code(code: str | None) -> str:
    """A field error's code as the API answers it: a stable code of ours (``field.…``, or an
    app's ``tickets.…``, ``id_number.…``) as it is; Django's bare ``invalid``, ``required``, … as
    the ``field.…`` code that means the same (``BARE_FIELD_CODES``; else ``field.invalid``)."""
    code = code or ""
    if "." in code:
        return code
    return BARE_FIELD_CODES.get(code, "field.invalid")


@api.exception_handler(ServiceError)
def service_error(request, exc: ServiceError):
    body = exc.as_dict()
    for item in body["fields"]:
        item["code"] = field_code(item["code"])
    if "." not in body["code"] and body["code"] not in BARE_CODES:
        body["code"] = "validation_failed"  # a rule's bare code ("required"): the table's name for it
    return api.create_response(request, {"error": body}, status=exc.status)


@api.exception_handler(NinjaValidationError)
def request_invalid(request, exc: NinjaValidationError):
    fields = [describe(err) for err in exc.errors]
    first = fields[0]["field"] if fields else None
    return _error(request, 422, "request.invalid", _("The request has invalid fields."), fields, first)


def _django_errors(field: str | None, errors) -> list[dict]:
    """One entry per message of Django ``ValidationError``s, each with its own code (``field_code``:
    a model's or a service's ``field.too_small`` as it is, Django's ``max_length`` as
    ``field.too_long``) — never Django's bare ``invalid``."""
    return [
        {"field": field, "code": field_code(error.code), "message": str(message)}
        for error in errors
        for message in error.messages
    ]


@api.exception_handler(DjangoValidationError)
def model_invalid(request, exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        fields = [
            item
            for name, errors in exc.error_dict.items()
            for item in _django_errors(None if name == NON_FIELD_ERRORS else name, errors)
        ]
    else:
        fields = _django_errors(None, exc.error_list)
    first = fields[0] if fields else {"field": None, "message": _("Invalid data.")}
    return _error(request, 400, "validation_failed", first["message"], fields, first["field"])


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc=None):
    response = _error(request, 401, "auth.required", _("Sign in or send a valid API token."))
    response["WWW-Authenticate"] = 'Bearer realm="zhiwang"'  # RFC 9110: a 401 names its scheme
    return response


@api.exception_handler(PermissionDenied)
def forbidden(request, exc):
    return _error(request, 403, "auth.forbidden", _("You are not allowed to do this."))


@api.exception_handler(Http404)
def not_found(request, exc):
    return _error(request, 404, "not_found", _("Not found, or outside your jurisdiction."))


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    """Errors Django Ninja raises itself (English texts of its own): ours, translated."""
    if isinstance(exc, Throttled):
        response = _error(request, 429, "request.throttled", _("Too many requests. Try again later."))
        if exc.wait:
            response["Retry-After"] = str(int(exc.wait))
        return response
    if exc.status_code == 400:
        return _error(request, 400, "request.unreadable", _("The request body could not be read: send JSON."))
    if exc.status_code == 403:
        if "csrf" in str(exc).lower():
            if not getattr(request.user, "is_authenticated", False):
                # no token and no session: what is missing is a credential, not a CSRF token
                return unauthenticated(request)
            return _error(
                request, 403, "auth.csrf", _("The CSRF check failed: reload the page, or use an API token.")
            )
        return forbidden(request, exc)
    return _error(request, exc.status_code, f"http.{exc.status_code}", _("The request could not be served."))


api.add_router("/accounts/", accounts_router)
api.add_router("/geo/", geo_router)
api.add_router("/registry/", registry_router)
api.add_router("/tickets/", tickets_router)
api.add_router("/notifications/", notifications_router)
api.add_router("/disputes/", disputes_router)
api.add_router("/analytics/", analytics_router)
