"""Tickets and categories as GeoReport v2 documents (plain dicts and lists, before XML or JSON).

Field order follows the spec's examples. ``None`` is an absent value (an empty element
in XML, ``null`` in JSON). What a GET answer says about a ticket is public: no reporter
name, phone or e-mail; phone, ID and bank card numbers, e-mail addresses and the like typed
into free text are masked; a room or unit address is given as its building, a typed one cut at it.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext as _

from zhiwang.core.masking import mask_text
from zhiwang.core.workcalendar.models import LimitUnit
from zhiwang.geo.addressing import COMPONENTS, clean, parse_address
from zhiwang.geo.addressing.text import CN_NUM
from zhiwang.open311.models import ServiceAttribute
from zhiwang.open311.selectors import PublicEvent, Service, is_public, publishes_text
from zhiwang.tickets.models import Ticket, TicketStatus
from zhiwang.tickets.workflow import TicketAction as A

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: When the shape of this API last changed (discovery ``changeset``); bump it with the endpoints.
API_CHANGESET = "2026-11-22T00:00:00+08:00"
FORMATS = ["text/xml", "application/json"]


def w3c(value: datetime | None) -> str | None:
    """ISO 8601 with the offset, in the city's time zone: ``2026-11-22T13:25:00+08:00``."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


# --- masking free text --------------------------------------------------------------
#
# ``mask_text`` (phones, ID and bank card numbers, e-mail addresses, WeChat ids and QQ numbers,
# self-given names, third persons' names after their role, licence plates) is the platform's
# shared masker, ``zhiwang.core.masking.mask_text``; it is imported here for the documents below.


# --- discovery and services ----------------------------------------------------------


def discovery_document(*, url: str, contact: str, key_service: str, endpoint_type: str) -> dict:
    return {
        "changeset": API_CHANGESET,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": API_CHANGESET,
                "type": endpoint_type,
                "formats": list(FORMATS),
            }
        ],
    }


def service_document(service: Service) -> dict:
    category = service.category
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description or service.path,
        "metadata": service.has_attributes,
        "type": "realtime",
        "keywords": category.keywords,
        "group": service.group,
    }


def definition_document(service: Service, attributes: list[ServiceAttribute]) -> dict:
    return {
        "service_code": service.category.code,
        "attributes": [
            {
                "variable": attribute.variable,
                "code": attribute.code,
                "datatype": attribute.datatype,
                "required": attribute.required,
                "datatype_description": attribute.datatype_description or None,
                "order": attribute.order,
                "description": attribute.description,
                "values": [
                    {"key": str(option.get("key")), "name": str(option.get("name"))}
                    for option in attribute.values or []
                    if isinstance(option, dict)
                ],
            }
            for attribute in attributes
        ],
    }


# --- service requests ------------------------------------------------------------------


def time_limit(amount: Decimal | None, unit: str) -> str:
    """A time limit in words, e.g. "4 working hours" (in the active language)."""
    if amount is None or not unit:
        return ""
    number = f"{amount.normalize():f}" if isinstance(amount, Decimal) else str(amount)
    label = LimitUnit(unit).label if unit in LimitUnit.values else unit
    return _("%(amount)s %(unit)s") % {"amount": number, "unit": str(label).lower()}


def service_notice(ticket: Ticket) -> str | None:
    limit = time_limit(ticket.deadline_amount, ticket.deadline_unit)
    if not limit:
        return None
    return _("The time limit for handling this request is %(limit)s.") % {"limit": limit}


#: Timeline actions a citizen may know about, and the sentence each one publishes. Staff notes
#: on these rows are never shown: they may name people or hold internal remarks. The approved
#: answer (``ticket.reply``) is shown once it has passed the dispatcher's review.
PUBLIC_ACTIONS = {
    A.RECEIVE: "received",
    A.DISPATCH: "dispatched",
    A.REASSIGN: "dispatched",
    A.APPROVE_RETURN: "rerouting",
    A.REOPEN: "reopened",
    A.ACCEPT: "accepted",
    A.APPROVE_EXTENSION: "extended",
    A.APPROVE_SUSPENSION: "suspended",
    A.RESUME: "resumed",
    A.REPLY: "reviewing",
    A.SEND_BACK: "reworking",
    A.VERIFY_FAIL: "reworking",
    A.SEND_TO_VERIFY: "verifying",
    A.APPROVE_REPLY: "answer",
    A.VERIFY_PASS: "answer",
    A.CLOSE: "answer",
    A.ANSWER_DIRECTLY: "answer",
    A.REJECT: "answer",
    A.MERGE: "merged",
}
PUBLIC_ACTION_VALUES = {str(a) for a in PUBLIC_ACTIONS}


def _phrase(kind: str, ticket: Ticket) -> str | None:
    phrases = {
        "received": _("Received; waiting to be sent to the unit that will handle it."),
        "dispatched": _("Sent to the handling unit."),
        "rerouting": _("Being sent to another unit that is responsible."),
        "reopened": _("Reopened for further handling."),
        "accepted": _("The handling unit has accepted the request and is working on it."),
        "extended": _("The time limit for handling was extended."),
        "suspended": _("Handling is suspended for now."),
        "resumed": _("Handling has resumed."),
        "reviewing": _("The handling unit has answered; the answer is being reviewed."),
        "reworking": _("The answer was not accepted; the handling unit is working on it again."),
        "verifying": _("The fix is being checked on site."),
    }
    if kind == "answer":
        if ticket.reply and publishes_text(ticket):
            return mask_text(ticket.reply)
        if ticket.status == TicketStatus.REJECTED:
            return _("The request was not accepted.")
        return _("The request has been answered.")
    if kind == "merged":
        master = ticket.merged_into if ticket.merged_into_id else None
        if master is None or not is_public(master):
            # a confidential master (a 举报 report, a petition, a matter about officials) is not
            # named: its number alone would tell that it exists
            return _("Handled together with another request.")
        return _("Handled together with request %(number)s.") % {"number": master.number}
    return phrases.get(kind)


def status_notes(ticket: Ticket, latest_action: str | None) -> str | None:
    """What the latest public timeline row says, as a sentence for the citizen."""
    if latest_action is None:
        return None
    return _phrase(PUBLIC_ACTIONS.get(latest_action, ""), ticket)


def open311_status(ticket: Ticket) -> str:
    """GeoReport v2 knows two states: our final ones (closed, rejected, merged) are ``closed``."""
    return "open" if ticket.is_open else "closed"


def _building(ticket: Ticket):
    """The building of the ticket's standard address (the address itself when it has no parent)."""
    building = ticket.address
    while building is not None and building.parent_id is not None and building.parent is not None:
        building = building.parent
    return building


#: The parts of a typed address below the building, which are never published: like a standard
#: address (published as its building) and the point (rounded to about 100 m), the text stops at
#: the building. Names of ``geo.addressing.COMPONENTS``.
BELOW_BUILDING = ("unit", "floor", "room")
_UP_TO_BUILDING = COMPONENTS[: COMPONENTS.index("building") + 1]
#: A lane, street or row of a village numbered in digits ("固戍村15巷3号301", "沙井新村3街5号"):
#: the parser's name patterns stop at a digit, so it read "15" as a room and the address was cut
#: at the village. Its digits are parsed as Chinese numerals ("一五巷", as "下沙新村二巷" is read),
#: one character for one, so that a position in the parsed text is one in the published text.
_NUMBERED_LANE = re.compile(r"\d+(?=横?[巷街坊排])", re.ASCII)
_AS_CHINESE_NUMERALS = str.maketrans("0123456789", "〇一二三四五六七八九")
#: A house number or a numbered lane in what would be cut off: the parser took a number before it
#: for the room ("南新路123弄5号301" has room "5号"), so the published part runs to its end and the
#: rest (the room after the house number: "301") is cut. A "号" ending the text or before 房/铺 is a
#: room's ("3栋1201号", "12号铺"), not a house number.
_PLACE_IN_CUT = re.compile(rf"[0-9{CN_NUM}]+(?:横?[巷街坊排弄]|号(?=[0-9]|[A-Za-z][0-9]|负|地下))")


def address_to_building(text: str) -> str:
    """A typed address cut before its unit, floor or room as the address parser finds them
    ("南山区琉璃坊花园3栋1201房" → "南山区琉璃坊花园3栋", "桃园路12号501" → "桃园路12号",
    "固戍村15巷3号301" → "固戍村15巷3号", "海岸城B1-01" → "海岸城"); the text as it was when it
    has none ("下沙新村二巷5号"). A cut address is the parser's clean form (no spaces, phone
    numbers or remarks in brackets), and what followed the room is dropped with it."""
    cleaned = clean(text)
    probe = _NUMBERED_LANE.sub(lambda m: m.group().translate(_AS_CHINESE_NUMERALS), cleaned)
    parsed = parse_address(probe, cleaned=True)
    below = [parsed.components[name] for name in BELOW_BUILDING if parsed.components.get(name)]
    if not below:
        return text
    kept_end = 0
    # components come in the text coarsest first: what is kept ends before the first part below it
    for name in _UP_TO_BUILDING:
        value = parsed.components.get(name)
        at = probe.find(value, kept_end) if value else -1
        if at >= 0:
            kept_end = at + len(value)
    cut = min((at for value in below if (at := probe.find(value, kept_end)) >= 0), default=kept_end)
    # a numbered lane or house number the parser took for a room ("15巷3号301": "15" read as a
    # room) is kept, but only where it runs on from the cut: a lane named after the room ("3栋1201房
    # 后面3巷") must not carry the room out with it
    place = _PLACE_IN_CUT.match(probe, cut)
    while place:
        cut = place.end()
        place = _PLACE_IN_CUT.match(probe, cut)
    return cleaned[:cut].rstrip("-_#/ ")


def public_address(ticket: Ticket) -> tuple[str | None, str | None]:
    """(address, address_id): a standard address is published as its building; an address typed
    as text is published, down to its building (``address_to_building``) and masked, where the
    channel's text is public; else the divisions are named."""
    building = _building(ticket)
    if building is not None:
        return building.full_name, building.code
    if ticket.address_text and publishes_text(ticket):
        typed = address_to_building(ticket.address_text)
        if typed:
            return mask_text(typed), None
    # written the Chinese way, like standard addresses: district → subdistrict → community
    names = [d.name for d in (ticket.district, ticket.subdistrict, ticket.community) if d is not None]
    return (" ".join(names) or None), None


#: Decimals of a published point that is not a building's: 3 decimals of a degree are about 100 m
#: (110 m of latitude, 100 m of longitude in Shenzhen), so a point never shows a doorstep.
PUBLIC_POINT_DECIMALS = 3


def public_point(ticket: Ticket) -> tuple[float | None, float | None]:
    """(lat, long) as published: the building's point for a standard address (the building is
    published anyway), else the ticket's point rounded to ``PUBLIC_POINT_DECIMALS`` decimals."""
    building = _building(ticket)
    if building is not None and building.lat is not None and building.lon is not None:
        return round(building.lat, 6), round(building.lon, 6)
    if ticket.lat is None or ticket.lon is None:
        return None, None
    return round(ticket.lat, PUBLIC_POINT_DECIMALS), round(ticket.lon, PUBLIC_POINT_DECIMALS)


def request_document(ticket: Ticket, latest: PublicEvent | None) -> dict:
    """One ``request`` of GET requests. ``latest`` is the ticket's latest public timeline row.

    ``updated_datetime`` is the close date for a closed request (as the spec says), else the
    time of the latest public change: internal activity (urges, notes) does not move it.
    """
    address, address_id = public_address(ticket)
    lat, lon = public_point(ticket)
    closed = not ticket.is_open
    if closed and ticket.closed_at:
        updated = ticket.closed_at
    else:
        updated = latest.at if latest is not None else ticket.received_at
    submission = _submission(ticket)
    return {
        "service_request_id": ticket.number,
        "status": open311_status(ticket),
        "status_notes": status_notes(ticket, latest.action if latest is not None else None),
        "service_name": ticket.category.name,
        "service_code": ticket.category.code,
        "description": mask_text(ticket.description) if publishes_text(ticket) else None,
        "agency_responsible": ticket.handling_unit.name if ticket.handling_unit_id else None,
        "service_notice": service_notice(ticket),
        "requested_datetime": w3c(ticket.received_at),
        "updated_datetime": w3c(updated),
        "expected_datetime": w3c(ticket.due_at),
        "address": address,
        "address_id": address_id,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": (submission.media_url or None) if submission is not None else None,
    }


def _submission(ticket: Ticket):
    """The ticket's Open311 submission, or None (a ticket from another channel has none)."""
    try:
        return ticket.open311
    except ObjectDoesNotExist:
        return None


def created_document(ticket: Ticket, *, account_id: str = "") -> list[dict]:
    """The answer to POST requests: our services are realtime, so the id comes at once (no token)."""
    return [
        {
            "service_request_id": ticket.number,
            "service_notice": service_notice(ticket),
            "account_id": account_id or None,
        }
    ]
