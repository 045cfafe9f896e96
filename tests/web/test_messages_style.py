"""Messages after an action: a refusal is marked as an error (styled red, announced to screen
readers), so it cannot be mistaken for a success."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_a_refusal_is_styled_and_announced_as_an_error(client, nanshan_dispatcher):
    """Bulk dispatch with nothing ticked: the message is an error (red, role=alert), not a notice."""
    client.force_login(nanshan_dispatcher)
    html = client.post("/dispatch/bulk/", {}, follow=True).content.decode()
    assert re.search(r'<li class="error" role="alert">[^<]+</li>', html), html[:3000]
