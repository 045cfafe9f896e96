# ruff: noqa: F811 (pytest fixtures imported from tests.tickets)
"""A hotline import run again by a colleague files its rows as the colleague's work (the tickets'
timelines name them); the run records it too — who ran it again, when, how many times — and its
page says so, beside who uploaded it."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from tests.tickets.conftest import city_dispatcher, hotline, nanshan_building, nanshan_community  # noqa: F401
from tests.tickets.test_inactive_actor import make_run
from zhiwang.core.errors import ServiceError
from zhiwang.tickets.models import Ticket, TicketImport, TicketImportStatus
from zhiwang.web.tickets.import_runs import import_run_again

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _fail(run: TicketImport) -> TicketImport:
    TicketImport.objects.filter(pk=run.pk).update(status=TicketImportStatus.FAILED, error="worker lost")
    run.refresh_from_db()
    return run


def _restarted(client, run) -> str | None:
    client.cookies["django_language"] = "en"
    html = client.get(f"/call-imports/{run.pk}/").content.decode()
    found = re.search(r'data-testid="import-restarted">(.*?)</span>', html, re.S)
    return " ".join(found.group(1).split()) if found else None


def _when(run) -> str:
    return f"{timezone.localtime(run.restarted_at):%Y-%m-%d %H:%M}"


def test_the_run_records_who_ran_it_again_and_its_page_says_so(
    client, hotline, city_dispatcher, nanshan_building, django_capture_on_commit_callbacks
):
    run = _fail(make_run(hotline, nanshan_building))
    client.force_login(city_dispatcher)
    assert _restarted(client, run) is None  # never run again: nothing said
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/call-imports/{run.pk}/again/")
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == TicketImportStatus.DONE and run.created == 1
    assert (run.created_by, run.restarted_by, run.restart_count) == (hotline, city_dispatcher, 1)
    assert before <= run.restarted_at <= timezone.now()
    # the record names whom the timelines name
    ticket = Ticket.objects.get(idempotency_key="hotline:T-1")
    assert set(ticket.events.values_list("actor", flat=True)) == {city_dispatcher.pk}
    assert _restarted(client, run) == (
        f"Run again by {city_dispatcher.display_name} on {_when(run)}: "
        "the tickets created since are filed as their work."
    )


def test_run_again_twice_names_the_last_and_counts(
    client, hotline, city_dispatcher, nanshan_building, django_capture_on_commit_callbacks
):
    run = _fail(make_run(hotline, nanshan_building))
    with django_capture_on_commit_callbacks(execute=True):
        import_run_again(run=run, actor=city_dispatcher)
    run = _fail(run)
    with django_capture_on_commit_callbacks(execute=True):
        import_run_again(run=run, actor=hotline)  # the uploader, back
    run.refresh_from_db()
    assert (run.restarted_by, run.restart_count) == (hotline, 2)
    client.force_login(hotline)
    assert _restarted(client, run) == (
        f"Run again 2 times, last by {hotline.display_name} on {_when(run)}: "
        "each run's tickets are filed as the work of whoever ran it."
    )


def test_a_refused_run_again_records_nothing(hotline, city_dispatcher, nanshan_building):
    run = _fail(make_run(hotline, nanshan_building))
    stale = TicketImport.objects.get(pk=run.pk)  # the same page, clicked twice
    import_run_again(run=run, actor=hotline)
    with pytest.raises(ServiceError) as caught:
        import_run_again(run=stale, actor=city_dispatcher)
    assert caught.value.code == "tickets.import_busy"
    run.refresh_from_db()
    assert (run.restarted_by, run.restart_count) == (hotline, 1)


def test_importing_a_validated_file_for_real_is_a_new_run_not_a_restart(
    hotline, city_dispatcher, nanshan_building, django_capture_on_commit_callbacks
):
    checked = make_run(hotline, nanshan_building)
    TicketImport.objects.filter(pk=checked.pk).update(validate_only=True, status=TicketImportStatus.DONE)
    checked.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        real = import_run_again(run=checked, actor=city_dispatcher)
    checked.refresh_from_db()
    assert real.pk != checked.pk and real.created_by == city_dispatcher
    assert (real.restarted_by, real.restarted_at, real.restart_count) == (None, None, 0)
    assert (checked.restarted_by, checked.restarted_at, checked.restart_count) == (None, None, 0)
