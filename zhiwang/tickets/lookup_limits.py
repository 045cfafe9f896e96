"""Limits on the citizen's look-up by number and phone (the one unscoped read), against guessing.

One rule for every place that takes a number and a phone from anybody: the web ``/track/`` page
and the API's ``POST /tickets/public/lookup`` and ``/public/rate``. ``lookup_admit`` counts the
look-up as a failure on four counters (``core.throttle``) before the ticket is read, refuses it
when one is over its limit, and ``LookupAttempt.take_back`` takes the counts back when number and
phone matched. So the counters hold failed look-ups only, a burst sent in parallel counts itself,
and a refused look-up costs a few cache operations and counts nowhere.

- per client address (``ADDRESS_FAILURE_LIMIT``, 10 in 15 minutes), whatever the numbers and
  phones; the address is found as ninja finds it (``core.client_address``), so behind a reverse
  proxy citizens do not share one bucket, and counted by ``core.client_address.rate_limit_key``
  (an IPv6 client by its /64, in which it may pick any address). Web page and API count together;
- per ticket number and address (``NUMBER_FAILURE_LIMIT``, 10 an hour): one client's guesses at
  one number stop there;
- per ticket number from all addresses (``NUMBER_GLOBAL_FAILURE_LIMIT``, 100 an hour): numbers
  are sequential, so somebody rotating addresses could try phone after phone against each number;
- per phone from all addresses (``PHONE_FAILURE_LIMIT``, 10 a day): somebody who knows a
  citizen's phone could try every number of a day, one try each, so that no number's counter
  ever fills, and read every ticket that phone reported. The phone is read by the rule the
  look-up compares with (``core.phones.comparable_phone``), so no spelling of it ("+86 138…",
  "138-…") gets a counter of its own; the cache key holds a keyed hash of it (``core.throttle``).

The two counters from all addresses have a price: a stranger with many addresses can keep one
number locked (100 requests an hour), and a stranger who knows a citizen's phone can keep the
look-ups with it refused (10 requests a day). A locked number or phone answers "too many
attempts" to every look-up with it, right phone or wrong, until the window ends; a citizen who
already proved the ticket in this browser, or is signed in as its reporter, still sees it.

The windows are fixed (they start at the first failure); a refusal says when the one that refused
it ends (the API's ``Retry-After``, and the message in minutes, or hours while more than one is
left) and points to the 12345 hotline. Counters are per cache: shared by
every process and node with the Redis cache (``ZHIWANG_CACHE``, the default with Redis tasks),
per process with the embedded default's local memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.utils.translation import ngettext

from zhiwang.core import throttle
from zhiwang.core.client_address import rate_limit_key
from zhiwang.core.phones import comparable_phone

#: Failed look-ups from one client address, whatever the numbers and phones, before its look-ups wait.
ADDRESS_FAILURE_LIMIT = 10
ADDRESS_FAILURE_WINDOW = 15 * 60  # seconds
#: Wrong phones for one ticket number from one client address before that client's look-ups of it wait.
NUMBER_FAILURE_LIMIT = 10
#: Wrong phones for one ticket number from all addresses before every look-up of it waits.
NUMBER_GLOBAL_FAILURE_LIMIT = 100
NUMBER_FAILURE_WINDOW = 60 * 60  # seconds
#: Failed look-ups with one phone from all addresses before every look-up with it waits.
PHONE_FAILURE_LIMIT = 10
PHONE_FAILURE_WINDOW = 24 * 60 * 60  # seconds

#: Stable codes of the refusals (the API's 429 ``error.code``).
ADDRESS_LIMITED = "tickets.lookup_limited"
NUMBER_LOCKED = "tickets.lookup_locked"
PHONE_LOCKED = "tickets.lookup_phone_locked"


class LookupRefused(Exception):
    """Too many failed look-ups: refused before the ticket is read. ``retry_after`` in seconds."""

    def __init__(self, code: str, message: str, *, field: str | None, retry_after: int):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after


@dataclass
class LookupAttempt:
    """A look-up counted as failed on every counter until it is taken back (``take_back``)."""

    counted: list[tuple[str, str]] = field(default_factory=list)

    def take_back(self) -> None:
        """Number and phone matched, or the look-up failed on our side: it was no wrong guess."""
        for kind, value in self.counted:
            throttle.count_take_back(kind, value)
        self.counted = []


def normalized_number(number: str) -> str:
    return (number or "").strip().upper()


def _counters(number: str, phone: str, address: str):
    """(kind, value, limit, window, refusal) of each counter, in the order they are checked: a
    look-up over several limits is told the one about what it typed (the number, the phone)."""
    number, address = normalized_number(number), rate_limit_key(address)
    counters = [
        (
            "number-address",
            f"{number}|{address}",
            NUMBER_FAILURE_LIMIT,
            NUMBER_FAILURE_WINDOW,
            _number_refused,
        ),
        ("number", number, NUMBER_GLOBAL_FAILURE_LIMIT, NUMBER_FAILURE_WINDOW, _number_refused),
    ]
    # Not a phone: it matches no ticket, and the other counters see to whoever keeps sending it.
    canonical = comparable_phone(phone)
    if canonical:
        counters.append(
            ("lookup-phone", canonical, PHONE_FAILURE_LIMIT, PHONE_FAILURE_WINDOW, _phone_refused)
        )
    counters.append(
        ("lookup-address", address, ADDRESS_FAILURE_LIMIT, ADDRESS_FAILURE_WINDOW, _address_refused)
    )
    return counters


# The refusals say how long the wait still is (the window's end, not its length: the windows are
# fixed) and point to the 12345 hotline, which answers the same question without the wait.


def _minutes(seconds: int) -> int:
    """Whole minutes, rounded up, at least 1 ("try again in 0 minutes" would be refused again)."""
    return max(1, math.ceil(seconds / 60))


def _address_refused(retry_after: int) -> LookupRefused:
    minutes = _minutes(retry_after)
    message = ngettext(
        "Too many attempts from your network. Try again in %(minutes)s minute. "
        "You can also call the 12345 hotline to ask how your request is progressing.",
        "Too many attempts from your network. Try again in %(minutes)s minutes. "
        "You can also call the 12345 hotline to ask how your request is progressing.",
        minutes,
    ) % {"minutes": minutes}
    return LookupRefused(ADDRESS_LIMITED, message, field=None, retry_after=retry_after)


def _number_refused(retry_after: int) -> LookupRefused:
    minutes = _minutes(retry_after)
    message = ngettext(
        "Too many attempts for this request number. Try again in %(minutes)s minute. "
        "You can also call the 12345 hotline to ask how your request is progressing.",
        "Too many attempts for this request number. Try again in %(minutes)s minutes. "
        "You can also call the 12345 hotline to ask how your request is progressing.",
        minutes,
    ) % {"minutes": minutes}
    return LookupRefused(NUMBER_LOCKED, message, field="number", retry_after=retry_after)


def _phone_refused(retry_after: int) -> LookupRefused:
    if retry_after <= 3600:  # the last hour of a day's lock: "1 hour" would overstate it
        minutes = _minutes(retry_after)
        message = ngettext(
            "Too many attempts with this phone number. Try again in %(minutes)s minute. "
            "You can also call the 12345 hotline to ask how your request is progressing.",
            "Too many attempts with this phone number. Try again in %(minutes)s minutes. "
            "You can also call the 12345 hotline to ask how your request is progressing.",
            minutes,
        ) % {"minutes": minutes}
    else:
        hours = math.ceil(retry_after / 3600)
        message = ngettext(
            "Too many attempts with this phone number. Try again in %(hours)s hour. "
            "You can also call the 12345 hotline to ask how your request is progressing.",
            "Too many attempts with this phone number. Try again in %(hours)s hours. "
            "You can also call the 12345 hotline to ask how your request is progressing.",
            hours,
        ) % {"hours": hours}
    return LookupRefused(PHONE_LOCKED, message, field="phone", retry_after=retry_after)


def lookup_admit(*, number: str, phone: str, address: str) -> LookupAttempt:
    """Count a look-up as failed until it matches; ``LookupRefused`` when a counter is over its
    limit (then nothing stays counted, and the ticket is not to be read).

    The caller reads the ticket only after this, and calls ``take_back()`` on the attempt when
    number and phone matched; a failure stays counted.
    """
    attempt = LookupAttempt()
    for kind, value, limit, window, refusal in _counters(number, phone, address):
        count = throttle.count_add(kind, value, window)
        attempt.counted.append((kind, value))
        if count > limit:
            attempt.take_back()  # refused: counted nowhere
            raise refusal(throttle.window_left(kind, value, window))
    return attempt


# --- the number's counters alone (tests and operators read them) --------------------------------


def number_locked(number: str, address: str = "") -> bool:
    """Too many wrong phones for this ticket number lately: from this client, or from everywhere."""
    number, address = normalized_number(number), rate_limit_key(address)
    return (
        throttle.count("number-address", f"{number}|{address}") >= NUMBER_FAILURE_LIMIT
        or throttle.count("number", number) >= NUMBER_GLOBAL_FAILURE_LIMIT
    )


def record_number_failure(number: str, address: str = "") -> None:
    number, address = normalized_number(number), rate_limit_key(address)
    throttle.count_add("number-address", f"{number}|{address}", NUMBER_FAILURE_WINDOW)
    throttle.count_add("number", number, NUMBER_FAILURE_WINDOW)
