"""Sentences joined as the language writes them (``core.sentences``, ``{% sentences %}``)."""

import pytest
from django.template import Context, Template

from zhiwang.core.sentences import close_gaps, join_sentences, sentence_gap


@pytest.mark.parametrize(
    ("before", "gap"),
    [
        ("上传。", ""),
        ("原因：", ""),
        ("（见上）", ""),
        ("Uploaded.", " "),
        ("3 places", " "),
        ("上传。 ", ""),
    ],
)
def test_sentence_gap(before, gap):
    assert sentence_gap(before) == gap


def test_join_sentences():
    assert join_sentences(["可能出现漂移：", "", "平均置信度下降。", "建议重新训练。"]) == (
        "可能出现漂移：平均置信度下降。建议重新训练。"
    )
    assert join_sentences(["It may be drifting:", "Retrain it."]) == "It may be drifting: Retrain it."


def test_close_gaps_keeps_latin_spaces_and_spaces_inside_a_sentence():
    assert close_gaps("红榜取前 3 名。 得分相同者名次相同。") == "红榜取前 3 名。得分相同者名次相同。"
    assert close_gaps("Red list: the best 3. Equal scores share a rank.") == (
        "Red list: the best 3. Equal scores share a rank."
    )


def test_the_template_tag_closes_the_gap_and_keeps_escaping():
    template = Template("{% load sentences %}<p>{% sentences %}{{ a }} {{ b }}{% endsentences %}</p>")
    html = template.render(Context({"a": "第一句。", "b": "<b>第二句</b>"}))
    assert html == "<p>第一句。&lt;b&gt;第二句&lt;/b&gt;</p>"
    english = template.render(Context({"a": "One.", "b": "Two."}))
    assert english == "<p>One. Two.</p>"


def test_a_headline_ends_at_a_clause_mark_and_stays_a_prefix():
    from zhiwang.core.sentences import headline

    text = "小区门口的人行道上每天都有撒落的建筑渣土，下雨后满地泥浆，老人孩子容易滑倒，请安排清扫。"
    title = headline(text)
    # was text[:40]: "…老人孩子容易滑倒，请安" (cut inside 请安排)
    assert title == "小区门口的人行道上每天都有撒落的建筑渣土，下雨后满地泥浆，老人孩子容易滑倒"
    assert text.startswith(title) and len(title) <= 40
    assert headline("路灯坏了。") == "路灯坏了"
    assert headline("。") == "。"  # never empty
    assert headline("  ") == ""
    # no clause mark after the shortest headline: the plain cut
    assert headline("a" * 50) == "a" * 40
    assert headline("短句，" + "长" * 60) == ("短句，" + "长" * 60)[:40]
    assert headline("Street light out. It has been dark for a week and more, please fix it") == (
        "Street light out"
    )
