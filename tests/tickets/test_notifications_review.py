"""Review of the staff inbox and the outbound messages (issue 3, scope item 7).

Only staff have an inbox (an integration client's service user and a citizen with a leftover org
unit read and clear nothing); an id past the 64-bit range is a 422/404, not a 500; a secret a text
carried is kept out of the record, the error and the log; an adapter that cannot start is a
failed message, not a failed action; a master's answer texted to the reporters of its duplicates
is masked, and not sent at all when the master is confidential; inbox messages and texts are in
the city's language; "mark all read" marks what was shown, not what arrived since; the inbox list
loads the ticket's number, not its wide columns.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from zhiwang.accounts import services as accounts
from zhiwang.accounts.models import User
from zhiwang.core.errors import NotFound
from zhiwang.tickets import services
from zhiwang.tickets.models import Notification, OutboundMessage, Ticket
from zhiwang.tickets.notification_selectors import notifications_unread_count, notifications_visible_to
from zhiwang.tickets.notify import REDACTED, notify_phone
from zhiwang.tickets.services.notifications import notifications_mark_read

pytestmark = pytest.mark.django_db

API = "/api/v1/notifications"
#: Beyond a 64-bit primary key: SQLite cannot even bind it.
TOO_BIG = 2**63


@pytest.fixture
def unit_note(handler):
    """An unread notification to the handler's unit."""
    return Notification.objects.create(unit_id=handler.org_unit_id, kind="dispatched", message="新工单")


def _bearer(user, client_record) -> dict[str, str]:
    key = accounts.api_token_create(user=user, client=client_record, name="sync").key
    return {"Authorization": f"Bearer {key}"}


# --- F1: only staff have an inbox -----------------------------------------------------------------


def test_an_integration_clients_service_user_neither_reads_nor_clears_the_units_inbox(
    client, handler, unit_note
):
    integration = accounts.integration_client_create(name="城管局业务系统", org_unit=handler.org_unit)
    auth = _bearer(integration.service_user, integration)
    assert client.get(f"{API}/", headers=auth).json()["count"] == 0
    assert client.get(f"{API}/unread-count", headers=auth).json() == {"unread": 0}
    assert client.post(f"{API}/read-all", headers=auth).json() == {"marked": 0}
    answer = client.post(f"{API}/{unit_note.pk}/read", headers=auth)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "tickets.notification_not_found"
    unit_note.refresh_from_db()
    assert unit_note.read_at is None  # the people of the unit still see it as new
    client.force_login(handler)
    assert client.get(f"{API}/unread-count").json() == {"unread": 1}


def test_a_citizen_with_a_leftover_unit_reads_nothing_on_the_api_either(client, handler, unit_note):
    former = User.objects.create(username="ex_staff", role="citizen", org_unit=handler.org_unit)
    client.force_login(former)
    assert client.get("/notifications/").status_code == 403
    assert client.get(f"{API}/").json()["count"] == 0
    assert client.get(f"{API}/unread-count").json() == {"unread": 0}
    assert client.post(f"{API}/read-all").json() == {"marked": 0}
    unit_note.refresh_from_db()
    assert unit_note.read_at is None


def test_the_one_staff_check_covers_selector_badge_and_marking(handler, unit_note):
    """Page, badge, API and marking read all start from ``notifications_visible_to``."""
    handler.is_active = False  # a deactivated member (signed in elsewhere, or through a token)
    assert not notifications_visible_to(handler).exists()
    assert notifications_mark_read(user=handler) == 0
    handler.is_active = True
    assert notifications_unread_count(handler) == 1
    # a superuser is an administrator, whatever role the user row says
    root = User.objects.create(username="root_citizen", role="citizen", is_superuser=True, is_staff=True)
    mine = Notification.objects.create(recipient=root, kind="replied", message="给管理员")
    assert list(notifications_visible_to(root)) == [mine]


def test_the_staff_roles_are_defined_once_below_the_web_floor():
    from zhiwang.accounts.roles import STAFF_ROLES
    from zhiwang.web import navigation

    assert navigation.STAFF_ROLES is STAFF_ROLES
    assert "integration" not in STAFF_ROLES and "citizen" not in STAFF_ROLES


# --- F2: ids past the 64-bit range ------------------------------------------------------------------


def test_an_id_past_the_64_bit_range_is_refused_before_the_database(client, handler):
    client.raise_request_exception = False
    client.force_login(handler)
    for path in (f"{API}/{TOO_BIG}/read", f"{API}/0/read"):
        answer = client.post(path)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "request.invalid"
    assert client.post(f"{API}/read-all?up_to={TOO_BIG}").status_code == 422
    assert client.post(f"/notifications/{TOO_BIG}/read/").status_code == 404
    assert client.post(f"/notifications/{'9' * 5000}/read/").status_code == 404
    with pytest.raises(NotFound):
        notifications_mark_read(user=handler, ids=[TOO_BIG])
    assert notifications_mark_read(user=handler, ids=[TOO_BIG, TOO_BIG + 1]) == 0


# --- F3: a secret stays out of the record, the error and the log ------------------------------------


class LeakyGateway:
    """A gateway whose error echoes the request, raw and URL-encoded (as many HTTP SMS APIs do)."""

    name = "leaky"

    def send(self, *, channel, to, body):
        raise RuntimeError(f"400 Bad Request: content={body!r} query=content={quote(body, safe='')}")


SECRET = "https://zw.example/c/SECRET-abc123:xyz/"


def test_a_redacted_secret_is_kept_out_of_the_error_and_the_log(
    settings, caplog, django_capture_on_commit_callbacks
):
    settings.ZHIWANG_NOTIFY_ADAPTERS = {"sms": f"{__name__}.LeakyGateway"}
    with caplog.at_level(logging.INFO, logger="zhiwang.notify"):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            notify_phone(phone="13800138000", body=f"请确认调解协议：{SECRET}", redact=(SECRET,))
    row = OutboundMessage.objects.get()
    assert row.status == "failed" and REDACTED in row.error
    for text in (row.body, row.error, caplog.text):
        assert SECRET not in text and quote(SECRET, safe="") not in text
        assert "SECRET-abc123" not in text
    assert "13800138000" not in caplog.text  # the phone is masked in the log line


def test_the_default_log_adapter_does_not_write_the_secret_to_the_log(
    settings, caplog, django_capture_on_commit_callbacks
):
    settings.ZHIWANG_NOTIFY_ADAPTERS = {}
    with caplog.at_level(logging.INFO, logger="zhiwang.notify"):
        with django_capture_on_commit_callbacks(execute=True):
            notify_phone(phone="13800138000", body=f"请确认调解协议：{SECRET}", redact=(SECRET,))
    row = OutboundMessage.objects.get()
    assert (row.adapter, row.status) == ("log", "sent")
    assert "请确认调解协议" in caplog.text and REDACTED in caplog.text
    assert "SECRET-abc123" not in caplog.text


# --- F4: an adapter that cannot start --------------------------------------------------------------


class MisconfiguredGateway:
    name = "misconfigured"

    def __init__(self):
        raise RuntimeError("SMS_GATEWAY_KEY is not set")

    def send(self, *, channel, to, body):  # pragma: no cover - never reached
        raise AssertionError


def test_an_adapter_that_cannot_start_is_a_failed_message_not_a_failed_action(
    city_restored, settings, make_ticket, nanshan_dispatcher
):
    path = f"{__name__}.MisconfiguredGateway"
    settings.ZHIWANG_NOTIFY_ADAPTERS = {"sms": path}
    master, duplicate = make_ticket(), make_ticket(reporter_phone="13912345678")
    services.ticket_merge(ticket=duplicate, master=master, actor=nanshan_dispatcher, note="同一问题")
    assert Ticket.objects.get(pk=duplicate.pk).status == "merged"
    sms = OutboundMessage.objects.get(ticket=duplicate)
    assert (sms.status, sms.adapter, sms.error) == ("failed", path, "SMS_GATEWAY_KEY is not set")


def test_a_failing_message_leaves_the_later_after_commit_work_alone(
    settings, django_capture_on_commit_callbacks
):
    settings.ZHIWANG_NOTIFY_ADAPTERS = {"sms": "zhiwang.no_such_module.Gateway"}  # a typo in settings
    later = []
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        notify_phone(phone="13800138000", body="您好")
        transaction.on_commit(lambda: later.append("ran"))
    assert later == ["ran"]
    row = OutboundMessage.objects.get()
    assert (row.status, row.adapter) == ("failed", "zhiwang.no_such_module.Gateway")


# --- F5: what the reporters of duplicates are texted -------------------------------------------------


def _close_with_duplicate(make_ticket, dispatcher, hotline, sub_handler, capture, *, reply):
    master = make_ticket(reporter_name="王秀英", reporter_phone="13700001111")
    duplicate = make_ticket(reporter_phone="13912345678")
    services.ticket_merge(ticket=duplicate, master=master, actor=dispatcher, note="同一问题")
    services.ticket_dispatch(ticket=master, unit=sub_handler.org_unit, actor=dispatcher)
    services.ticket_accept(ticket=master, actor=sub_handler)
    services.ticket_reply(ticket=master, actor=sub_handler, reply=reply)
    services.ticket_review(ticket=master, actor=dispatcher, approve=True)
    with capture(execute=True):
        services.ticket_follow_up(ticket=master, actor=hotline, resolved=True, satisfaction="satisfied")
    sms = OutboundMessage.objects.filter(ticket=duplicate).latest("pk")
    assert sms.to == "13912345678"
    return master, sms


def test_the_masters_answer_reaches_the_duplicates_reporter_masked(
    make_ticket, nanshan_dispatcher, hotline, sub_handler, django_capture_on_commit_callbacks
):
    master, sms = _close_with_duplicate(
        make_ticket,
        nanshan_dispatcher,
        hotline,
        sub_handler,
        django_capture_on_commit_callbacks,
        reply="已联系反映人（电话13700001111，身份证440305199001011234），垃圾已清运完毕",
    )
    assert "13700001111" not in sms.body and "440305199001011234" not in sms.body
    assert "137****1111" in sms.body and "垃圾已清运完毕" in sms.body and master.number in sms.body


def test_a_confidential_masters_answer_is_not_texted_to_anybody_else(
    settings, make_ticket, nanshan_dispatcher, hotline, sub_handler, django_capture_on_commit_callbacks
):
    settings.ZHIWANG_OPEN311_PRIVATE_CATEGORIES = ["01"]  # the sanitation tickets here: 010214
    _master, sms = _close_with_duplicate(
        make_ticket,
        nanshan_dispatcher,
        hotline,
        sub_handler,
        django_capture_on_commit_callbacks,
        reply="经查，某单位工作人员违规收费，已移交处理",
    )
    assert "违规收费" not in sms.body and _master.number not in sms.body
    assert "同一事项的其他诉求一并办理" in sms.body and "已答复" in sms.body
    # nor was the master's number texted or shown when the duplicate was merged into it
    duplicate = Ticket.objects.get(merged_into=_master)
    merged_sms = OutboundMessage.objects.filter(ticket=duplicate).earliest("pk")
    assert _master.number not in merged_sms.body and duplicate.number in merged_sms.body
    from zhiwang.tickets import selectors

    seen = selectors.public_ticket_lookup(number=duplicate.number, phone="13912345678")
    assert seen.merged_into == "" and seen.status == "merged"


def test_a_citizen_is_shown_the_master_of_an_ordinary_merge(client, make_ticket, nanshan_dispatcher, citizen):
    from zhiwang.tickets import selectors
    from zhiwang.tickets.api.schemas import detail_out

    master = make_ticket()
    duplicate = make_ticket(reporter_phone="13912345678", reporter=citizen)
    services.ticket_merge(ticket=duplicate, master=master, actor=nanshan_dispatcher)
    duplicate.refresh_from_db()
    assert (
        selectors.public_ticket_lookup(number=duplicate.number, phone="13912345678").merged_into
        == master.number
    )
    assert detail_out(duplicate, citizen)["merged_into"] == master.number


def test_the_confidentiality_rules_are_the_open311_publication_rules(settings, make_ticket):
    from zhiwang.open311 import selectors as open311
    from zhiwang.tickets import disclosure

    assert disclosure.DEFAULT_PUBLIC_KINDS == open311.DEFAULT_PUBLIC_KINDS
    assert disclosure.DEFAULT_PRIVATE_CHANNELS == open311.DEFAULT_PRIVATE_CHANNELS
    assert disclosure.DEFAULT_PRIVATE_CATEGORIES == open311.DEFAULT_PRIVATE_CATEGORIES
    tickets = [make_ticket(), make_ticket(kind="report"), make_ticket(channel="petition")]
    for overrides in (
        {},
        {"ZHIWANG_OPEN311_PRIVATE_CATEGORIES": ["0102"]},
        {"ZHIWANG_OPEN311_PUBLIC_KINDS": []},
    ):
        for name, value in overrides.items():
            setattr(settings, name, value)
        for ticket in tickets:
            assert disclosure.is_confidential(ticket) is not open311.is_public(ticket)


# --- F6: the city's language ------------------------------------------------------------------------


def _english_words(text: str, *, but: str = "") -> list[str]:
    return re.findall(r"[A-Za-z]{3,}", text.replace(but, "")) if text else []


def test_a_dispatch_from_an_english_page_leaves_a_chinese_inbox_message(
    client, make_ticket, nanshan_dispatcher, sub_handler
):
    ticket = make_ticket()
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "en"
    answer = client.post(
        f"/api/v1/tickets/{ticket.number}/dispatch",
        {"unit": sub_handler.org_unit.code},
        content_type="application/json",
    )
    assert answer.status_code == 200
    note = Notification.objects.get(ticket=ticket, kind="dispatched")
    assert note.message.startswith(f"新工单 {ticket.number}")


def test_notifications_and_texts_are_written_in_the_citys_language(
    make_ticket, nanshan_dispatcher, hotline, sub_handler, handler, django_capture_on_commit_callbacks
):
    master = make_ticket()
    duplicate = make_ticket(reporter_phone="13912345678")
    with translation.override("en"):
        services.ticket_merge(ticket=duplicate, master=master, actor=nanshan_dispatcher, note="同一问题")
        services.ticket_dispatch(ticket=master, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
        services.ticket_reassign(ticket=master, unit=handler.org_unit, actor=nanshan_dispatcher, note="职责")
        services.ticket_accept(ticket=master, actor=handler)
        services.ticket_reply(ticket=master, actor=handler, reply="已清运")
        services.ticket_review(ticket=master, actor=nanshan_dispatcher, approve=True)
        with django_capture_on_commit_callbacks(execute=True):
            services.ticket_follow_up(ticket=master, actor=hotline, resolved=True, satisfaction="satisfied")
    notes = Notification.objects.filter(ticket=master, kind__in=["dispatched", "reassigned"])
    assert notes.count() == 3
    assert all(not _english_words(n.message, but=master.number) for n in notes), list(notes)
    told = OutboundMessage.objects.filter(ticket=duplicate).latest("pk").body
    assert not _english_words(told, but=master.number + duplicate.number), told


def test_the_clock_sweep_writes_the_inbox_in_the_citys_language(
    frozen_now, make_ticket, nanshan_dispatcher, sub_handler
):
    from zhiwang.tickets.services.clock import clock_sweep

    ticket = make_ticket()
    services.ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    with translation.override("en"):  # e.g. run from a page of an administrator reading English
        clock_sweep(now=frozen_now.initial + timedelta(days=30))  # in 2026, which the calendar covers
    notes = list(Notification.objects.filter(ticket=ticket).exclude(kind="dispatched"))
    assert {n.kind for n in notes} >= {"accept_overdue", "urged"}
    assert all(not _english_words(n.message, but=ticket.number) for n in notes), [n.message for n in notes]


# --- mark all read: what was shown; the list: narrow rows ---------------------------------------------


def test_mark_all_read_leaves_what_arrived_after_the_page_was_shown(client, handler, unit_note):
    client.force_login(handler)
    page = client.get("/notifications/").content.decode()
    assert f'name="up_to" value="{unit_note.pk}"' in page
    newer = Notification.objects.create(unit_id=handler.org_unit_id, kind="urged", message="新到的催办")
    client.post("/notifications/read-all/", {"up_to": str(unit_note.pk)})
    unit_note.refresh_from_db(), newer.refresh_from_db()
    assert unit_note.read_at is not None and newer.read_at is None
    assert client.post("/notifications/read-all/", {"up_to": "abc"}).status_code == 400
    # the API takes the same bound
    newest = Notification.objects.create(unit_id=handler.org_unit_id, kind="urged", message="又一条")
    assert client.post(f"{API}/read-all?up_to={newer.pk}").json() == {"marked": 1}
    newest.refresh_from_db()
    assert newest.read_at is None
    assert client.post(f"{API}/read-all").json() == {"marked": 1}  # no bound: all of them


def test_the_inbox_list_loads_the_tickets_number_not_its_wide_columns(
    client, handler, make_ticket, nanshan_dispatcher
):
    ticket = make_ticket()
    services.ticket_dispatch(ticket=ticket, unit=handler.org_unit, actor=nanshan_dispatcher)
    client.force_login(handler)
    for url in (f"{API}/", "/notifications/"):
        with CaptureQueriesContext(connection) as queries:
            answer = client.get(url)
        assert answer.status_code == 200 and ticket.number in answer.content.decode()
        listing = [q["sql"] for q in queries.captured_queries if "tickets_notification" in q["sql"]]
        assert listing and not any('"description"' in sql or '"reply"' in sql for sql in listing), listing


def test_every_workflow_message_is_written_in_the_citys_language(
    make_ticket, nanshan_dispatcher, sub_handler, django_capture_on_commit_callbacks
):
    """Merge, reject, reply, send back and urge from an English page: the inbox and the texts
    (the handling, triage, closing and escalation services) are Chinese."""
    master = make_ticket()
    duplicate = make_ticket(reporter_phone="13912345678")
    refused = make_ticket(reporter_phone="13912345679")
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        services.ticket_merge(ticket=duplicate, master=master, actor=nanshan_dispatcher, note="同一问题")
        services.ticket_reject(ticket=refused, actor=nanshan_dispatcher, reason="属于诉讼程序")
        services.ticket_dispatch(ticket=master, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
        services.ticket_urge(ticket_id=master.pk, actor=nanshan_dispatcher, note="请尽快")
        master = services.ticket_accept(ticket=Ticket.objects.get(pk=master.pk), actor=sub_handler)
        master = services.ticket_reply(ticket=master, actor=sub_handler, reply="已清运")
        services.ticket_review(ticket=master, actor=nanshan_dispatcher, approve=False, note="照片不清")
    numbers = (master.number, duplicate.number, refused.number)

    def english(text):
        for number in numbers:
            text = text.replace(number, "")
        return _english_words(text)

    notes = list(Notification.objects.exclude(kind="dispatched").values_list("kind", "message"))
    assert {kind for kind, _m in notes} == {"urged", "replied", "sent_back"}, notes
    assert not [m for _k, m in notes if english(m)], notes
    texts = list(OutboundMessage.objects.values_list("body", flat=True))
    assert len(texts) == 2 and not [t for t in texts if english(t)], texts  # merged, refused


def test_a_citizen_is_not_shown_a_confidential_masters_number(
    settings, make_ticket, nanshan_dispatcher, citizen
):
    from zhiwang.tickets.api.schemas import detail_out

    settings.ZHIWANG_OPEN311_PRIVATE_CATEGORIES = ["01"]  # the sanitation tickets here: 010214
    master = make_ticket()
    duplicate = make_ticket(reporter_phone="13912345678", reporter=citizen)
    services.ticket_merge(ticket=duplicate, master=master, actor=nanshan_dispatcher)
    duplicate.refresh_from_db()
    assert detail_out(duplicate, citizen)["merged_into"] is None
    assert detail_out(duplicate, nanshan_dispatcher)["merged_into"] == master.number  # staff see it
