"""Open311 fixtures: a client key, points in the demo city, and a small GeoReport v2 client.

``Open311`` speaks to /open311/v2/ as a third-party client would: form-encoded POSTs, a
format suffix on every resource, and answers parsed from XML or JSON into the same
Python shape (the spec's "Spark convention"), so one assertion covers both formats.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.tickets.conftest import (  # noqa: F401  (fixtures reused as they are)
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
    nanshan_room,
)
from zhiwang.geo.models import Grid
from zhiwang.open311.render import LIST_ITEMS
from zhiwang.open311.services import open311_client_create
from zhiwang.tickets.models import Category, Ticket, TicketStatus

BASE = "/open311/v2"
JURISDICTION = "shenzhen.gov.cn"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'


def from_xml(element: ET.Element):
    """An XML answer as the JSON answer would be: list elements → lists, leaves → text."""
    if element.tag in LIST_ITEMS:
        return [from_xml(child) for child in element]
    if len(element):
        return {child.tag: from_xml(child) for child in element}
    return element.text or ""


def as_xml_text(value):
    """A JSON value as the XML answer writes it (null → "", true → "true", 22.5 → "22.5")."""
    if isinstance(value, list):
        return [as_xml_text(v) for v in value]
    if isinstance(value, dict):
        return {k: as_xml_text(v) for k, v in value.items()}
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse(response, fmt: str):
    """The answer's document; checks content type, declaration and well-formedness on the way."""
    if fmt == "xml":
        assert response["Content-Type"] == "text/xml; charset=utf-8"
        assert response.content.startswith(XML_DECLARATION)
        return from_xml(ET.fromstring(response.content))
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


class Open311:
    def __init__(self, client):
        self.client = client

    def get(self, resource: str, fmt: str = "json", **params):
        return self.client.get(f"{BASE}/{resource}.{fmt}", params)

    def post(self, fmt: str = "json", headers: dict | None = None, **data):
        return self.client.generic(
            "POST",
            f"{BASE}/requests.{fmt}",
            _urlencode(data),
            content_type="application/x-www-form-urlencoded; charset=utf-8",
            headers=headers or {},
        )

    def doc(self, response, fmt: str = "json"):
        return parse(response, fmt)

    def errors(self, response, status: int, fmt: str = "json") -> list[dict]:
        assert response.status_code == status, response.content.decode()
        body = parse(response, fmt)
        assert isinstance(body, list) and body
        assert all(set(e) == {"code", "description"} and e["code"] and e["description"] for e in body)
        return body


def _urlencode(data: dict) -> str:
    from urllib.parse import urlencode

    pairs = []
    for key, value in data.items():
        if isinstance(value, list | tuple):
            pairs.extend((key, v) for v in value)
        else:
            pairs.append((key, value))
    return urlencode(pairs)


@pytest.fixture(autouse=True)
def _open_reads():
    """Every test starts with the test client's address uncounted: the anonymous read limit
    (``ZHIWANG_OPEN311_READS_PER_MINUTE``) counts in the cache, which outlives a test."""
    from zhiwang.core import throttle

    throttle.count_clear("open311-read", "127.0.0.1")


@pytest.fixture
def o311(client):
    return Open311(client)


@pytest.fixture
def issued(db):
    return open311_client_create(name="GeoReporter 测试", contact="dev@example.org")


@pytest.fixture
def api_key(issued) -> str:
    return issued.key


@pytest.fixture
def grid(db) -> Grid:
    """A Nanshan grid; its centroid is a point inside it."""
    return Grid.objects.filter(code__startswith="440305").order_by("code").first()


@pytest.fixture
def rubbish(api_key, grid) -> dict:
    """A complete, valid POST for 暴露垃圾 (GI0101) at the grid's centroid."""
    return {
        "api_key": api_key,
        "jurisdiction_id": JURISDICTION,
        "service_code": "GI0101",
        "lat": f"{grid.lat:.6f}",
        "long": f"{grid.lon:.6f}",
        "attribute[amount]": "medium",
        "attribute[waste_type][]": ["household", "bulky"],
        "description": "路边有一堆垃圾，好几天没人清运。",
        "first_name": "三",
        "last_name": "张",
        "phone": "13812345678",
        "email": "zhangsan@example.org",
        "device_id": "device-42",
        "account_id": "acct-7",
        "media_url": "https://img.example.org/rubbish.jpg",
    }


_numbers = itertools.count(1)


def make_tickets(count: int, *, received_at=None, category_code: str = "GI0102", **fields) -> list[Ticket]:
    """Tickets written straight to the table (no pipeline): fast volume for reads and paging."""
    category = Category.objects.get(code=category_code)
    kind = fields.pop("kind", "complaint")
    channel = fields.pop("channel", "web")
    status = fields.pop("status", TicketStatus.PENDING_DISPATCH)
    received_at = received_at or timezone.now() - timedelta(hours=1)
    tickets = []
    for _ in range(count):
        n = next(_numbers)
        tickets.append(
            Ticket(
                number=f"ZT{n:014d}",
                kind=kind,
                category=category,
                channel=channel,
                idempotency_key=f"test:{n}",
                title="测试工单",
                description="测试用的工单描述",
                status=status,
                received_at=received_at,
                deadline_amount=Decimal(4),
                deadline_unit="working_hours",
                **fields,
            )
        )
    return Ticket.objects.bulk_create(tickets)
