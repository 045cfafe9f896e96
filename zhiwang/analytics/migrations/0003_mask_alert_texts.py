"""Personal data out of the alerts raised before the detectors masked them (docs/analytics.md):

- every alert's key, explanation and detail, and every ``analytics_alert`` notification, go
  through ``mask_text`` (phones, ID numbers, e-mail addresses, self-given names);
- a topic alert's words lose person names, numbers and latin words (its key and explanation are
  rebuilt from the words left);
- a reopened-ticket alert loses the quoted ticket title;
- report idempotency keys become per requester (``u<id>:<key>``), as new ones are.
"""

import hashlib
import re

from django.db import migrations

QUOTED = re.compile(r"\s*“([^”]*)”\s*")
REOPEN_MARKERS = ("重办", "reopened")


def _topic_words(words):
    from zhiwang.analytics.alerts import _topic_word

    import jieba.posseg as pseg

    kept = []
    for word in words:
        tagged = list(pseg.cut(word))
        flag = tagged[0].flag if len(tagged) == 1 else "n"
        if _topic_word(word, flag) and word not in kept:
            kept.append(word)
    return kept


def _clean(text, *, reopen):
    from zhiwang.core.masking import mask_text

    if reopen:
        text = QUOTED.sub(" ", text).strip()
    else:
        text = QUOTED.sub(
            lambda m: "“" + "、".join(_topic_words(m.group(1).split("、"))) + "”", text
        )
    return mask_text(text)


def forwards(apps, schema_editor):
    from zhiwang.core.masking import mask_data, mask_text

    Alert = apps.get_model("analytics", "Alert")
    Notification = apps.get_model("tickets", "Notification")
    Report = apps.get_model("analytics", "Report")

    for alert in Alert.objects.all().iterator():
        reopen = alert.kind == "repeat_reopen"
        detail = mask_data(alert.detail or {})
        key = mask_text(alert.key)
        if alert.kind == "topic_cluster" and isinstance(detail.get("words"), list):
            detail["words"] = _topic_words([str(w) for w in detail["words"]])
            key = "topic:" + "-".join(detail["words"][:3])
        key = key[:160]
        if key != alert.key and (
            Alert.objects.filter(key=key, status="open").exclude(pk=alert.pk).exists() and alert.status == "open"
        ):
            key = f"{key[:150]}:{alert.pk}"
        explanation = _clean(alert.explanation, reopen=reopen)[:500]
        if (key, explanation, detail) != (alert.key, alert.explanation, alert.detail):
            Alert.objects.filter(pk=alert.pk).update(key=key, explanation=explanation, detail=detail)

    for note in Notification.objects.filter(kind="analytics_alert").iterator():
        message = _clean(note.message, reopen=any(m in note.message for m in REOPEN_MARKERS))
        if message != note.message:
            Notification.objects.filter(pk=note.pk).update(message=message[:500])

    for report in Report.objects.exclude(idempotency_key__regex=r"^u[0-9]+:").iterator():
        # the same rule as services.stored_report_key (copied: a migration must not change with the code)
        plain = f"u{report.requested_by_id or 0}:{report.idempotency_key}"
        key = plain if len(plain) <= 80 else (
            f"u{report.requested_by_id or 0}:h:" + hashlib.sha256(report.idempotency_key.encode("utf-8")).hexdigest()[:56]
        )
        Report.objects.filter(pk=report.pk).update(idempotency_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_report_includes_disputes"),
        ("tickets", "0003_config_version"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
