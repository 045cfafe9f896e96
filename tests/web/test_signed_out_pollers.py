"""Every app's pages answer a signed-out htmx request (a poller, a panel) with 401 and the refusal
header (``core.signed_out``), never with the sign-in page that htmx would draw inside the element;
a plain request still goes to the sign-in page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from zhiwang.core.signed_out import REFUSAL_HEADER

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name", ["registry:home", "analytics:dashboard", "analytics:alerts", "disputes:home"]
)
def test_signed_out_htmx_requests_are_401_everywhere(client, name):
    url = reverse(name)
    page = client.get(url)
    assert page.status_code == 302 and "login" in page["Location"]
    polled = client.get(url, HTTP_HX_REQUEST="true")
    assert polled.status_code == 401 and polled[REFUSAL_HEADER] == "signed-out"
    assert "<form" not in polled.content.decode()
