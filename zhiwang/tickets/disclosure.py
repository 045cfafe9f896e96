"""Which tickets are confidential: what of one may reach people other than its reporter and staff.

The city's publication rules (docs/open311.md, "What is published"), on the tickets floor so that
the workflow applies them too: a ticket of a confidential kind (举报), channel (信访) or category
subtree (纪检监察, criminal matters) is not told about to anybody else — e.g. the reporters of the
duplicates merged into it hear that it was answered, not what was answered
(``services.transition.tell_duplicates``).

The settings are Open311's (``ZHIWANG_OPEN311_PUBLIC_KINDS``, ``…_PRIVATE_CHANNELS``,
``…_PRIVATE_CATEGORIES``); ``open311.selectors`` takes its defaults from here.
"""

from __future__ import annotations

from django.conf import settings

from zhiwang.tickets.models import Ticket

#: Kinds that may be told about. 举报 (report) is left out: reporters and what they report are confidential.
DEFAULT_PUBLIC_KINDS = ("complaint", "help", "incident", "suggestion", "inquiry", "praise")
#: Channels never told about (信访 petitions are confidential).
DEFAULT_PRIVATE_CHANNELS = ("petition",)
#: Category subtrees never told about: 05 纪检监察 (matters about officials are handled in
#: confidence), 1306 警务督察 (complaints about police conduct: 刑讯逼供, 超期羁押, 包庇 — about
#: officials, like 05), 1308 社会治安 (reports of gangs, cults, drugs, gambling, trafficking,
#: smuggling: the category with a building and a point would tip off the people reported),
#: 1310 刑案侦破 (criminal investigations) and 1311 刑罚执行 (prisons, community correction: a
#: key group whose data is need-to-know, DOMAIN.md). Code prefixes.
DEFAULT_PRIVATE_CATEGORIES = ("05", "1306", "1308", "1310", "1311")


def is_confidential(ticket: Ticket) -> bool:
    """Whether ``ticket`` is of a confidential kind, channel or category (Open311 does not publish it)."""
    kinds = getattr(settings, "ZHIWANG_OPEN311_PUBLIC_KINDS", DEFAULT_PUBLIC_KINDS)
    channels = getattr(settings, "ZHIWANG_OPEN311_PRIVATE_CHANNELS", DEFAULT_PRIVATE_CHANNELS)
    prefixes = getattr(settings, "ZHIWANG_OPEN311_PRIVATE_CATEGORIES", DEFAULT_PRIVATE_CATEGORIES)
    code = ticket.category.code if ticket.category_id else ""
    return (
        ticket.kind not in kinds
        or ticket.channel in channels
        or any(code.startswith(prefix) for prefix in prefixes)
    )


def master_number_for_reporter(ticket: Ticket) -> str:
    """The number of the ticket ``ticket`` was merged into, as ``ticket``'s reporter may be told it.

    Empty when not merged, or when the master is confidential (a 举报, a petition…): its number
    would tell a stranger that somebody reported the matter, and is a handle on that report. The
    reporter still hears that their request is handled together with another one.
    """
    master = ticket.merged_into if ticket.merged_into_id else None
    if master is None or is_confidential(master):
        return ""
    return master.number
