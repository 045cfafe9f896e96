# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""Small things the second walkthrough of the dispatch pages found: the classifier's brief line
puts no space between its label and the category (the Chinese label ends with "："), and the
ticket page's reassign picker does not offer the unit that has the ticket.

Strings new in this change are compared with their ``gettext``, never with a Chinese literal.
"""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string
from django.utils.translation import gettext

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    city_dispatcher,
    dispatched,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
    sub_handler,
)


def test_the_classifier_brief_is_one_translated_phrase():
    """ "智能分类： 暴露垃圾": the label and the name were two pieces joined by a space."""
    smart = {"choices": [{"name": "暴露垃圾", "percent": 58}], "source": "model", "source_label": "模型"}
    html = render_to_string("web/tickets/_classification_brief.html", {"smart": smart})
    text = re.search(r'data-testid="classification-brief"[^>]*>(.*?)</span>', html, re.S).group(1)
    assert text == gettext("Classifier: %(name)s") % {"name": "暴露垃圾"} + " 58% · 模型"


@pytest.mark.django_db
def test_the_reassign_picker_leaves_out_the_unit_that_has_the_ticket(client, city_dispatcher, dispatched):
    ticket = dispatched()
    client.force_login(city_dispatcher)
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    select = re.search(r'<select name="reassign-unit"[^>]*>.*?</select>', page, re.S)
    assert select, "the reassign form is on the page"
    values = re.findall(r'<option value="([^"]*)"', select.group(0))
    assert len(values) > 2 and str(ticket.handling_unit_id) not in values
