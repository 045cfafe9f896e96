"""Work recorded under an account that has since been deactivated — a queued API submission, a
hotline import queued by its uploader — is refused with ``auth.inactive`` and says so, not with
the role's channel message ("your role does not file tickets"). A failed import that a colleague
runs again is filed as the colleague's work. Retries of what was written before still find it."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.utils import translation

from tests.tickets.conftest import SANITATION
from zhiwang.core.errors import ServiceError
from zhiwang.tickets import tasks
from zhiwang.tickets.models import QueuedStatus, QueuedSubmission, Ticket, TicketImport, TicketImportStatus
from zhiwang.tickets.services import ticket_submit
from zhiwang.tickets.services.submit_queue import queued_submissions_process, submission_queue

pytestmark = pytest.mark.django_db

INACTIVE = "auth.inactive"
HEADER = "来电编号,诉求类型,分类编码,诉求内容,来电人,联系电话,标准地址编码,来电时间"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The queue's drain flag lives in the cache."""


def deactivate(user) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


def call(building, external_id: str = "call-1") -> dict:
    return {
        "channel": "hotline",
        "kind": "complaint",
        "category": SANITATION,
        "description": "小区垃圾站满溢，请尽快清运。",
        "address_code": building.code,
        "external_id": external_id,
    }


def test_a_deactivated_operator_is_refused_as_deactivated_not_by_role(hotline, nanshan_building):
    """The reviewer's reproduction: the operator's own channel, the account deactivated."""
    deactivate(hotline)
    with translation.override("en"), pytest.raises(ServiceError) as caught:
        ticket_submit(**call(nanshan_building), actor=hotline)
    assert caught.value.code == INACTIVE and caught.value.status == 403
    assert caught.value.message == "This account has been deactivated; it cannot file tickets."
    assert not Ticket.objects.exists()


def test_a_retry_of_a_ticket_written_before_the_deactivation_still_gets_it(hotline, nanshan_building):
    first = ticket_submit(**call(nanshan_building), actor=hotline)
    deactivate(hotline)
    again = ticket_submit(**call(nanshan_building), actor=hotline)
    assert (again.ticket.pk, again.created) == (first.ticket.pk, False)


def test_a_queued_submission_of_a_since_deactivated_citizen_is_refused_on_its_receipt(
    citizen, nanshan_building
):
    """Accepted (202) while the account was active, processed after it was deactivated: refused with
    ``auth.inactive`` on the receipt, nothing written — as if the citizen had sent it now."""
    queued = submission_queue(
        actor=citizen, reporter=citizen, **{**call(nanshan_building), "channel": "app"}
    ).submission
    deactivate(citizen)
    queued_submissions_process()
    row = QueuedSubmission.objects.get(pk=queued.pk)
    assert row.status == QueuedStatus.REFUSED and row.error["code"] == INACTIVE
    assert not Ticket.objects.exists()


def make_run(uploader, building) -> TicketImport:
    lines = [
        HEADER,
        f"T-1,投诉,{SANITATION},小区门口垃圾堆了三天没人清运。,王敏,13800138000,{building.code},",
    ]
    run = TicketImport(file_name="calls.csv", created_by=uploader, unit_id=uploader.org_unit_id)
    run.file.save("calls.csv", ContentFile(("\n".join(lines) + "\n").encode("utf-8")), save=False)
    run.save()
    return run


def test_an_import_of_a_since_deactivated_uploader_fails_and_a_colleague_runs_it_as_theirs(
    hotline, city_dispatcher, nanshan_building
):
    run = make_run(hotline, nanshan_building)
    deactivate(hotline)
    with translation.override("en"):
        tasks.ticket_import_task(run.pk)  # queued at upload: runs as the uploader
    run.refresh_from_db()
    assert (
        run.status == TicketImportStatus.FAILED
        and f"({hotline.display_name}) has been deactivated" in run.error
    )
    assert run.created == run.refused == 0 and not Ticket.objects.exists()

    tasks.ticket_import_task(run.pk, city_dispatcher.pk)  # "run again" by a colleague
    run.refresh_from_db()
    assert (run.status, run.created, run.refused) == (TicketImportStatus.DONE, 1, 0), run.refused_rows
    ticket = Ticket.objects.get(idempotency_key="hotline:T-1")
    assert set(ticket.events.values_list("actor", flat=True)) == {city_dispatcher.pk}


def test_a_run_again_by_a_colleague_finds_the_rows_imported_before(
    hotline, city_dispatcher, nanshan_building
):
    run = make_run(hotline, nanshan_building)
    tasks.ticket_import_run(run_id=run.pk)
    TicketImport.objects.filter(pk=run.pk).update(status=TicketImportStatus.FAILED)
    tasks.ticket_import_run(run_id=run.pk, actor_id=city_dispatcher.pk)
    run.refresh_from_db()
    assert (run.status, run.created, run.existing) == (
        TicketImportStatus.DONE,
        0,
        1,
    )  # found, not written twice
    ticket = Ticket.objects.get(idempotency_key="hotline:T-1")
    assert set(ticket.events.values_list("actor", flat=True)) == {hotline.pk}  # the first run's work


def test_run_again_from_the_page_is_the_colleagues_work(
    hotline, city_dispatcher, nanshan_building, django_capture_on_commit_callbacks
):
    from zhiwang.web.tickets.import_runs import import_run_again

    run = make_run(hotline, nanshan_building)
    TicketImport.objects.filter(pk=run.pk).update(status=TicketImportStatus.FAILED)
    run.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        import_run_again(run=run, actor=city_dispatcher)
    ticket = Ticket.objects.get(idempotency_key="hotline:T-1")
    assert set(ticket.events.values_list("actor", flat=True)) == {city_dispatcher.pk}
