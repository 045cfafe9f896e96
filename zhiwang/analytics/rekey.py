"""Re-key repeat-caller alerts after the hash key changed (a step of ``zhiwang rehash-all``).

A repeat caller's alert key is a keyed hash of the phone (``alerts.caller_key``, under
``core.keyed_hash``'s secret). De-duplication is by key: one open alert per key
(``services._open_alert``), and a decision holds for its key (``services._last_closed``). After
the secret changes, the detector computes other keys for the same callers: without re-keying,
every open repeat-caller alert would be raised a second time, and every caller marked a false
alarm raised again without new evidence.

The old secret is not needed (nor, usually, known any more): like migration
``analytics.0012_caller_keys_keyed`` (which keeps its own frozen copy of this rule for the
earlier unkeyed key), each alert is re-keyed from the phone its own member tickets
(``AlertTicket``) hold, since the detector groups tickets by their stored ``reporter_phone``:

- an alert whose key is already the current key of one of its tickets' phones is left alone (so
  a second run changes nothing);
- else, its tickets' one phone gives the key; tickets with several phones (a phone corrected
  since) give the one whose masked form is the alert's shown phone (``detail["explain"]["phone"]``);
- an alert no phone can be chosen for, or an open one whose new key another open alert holds
  already (raised by a detector run between the key change and this step: it keeps the key),
  gets ``caller:unmatched:<alert id>``, which matches no finding; its old key, which whoever
  had the old secret could reverse, is not kept. Such alerts are left alone afterwards.

Decided and resolved alerts are re-keyed too (their decisions keep holding). The key is rewritten
without touching ``updated_at``: nothing about the alert changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from zhiwang.analytics.alerts import caller_key
from zhiwang.analytics.models import Alert, AlertKind, AlertStatus, AlertTicket
from zhiwang.core.masking import mask_phone, mask_text

#: The key of a repeat-caller alert no phone of whose tickets could be chosen (as migration 0012).
UNMATCHED_PREFIX = "caller:unmatched:"


@dataclass
class CallerRekeyResult:
    """What a run read, re-keyed (or, dry, would re-key) and could not match to a phone."""

    checked: int = 0
    changed: int = 0
    unmatched: int = 0
    dry_run: bool = False


def stored_caller_key(phone: str) -> str:
    """``alerts.caller_key`` as ``services.alert_raise`` stores it (masked, at most 160 characters)."""
    return mask_text(caller_key(phone))[:160]


def caller_alerts():
    """The repeat-caller alerts whose key follows the secret (not those keyed ``unmatched``)."""
    return Alert.objects.filter(kind=AlertKind.REPEAT_CALLER).exclude(key__startswith=UNMATCHED_PREFIX)


def alert_caller_key(*, pk: int, key: str, phones: list[str], detail: dict | None) -> str:
    """The key alert ``pk``, keyed ``key``, should hold under the current secret, from the
    distinct phones of its tickets (module docstring): ``key`` itself when it is current, else
    the chosen phone's key, else ``caller:unmatched:<pk>``. One open alert per key is the
    caller's to settle (``caller_keys_rekey``)."""
    current = {stored_caller_key(phone): phone for phone in phones}
    if key in current or key.startswith(UNMATCHED_PREFIX):
        return key
    if len(current) == 1:
        return next(iter(current))
    shown = ((detail or {}).get("explain") or {}).get("phone") if isinstance(detail, dict) else None
    chosen = [k for k, phone in current.items() if shown and mask_text(mask_phone(phone)) == shown]
    return chosen[0] if len(chosen) == 1 else f"{UNMATCHED_PREFIX}{pk}"


def _phones(alert_ids: list[int]) -> dict[int, list[str]]:
    """The distinct non-empty phones of each alert's member tickets."""
    found: dict[int, set[str]] = {pk: set() for pk in alert_ids}
    rows = (
        AlertTicket.objects.filter(alert_id__in=alert_ids)
        .exclude(ticket__reporter_phone="")
        .order_by()
        .values_list("alert_id", "ticket__reporter_phone")
        .distinct()
    )
    for alert_id, phone in rows:
        found[alert_id].add(phone)
    return {pk: sorted(phones) for pk, phones in found.items()}


def caller_keys_rekey(
    *, batch_size: int = 500, dry_run: bool = False, progress: Callable[[int], object] | None = None
) -> CallerRekeyResult:
    """Re-key every repeat-caller alert under the current secret (module docstring): alerts in
    primary-key order, one transaction per batch, only changed keys written; idempotent and
    resumable. ``progress`` is called with the number of alerts read in each batch."""
    result = CallerRekeyResult(dry_run=dry_run)
    last_pk = 0
    taken: set[str] = set()  # open keys given in this batch (a dry run: in this run; alerts are few)
    while True:
        rows = list(
            caller_alerts()
            .filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "key", "status", "detail")[:batch_size]
        )
        if not rows:
            return result
        last_pk = rows[-1][0]
        phones = _phones([pk for pk, *_rest in rows])
        wanted: dict[int, tuple[str, str]] = {}  # pk → (new key, status)
        for pk, key, status, detail in rows:
            new = alert_caller_key(pk=pk, key=key, phones=phones[pk], detail=detail)
            if new != key:
                wanted[pk] = (new, status)
        changed = []
        if wanted:
            with transaction.atomic():
                # open alerts holding a new key already (one open alert per key); never the alert
                # itself, whose key differs from its new one
                held = set(
                    Alert.objects.select_for_update()
                    .filter(status=AlertStatus.OPEN, key__in={new for new, _s in wanted.values()})
                    .values_list("key", flat=True)
                )
                for pk in sorted(wanted):
                    new, status = wanted[pk]
                    if status == AlertStatus.OPEN and not new.startswith(UNMATCHED_PREFIX):
                        if new in held or new in taken:
                            new = f"{UNMATCHED_PREFIX}{pk}"
                        else:
                            taken.add(new)
                    changed.append(Alert(pk=pk, key=new))
                if not dry_run:
                    Alert.objects.bulk_update(changed, ["key"])
        if not dry_run:
            taken.clear()  # written: the next batch reads them in ``held``
        result.checked += len(rows)
        result.changed += len(changed)
        result.unmatched += sum(a.key.startswith(UNMATCHED_PREFIX) for a in changed)
        if progress is not None:
            progress(len(rows))


#: The steps ``zhiwang rehash-all`` runs for this app: name → (rows to read, rebuild).
REKEY_STEPS = {
    "analytics caller alerts": (lambda: caller_alerts().count(), caller_keys_rekey),
}
