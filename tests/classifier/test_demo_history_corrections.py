"""`zhiwang demo`: the histories leave dispatchers' corrections, so the smart-dispatch curve has figures out of the box."""

from io import StringIO

import pytest
from django.core.management import call_command

from zhiwang.tickets.models import CategoryCorrection, CorrectionSource
from zhiwang.tickets.services.smart import labelled_history
from zhiwang.tickets.smart_selectors import classifier_curve

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _quicker_demo(settings, trainings_reused):
    # The histories' hourly clock sweeps make thousands of deadline computations, and the demo never
    # edits the calendar: keep it cached as in production (tests/conftest.py checks its tables on
    # every call, five queries each time).
    settings.ZHIWANG_CALENDAR_CHECK_SECONDS = 60
    # and every run trains the same demo model (see trainings_reused): once per session is enough.


def test_the_demo_city_has_corrected_tickets_and_a_curve():
    call_command("demo", "--scale", "tiny", "--no-progress", "--seed", "5", stdout=StringIO())
    corrected = CategoryCorrection.objects.values("ticket").distinct().count()
    assert corrected >= 10  # of 40 tickets: intake choices, confirmations and corrections
    sources = set(CategoryCorrection.objects.values_list("source", flat=True))
    assert CorrectionSource.INTAKE in sources and CorrectionSource.RECATEGORISE in sources
    curve = classifier_curve(last=500)
    assert curve.total == corrected and curve.rows and any(row.count for row in curve.rows)
    assert labelled_history().held_texts  # "compare" has held-back tickets to measure on
