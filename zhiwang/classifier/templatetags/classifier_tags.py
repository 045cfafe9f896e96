"""Template filters of the classifier: ``{% load classifier_tags %}``.

``{{ ticket.classification.model|model_label }}``: the tag a suggestion recorded
(``"category v1"``, a code) as people read it, "category model v1" (分类模型 第 1 版).
"""

from __future__ import annotations

from django import template

from zhiwang.classifier.models import tag_label

register = template.Library()


@register.filter
def model_label(tag) -> str:
    return tag_label(str(tag or ""))
