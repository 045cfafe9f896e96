"""``{% sentences %}…{% endsentences %}``: translated sentences written one after the other with a
space, rendered without that space after a full-width stop (``core.sentences.close_gaps``)."""

from django import template
from django.utils.safestring import mark_safe

from zhiwang.core.sentences import close_gaps

register = template.Library()


class SentencesNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context):
        # the rendered content is already escaped by its own tags; only spaces are removed
        return mark_safe(close_gaps(self.nodelist.render(context)))


@register.tag
def sentences(parser, token):
    nodelist = parser.parse(("endsentences",))
    parser.delete_first_token()
    return SentencesNode(nodelist)
