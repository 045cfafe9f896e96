"""A case involves at least what its agreement settles: raise the amount involved of the cases whose
agreement (recorded before ``agreement_reach`` raised it) settles more.

Each raise is appended to the case's timeline as ``agreement_reach`` writes it now: an ``update``
row with the amounts before and after, dated when the agreement was recorded (so a past period's
figures, read from the timeline as of its end, count the raised amount from the agreement on, as
they count the agreement's amount resolved), by the system (no actor), marked ``backfill``.
Backwards nothing is undone: the timeline is append-only, and a lower amount involved would again
be less than the amount resolved.
"""

from django.conf import settings
from django.db import migrations
from django.db.models import F
from django.utils import translation
from django.utils.translation import gettext


def raise_amounts(apps, schema_editor):
    Agreement = apps.get_model("disputes", "Agreement")
    CaseEvent = apps.get_model("disputes", "CaseEvent")
    DisputeCase = apps.get_model("disputes", "DisputeCase")
    above = Agreement.objects.filter(amount__gt=F("case__amount")).select_related("case").order_by("pk")
    for agreement in above.iterator():
        case = agreement.case
        before, after = str(case.amount), str(agreement.amount)
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
            at=agreement.created_at,
            action="update",
            from_state="agreed",
            to_state="agreed",
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
