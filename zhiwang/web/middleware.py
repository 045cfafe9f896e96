"""Project middleware.

Chinese first: the interface speaks zh-hans unless the user chose another language.
Django's LocaleMiddleware follows the browser's Accept-Language, which would show
English to a Chinese civil servant on an English-language browser. Here only an
explicit choice (the language cookie set by the switcher) changes the language.
An API client (``/api/``) has no switcher: its explicit ``Accept-Language`` is its choice, so
there a supported language named in that header is honoured (the cookie still wins), and the
answer says ``Vary: Accept-Language``.

No NUL characters: ``RejectNulBytesMiddleware`` answers 400 before PostgreSQL would fail on one.
"""

import re

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

#: Requests under this path are the REST API's (``zhiwang.api``).
API_PREFIX = "/api/"


class ChineseFirstLocaleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        api = request.path.startswith(API_PREFIX)
        if chosen in self.supported:
            language = chosen
        else:
            language = (api and self.accepted(request)) or settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        if api:
            patch_vary_headers(response, ("Accept-Language",))
        translation.deactivate()
        return response

    def accepted(self, request) -> str | None:
        """The first supported language of the request's ``Accept-Language`` (``zh-CN`` → zh-hans), if any."""
        for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
            if code == "*":
                break  # "anything": the default
            try:
                language = translation.get_supported_language_variant(code)
            except LookupError:
                continue
            if language.lower() in self.supported:
                return language.lower()
        return None


#: Form fields Django could not parse; the view meets the same error when it reads them.
_UNREADABLE = (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent, RequestDataTooBig, BadRequest)
JSON_TYPES = ("application/json", "text/json")
#: ``\u0000`` as a JSON escape (not ``\\u0000``, an escaped backslash followed by "u0000").
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class RejectNulBytesMiddleware:
    """A 400 for any request carrying the NUL character (U+0000).

    PostgreSQL can neither store nor compare NUL in text, so one in a URL part, a query
    parameter, a form field or a JSON body would end as a DataError (a 500) wherever it reaches
    a query. Checked: the path and the view's URL arguments, the query string, the fields of a
    form (urlencoded or multipart: not the uploaded files' contents), the raw bytes of a JSON
    body (a NUL byte, or the escape ``\\u0000``). Other bodies pass (binary uploads hold NULs).

    The check runs in ``process_view``, before any view reads the request. A view that answers
    NULs itself, in its own error format, sets ``handles_nul_bytes = True`` and is left alone
    (the Open311 endpoints). Answers ``{"error": {"code": "request.invalid_character", ...}}``
    under /api/, a plain-text 400 elsewhere. Place it after ChineseFirstLocaleMiddleware (the
    message is translated) and before CsrfViewMiddleware (which reads form fields).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "handles_nul_bytes", False):
            return None
        found, field = _nul_byte(request, view_args, view_kwargs)
        if not found:
            return None
        message = _("The NUL character (U+0000) is not allowed.")
        if request.path_info.startswith("/api/"):
            error = {"code": "request.invalid_character", "message": message, "field": field}
            return JsonResponse({"error": error}, status=400, json_dumps_params={"ensure_ascii": False})
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _nul_byte(request, view_args, view_kwargs) -> tuple[bool, str | None]:
    """Whether the request carries a NUL character, and in which field when that is known."""
    for name, value in view_kwargs.items():
        if "\x00" in str(value):
            return True, name
    if "\x00" in request.path_info or any("\x00" in str(value) for value in view_args):
        return True, None
    # the raw bytes first (exact: a NUL is "%00" or itself); parsed only to name the field
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:
        return True, _field_with_nul(request, "GET")
    content_type = request.content_type or ""
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        body = _body(request)
        return bool(b"\x00" in body or _JSON_NUL.search(body)), None
    if content_type == "application/x-www-form-urlencoded":
        body = _body(request)
        if b"%00" in body or b"\x00" in body:
            return True, _field_with_nul(request, "POST") if request.method == "POST" else None
        return False, None
    if content_type == "multipart/form-data" and request.method == "POST":
        try:
            fields, files = request.POST, request.FILES
        except _UNREADABLE as exc:
            _defer_parse_error(request, exc)
            return False, None
        if (field := _nul_in(fields)) is not None:
            return True, field
        for name, uploads in files.lists():  # the names only: the files' contents are not read
            if "\x00" in name or any("\x00" in (upload.name or "") for upload in uploads):
                return True, _shown(name)
    return False, None


def _body(request) -> bytes:
    """The raw body, or b"" when it is too large to read (the view meets that error itself)."""
    try:
        return request.body
    except RequestDataTooBig:
        return b""


def _field_with_nul(request, source: str) -> str | None:
    try:
        return _nul_in(getattr(request, source))
    except _UNREADABLE:
        return None


def _nul_in(params) -> str | None:
    """The first parameter whose name or a value holds NUL, else None."""
    for name, values in params.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return _shown(name)
    return None


def _shown(name: str) -> str:
    return name.replace("\x00", "\\x00")


def _defer_parse_error(request, exc: Exception) -> None:
    """Let the view meet ``exc`` when it reads the form, as if this middleware had not read it.

    Django marks a request whose body it failed to parse, and every later read gives an empty
    form: without this, the view would see an empty POST instead of the error (and answer, say,
    "api_key missing" instead of "malformed request"). The next read raises; later reads see
    the empty form, as Django has it.
    """
    request.__dict__.pop("_post", None)
    request.__dict__.pop("_files", None)

    def load_fails():
        del request._load_post_and_files
        request._mark_post_parse_error()
        raise exc

    request._load_post_and_files = load_fails
