"""Discovery, GET services, GET services/{code}, tokens (GeoReport v2 and Service Discovery)."""

import pytest

from zhiwang.open311.models import ServiceAttribute
from zhiwang.tickets.models import Category

pytestmark = pytest.mark.django_db


def active_leaf_codes() -> set[str]:
    categories = {c.pk: c for c in Category.objects.all()}
    parents = {c.parent_id for c in categories.values() if c.is_active and c.parent_id}

    def visible(c):
        while c is not None:
            if not c.is_active:
                return False
            c = categories.get(c.parent_id)
        return True

    return {c.code for c in categories.values() if c.pk not in parents and visible(c)}


# --- discovery -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_has_every_required_field(o311, fmt):
    doc = o311.doc(o311.get("discovery", fmt), fmt)
    assert list(doc) == ["changeset", "contact", "key_service", "endpoints"]
    assert all(doc[k] for k in ("changeset", "contact", "key_service"))
    [endpoint] = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["type"] == "production"
    assert endpoint["changeset"]
    assert endpoint["formats"] == ["text/xml", "application/json"]


def test_the_endpoint_root_is_an_html_page(client):
    response = client.get("/open311/v2/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"discovery.xml" in response.content


# --- service list --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_are_the_active_leaves_of_the_catalogue(o311, fmt):
    services = o311.doc(o311.get("services", fmt), fmt)
    assert {s["service_code"] for s in services} == active_leaf_codes()
    rubbish = next(s for s in services if s["service_code"] == "GI0101")
    assert list(rubbish) == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    expected = {"service_name": "暴露垃圾", "type": "realtime", "group": "网格事件"}
    assert {k: rubbish[k] for k in expected} == expected
    assert "垃圾" in rubbish["keywords"].split(",")
    assert rubbish["metadata"] in (True, "true")
    road = next(s for s in services if s["service_code"] == "GI0102")
    assert road["metadata"] in (False, "false")


def test_inactive_categories_and_their_branches_are_not_services(o311):
    Category.objects.filter(code="GI0101").update(is_active=False)
    Category.objects.filter(code="GI02").update(is_active=False)
    codes = {s["service_code"] for s in o311.doc(o311.get("services"))}
    assert "GI0101" not in codes
    assert not any(code.startswith("GI02") for code in codes)
    assert "GI0102" in codes
    assert o311.get("services/GI0101").status_code == 404


@pytest.mark.parametrize("group", ["网格事件", "GI"])
def test_the_group_extension_filters_by_top_level_category(o311, group):
    services = o311.doc(o311.get("services", group=group))
    assert services
    assert {s["group"] for s in services} == {"网格事件"}
    assert o311.doc(o311.get("services", group="no such group")) == []


# --- service definition --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_definition_lists_the_attributes_in_order(o311, fmt):
    doc = o311.doc(o311.get("services/GI0101", fmt), fmt)
    assert doc["service_code"] == "GI0101"
    amount, waste = doc["attributes"]
    assert list(amount) == [
        "variable",
        "code",
        "datatype",
        "required",
        "datatype_description",
        "order",
        "description",
        "values",
    ]
    assert (amount["code"], amount["datatype"], str(amount["order"])) == ("amount", "singlevaluelist", "1")
    assert amount["required"] in (True, "true")
    assert [v["key"] for v in amount["values"]] == ["small", "medium", "large"]
    assert all(v["name"] for v in amount["values"])
    assert (waste["code"], waste["datatype"]) == ("waste_type", "multivaluelist")


def test_a_service_without_attributes_has_an_empty_definition(o311):
    assert o311.doc(o311.get("services/GI0102")) == {"service_code": "GI0102", "attributes": []}


def test_inactive_attributes_are_left_out(o311):
    ServiceAttribute.objects.filter(code="waste_type").update(is_active=False)
    assert [a["code"] for a in o311.doc(o311.get("services/GI0101"))["attributes"]] == ["amount"]


@pytest.mark.parametrize("code", ["NOPE", "GI01", "GI"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_services_and_branches_are_404(o311, code, fmt):
    errors = o311.errors(o311.get(f"services/{code}", fmt), 404, fmt)
    assert errors[0]["code"] == "open311.service_not_found"


@pytest.mark.parametrize("resource", ["discovery", "services", "services/GI0101"])
def test_jurisdiction_of_catalogue_reads(o311, resource):
    assert o311.get(resource, jurisdiction_id="shenzhen.gov.cn").status_code == 200
    assert o311.get(resource, jurisdiction_id="sfgov.org").status_code == 404


# --- tokens --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_tokens_do_not_exist_because_every_service_is_realtime(o311, fmt):
    errors = o311.errors(o311.get("tokens/12345", fmt), 404, fmt)
    assert errors[0]["code"] == "open311.token_not_found"
    assert "realtime" in errors[0]["description"]


# --- attribute model -----------------------------------------------------------------------------


def test_the_attribute_model_checks_its_options():
    from django.core.exceptions import ValidationError

    category = Category.objects.get(code="GI0102")
    for values, datatype in (
        ([], "singlevaluelist"),
        ([{"key": "a"}], "singlevaluelist"),
        ([{"key": "a", "name": "A"}, {"key": "a", "name": "B"}], "multivaluelist"),
        ([{"key": "a", "name": "A"}], "string"),
    ):
        attribute = ServiceAttribute(
            category=category, code="x", datatype=datatype, description="?", values=values
        )
        with pytest.raises(ValidationError) as caught:
            attribute.full_clean()
        assert "values" in caught.value.message_dict
    branch = ServiceAttribute(
        category=Category.objects.get(code="GI01"), code="y", datatype="string", description="?"
    )
    with pytest.raises(ValidationError) as caught:
        branch.full_clean()
    assert "category" in caught.value.message_dict


def test_the_service_list_costs_a_fixed_number_of_queries(o311, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        assert len(o311.doc(o311.get("services"))) > 500
