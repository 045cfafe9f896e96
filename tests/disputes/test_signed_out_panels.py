"""A signed-out user's htmx request to a dispute page (the registry pick panel) is 401 with the
refusal header, never the sign-in page drawn inside the panel; a plain request still goes to sign-in."""

from __future__ import annotations

import pytest
from django.urls import reverse

from zhiwang.core.signed_out import REFUSAL_HEADER

pytestmark = pytest.mark.django_db


def test_a_signed_out_panel_request_is_401_and_a_page_goes_to_sign_in(client):
    url = reverse("disputes:home")
    page = client.get(url)
    assert page.status_code == 302 and "/login" in page["Location"]
    panel = client.post(url, HTTP_HX_REQUEST="true")
    assert panel.status_code == 401 and panel[REFUSAL_HEADER] == "signed-out"
    assert "<form" not in panel.content.decode()
