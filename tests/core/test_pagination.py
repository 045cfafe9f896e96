"""Lists bound ``limit`` and ``offset``: a value out of range is 422 naming it, never a database error."""

import pytest

from zhiwang.core.pagination import MAX_LIMIT, MAX_OFFSET

pytestmark = pytest.mark.django_db

#: Every paginated list of the API (``test_every_list_bounds_its_page`` finds any that is missing).
LISTS = [
    "/api/v1/geo/divisions",
    "/api/v1/geo/grids",
    "/api/v1/geo/grids/440305001001001/buildings",
    "/api/v1/tickets/",
    "/api/v1/tickets/inbox",
    "/api/v1/tickets/units",
    "/api/v1/disputes/cases",
    "/api/v1/disputes/alerts",
    "/api/v1/notifications/",
    "/api/v1/analytics/alerts",
    "/api/v1/analytics/indicators",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=100000000000000000000", "limit"),  # past 64 bits: was a 500 from the database
        ("offset=100000000000000000000", "offset"),
        (f"limit={MAX_LIMIT + 1}", "limit"),
        (f"offset={MAX_OFFSET + 1}", "offset"),
    ],
)
def test_out_of_range_page_is_a_field_error(client, admin_user, path, query, field):
    client.force_login(admin_user)
    response = client.get(f"{path}?{query}")
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "request.invalid"
    assert error["field"] == field


def test_every_list_bounds_its_page(client, admin_user):
    """Every operation with ``limit``/``offset`` uses ``zhiwang.core.pagination`` (seen in OpenAPI)."""
    client.force_login(admin_user)
    spec = client.get("/api/v1/openapi.json").json()
    paged = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = {p["name"]: p["schema"] for p in operation.get("parameters", [])}
            if "limit" in params and "offset" in params:
                paged[f"{method} {path}"] = (params["limit"].get("maximum"), params["offset"].get("maximum"))
    assert paged, "no paginated list found"
    assert {key for key, bounds in paged.items() if bounds != (MAX_LIMIT, MAX_OFFSET)} == set()
    listed = {"get " + path.removesuffix("/").replace("440305001001001", "{code}") for path in LISTS}
    assert {key.removesuffix("/") for key in paged} == listed
    # The bounds themselves are answered.
    assert MAX_LIMIT == 1000
    response = client.get(f"/api/v1/geo/divisions?limit={MAX_LIMIT}&offset={MAX_OFFSET}")
    assert response.status_code == 200 and response.json()["items"] == []
    body = client.get(f"/api/v1/geo/divisions?limit={MAX_LIMIT}").json()
    assert len(body["items"]) == body["count"] > 100
