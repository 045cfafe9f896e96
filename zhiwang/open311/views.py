"""Open311 GeoReport v2 endpoints (plain Django views: the answers are XML or JSON by suffix).

Each view parses, calls a selector or a service, and renders. Errors come back in the
spec's ``errors`` format with HTTP 404 (no such resource), 403 (api_key) or 400 (anything
else); their ``code`` is one of our stable codes (``open311.…``, ``tickets.…``, ``geo.…``).
"""

from __future__ import annotations

import logging
from functools import wraps

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render as render_page
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from zhiwang.core import throttle
from zhiwang.core.client_address import client_address, rate_limit_key
from zhiwang.core.errors import ErrorList, NotFound, ServiceError
from zhiwang.open311 import documents, params, selectors, services
from zhiwang.open311.render import Problem, error_response, problems_of, respond

DEFAULT_JURISDICTION = "shenzhen.gov.cn"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: The Open311 parameter each URL part stands for, to name it in an error.
PATH_PARAMETERS = {"code": "service_code", "number": "service_request_id", "token_id": "token_id"}
#: What Django raises reading a body or query it cannot parse (else answered as its HTML 400 page).
HOUR = 3600
MINUTE = 60
UNREADABLE = (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent, RequestDataTooBig, BadRequest)
#: Reads of service requests a client address may make a minute without an api_key
#: (``ZHIWANG_OPEN311_READS_PER_MINUTE``; 0: no limit).
DEFAULT_READS_PER_MINUTE = 60
#: Reads of service requests one Open311 client may make a minute with its api_key, from however
#: many addresses (``ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE``; 0: no limit). Ten times the
#: anonymous allowance, at pages ten times as large: a leaked or runaway key is bounded too.
DEFAULT_KEYED_READS_PER_MINUTE = 600
#: How long a client may reuse an answer of GET requests (seconds): a map or a status page that
#: polls is served from its own cache in between. ``private``: the texts are in the caller's
#: language (cookie, Accept-Language), which a shared cache would not tell apart.
READ_MAX_AGE = 60
#: The same for the service list and definitions (seconds): they change when the catalogue is
#: edited, rarely; a client that loads them for every form is served from its own cache.
SERVICES_MAX_AGE = 600


class RateLimited(Exception):
    """A caller over a limit: answered 429 with ``Retry-After`` in the spec's error format."""

    def __init__(self, wait: int, message: str):
        super().__init__(message)
        self.wait, self.message = wait, message


def jurisdiction() -> str:
    return getattr(settings, "ZHIWANG_OPEN311_JURISDICTION", DEFAULT_JURISDICTION)


def _same_jurisdiction(given: str) -> bool:
    """A jurisdiction_id is "typically the domain name of the city" (GeoReport v2), and domain
    names are case-insensitive: ``Shenzhen.gov.cn`` is ours too."""
    return given.casefold() == jurisdiction().casefold()


def _param(request, name: str) -> str:
    source = request.POST if request.method == "POST" else request.GET
    return (source.get(name) or request.GET.get(name) or "").strip()


def _check_characters(request, kwargs: dict) -> None:
    """Refuse the NUL character (U+0000) in any parameter, name or URL part: PostgreSQL cannot
    store or compare it in text (DataError, a 500), and it is never meant."""
    errors = ErrorList()
    message = _("The NUL character (U+0000) is not allowed.")
    for name, part in kwargs.items():
        if "\x00" in part:
            errors.add(PATH_PARAMETERS.get(name, name), "open311.invalid_character", message)
    sources = [request.GET] + ([request.POST] if request.method == "POST" else [])
    for source in sources:
        for name, values in source.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                errors.add(name.replace("\x00", "\\x00"), "open311.invalid_character", message)
    if "\x00" in request.headers.get("Idempotency-Key", ""):
        errors.add("Idempotency-Key", "open311.invalid_character", message)
    errors.raise_if_any("open311.invalid_character", message)


def _unreadable(request, fmt: str, exc: Exception) -> HttpResponse:
    """A body or query Django could not parse, in the spec's error format instead of an HTML page."""
    if isinstance(exc, SuspiciousOperation):
        # logged like Django logs it when it answers the 400 itself
        logging.getLogger(f"django.security.{exc.__class__.__name__}").error(
            str(exc), exc_info=exc, extra={"status_code": 400, "request": request}
        )
    if isinstance(exc, RequestDataTooBig):
        problem = Problem(
            "open311.too_large",
            _("The request is too large: at most %(max)s bytes besides files.")
            % {"max": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
        )
    elif isinstance(exc, TooManyFieldsSent):
        problem = Problem(
            "open311.bad_request",
            _("The request has too many parameters: at most %(max)s.")
            % {"max": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS},
        )
    elif isinstance(exc, TooManyFilesSent):
        problem = Problem(
            "open311.bad_request",
            _("The request has too many files: at most %(max)s.")
            % {"max": settings.DATA_UPLOAD_MAX_NUMBER_FILES},
        )
    else:
        problem = Problem(
            "open311.bad_request",
            _(
                "The request body cannot be read. Post it as application/x-www-form-urlencoded; charset=utf-8."
            ),
        )
    return error_response(fmt, 400, [problem])


def endpoint(*methods: str):
    """Method check, ``jurisdiction_id`` check and ``ServiceError`` → Open311 errors, for one view.

    Also answers, in the spec's format, what Django would answer with its HTML 400 page (a body
    it cannot parse, too many fields, too large) and any NUL character in the request.
    """
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, fmt: str, **kwargs):
            if request.method not in allowed:
                response = error_response(
                    fmt,
                    405,
                    [
                        Problem(
                            "open311.method_not_allowed",
                            _("Use %(methods)s here.") % {"methods": " or ".join(sorted(methods))},
                        )
                    ],
                )
                response["Allow"] = ", ".join(sorted(allowed))
                return response
            try:
                _check_characters(request, kwargs)
                given = _param(request, "jurisdiction_id")
                if given and not _same_jurisdiction(given):
                    raise NotFound(
                        "open311.jurisdiction_not_found",
                        _("This endpoint serves the jurisdiction %(ours)s, not %(given)s.")
                        % {"ours": jurisdiction(), "given": given},
                    )
                return view(request, fmt, **kwargs)
            except ServiceError as exc:
                return error_response(fmt, exc.status, problems_of(exc))
            except RateLimited as exc:
                response = error_response(fmt, 429, [Problem("open311.rate_limited", exc.message)])
                response["Retry-After"] = str(exc.wait)
                return response
            except UNREADABLE as exc:
                return _unreadable(request, fmt, exc)

        # zhiwang.web.middleware.RejectNulBytesMiddleware leaves the NUL check to us (our format)
        wrapper.handles_nul_bytes = True
        return wrapper

    return decorate


def index(request):
    """The HTML page at the endpoint root that Service Discovery recommends."""
    return render_page(request, "open311/index.html", _discovery_context(request))


def _base_url(request) -> str:
    return request.build_absolute_uri(reverse("open311:index")).rstrip("/")


def _discovery_context(request) -> dict:
    return {
        "base_url": _base_url(request),
        "jurisdiction": jurisdiction(),
        "contact": getattr(settings, "ZHIWANG_OPEN311_CONTACT", "") or _("The city's 12345 hotline"),
        "key_service": getattr(settings, "ZHIWANG_OPEN311_KEY_SERVICE", "")
        or _(
            "Ask the platform's administrator for an API key: they issue one per client application "
            "(admin page “Open311 clients”, or the command zhiwang open311-key create NAME)."
        ),
        "endpoint_type": getattr(settings, "ZHIWANG_OPEN311_ENDPOINT_TYPE", "production"),
    }


@endpoint("GET")
def discovery(request, fmt):
    context = _discovery_context(request)
    document = documents.discovery_document(
        url=context["base_url"],
        contact=str(context["contact"]),
        key_service=str(context["key_service"]),
        endpoint_type=context["endpoint_type"],
    )
    return respond(fmt, "discovery", document)


@endpoint("GET")
def service_list(request, fmt):
    services = selectors.service_list(group=params.value(request.GET, "group"))
    response = respond(fmt, "services", [documents.service_document(s) for s in services])
    return _cacheable(response, max_age=SERVICES_MAX_AGE)


@endpoint("GET")
def service_definition(request, fmt, code):
    service = selectors.service_get(code)
    if service is None:
        raise NotFound("open311.service_not_found", _("There is no service %(code)s.") % {"code": code})
    attributes = selectors.service_attributes(service.category)
    response = respond(fmt, "service_definition", documents.definition_document(service, attributes))
    return _cacheable(response, max_age=SERVICES_MAX_AGE)


def _reader_page_limit(request) -> int:
    """The largest page this reader of service requests may ask for, after counting the read.

    Reads need no key (GeoReport v2). A client that sends its ``api_key`` anyway is known: a key
    that is not valid is refused as on POST (403), a valid one reads pages of up to 1,000 and is
    counted per client (``ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE``), not by address: a key used
    from many addresses is still one client. Anybody else is counted by client address
    (``core.client_address.rate_limit_key``: an IPv6 client by its /64) and gets pages of
    ``params.ANONYMOUS_PAGE_SIZE`` (``ZHIWANG_OPEN311_READS_PER_MINUTE``). Past either limit a
    read is refused (``RateLimited``) before any query of service requests: for the price of a
    cache read, plus the key's look-up for a keyed client.
    """
    key = _param(request, "api_key")
    if key:
        client = services.open311_client_authenticate(key=key)
        limit = getattr(settings, "ZHIWANG_OPEN311_KEYED_READS_PER_MINUTE", DEFAULT_KEYED_READS_PER_MINUTE)
        _count_read(
            "open311-client-read",
            str(client.pk),
            limit,
            _("This api_key read service requests more often than it may. Try again in %(seconds)s seconds."),
        )
        return params.MAX_PAGE_SIZE
    limit = getattr(settings, "ZHIWANG_OPEN311_READS_PER_MINUTE", DEFAULT_READS_PER_MINUTE)
    _count_read(
        "open311-read",
        rate_limit_key(client_address(request)),
        limit,
        _(
            "This address read service requests more often than it may without an api_key. "
            "Try again in %(seconds)s seconds."
        ),
    )
    return params.ANONYMOUS_PAGE_SIZE


def _count_read(kind: str, value: str, limit: int, message: str) -> None:
    """Count one read of ``value`` (a client address, a client's id) in its minute; past ``limit``
    (0: no limit) take it back and raise ``RateLimited`` with ``message`` (``%(seconds)s``: the
    wait)."""
    if not limit:
        return
    if throttle.count_add(kind, value, MINUTE) > limit:
        throttle.count_take_back(kind, value)  # a refused read is not counted
        wait = throttle.window_left(kind, value, MINUTE)
        raise RateLimited(wait, message % {"seconds": wait})


def _cacheable(response: HttpResponse, *, max_age: int = READ_MAX_AGE) -> HttpResponse:
    patch_cache_control(response, private=True, max_age=max_age)
    return response


@endpoint("GET", "POST")
def requests(request, fmt):
    if request.method == "POST":
        return _create(request, fmt)
    query = params.parse_request_query(request.GET, page_limit=_reader_page_limit(request))
    if query.numbers:
        tickets = selectors.request_list_by_numbers(query.numbers)
        more = False
    else:
        tickets = selectors.request_list(
            start=query.start,
            end=query.end,
            service_codes=query.service_codes,
            statuses=query.statuses,
            offset=(query.page - 1) * query.page_size,
            limit=query.page_size + 1,
            after=query.after,
        )
        more = len(tickets) > query.page_size
        tickets = tickets[: query.page_size]
    response = _request_documents(fmt, tickets)
    if more:
        response["Link"] = f'<{_next_url(request, query, tickets[-1])}>; rel="next"'
    return _cacheable(response)


def _next_url(request, query: params.RequestQuery, last) -> str:
    """The next page: the same query with its window pinned (the resolved ``start_date`` and
    ``end_date``, so a default "last 90 days" does not move on with the clock) and ``after`` the
    last request of this page (so a request that arrives, changes state or leaves the filter
    meanwhile neither repeats nor skips one)."""
    following = request.GET.copy()
    following.pop("page", None)  # ``after`` says where the next page starts
    following["start_date"] = params.w3c_utc(query.start)
    following["end_date"] = params.w3c_utc(query.end)
    following["after"] = params.next_cursor(last.received_at, last.number)
    following["page_size"] = str(query.page_size)
    return request.build_absolute_uri(request.path) + "?" + following.urlencode()


@endpoint("GET")
def request_detail(request, fmt, number):
    _reader_page_limit(request)  # counted, and refused past the limit, like a list
    ticket = selectors.request_get(number)
    if ticket is None:
        raise NotFound("open311.request_not_found", _("There is no service request %(id)s.") % {"id": number})
    return _cacheable(_request_documents(fmt, [ticket]))


def _request_documents(fmt: str, tickets) -> HttpResponse:
    latest = selectors.latest_public_events(tickets, documents.PUBLIC_ACTION_VALUES)
    rows = [documents.request_document(t, latest.get(t.pk)) for t in tickets]
    return respond(fmt, "service_requests", rows)


def _create(request, fmt):
    content_type = request.content_type or ""
    if content_type not in FORM_TYPES:
        raise ServiceError(
            "open311.content_type",
            _("Post the request as application/x-www-form-urlencoded; charset=utf-8."),
        )
    data = request.POST
    client = services.open311_client_authenticate(key=_param(request, "api_key"))
    wait = _client_over_limit(client)
    if wait:
        response = error_response(
            fmt,
            429,
            [
                Problem(
                    "open311.rate_limited",
                    _(
                        "This api_key sent more requests than it may this hour. Try again in %(minutes)s minutes."
                    )
                    % {"minutes": max(1, -(-wait // 60))},
                )
            ],
        )
        response["Retry-After"] = str(wait)
        return response
    header_id = (request.headers.get("Idempotency-Key") or "").strip()
    form_id = params.value(data, "external_id")
    if header_id and form_id and header_id != form_id:
        raise ServiceError(
            "open311.external_id_mismatch",
            _("The Idempotency-Key header and the external_id parameter differ."),
            field="external_id",
        )
    submitted = services.open311_request_submit(
        client=client,
        client_request_id=header_id or form_id,
        service_code=params.value(data, "service_code"),
        lat=params.value(data, "lat"),
        long=params.value(data, "long"),
        address_string=params.value(data, "address_string"),
        address_id=params.value(data, "address_id"),
        attributes=params.attribute_values(data),
        description=params.value(data, "description"),
        email=params.value(data, "email"),
        device_id=params.value(data, "device_id"),
        account_id=params.value(data, "account_id"),
        first_name=params.value(data, "first_name"),
        last_name=params.value(data, "last_name"),
        phone=params.value(data, "phone"),
        media_url=params.value(data, "media_url"),
        kind=params.value(data, "kind"),
    )
    document = documents.created_document(submitted.ticket, account_id=submitted.submission.account_id)
    response = respond(fmt, "service_requests", document)
    if not submitted.created:
        response["Idempotent-Replayed"] = "true"
    return response


def _client_over_limit(client) -> int:
    """Seconds until ``client`` may post again, 0 while under ``ZHIWANG_OPEN311_REQUESTS_PER_HOUR``
    (0: no limit). Every POST with a valid key counts, retries included: a runaway integration (a
    retry loop, a stuck queue) is stopped at the door instead of filling the dispatch queue."""
    limit = getattr(settings, "ZHIWANG_OPEN311_REQUESTS_PER_HOUR", 2000)
    if not limit:
        return 0
    if throttle.count_add("open311-client", str(client.pk), HOUR) <= limit:
        return 0
    throttle.count_take_back("open311-client", str(client.pk))  # a refused post is not counted
    return throttle.window_left("open311-client", str(client.pk), HOUR)


@endpoint("GET")
def token(request, fmt, token_id):
    """Tokens exist only for ``batch`` services; ours are all ``realtime``, so no token is ever issued."""
    raise NotFound(
        "open311.token_not_found",
        _(
            "There is no token %(token)s: every service here is realtime, so POST requests answers "
            "with the service_request_id and never with a token."
        )
        % {"token": token_id},
    )


def not_found(request, rest: str = ""):
    """Anything else under /open311/v2/: a 404 in the spec's format (JSON when asked for .json,
    also with a trailing slash: ``requests.json/``)."""
    fmt = "json" if rest.rstrip("/").lower().endswith(".json") else "xml"
    return error_response(
        fmt,
        404,
        [
            Problem(
                "open311.not_found",
                _("There is no such resource. Resources end in .xml or .json; see discovery.xml."),
            )
        ],
    )


# reads nothing, so a NUL in the path is harmless: the 404 stays in the spec's format
not_found.handles_nul_bytes = True
