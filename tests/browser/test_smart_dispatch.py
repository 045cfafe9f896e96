# ruff: noqa: F811 (pytest fixtures imported from other test modules)
"""Smart dispatch in a real browser: the operator types, the classifier suggests, one click picks."""

from __future__ import annotations

import pytest

from tests.browser.test_ticket_flows import RUBBISH, building, city, login, shot  # noqa: F401 (fixtures)
from tests.tickets.test_classify_fixtures import model_dir, tiny_trained  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def category_model(city, tiny_trained, model_dir):
    from zhiwang.classifier import services as classifier_services
    from zhiwang.tickets.services.smart import classifier_promote

    model = classifier_services.model_register(name="category", directory=tiny_trained)
    classifier_services.model_set_threshold(model=model, threshold=0.5)
    return classifier_promote(model=model)


def test_operator_picks_the_classifiers_suggestion(page, building, category_model, live_server, tmp_path):
    base = live_server.url
    login(page, base, "demo_hotline")
    page.goto(f"{base}/intake/")
    page.fill("#id_reporter_phone", "13900001111")
    page.fill("#id_reporter_name", "李四")
    page.fill("#id_description", "我们小区门口垃圾堆了好几天没人清运，气味很大")
    chip = page.locator(f"[data-pick-category='{RUBBISH}'][data-source='model']")
    chip.wait_for()
    assert "%" in chip.inner_text()  # the confidence is shown
    chip.click()
    assert page.locator("#id_category").input_value() == RUBBISH
    page.fill("#id_address_text", building.full_name)
    shot(page, tmp_path, "smart-intake")
    page.locator("#id_description").press("Control+Enter")
    page.wait_for_selector("[data-testid=intake-done]")

    from zhiwang.tickets.models import CategoryCorrection, Ticket

    ticket = Ticket.objects.get(reporter_phone="13900001111")
    assert ticket.category.code == RUBBISH and ticket.category_source == "reporter"
    assert ticket.classification["model"] == "category v1"
    example = CategoryCorrection.objects.get(ticket=ticket)
    assert example.agreed and example.source == "intake"
