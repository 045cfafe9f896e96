"""Personal data on tickets: the reporter's contact only through the logged reveal, a citizen's view
without other people's reports or internal replies, and the public look-up not guessable.

Personas (tests/conftest.py): the Nanshan dispatcher, the subdistrict office's handler (whose
jurisdiction holds the Nanshan building, but who handles only what is dispatched to the unit),
the city leader, the grid worker, the 12345 operator, a citizen.
"""

from __future__ import annotations

import logging

import pytest

from zhiwang.tickets import selectors
from zhiwang.tickets.services import (
    ticket_accept,
    ticket_dispatch,
    ticket_follow_up,
    ticket_merge,
    ticket_reply,
    ticket_review,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/tickets"


@pytest.fixture(autouse=True)
def _fresh_cache(fresh_cache):
    """The public endpoints' rate limits and look-up failure counters live in the cache."""


def lookup(client, number, phone, address="10.0.0.1", path="/public/lookup", **extra):
    return client.post(
        f"{URL}{path}",
        {"number": number, "phone": phone, **extra},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


# --- A1: caller history is a reveal of the phone ------------------------------------------


@pytest.mark.parametrize("persona", ["city_leader", "grid_worker"])
def test_caller_history_is_refused_to_roles_that_never_call_back(request, as_user, make_ticket, persona):
    ticket = make_ticket(reporter_phone="13912345678")
    api = as_user(request.getfixturevalue(persona))
    response = api.get(f"{URL}/history/caller", {"phone": "13912345678"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.forbidden"
    assert not ticket.events.filter(action="reveal_contact").exists()


def test_caller_history_answers_only_tickets_whose_contact_the_user_may_see(
    as_user, make_ticket, sub_handler, nanshan_dispatcher
):
    ticket = make_ticket(reporter_phone="13912345678")  # in the handler's jurisdiction, not yet theirs
    api = as_user(sub_handler)
    assert api.get(f"{URL}/history/caller", {"phone": "13912345678"}).json() == []
    ticket_dispatch(ticket=ticket, unit=sub_handler.org_unit, actor=nanshan_dispatcher)
    found = api.get(f"{URL}/history/caller", {"phone": "13912345678"}).json()
    assert [t["number"] for t in found] == [ticket.number]


def test_caller_history_searches_are_logged(as_user, make_ticket, nanshan_dispatcher, caplog):
    ticket = make_ticket(reporter_phone="13912345678")
    with caplog.at_level(logging.INFO, logger="zhiwang.tickets.audit"):
        as_user(nanshan_dispatcher).get(f"{URL}/history/caller", {"phone": "13912345678"})
    [record] = [r for r in caplog.records if r.name == "zhiwang.tickets.audit"]
    message = record.getMessage()
    assert f"user={nanshan_dispatcher.pk}" in message and ticket.number in message
    assert "139****5678" in message and "13912345678" not in message


# --- A2: the reporter's name is masked like the phone ---------------------------------------------


def test_reporter_name_is_masked_in_lists_and_detail_and_full_only_on_reveal(
    as_user, make_ticket, nanshan_dispatcher, grid_worker
):
    ticket = make_ticket(reporter_name="张三丰")
    api = as_user(nanshan_dispatcher)
    detail = api.get(f"{URL}/{ticket.number}").json()
    assert detail["reporter_name"] == "张**" and detail["reporter_phone"] == "138****8000"
    listed = api.get(f"{URL}/", {"q": ticket.number}).json()["items"]
    assert [t["reporter_name"] for t in listed] == ["张**"]
    revealed = api.post(
        f"{URL}/{ticket.number}/contact", {"reason": "回访"}, content_type="application/json"
    ).json()
    assert revealed == {"reporter_name": "张三丰", "reporter_phone": "13800138000"}
    assert ticket.events.filter(action="reveal_contact", actor=nanshan_dispatcher).count() == 1
    assert "张三丰" not in as_user(grid_worker).get(f"{URL}/{ticket.number}").content.decode()


def test_a_citizen_sees_their_own_name_in_full(as_user, make_ticket, citizen, nanshan_dispatcher):
    mine = make_ticket(reporter=citizen, reporter_name="张三丰")
    assert as_user(citizen).get(f"{URL}/{mine.number}").json()["reporter_name"] == "张三丰"
    assert as_user(nanshan_dispatcher).get(f"{URL}/{mine.number}").json()["reporter_name"] == "张**"


# --- B: a citizen's own ticket: no other people's reports, no internal replies ----------------------


def test_citizen_does_not_see_the_duplicates_merged_into_their_ticket(as_user, make_ticket, citizen, hotline):
    mine = make_ticket(reporter=citizen)
    other = make_ticket(reporter_name="王秀英", reporter_phone="13700000000")
    ticket_merge(ticket=other, master=mine, actor=hotline)
    body = as_user(citizen).get(f"{URL}/{mine.number}").json()
    assert body["duplicates"] == []
    assert other.number not in as_user(citizen).get(f"{URL}/{mine.number}").content.decode()


def test_staff_see_only_the_duplicates_in_their_scope(
    as_user, make_ticket, hotline, nanshan_dispatcher, luohu_building
):
    master = make_ticket()
    near = make_ticket()
    elsewhere = make_ticket(address_code=luohu_building.code)
    ticket_merge(ticket=near, master=master, actor=hotline)
    ticket_merge(ticket=elsewhere, master=master, actor=hotline)
    numbers = [
        d["number"] for d in as_user(nanshan_dispatcher).get(f"{URL}/{master.number}").json()["duplicates"]
    ]
    assert numbers == [near.number]
    assert [t.pk for t in selectors.merged_duplicates(user=hotline, ticket=master)] == [near.pk, elsewhere.pk]


def test_citizen_sees_the_reply_only_once_released(
    as_user, accepted, citizen, sub_handler, nanshan_dispatcher
):
    ticket = accepted(reporter=citizen)
    ticket = ticket_reply(ticket=ticket, actor=sub_handler, reply="内部：此事推给物业，别再管了")
    api = as_user(citizen)
    body = api.get(f"{URL}/{ticket.number}").json()
    assert body["reply"] == "" and body["replied_at"] is None
    assert all(e["note"] == "" for e in body["timeline"])
    ticket = ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=False, note="答复不合格")
    assert "别再管了" not in api.get(f"{URL}/{ticket.number}").content.decode()
    ticket = ticket_reply(ticket=ticket, actor=sub_handler, reply="已安排清运，现场已清理干净。")
    assert "已安排清运" not in api.get(f"{URL}/{ticket.number}").content.decode()
    ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    body = api.get(f"{URL}/{ticket.number}").json()
    assert body["status"] == "follow_up" and body["reply"] == "已安排清运，现场已清理干净。"
    notes = [e["note"] for e in body["timeline"] if e["action"] == "reply"]
    assert notes == ["", "已安排清运，现场已清理干净。"]  # the sent-back reply stays internal
    timeline = api.get(f"{URL}/{ticket.number}/timeline").json()
    assert [e["note"] for e in timeline if e["action"] == "reply"] == notes
    staff = as_user(nanshan_dispatcher).get(f"{URL}/{ticket.number}").json()
    assert [e["note"] for e in staff["timeline"] if e["action"] == "reply"][0].endswith("别再管了")


def test_a_reopened_ticket_keeps_showing_the_answer_the_citizen_already_had(
    as_user, client, accepted, citizen, sub_handler, nanshan_dispatcher
):
    ticket = accepted(reporter=citizen)
    ticket = ticket_reply(ticket=ticket, actor=sub_handler, reply="已安排清运。")
    ticket = ticket_review(ticket=ticket, actor=nanshan_dispatcher, approve=True)
    ticket = ticket_follow_up(
        ticket=ticket, actor=nanshan_dispatcher, resolved=False, satisfaction="unsatisfied"
    )
    assert ticket.status != "follow_up" and ticket.rework_count == 1
    api = as_user(citizen)
    body = api.get(f"{URL}/{ticket.number}").json()
    assert body["reply"] == "已安排清运。" and body["replied_at"] is not None
    looked_up = lookup(client, ticket.number, ticket.reporter_phone).json()
    assert looked_up["reply"] == "已安排清运。"
    # the unit's new reply is internal until reviewed: the citizen still reads the first one
    ticket = ticket_accept(ticket=ticket, actor=sub_handler)
    ticket = ticket_reply(ticket=ticket, actor=sub_handler, reply="内部：再拖一拖")
    body = api.get(f"{URL}/{ticket.number}").json()
    assert body["reply"] == "已安排清运。"
    assert "再拖一拖" not in api.get(f"{URL}/{ticket.number}").content.decode()
    assert "再拖一拖" not in lookup(client, ticket.number, ticket.reporter_phone).content.decode()


# --- C: the public look-up cannot be probed number by number --------------------------------------


def test_public_lookup_locks_a_number_for_a_guessing_client_and_then_for_everyone(client, make_ticket):
    from zhiwang.tickets.lookup_limits import NUMBER_FAILURE_LIMIT, NUMBER_GLOBAL_FAILURE_LIMIT

    ticket = make_ticket()
    other = make_ticket()
    for attempt in range(NUMBER_FAILURE_LIMIT):  # one client guesses phones for one number
        assert lookup(client, ticket.number, f"1390000{attempt:04d}", address="10.0.0.7").status_code == 404
    locked = lookup(client, ticket.number.lower(), "13800138000", address="10.0.0.7")  # even the right phone
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "tickets.lookup_locked"
    # the citizen, elsewhere, still follows the ticket: one guesser cannot lock them out
    assert lookup(client, ticket.number, "13800138000", address="10.9.9.9").status_code == 200
    # a guesser rotating addresses is stopped at the global ceiling, for everybody
    for attempt in range(NUMBER_GLOBAL_FAILURE_LIMIT - NUMBER_FAILURE_LIMIT):
        response = lookup(
            client, ticket.number, f"1391111{attempt:04d}", address=f"10.{attempt // 250}.{attempt % 250}.2"
        )
        assert response.status_code == 404
    assert lookup(client, ticket.number, "13800138000", address="10.9.9.9").status_code == 429
    rate = lookup(
        client, ticket.number, "13800138000", address="10.9.9.8", path="/public/rate", resolved=True,
        satisfaction="satisfied",
    )  # fmt: skip
    assert rate.status_code == 429
    assert lookup(client, other.number, "13800138000", address="10.9.9.9").status_code == 200


def test_public_rate_failures_count_against_the_number(client, in_follow_up):
    ticket = in_follow_up()
    for attempt in range(10):
        response = lookup(
            client, ticket.number, f"1390000{attempt:04d}", address="10.1.0.1", path="/public/rate",
            resolved=True, satisfaction="satisfied",
        )  # fmt: skip
        assert response.status_code == 404
    assert lookup(client, ticket.number, "13800138000", address="10.1.0.1").status_code == 429


def test_number_lock_is_shared_between_processes_through_redis(tmp_path):
    """With the Redis cache (production), failures recorded by two processes lock the number together."""
    import os
    import subprocess
    import sys
    import uuid

    import redis

    url = os.environ.get("ZHIWANG_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"CI=true but Redis is unreachable at {url}")
        pytest.skip(f"Redis unreachable at {url}: skipping the shared-counter test")
    number = f"ZW-TEST-{uuid.uuid4().hex[:10]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIWANG_")}
    env.update(
        ZHIWANG_DATA_DIR=str(tmp_path),
        ZHIWANG_CACHE="redis",
        ZHIWANG_CACHE_URL=url,
        DJANGO_SETTINGS_MODULE="zhiwang.settings",
    )

    def run(code: str) -> str:
        script = "import django; django.setup(); from zhiwang.tickets import lookup_limits as l; " + code
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    half = 5
    run(f"[l.record_number_failure({number!r}) for _ in range({half})]")
    assert run(f"print(l.number_locked({number!r}))") == "False"
    run(f"[l.record_number_failure({number!r}) for _ in range(l.NUMBER_FAILURE_LIMIT - {half})]")
    assert run(f"print(l.number_locked({number!r}))") == "True"  # a third process sees the lock
