# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.test_classify_fixtures)
"""The demo histories' category decisions: intake choices, dispatchers' corrections, confirmations.

``tickets.demo.demo_intake_fields`` and ``demo_category_review`` are what the demo city's
simulated staff do with a request's category; each decision goes through the real services,
so the corrections the smart-dispatch curve and the compare action need are recorded as the
tickets flow records them.
"""

from __future__ import annotations

import pytest

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    RUBBISH,
    SANITATION,
    city_dispatcher,
    hotline,
    nanshan_building,
    nanshan_community,
)
from tests.tickets.test_classify_fixtures import (  # noqa: F401 (fixtures)
    active_model,
    model_dir,
    tiny_trained,
)
from zhiwang.tickets.models import Category, CategoryCorrection, CorrectionSource
from zhiwang.tickets.services import ticket_submit

pytestmark = pytest.mark.django_db
TEXT = "小区门口垃圾堆了好几天没人清运，气味很大"


class Always:
    """A random source whose every draw is ``value`` (0: every share applies, 1: none does)."""

    def __init__(self, value: float):
        self.value = value

    def random(self) -> float:
        return self.value

    def choice(self, items):
        return items[0]


@pytest.fixture
def staff(hotline, city_dispatcher):
    return {"demo_hotline": hotline, "demo_city_dispatcher": city_dispatcher}


def _submit(nanshan_building, n: int, **fields):
    data = {
        "kind": "incident",
        "description": TEXT,
        "address_code": nanshan_building.code,
        "reporter_name": "林晓",
        "reporter_phone": "13800138000",
        "external_id": f"demo-test-{n}",
        **fields,
    }
    return ticket_submit(**data).ticket


def test_a_hotline_request_is_taken_in_by_the_operator_and_records_their_choice(
    active_model, nanshan_building, staff
):
    from zhiwang.tickets.demo import demo_intake_fields

    meant = Category.objects.get(code=RUBBISH)
    fields = demo_intake_fields(
        Always(1.0), channel="hotline", kind="incident", meant=meant, description=TEXT, staff=staff
    )
    assert fields == {"actor": staff["demo_hotline"]}
    ticket = _submit(nanshan_building, 1, channel="hotline", category=meant, **fields)
    correction = CategoryCorrection.objects.get(ticket=ticket)
    assert correction.source == CorrectionSource.INTAKE and correction.final_category == meant
    assert correction.model == "category v1" and correction.suggested_label


def test_an_operator_s_slip_is_corrected_by_the_dispatcher(active_model, nanshan_building, staff):
    from zhiwang.tickets.demo import demo_category_review, demo_intake_fields

    meant = Category.objects.get(code=RUBBISH)
    fields = demo_intake_fields(
        Always(0.0), channel="hotline", kind="incident", meant=meant, description=TEXT, staff=staff
    )
    wrong = fields["category"]
    assert wrong.parent_id == meant.parent_id and wrong.pk != meant.pk  # a neighbouring leaf
    ticket = _submit(nanshan_building, 2, channel="hotline", **fields)
    assert demo_category_review(ticket, meant=meant, actor=staff["demo_city_dispatcher"])
    latest = CategoryCorrection.objects.filter(ticket=ticket).order_by("-pk").first()
    assert latest.source == CorrectionSource.RECATEGORISE and latest.final_category == meant
    assert latest.from_category == wrong


def test_a_free_text_request_is_left_to_the_model_and_the_dispatcher_decides(
    active_model, nanshan_building, staff
):
    from zhiwang.tickets.demo import demo_category_review, demo_intake_fields

    meant = Category.objects.get(code=SANITATION)  # the model suggests 暴露垃圾 for this text
    fields = demo_intake_fields(
        Always(0.0), channel="app", kind="complaint", meant=meant, description=TEXT, staff=staff
    )
    assert fields == {"category": None}
    ticket = _submit(nanshan_building, 3, channel="app", kind="complaint", **fields)
    assert ticket.category is not None and ticket.category_id != meant.pk
    dispatcher = staff["demo_city_dispatcher"]
    assert demo_category_review(ticket, meant=meant, actor=dispatcher)
    correction = CategoryCorrection.objects.get(ticket=ticket)
    assert correction.source == CorrectionSource.RECATEGORISE and correction.suggested_label != SANITATION
    assert not demo_category_review(ticket, meant=meant, actor=dispatcher)  # right now: nothing to change


def test_other_channels_and_shares_are_left_as_they_were(active_model, staff):
    from zhiwang.tickets.demo import demo_intake_fields

    meant = Category.objects.get(code=RUBBISH)
    for channel in ("patrol", "video", "department"):
        assert (
            demo_intake_fields(
                Always(0.0), channel=channel, kind="incident", meant=meant, description=TEXT, staff=staff
            )
            == {}
        )
    assert (
        demo_intake_fields(
            Always(1.0), channel="app", kind="incident", meant=meant, description=TEXT, staff=staff
        )
        == {}
    )
    # nothing the model or the keywords recognise: the citizen picks the category themselves
    assert (
        demo_intake_fields(
            Always(0.0), channel="app", kind="incident", meant=meant, description="？？？", staff=staff
        )
        == {}
    )
