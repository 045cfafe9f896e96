"""Both formats on every endpoint: content types, the XML declaration, well-formed XML that says
what the JSON says (the spec's "Spark convention"), escaping, and errors in the spec's shape."""

import xml.etree.ElementTree as ET

import pytest

from zhiwang.tickets.models import Ticket

from .conftest import BASE, XML_DECLARATION, as_xml_text, from_xml, parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def resources(o311, rubbish):
    """(method, resource, data, expected status) for every endpoint and the main error cases."""
    number = o311.doc(o311.post(**rubbish))[0]["service_request_id"]
    return [
        ("GET", "discovery", {}, 200),
        ("GET", "services", {"group": "网格事件"}, 200),
        ("GET", "services/GI0101", {}, 200),
        ("GET", "requests", {}, 200),
        ("GET", f"requests/{number}", {}, 200),
        ("POST", "requests", {**rubbish, "external_id": "formats-1"}, 200),
        ("GET", "requests", {"status": "maybe"}, 400),
        ("POST", "requests", {**rubbish, "api_key": "o311_nope"}, 403),
        ("GET", "services/NOPE", {}, 404),
        ("GET", "tokens/abc", {}, 404),
        ("GET", "no-such-thing", {}, 404),
    ]


def fetch(o311, method, resource, data, fmt):
    if method == "POST":
        return o311.post(fmt, **data)
    return o311.get(resource, fmt, **data)


def test_xml_and_json_say_the_same_on_every_endpoint(o311, resources):
    for method, resource, data, status in resources:
        as_xml = fetch(o311, method, resource, data, "xml")
        as_json = fetch(o311, method, resource, data, "json")
        assert as_xml.status_code == as_json.status_code == status, resource
        assert as_xml["Content-Type"] == "text/xml; charset=utf-8"
        assert as_json["Content-Type"] == "application/json; charset=utf-8"
        assert as_xml.content.startswith(XML_DECLARATION + b"\n")
        xml_doc = from_xml(ET.fromstring(as_xml.content))  # well-formed, or this raises
        assert xml_doc == as_xml_text(as_json.json()), resource


@pytest.mark.parametrize(
    ("resource", "root", "item"),
    [
        ("services", "services", "service"),
        ("requests", "service_requests", "request"),
        ("tokens/x", "errors", "error"),
    ],
)
def test_xml_roots_and_list_items_are_the_spec_names(o311, rubbish, resource, root, item):
    o311.post(**rubbish)
    element = ET.fromstring(o311.get(resource, "xml").content)
    assert element.tag == root
    assert {child.tag for child in element} == {item}
    assert element.attrib == {}  # no namespace, no attributes


def test_json_lists_are_arrays_and_ids_are_strings(o311, rubbish):
    created = o311.doc(o311.post(**rubbish))
    assert isinstance(created, list) and isinstance(created[0]["service_request_id"], str)
    services = o311.doc(o311.get("services"))
    assert isinstance(services, list) and all(isinstance(s["service_code"], str) for s in services)
    errors = o311.get("tokens/x").json()
    assert isinstance(errors, list)


def test_text_is_escaped_and_control_characters_are_dropped(o311, rubbish):
    description = 'A <b>bold</b> & "quoted" 描述\x0b with a vertical tab]]>'
    number = o311.doc(o311.post(**{**rubbish, "description": description}))[0]["service_request_id"]
    stored = Ticket.objects.get(number=number).description
    response = o311.get(f"requests/{number}", "xml")
    [row] = parse(response, "xml")
    assert row["description"] == stored.replace("\x0b", "")
    assert b"<b>" not in response.content


def test_unknown_format_and_unknown_paths_are_404_in_the_spec_format(client):
    for path, fmt in (("services.html", "xml"), ("nothing.json", "json"), ("requests/a/b.xml", "xml")):
        response = client.get(f"{BASE}/{path}")
        assert response.status_code == 404
        body = parse(response, fmt)
        assert body[0]["code"] == "open311.not_found"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_method_that_is_not_allowed_is_405_in_the_spec_format(client, fmt):
    response = client.put(f"{BASE}/services.{fmt}")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert parse(response, fmt)[0]["code"] == "open311.method_not_allowed"
    assert client.delete(f"{BASE}/requests.{fmt}")["Allow"] == "GET, HEAD, POST"


def test_errors_speak_chinese_by_default_and_keep_their_codes(o311, rubbish, client):
    errors = o311.errors(o311.post(**{**rubbish, "api_key": "o311_nope"}), 403)
    assert errors[0]["code"] == "open311.api_key_invalid"
    assert errors[0]["description"] == "api_key: api_key 无效。"
    client.cookies["django_language"] = "en"
    errors = o311.errors(o311.post(**{**rubbish, "api_key": "o311_nope"}), 403)
    assert errors[0]["description"] == "api_key: The api_key is not valid."
