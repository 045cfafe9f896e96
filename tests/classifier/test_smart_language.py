# ruff: noqa: F811 (pytest fixtures imported from tests.tickets.test_classify_fixtures)
"""Smart dispatch in the reader's language: what is stored is data, put in words when read.

Model origins, the promotion history, a run's stage and error, the drift notice and model
names are written under one language and read under the other; rollbacks walk back
through the promotion history and never forward.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from tests.tickets.conftest import (  # noqa: F401 (fixtures)
    RUBBISH,
    hotline,
    make_ticket,
    nanshan_building,
    nanshan_community,
)
from tests.tickets.test_classify_fixtures import (  # noqa: F401 (fixtures)
    active_model,
    corpus,
    model_dir,
    tiny_trained,
)
from zhiwang.classifier import selectors as classifier_selectors
from zhiwang.classifier import services as classifier_services
from zhiwang.classifier.ml.selective import join_sentences
from zhiwang.classifier.models import ClassifierModel, ModelStatus, tag_label
from zhiwang.core.errors import NotFound, ServiceError
from zhiwang.core.models import AdminNotice
from zhiwang.tickets.models import TrainingRun, TrainingStatus
from zhiwang.tickets.services import smart
from zhiwang.tickets.services.smart import (
    DRIFT_NOTICE_KEY,
    STALE_RUN_AFTER,
    LabelledHistory,
    classifier_drift_check,
    classifier_retrain,
    stale_runs_give_up,
)

pytestmark = pytest.mark.django_db
PAGE = "/smart-dispatch/"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _in(language: str, client, admin_user):
    client.force_login(admin_user)
    client.cookies["django_language"] = language
    return client


def _testid(html: str, testid: str) -> str:
    """The text inside the element marked ``data-testid=testid`` (tags stripped)."""
    match = re.search(
        rf'data-testid="{re.escape(testid)}"[^>]*>(.*?)</(td|span|p|li|strong|section)>', html, re.S
    )
    assert match, f"no {testid} on the page"
    return re.sub(r"<[^>]+>", " ", match.group(1))


def _section(html: str, testid: str) -> str:
    """The text of the section marked ``data-testid=testid`` (tags stripped)."""
    start = html.index(f'data-testid="{testid}"')
    return re.sub(r"<[^>]+>", " ", html[start : html.index("</section>", start)])


def _register(tiny_trained, note: str = "") -> ClassifierModel:
    return classifier_services.model_register(name="category", directory=tiny_trained, note=note)


# --- model origins and notes -------------------------------------------------------------------------


def _retrain(monkeypatch, language: str) -> ClassifierModel:
    texts, labels = corpus()
    history = LabelledHistory(texts=texts, labels=labels, held_texts=[], held_labels=[])
    monkeypatch.setattr(smart, "labelled_history", lambda **kwargs: history)
    run = TrainingRun.objects.create()
    with translation.override(language):
        return classifier_retrain(run_id=run.pk, cv=2).model


def test_a_model_retrained_under_chinese_reads_in_english_and_the_other_way(
    monkeypatch, model_dir, client, admin_user
):
    zh_written = _retrain(monkeypatch, "zh-hans")
    en_written = _retrain(monkeypatch, "en")
    for model in (zh_written, en_written):
        model.refresh_from_db()
        assert model.note == ""  # left to people
        assert model.metrics["origin"] == {"code": "retrained", "count": len(corpus()[0])}

    html = _in("en", client, admin_user).get(PAGE).content.decode()
    for model in (zh_written, en_written):
        cell = _testid(html, f"model-{model.version}")
        assert not CJK.search(cell), cell
        assert "Retrained from 80 labelled tickets" in cell and f"category model v{model.version}" in cell

    html = _in("zh-hans", client, admin_user).get(PAGE).content.decode()
    for model in (zh_written, en_written):
        cell = _testid(html, f"model-{model.version}")
        assert "Retrained" not in cell and "基于 80 件已标注工单重新训练" in cell


def test_the_demo_model_origin_is_data_not_an_english_note(model_dir, settings):
    from zhiwang.tickets.demo import demo_classifier_train

    model = demo_classifier_train(per_category=1, held_back_per_category=1)
    assert model.note == "" and model.metrics["origin"] == {"code": "demo"}
    with translation.override("en"):
        assert model.origin_text == "Demo: trained on synthetic requests of the demo city"


def test_a_person_s_note_is_kept_and_shown_beside_the_origin(active_model, tiny_trained, client, admin_user):
    candidate = _register(tiny_trained, note="试用：只含四个分类")
    smart.classifier_promote(model=candidate)
    smart.classifier_rollback()
    candidate.refresh_from_db()
    assert candidate.note == "试用：只含四个分类"  # a rollback no longer overwrites it
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    assert "试用：只含四个分类" in _testid(
        html, f"model-note-{candidate.version}"
    )  # people's words, as written
    assert not CJK.search(_testid(html, f"model-origin-{candidate.version}"))


# --- promotion history and rollback ------------------------------------------------------------------


def test_rollback_goes_back_through_the_promotions_never_forward(model_dir, tiny_trained):
    v1, v2, v3 = (_register(tiny_trained) for _ in range(3))
    for model in (v1, v2, v3):
        classifier_services.model_promote(model=model)
    assert classifier_selectors.previous_model("category") == v2
    assert classifier_services.model_rollback(name="category") == v2
    assert classifier_selectors.previous_model("category") == v1
    assert classifier_services.model_rollback(name="category") == v1  # back again, not forward to v3
    assert classifier_selectors.previous_model("category") is None
    with pytest.raises(NotFound) as error:
        classifier_services.model_rollback(name="category")
    assert error.value.code == "classifier.no_previous_model"
    assert ClassifierModel.objects.get(status=ModelStatus.ACTIVE) == v1


def test_two_rollbacks_after_two_promotions_do_not_swap_back(model_dir, tiny_trained):
    v1, v2 = _register(tiny_trained), _register(tiny_trained)
    classifier_services.model_promote(model=v1)
    classifier_services.model_promote(model=v2)
    classifier_services.model_rollback(name="category")
    with pytest.raises(NotFound):
        classifier_services.model_rollback(name="category")  # it used to bring v2 back
    assert ClassifierModel.objects.get(status=ModelStatus.ACTIVE) == v1


def test_the_history_keeps_every_promotion_and_rollback(model_dir, tiny_trained, client, admin_user):
    v1, v2 = _register(tiny_trained), _register(tiny_trained)
    classifier_services.model_promote(model=v1)
    classifier_services.model_promote(model=v2)
    classifier_services.model_rollback(name="category")
    classifier_services.model_promote(model=v2)
    v1.refresh_from_db()
    v2.refresh_from_db()
    with translation.override("en"):
        assert [what for _at, what in v1.history] == [
            "Promoted",
            "Replaced by another model",
            "Restored by a rollback",
            "Replaced by another model",
        ]
        assert [what for _at, what in v2.history] == ["Promoted", "Rolled back", "Promoted"]
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    assert "Restored by a rollback" in _testid(html, "model-history-1")
    # after promote v2 again, a rollback goes back to v1 (in use before it), then nothing earlier
    assert classifier_services.model_rollback(name="category") == v1
    with pytest.raises(NotFound):
        classifier_services.model_rollback(name="category")


def test_a_rollback_with_nothing_earlier_is_a_clear_error_in_the_reader_s_language(
    active_model, client, admin_user
):
    response = _in("en", client, admin_user).post(reverse("web:smart_rollback"), follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert texts == ["There is no earlier category model to roll back to."]


# --- training runs --------------------------------------------------------------------------------------


def test_the_run_stage_is_named_in_the_reader_s_language(client, admin_user):
    run = TrainingRun.objects.create(status=TrainingStatus.RUNNING, progress=40, stage="fit")
    html = _in("en", client, admin_user).get(reverse("web:smart_run", args=[run.pk])).content.decode()
    assert _testid(html, "run-stage").strip() == "fitting the model"
    assert "· fit" not in html


def test_a_run_error_written_under_chinese_reads_in_english(client, admin_user):
    run = TrainingRun.objects.create(status=TrainingStatus.RUNNING, progress=40, stage="cross-validate")
    TrainingRun.objects.filter(pk=run.pk).update(
        updated_at=timezone.now() - STALE_RUN_AFTER - timedelta(minutes=1)
    )
    with translation.override("zh-hans"):
        assert stale_runs_give_up() == 1
    run.refresh_from_db()
    assert run.error.startswith("tickets.training_stale minutes=60")  # a code, its figures, the reason
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    error = _testid(html, "run-error")
    assert not CJK.search(error) and "no progress for more than 60 minutes" in error
    html = _in("zh-hans", client, admin_user).get(PAGE).content.decode()
    assert "60 分钟" in _testid(html, "run-error")


def test_too_little_history_keeps_its_figures(monkeypatch, client, admin_user):
    history = LabelledHistory(texts=["垃圾没人清运"] * 3, labels=[RUBBISH] * 3, held_texts=[], held_labels=[])
    monkeypatch.setattr(smart, "labelled_history", lambda **kwargs: history)
    run = TrainingRun.objects.create()
    with translation.override("zh-hans"), pytest.raises(ServiceError):
        classifier_retrain(run_id=run.pk)
    run.refresh_from_db()
    assert run.error.startswith("tickets.training_data_short count=3 minimum=20")
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    assert "Too little labelled history to train on (3 examples; at least 20" in _testid(html, "run-error")


def test_a_run_failed_before_codes_were_kept_is_shown_as_written(client, admin_user):
    TrainingRun.objects.create(status=TrainingStatus.FAILED, error="训练意外失败，详情见任务进程的日志。")
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    assert "训练意外失败" in _testid(html, "run-error")


# --- the drift notice ---------------------------------------------------------------------------------


def _drifting(monkeypatch):
    """The active model's recent confidence far below its reference: the check warns."""
    monkeypatch.setattr(smart, "recent_confidences", lambda model, limit=500: [0.2] * 40)
    monkeypatch.setattr(smart, "recent_agreement", lambda model, limit=500: [])


def test_the_drift_notice_is_read_in_the_reader_s_language(monkeypatch, active_model, client, admin_user):
    _drifting(monkeypatch)
    with translation.override("zh-hans"):
        assert classifier_drift_check(min_recent=30).warning
    notice = AdminNotice.objects.get(key=DRIFT_NOTICE_KEY)
    assert notice.params["version"] == active_model.version and notice.params["findings"]
    assert "。 " not in notice.message  # the stored text: no space after a Chinese full stop
    en = _in("en", client, admin_user).get("/").content.decode()
    text = _section(en, "admin-notices")
    assert not CJK.search(text), text
    assert "The category model v1 may be drifting: Mean confidence fell from" in text
    assert "Consider retraining it." in text
    zh = _in("zh-hans", client, admin_user).get("/").content.decode()
    text = _section(zh, "admin-notices")
    assert (
        "平均置信度" in text and "Mean confidence" not in text and "。 建议" not in text
    )  # no space between the sentences


def test_the_drift_notice_is_resolved_when_another_model_comes_into_use(
    monkeypatch, active_model, tiny_trained
):
    _drifting(monkeypatch)
    classifier_drift_check(min_recent=30)
    assert AdminNotice.objects.get(key=DRIFT_NOTICE_KEY).is_open
    smart.classifier_promote(model=_register(tiny_trained))
    assert not AdminNotice.objects.get(key=DRIFT_NOTICE_KEY).is_open  # it named the model no longer in use
    classifier_drift_check(min_recent=30)
    notice = AdminNotice.objects.get(key=DRIFT_NOTICE_KEY)
    assert notice.is_open and notice.params["version"] == 2
    smart.classifier_rollback()
    assert not AdminNotice.objects.get(key=DRIFT_NOTICE_KEY).is_open


def test_sentences_are_joined_as_each_language_writes_them():
    assert (
        join_sentences(["平均置信度从 0.78 降至 0.69。", "建议重新训练。"])
        == "平均置信度从 0.78 降至 0.69。建议重新训练。"
    )
    assert join_sentences(["可能出现漂移：", "平均置信度下降。"]) == "可能出现漂移：平均置信度下降。"
    assert join_sentences(["It may be drifting:", "Confidence fell.", "Retrain it."]) == (
        "It may be drifting: Confidence fell. Retrain it."
    )


# --- names, not codes --------------------------------------------------------------------------------


def test_models_are_named_for_people_and_their_tags_stay_codes(
    active_model, tiny_trained, client, admin_user
):
    assert active_model.tag == "category v1"
    with translation.override("en"):
        assert active_model.display_name == "category model v1"
        assert tag_label("category v12") == "category model v12" and tag_label("keywords") == "keywords"
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    assert _testid(html, "active-model-name") == "category model v1"
    candidate = _register(tiny_trained)
    response = client.post(reverse("web:smart_promote", args=[candidate.pk]), {"confirm": "1"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["The category model v2 is now in use."]


def test_the_measurement_note_names_the_categories(active_model, client, admin_user):
    active_model.metrics = {
        **active_model.metrics,
        "unmeasured_labels": {RUBBISH: 1},
        "measured_size": 79,
        "cv_folds_used": 2,
    }
    active_model.save(update_fields=["metrics"])
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    note = _testid(html, "measurement-note")
    assert f"({RUBBISH}, 1)" in note and f": {RUBBISH} (1)" not in note
    name = re.search(rf"([^\s:,]+) \({RUBBISH}, 1\)", note).group(1)
    assert CJK.search(name)  # the category's name (data), before its code


# --- the curve --------------------------------------------------------------------------------------


def test_the_curve_writes_percentages_as_the_dashboards_do(
    active_model, make_ticket, nanshan_dispatcher, client, admin_user
):
    from zhiwang.tickets.services import ticket_recategorise

    for text, code in [("楼下垃圾堆了好几天没人清运", RUBBISH), ("井盖丢了，很危险", "GI0201")] * 2:
        ticket_recategorise(ticket=make_ticket(description=text), category=code, actor=nanshan_dispatcher)
    html = _in("en", client, admin_user).get(PAGE).content.decode()
    table = html[html.index('data-testid="curve-table"') :]
    table = table[: table.index("</table>")]
    assert re.search(r"<td>\d+\.\d%</td>", table) and not re.search(r"\d %", table)
    assert not re.search(r"\d %", _testid(html, "at-threshold"))
    assert 'nameLocation: "middle"' in html  # the axis name no longer runs into the "0" tick
