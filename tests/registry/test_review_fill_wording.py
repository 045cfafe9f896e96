"""A registration kept for review that gives no address has one action: fill the record's empty
fields from it. Its button says that task (it read "Confirm: fill empty fields" / 核实：补全空白项,
like a status), and the confirmation says what was done, not that the record moved."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client

from zhiwang.registry import services
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.models import RegistrationReview


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _review(steward, grid_worker, luohu_room, seq: int, *, address=None) -> RegistrationReview:
    number = make_id_number("440303", date(1966, 4, 5), seq, male=True)
    held, _created = services.person_register(
        actor=steward,
        data={"id_number": number, "name": "罗湖人", "address": luohu_room.code, "since": "2020-01-01"},
    )
    data = {"id_number": number, "name": "罗湖人", "phone": "13712345678"}
    if address is not None:
        data["address"] = address.code
    with pytest.raises(services.RegistrationReferred) as info:
        services.person_register(actor=grid_worker, data=data)
    return info.value.review


def _buttons(html: str, review) -> list[str]:
    row = html.split(f'data-testid="review-{review.pk}"', 1)[1].split("</tr>", 1)[0]
    return re.findall(r'<button type="submit" name="moved" value="1"[^>]*>(.*?)</button>', row)


def test_a_review_without_an_address_offers_the_task_in_words(steward, grid_worker, luohu_room, home_room):
    fill = _review(steward, grid_worker, luohu_room, 801)
    move = _review(steward, grid_worker, luohu_room, 803, address=home_room)
    client = _client(steward)
    html = client.get("/registry/conflicts/").content.decode()
    assert _buttons(html, fill) == ["Fill the record's empty fields from the registration"]
    assert _buttons(html, move) == ["Move the record to the address given"]
    assert "Confirm: fill empty fields" not in html
    answer = client.post("/registry/conflicts/", {"review": str(fill.pk), "moved": "1"})
    assert answer.status_code == 302
    shown = [str(m) for m in get_messages(answer.wsgi_request)]
    assert shown == [
        f"Registration #{fill.pk} confirmed: the empty fields of the record of "
        f"“{fill.person.masked_name}” were filled from it."
    ]
    fill.person.refresh_from_db()
    assert fill.person.phone == "13712345678" and fill.person.community_id == luohu_room.community_id
