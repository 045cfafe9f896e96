"""What the person page's registration log and the stewards' queue say about registrations kept for
review (登记待核), found in a browser walkthrough:

* the person page's log row of a registration says what became of it (waiting, with a link to its
  card in the queue; or moved / filled / declined, by whom and when, with no link to a queue it
  has left), and why it was kept (the record lies outside the registering person's area);
* each card of the queue says what confirming it would do before the steward decides: the fields
  it would fill (masked: a phone as 137****5678), the day the move would start, and that it would
  be refused (``registry.since_before_current``) when the current residence began on or after that
  day; a refusal after the click is said on that card and, at the top, with the registration's
  number; the page's intro covers registrations without an address (fill only).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from zhiwang.registry import services
from zhiwang.registry.demo import make_id_number
from zhiwang.registry.models import Person, RegistrationReview

TODAY = timezone.localdate()
LONG_AGO = TODAY - timedelta(days=400)
PHONE = "13712345678"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _held(steward, luohu_room, seq: int, since: date = LONG_AGO) -> Person:
    """A person placed in Luohu from ``since``, with no phone and no ethnicity on record."""
    number = make_id_number("440303", date(1971, 3, 4), seq, male=seq % 2 == 1)
    person, created = services.person_register(
        actor=steward,
        data={"id_number": number, "name": "罗湖人", "address": luohu_room.code, "since": since.isoformat()},
    )
    assert created and not person.phone and not person.ethnicity
    return person


def _referred(grid_worker, held: Person, *, address=None, since: date | None = None) -> RegistrationReview:
    data = {"id_number": held.id_number, "name": "罗湖人", "phone": PHONE, "ethnicity": "汉族"}
    if address is not None:
        data["address"] = address.code
    if since is not None:
        data["since"] = since.isoformat()
    with pytest.raises(services.RegistrationReferred) as info:
        services.person_register(actor=grid_worker, data=data, note="入户走访")
    return info.value.review


def _log(html: str) -> str:
    return html.split('data-testid="registration-log"', 1)[1].split("</table>", 1)[0]


def _card(html: str, review) -> str:
    return html.split(f'data-testid="review-{review.pk}"', 1)[1].split("</tr>", 1)[0]


# --- the person page's registration log ------------------------------------------------------------


def test_a_waiting_registration_links_to_its_card(steward, grid_worker, home_room, luohu_room):
    held = _held(steward, luohu_room, 901)
    review = _referred(grid_worker, held, address=home_room, since=TODAY - timedelta(days=3))
    log = _log(_client(steward).get(f"/registry/people/{held.pk}/").content.decode())
    assert "Registration kept for a data steward" in log
    assert f'href="/registry/conflicts/#review-{review.pk}"' in log
    # why it was kept, in the note column
    assert "The record lies outside the area of the person registering" in log
    # and the card it links to carries that anchor
    queue = _client(steward).get("/registry/conflicts/").content.decode()
    assert f'id="review-{review.pk}"' in queue


@pytest.mark.parametrize(
    "with_address, moved, outcome",
    [
        (True, "1", "confirmed: the record moved to the address given"),
        (False, "1", "confirmed: the record's empty fields were filled"),
        (True, "0", "declined: the record is unchanged"),
    ],
    ids=["moved", "filled", "declined"],
)
def test_a_decided_registration_says_its_outcome_by_whom_and_when(
    steward, grid_worker, home_room, luohu_room, with_address, moved, outcome
):
    held = _held(steward, luohu_room, 903)
    review = _referred(
        grid_worker,
        held,
        address=home_room if with_address else None,
        since=TODAY - timedelta(days=3) if with_address else None,
    )
    client = _client(steward)
    assert client.post("/registry/conflicts/", {"review": str(review.pk), "moved": moved}).status_code == 302
    review.refresh_from_db()
    log = _log(client.get(f"/registry/people/{held.pk}/").content.decode())
    assert "Registration kept for a data steward" not in log
    assert f"Registration checked by a data steward #{review.pk}: {outcome}" in log
    assert (
        f"decided by {steward.display_name} on {timezone.localtime(review.resolved_at):%Y-%m-%d %H:%M}" in log
    )
    assert "/registry/conflicts/" not in log  # the queue no longer lists it: no link there
    # the other outcomes are not claimed
    others = {
        "confirmed: the record moved to the address given",
        "confirmed: the record's empty fields were filled",
        "declined: the record is unchanged",
    } - {outcome}
    assert not [other for other in others if other in log]


# --- the stewards' queue -----------------------------------------------------------------------------


def test_a_fill_only_card_shows_what_it_would_fill_masked(steward, grid_worker, luohu_room):
    held = _held(steward, luohu_room, 905)
    review = _referred(grid_worker, held)
    html = _client(steward).get("/registry/conflicts/").content.decode()
    card = _card(html, review)
    fills = card.split('data-testid="review-fills"', 1)[1].split("</td>", 1)[0]
    assert "Phone" in fills and "137****5678" in fills
    assert "Ethnicity" in fills and "汉族" in fills
    # masking holds on the whole page: the phone given, the ID number and the name never in full
    assert PHONE not in html and held.id_number not in html
    assert held.masked_id_number in card and held.masked_name in card
    # the intro covers a registration without an address
    assert "Without one: fill the record's empty fields from the registration." in html


def test_a_field_already_on_record_is_not_listed_as_filled(steward, grid_worker, luohu_room):
    held = _held(steward, luohu_room, 907)
    Person.objects.filter(pk=held.pk).update(ethnicity="回族")
    review = _referred(grid_worker, held)
    card = _card(_client(steward).get("/registry/conflicts/").content.decode(), review)
    fills = card.split('data-testid="review-fills"', 1)[1].split("</td>", 1)[0]
    assert "137****5678" in fills and "Ethnicity" not in fills and "汉族" not in fills
    differs = card.split('data-testid="review-differs">', 1)[1].split("</td>", 1)[0]
    assert differs == "Ethnicity"  # the field's label, as the filled column names it: never ``ethnicity``


def test_the_differing_fields_are_named_in_the_readers_language(steward, grid_worker, luohu_room):
    held = _held(steward, luohu_room, 908)
    Person.objects.filter(pk=held.pk).update(ethnicity="回族", household_address="广东省深圳市罗湖区")
    review = _referred(grid_worker, held)
    RegistrationReview.objects.filter(pk=review.pk).update(
        values={**review.values, "household_address": "湖南省长沙市"}
    )
    client = _client(steward)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    card = _card(client.get("/registry/conflicts/").content.decode(), review)
    differs = card.split('data-testid="review-differs">', 1)[1].split("</td>", 1)[0]
    assert differs == "民族、户籍地址"
    assert "_" not in differs and "ethnicity" not in differs.lower()


def test_a_move_card_shows_its_date_and_no_warning_when_it_is_after(
    steward, grid_worker, home_room, luohu_room
):
    held = _held(steward, luohu_room, 909)
    since = TODAY - timedelta(days=5)
    review = _referred(grid_worker, held, address=home_room, since=since)
    card = _card(_client(steward).get("/registry/conflicts/").content.decode(), review)
    assert f"from {since.isoformat()}" in card
    assert 'data-testid="review-blocked"' not in card


def test_a_move_card_without_a_date_says_today(steward, grid_worker, home_room, luohu_room):
    held = _held(steward, luohu_room, 911)
    review = _referred(grid_worker, held, address=home_room)
    card = _card(_client(steward).get("/registry/conflicts/").content.decode(), review)
    assert "from today (no date given)" in card and 'data-testid="review-blocked"' not in card


@pytest.mark.parametrize("given_days_ago", [20, 10], ids=["before", "same day"])
def test_a_move_that_would_be_refused_is_warned_on_its_card_and_refused_beside_it(
    steward, grid_worker, home_room, luohu_room, given_days_ago
):
    start = TODAY - timedelta(days=10)
    held = _held(steward, luohu_room, 913, since=start)
    fine = _referred(grid_worker, _held(steward, luohu_room, 915), address=home_room, since=TODAY)
    review = _referred(grid_worker, held, address=home_room, since=TODAY - timedelta(days=given_days_ago))
    client = _client(steward)
    card = _card(client.get("/registry/conflicts/").content.decode(), review)
    warning = card.split('data-testid="review-blocked"', 1)[1].split("</span>", 1)[0]
    assert f"the current residence began on {start.isoformat()}" in warning
    assert "Decline it if the record is right." in warning
    # the move it warns about cannot be clicked; declining still can
    move = card.split('name="moved" value="1"', 1)[1].split(">", 1)[0]
    assert " disabled" in move and f'aria-describedby="review-{review.pk}-blocked"' in move
    assert "disabled" not in card.split('name="moved" value="0"', 1)[1].split(">", 1)[0]
    assert "disabled" not in _card(client.get("/registry/conflicts/").content.decode(), fine)
    # the steward clicks anyway: refused, said on that card, and named at the top
    answer = client.post("/registry/conflicts/", {"review": str(review.pk), "moved": "1"})
    assert answer.status_code == 400
    page = answer.content.decode()
    top = page.split('<div class="errors">', 1)[1].split("</div>", 1)[0]
    assert top.startswith(f"Registration #{review.pk}: ")
    beside = _card(page, review).split('data-testid="review-error">', 1)[1].split("</div>", 1)[0]
    assert f"the current residence began on {start.isoformat()}" in beside
    assert 'data-testid="review-error"' not in _card(page, fine)
    review.refresh_from_db()
    assert review.status == "pending"


def test_the_previews_read_residences_in_one_query(
    steward, grid_worker, home_room, luohu_room, django_assert_max_num_queries
):
    reviews = [
        _referred(grid_worker, _held(steward, luohu_room, 921 + 2 * i), address=home_room, since=TODAY)
        for i in range(3)
    ]
    loaded = list(RegistrationReview.objects.filter(pk__in=[r.pk for r in reviews]).select_related("person"))
    with django_assert_max_num_queries(1):
        previews = services.review_previews(loaded)
    assert [p.since for p in previews] == [TODAY] * 3
    assert all(("phone", "137****5678") in p.fills for p in previews)
