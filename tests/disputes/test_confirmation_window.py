"""The 30-day judicial confirmation window ends on a working day (民法典 art. 203, 民事诉讼法 on time limits)."""

from __future__ import annotations

from datetime import date

import pytest

from zhiwang.core.errors import ServiceError
from zhiwang.disputes.services import confirmation_apply, confirmation_deadline, confirmation_last_day

pytestmark = pytest.mark.django_db


def test_a_plain_working_day_is_the_30th_day():
    assert confirmation_last_day(date(2025, 3, 3)) == date(2025, 4, 2)  # a Wednesday


def test_national_day_golden_week_moves_the_last_day_past_the_holiday():
    # Signed 1 September 2025: the 30th day is 1 October, National Day; the holiday
    # (with Mid-Autumn) lasts to 8 October, so the last day is Thursday 9 October.
    assert confirmation_last_day(date(2025, 9, 1)) == date(2025, 10, 9)
    # Every signing day whose 30th day falls inside the holiday ends on 9 October too.
    assert {confirmation_last_day(date(2025, 9, d)) for d in range(1, 9)} == {date(2025, 10, 9)}


def test_a_weekend_moves_to_monday_but_a_make_up_working_saturday_does_not():
    # 8 November 2025 is an ordinary Saturday → Monday 10 November.
    assert confirmation_last_day(date(2025, 10, 9)) == date(2025, 11, 10)
    # 11 October 2025 is a Saturday worked in exchange for the golden week (调休): it stays.
    assert confirmation_last_day(date(2025, 9, 11)) == date(2025, 10, 11)


def test_applying_on_the_moved_last_day_is_accepted_and_the_day_after_refused(agreed_case, world):
    late = agreed_case(signed_on="2025-09-01")
    assert confirmation_deadline(late.agreement) == date(2025, 10, 9)
    with pytest.raises(ServiceError) as caught:
        confirmation_apply(case=late, actor=world.mediator, applied_on="2025-10-10", court="南山区人民法院")
    assert caught.value.code == "disputes.confirmation_window_closed"
    assert "2025-10-09" in caught.value.message
    late.agreement.refresh_from_db()
    assert late.agreement.confirmation_status == ""
    in_time = agreed_case(signed_on="2025-09-01")
    applied = confirmation_apply(
        case=in_time, actor=world.mediator, applied_on="2025-10-09", court="南山区人民法院"
    )
    assert applied.confirmation_status == "applied"


def test_the_case_page_shows_the_moved_last_day(agreed_case, world, client):
    from django.urls import reverse

    case = agreed_case(signed_on="2025-09-01")
    client.force_login(world.mediator)
    page = client.get(reverse("disputes:case_detail", args=[case.number])).content.decode()
    assert "2025-10-09" in page
