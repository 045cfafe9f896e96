"""A case involves at least what its agreement settles: raise the amount involved of the cases whose
agreement (recorded before ``agreement_reach`` raised it) settles more.

Each raise is appended to the case's timeline as ``agreement_reach`` writes it now: a
``raise_amount`` row with the amounts before and after, by the system (no actor), marked
``backfill``. The row is dated so that the amount read from the timeline as of any moment
(``selectors.cases.amount_as_of``: the latest ``update`` or ``raise_amount`` row before it, by time
then id) agrees with the case as it was then and, as of now, with the raised field:

- no amount change after the agreement: dated when the agreement was recorded, ``before`` the
  amount involved as of that moment (a past period's figures count the raised amount from the
  agreement on, as they count the agreement's amount resolved);
- a correction after the agreement (and still below it): dated just after the last correction,
  ``before`` the amount it set (today's). The periods before read the amounts recorded then.

Backwards nothing is undone: the timeline is append-only, and a lower amount involved would again
be less than the amount resolved.
"""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.db.models import F
from django.utils import translation
from django.utils.translation import gettext

#: how long after the last correction its raise is dated: the next instant the databases keep
_JUST_AFTER = timedelta(microseconds=1)

#: the timeline rows that change a case field, as ``selectors.cases.VALUE_CHANGES`` (frozen here)
_VALUE_CHANGES = ("update", "raise_amount")


def _amount_changes(CaseEvent, case):
    """The case's changes of the amount involved, oldest first (by time then id, as ``amount_as_of``)."""
    rows = CaseEvent.objects.filter(case=case, action__in=_VALUE_CHANGES).order_by("at", "pk")
    return [row for row in rows if "amount" in ((row.payload or {}).get("after") or {})]


def raise_amounts(apps, schema_editor):
    Agreement = apps.get_model("disputes", "Agreement")
    CaseEvent = apps.get_model("disputes", "CaseEvent")
    DisputeCase = apps.get_model("disputes", "DisputeCase")
    above = Agreement.objects.filter(amount__gt=F("case__amount")).select_related("case").order_by("pk")
    for agreement in above.iterator():
        case = agreement.case
        changes = _amount_changes(CaseEvent, case)
        until = [row for row in changes if row.at <= agreement.created_at]
        later = [row for row in changes if row.at > agreement.created_at]
        if later:
            # the field holds what the last correction set: raise it from there, after it
            at, state = later[-1].at + _JUST_AFTER, later[-1].to_state
            before = str(case.amount)
        else:
            # as of the agreement: what the last change up to it set (none: the field, never changed)
            at, state = agreement.created_at, "agreed"
            before = until[-1].payload["after"]["amount"] if until else str(case.amount)
        after = str(agreement.amount)
        params = {"number": agreement.number}
        # the sentence as ``texts.AMOUNT_RAISED`` stores it: in the city's language
        with translation.override(settings.LANGUAGE_CODE):
            note = (
                gettext(
                    "Raised to the amount agreed in %(number)s: a case involves at least what its "
                    "agreement settles."
                )
                % params
            )
        CaseEvent.objects.create(
            case=case,
            actor=None,
            at=at,
            action="raise_amount",
            from_state=state,
            to_state=state,
            note=note,
            payload={
                "before": {"amount": before},
                "after": {"amount": after},
                "agreement": agreement.number,
                "backfill": True,
                "note_code": "amount_raised",
                "note_params": params,
                "change_code": "case_changed",
                "change_params": {"changes": [{"field": "amount", "from": before, "to": after}]},
            },
        )
        # a form open on the case's old version is refused, like after any change
        DisputeCase.objects.filter(pk=case.pk).update(amount=agreement.amount, version=F("version") + 1)


class Migration(migrations.Migration):
    dependencies = [("disputes", "0010_case_source_hotline")]

    operations = [migrations.RunPython(raise_amounts, migrations.RunPython.noop)]
