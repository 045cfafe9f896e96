"""POST requests (GeoReport v2 §"POST Service Request"): form-encoded, api_key, one location,
attributes checked against the service definition; errors 403 / 404 / 400 in the spec's format."""

import hashlib

import pytest

from zhiwang.geo.models import StandardAddress
from zhiwang.open311.models import Open311Submission, ServiceAttribute
from zhiwang.open311.services import open311_client_create, open311_client_revoke
from zhiwang.tickets.models import Category, Ticket

pytestmark = pytest.mark.django_db


def codes(errors):
    return [e["code"] for e in errors]


# --- the happy path --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_valid_post_makes_an_open311_ticket(o311, rubbish, issued, fmt):
    # when a client posts a complete request
    response = o311.post(fmt, **rubbish)
    # then the answer is service_requests/request with the ticket number and a notice
    assert response.status_code == 200, response.content.decode()
    [created] = o311.doc(response, fmt)
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    assert created["account_id"] == "acct-7"
    assert created["service_notice"]
    # and the ticket went through the one submit pipeline, from the open311 channel
    ticket = Ticket.objects.get(number=created["service_request_id"])
    assert ticket.channel == "open311"
    assert ticket.category.code == "GI0101"
    assert ticket.kind == "complaint"
    assert ticket.reporter_name == "张三"
    assert ticket.reporter_phone == "13812345678"
    assert ticket.grid_id is not None
    # with the answers appended for the handler, and the Open311 side kept beside it
    assert "一堆（需要手推车）" in ticket.description
    submission = Open311Submission.objects.get(ticket=ticket)
    assert submission.client == issued.client
    assert submission.attributes == {"amount": "medium", "waste_type": ["household", "bulky"]}
    assert (submission.email, submission.device_id, submission.media_url) == (
        "zhangsan@example.org",
        "device-42",
        "https://img.example.org/rubbish.jpg",
    )
    issued.client.refresh_from_db()
    assert issued.client.last_used_at is not None


def test_an_address_id_is_a_standard_address_code(o311, rubbish):
    address = StandardAddress.objects.filter(community__code__startswith="440305").order_by("code").first()
    del rubbish["lat"], rubbish["long"]
    response = o311.post(address_id=address.code, **rubbish)
    [created] = o311.doc(response)
    ticket = Ticket.objects.get(number=created["service_request_id"])
    assert ticket.address == address
    assert ticket.grid_id == address.grid_id


def test_an_address_string_alone_is_located_from_the_text(o311, rubbish):
    address = StandardAddress.objects.filter(level="building").order_by("code").first()
    del rubbish["lat"], rubbish["long"]
    [created] = o311.doc(o311.post(address_string=address.full_name, **rubbish))
    ticket = Ticket.objects.get(number=created["service_request_id"])
    assert ticket.address_text == address.full_name
    assert ticket.district_id is not None


def test_optional_fields_may_be_absent_or_empty(o311, api_key, grid):
    # "Optional" means an empty parameter is treated like an absent one
    response = o311.post(
        api_key=api_key,
        service_code="GI0102",
        lat=str(grid.lat),
        long=str(grid.lon),
        description="",
        email="",
        phone="",
        jurisdiction_id="",
    )
    [created] = o311.doc(response)
    ticket = Ticket.objects.get(number=created["service_request_id"])
    assert ticket.description.startswith("道路不洁")
    assert created["account_id"] is None


def test_the_kind_extension_chooses_among_the_kinds_of_the_category(o311, rubbish):
    # GI0104 (占道经营) is used for incidents, complaints and reports
    rubbish.update({"service_code": "GI0104", "kind": "report"})
    for key in ("attribute[amount]", "attribute[waste_type][]"):
        del rubbish[key]
    [created] = o311.doc(o311.post(**rubbish))
    assert Ticket.objects.get(number=created["service_request_id"]).kind == "report"
    errors = o311.errors(o311.post(**{**rubbish, "kind": "praise"}), 400)
    assert codes(errors) == ["open311.kind_invalid"]


def test_unknown_attribute_codes_are_ignored(o311, rubbish):
    # clients such as FixMyStreet add their own attributes
    response = o311.post(**{**rubbish, "attribute[fixmystreet_id]": "1234"})
    [created] = o311.doc(response)
    submission = Open311Submission.objects.get(ticket__number=created["service_request_id"])
    assert "fixmystreet_id" not in submission.attributes


# --- idempotency ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["form", "header"])
def test_a_retry_with_the_same_request_id_returns_the_same_ticket(o311, rubbish, how):
    given = {"external_id": "req-001"} if how == "form" else {}
    headers = {"Idempotency-Key": "req-001"} if how == "header" else {}
    first = o311.post(headers=headers, **rubbish, **given)
    again = o311.post(headers=headers, **rubbish, **given)
    assert first.status_code == again.status_code == 200
    assert o311.doc(first) == o311.doc(again)
    assert "Idempotent-Replayed" not in first
    assert again["Idempotent-Replayed"] == "true"
    assert Ticket.objects.filter(channel="open311").count() == 1


def test_a_request_id_reused_for_other_content_is_refused(o311, rubbish):
    o311.post(external_id="req-002", **rubbish)
    errors = o311.errors(
        o311.post(external_id="req-002", **{**rubbish, "description": "另一件事情的描述"}), 400
    )
    assert codes(errors) == ["open311.idempotency_key_reused"]
    assert Ticket.objects.filter(channel="open311").count() == 1


def test_request_ids_belong_to_one_client(o311, rubbish):
    other = open311_client_create(name="Other app").key
    first = o311.doc(o311.post(external_id="1", **rubbish))
    second = o311.doc(o311.post(external_id="1", **{**rubbish, "api_key": other}))
    assert first[0]["service_request_id"] != second[0]["service_request_id"]


def test_header_and_form_request_ids_must_agree(o311, rubbish):
    response = o311.post(headers={"Idempotency-Key": "a"}, external_id="b", **rubbish)
    assert codes(o311.errors(response, 400)) == ["open311.external_id_mismatch"]


# --- api_key: 403 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "open311.api_key_missing"),
        ("", "open311.api_key_missing"),
        ("o311_wrong", "open311.api_key_invalid"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_missing_or_invalid_key_is_403_and_writes_nothing(o311, rubbish, key, code, fmt):
    data = {k: v for k, v in rubbish.items() if k != "api_key"}
    if key is not None:
        data["api_key"] = key
    errors = o311.errors(o311.post(fmt, **data), 403, fmt)
    assert codes(errors) == [code]
    assert not Ticket.objects.filter(channel="open311").exists()


def test_a_revoked_key_stops_working_at_once(o311, rubbish, issued):
    assert o311.post(**rubbish).status_code == 200
    open311_client_revoke(client=issued.client)
    errors = o311.errors(o311.post(**rubbish), 403)
    assert codes(errors) == ["open311.api_key_revoked"]


def test_only_the_hash_of_the_key_is_stored(issued):
    client = issued.client
    assert client.key_hash == hashlib.sha256(issued.key.encode()).hexdigest()
    assert issued.key.startswith(client.key_prefix)
    assert issued.key not in {str(getattr(client, f.attname)) for f in client._meta.concrete_fields}


# --- service and jurisdiction: 404 / 400 -------------------------------------------------------


def test_service_code_missing_is_400_unknown_is_404(o311, rubbish):
    assert codes(o311.errors(o311.post(**{**rubbish, "service_code": ""}), 400)) == [
        "open311.service_code_missing"
    ]
    assert codes(o311.errors(o311.post(**{**rubbish, "service_code": "NOPE"}), 404)) == [
        "open311.service_not_found"
    ]
    # a branch of the catalogue is not a service
    assert o311.post(**{**rubbish, "service_code": "GI01"}).status_code == 404


def test_another_jurisdiction_is_404(o311, rubbish):
    errors = o311.errors(o311.post(**{**rubbish, "jurisdiction_id": "sfgov.org"}), 404)
    assert codes(errors) == ["open311.jurisdiction_not_found"]
    assert not Ticket.objects.filter(channel="open311").exists()


def test_the_configured_jurisdiction_is_read_from_settings(o311, rubbish, settings):
    settings.ZHIWANG_OPEN311_JURISDICTION = "sz.example.cn"
    assert o311.post(**rubbish).status_code == 404
    assert o311.post(**{**rubbish, "jurisdiction_id": "sz.example.cn"}).status_code == 200


# --- location: 400 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "parameter"),
    [
        ({"lat": "", "long": ""}, "open311.location_missing", None),
        ({"long": ""}, "open311.location_incomplete", "long"),
        ({"lat": "north"}, "geo.not_a_number", "lat"),
        ({"lat": "95"}, "geo.out_of_range", "lat"),
        ({"lat": "30.0", "long": "120.0"}, "geo.outside_city", "long"),
    ],
)
def test_location_errors(o311, rubbish, change, code, parameter):
    errors = o311.errors(o311.post(**{**rubbish, **change}), 400)
    assert codes(errors) == [code]
    if parameter:
        assert errors[0]["description"].startswith(f"{parameter}: ")


def test_an_unknown_address_id_is_400_naming_the_parameter(o311, rubbish):
    data = {k: v for k, v in rubbish.items() if k not in ("lat", "long")}
    errors = o311.errors(o311.post(address_id="NO-SUCH-ADDRESS", **data), 400)
    assert codes(errors) == ["tickets.address_unknown"]
    assert errors[0]["description"].startswith("address_id: ")


def test_an_address_string_nobody_can_place_is_400(o311, rubbish):
    data = {k: v for k, v in rubbish.items() if k not in ("lat", "long")}
    errors = o311.errors(o311.post(address_string="火星基地一号楼", **data), 400)
    assert codes(errors) == ["tickets.place_required"]
    assert errors[0]["description"].startswith("address_string: ")


# --- attributes: 400 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"attribute[amount]": ""}, "open311.attribute_required"),
        ({"attribute[amount]": "enormous"}, "open311.attribute_value"),
        ({"attribute[amount][]": ["small", "large"]}, "open311.attribute_single"),
        ({"attribute[waste_type][]": ["household", "nuclear"]}, "open311.attribute_value"),
    ],
)
def test_attribute_errors(o311, rubbish, change, code):
    errors = o311.errors(o311.post(**{**rubbish, **change}), 400)
    assert codes(errors) == [code]
    assert errors[0]["description"].startswith("attribute[")
    assert not Ticket.objects.filter(channel="open311").exists()


def test_a_multivaluelist_takes_one_value_without_brackets_too(o311, rubbish):
    data = {k: v for k, v in rubbish.items() if k != "attribute[waste_type][]"}
    [created] = o311.doc(o311.post(**{**data, "attribute[waste_type]": "other"}))
    submission = Open311Submission.objects.get(ticket__number=created["service_request_id"])
    assert submission.attributes["waste_type"] == ["other"]


@pytest.fixture
def typed_service(db):
    """道路不洁 (GI0102) with one attribute of each non-list datatype, and an information-only one."""
    category = Category.objects.get(code="GI0102")
    for order, (code, datatype) in enumerate(
        [("area_m2", "number"), ("seen_at", "datetime"), ("landmark", "string"), ("details", "text")], 1
    ):
        ServiceAttribute.objects.create(
            category=category, code=code, datatype=datatype, description=code, order=order
        )
    ServiceAttribute.objects.create(
        category=category, code="note", datatype="string", description="仅供参考", order=9, variable=False
    )
    return category


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ({"attribute[area_m2]": "12.5"}, {"area_m2": 12.5}),
        ({"attribute[area_m2]": "3"}, {"area_m2": 3}),
        ({"attribute[seen_at]": "2026-01-02T08:00:00+08:00"}, {"seen_at": "2026-01-02T08:00:00+08:00"}),
        ({"attribute[landmark]": "公交站旁"}, {"landmark": "公交站旁"}),
        ({"attribute[details]": "第一行\n第二行"}, {"details": "第一行\n第二行"}),
        # line breaks as one form: what a browser posts ("\r\n") and a lone "\r" are stored as "\n"
        ({"attribute[details]": "第一行\r\n第二行\r第三行"}, {"details": "第一行\n第二行\n第三行"}),
        ({"attribute[note]": "ignored"}, {}),
    ],
)
def test_typed_attributes_are_stored(o311, rubbish, typed_service, value, stored):
    data = {k: v for k, v in rubbish.items() if not k.startswith("attribute")}
    [created] = o311.doc(o311.post(**{**data, "service_code": "GI0102", **value}))
    assert Open311Submission.objects.get(ticket__number=created["service_request_id"]).attributes == stored


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({"attribute[area_m2]": "lots"}, "open311.attribute_number"),
        ({"attribute[area_m2]": "NaN"}, "open311.attribute_number"),
        ({"attribute[seen_at]": "2026-01-02 08:00"}, "open311.datetime_invalid"),
        ({"attribute[seen_at]": "2026-01-02T08:00:00"}, "open311.datetime_invalid"),
        ({"attribute[landmark]": "一行\n两行"}, "open311.attribute_string"),
        ({"attribute[landmark]": "一行\r两行"}, "open311.attribute_string"),
        ({"attribute[landmark]": "一行\r\n两行"}, "open311.attribute_string"),
        ({"attribute[landmark]": "一行\u2028两行"}, "open311.attribute_string"),
        ({"attribute[details]": "长" * 4001}, "open311.attribute_text"),
    ],
)
def test_typed_attribute_errors(o311, rubbish, typed_service, value, code):
    data = {k: v for k, v in rubbish.items() if not k.startswith("attribute")}
    errors = o311.errors(o311.post(**{**data, "service_code": "GI0102", **value}), 400)
    assert codes(errors) == [code]


# --- other fields: 400, several errors at once ----------------------------------------------------


def test_every_problem_is_reported_at_once(o311, rubbish):
    response = o311.post(
        **{
            **rubbish,
            "attribute[amount]": "",
            "email": "not-an-address",
            "media_url": "ftp://example.org/a.jpg",
            "description": "长" * 4001,
        }
    )
    assert set(codes(o311.errors(response, 400))) == {
        "open311.attribute_required",
        "open311.email_invalid",
        "open311.media_url_invalid",
        "open311.description_long",
    }


def test_an_invalid_phone_is_reported_under_its_open311_name(o311, rubbish):
    errors = o311.errors(o311.post(**{**rubbish, "phone": "12"}), 400)
    assert errors[0]["description"].startswith("phone: ")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_body_that_is_not_form_encoded_is_400(client, rubbish, fmt):
    response = client.post(f"/open311/v2/requests.{fmt}", rubbish, content_type="application/json")
    assert response.status_code == 400
    assert b"open311.content_type" in response.content


def test_third_party_clients_post_without_a_csrf_token(rubbish):
    from django.test import Client

    from .conftest import Open311

    response = Open311(Client(enforce_csrf_checks=True)).post(**rubbish)
    assert response.status_code == 200, response.content.decode()
