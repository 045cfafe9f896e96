"""GeoReport v2 documents as XML or JSON responses, and the spec's error format.

XML is built with ``xml.etree`` (which escapes text) under the declaration the spec asks
for; characters XML 1.0 cannot carry (most control characters) are dropped, so the
answer is well-formed whatever a citizen typed. JSON follows the "Spark convention" the
spec uses: a list element (``<services><service>…``) becomes an array of objects.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from django.http import HttpResponse

from zhiwang.core.errors import ServiceError

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}

#: The element name of one item in each list element.
LIST_ITEMS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _element(tag: str, value) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, list):
        item_tag = LIST_ITEMS[tag]
        element.extend(_element(item_tag, item) for item in value)
    elif isinstance(value, dict):
        element.extend(_element(key, item) for key, item in value.items())
    else:
        element.text = _text(value)
    return element


def to_xml(root: str, document) -> bytes:
    body = ET.tostring(_element(root, document), encoding="unicode", short_empty_elements=True)
    return (XML_DECLARATION + body).encode("utf-8")


def to_json(document) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def respond(fmt: str, root: str, document, *, status: int = 200) -> HttpResponse:
    """``document`` under ``root`` in XML, or the document itself in JSON."""
    content = to_xml(root, document) if fmt == "xml" else to_json(document)
    return HttpResponse(content, status=status, content_type=CONTENT_TYPES[fmt])


@dataclass(frozen=True)
class Problem:
    code: str
    description: str


def error_response(fmt: str, status: int, problems: list[Problem]) -> HttpResponse:
    """``errors`` → ``error`` → ``code``, ``description``: several problems may be reported at once."""
    document = [{"code": p.code, "description": p.description} for p in problems]
    return respond(fmt, "errors", document, status=status)


def problems_of(exc: ServiceError) -> list[Problem]:
    """One problem per field error (description prefixed with the parameter), else the error itself."""
    if exc.fields:
        return [Problem(f.code, f"{f.field}: {f.message}" if f.field else f.message) for f in exc.fields]
    return [Problem(exc.code, exc.message)]
