"""One English msgid, one Chinese meaning: no app's catalog may override another's.

Django merges every catalog into one: LOCALE_PATHS first, then the apps in INSTALLED_APPS order
(Django's own admin, auth … before ours, registry before tickets before disputes …). A msgid
translated differently in two catalogs silently takes the earlier app's words everywhere, e.g.
disputes' "Category" = 纠纷类别 on every ticket page. A domain that means something else by a
common word says so with a context (``pgettext``, ``{% translate "…" context "…" %}``).
"""

from __future__ import annotations

from collections import defaultdict
from gettext import GNUTranslations
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, pgettext, trans_real

from tests.disputes.conftest import world  # noqa: F401  (the disputes persona fixture)

ROOT = Path(__file__).resolve().parents[2] / "zhiwang"
#: The compiled catalogs, as Django reads them (fuzzy entries are not in them).
CATALOGS = sorted(ROOT.glob("**/locale/zh_Hans/LC_MESSAGES/django.mo"))

#: (msgctxt, msgid) allowed to differ between our catalogs, with the reason. Keep it empty: a
#: difference is never intended, since only one of the translations can ever be shown.
ALLOWED_CONFLICTS: dict[tuple[str | None, str], str] = {}

#: Bare msgids whose translation in one of Django's own catalogs (admin …, earlier in
#: INSTALLED_APPS) wins over ours. Each needs a context in the template named, left for now
#: because that file was being changed by someone else; remove the entry with the fix.
PENDING_DJANGO_OVERRIDES: dict[str, str] = {}


def _label(po: Path) -> str:
    """The app a catalog belongs to ("zhiwang" for the project's LOCALE_PATHS one)."""
    app = po.relative_to(ROOT).parents[3]
    return "zhiwang" if app == Path(".") else str(app)


def _entries():
    """(catalog, msgctxt, msgid, msgstr) of every translated entry (plural: its first form).

    Read with the standard library's ``gettext`` (a context is stored as ``ctxt\x04msgid``).
    """
    for mo in CATALOGS:
        with mo.open("rb") as handle:
            catalog = GNUTranslations(handle)._catalog
        for key, msgstr in catalog.items():
            if isinstance(key, tuple):  # a plural form: (msgid, n)
                key, form = key
                if form != 0:
                    continue
            if not key or not msgstr:
                continue
            ctx, _sep, msgid = key.rpartition("\x04")
            yield _label(mo), (ctx or None), msgid, msgstr


def test_catalogs_are_found():
    assert len(CATALOGS) >= 9


def test_no_msgid_has_two_translations():
    seen: dict[tuple[str | None, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for app, ctx, msgid, msgstr in _entries():
        seen[(ctx, msgid)][msgstr].append(app)
    conflicts = {
        key: {text: apps for text, apps in texts.items()}
        for key, texts in seen.items()
        if len(texts) > 1 and key not in ALLOWED_CONFLICTS
    }
    assert not conflicts, "\n".join(
        f"{ctx!r} {msgid!r}: {dict(texts)}" for (ctx, msgid), texts in sorted(conflicts.items(), key=str)
    )


def test_no_django_catalog_overrides_ours():
    """What a page shows is what our catalog says (Django's own catalogs come first too)."""
    merged = trans_real.translation("zh-hans")._catalog
    overridden = {}
    for app, ctx, msgid, msgstr in _entries():
        key = msgid if ctx is None else f"{ctx}\x04{msgid}"
        shown = merged.get(key) if key in merged else merged.get((key, 0))
        if shown != msgstr:
            overridden[(app, ctx, msgid)] = (msgstr, shown)
    unexpected = {
        k: v for k, v in overridden.items() if k[1] is not None or k[2] not in PENDING_DJANGO_OVERRIDES
    }
    assert not unexpected, unexpected
    fixed = set(PENDING_DJANGO_OVERRIDES) - {msgid for _app, _ctx, msgid in overridden}
    assert not fixed, f"no longer overridden, drop from PENDING_DJANGO_OVERRIDES: {fixed}"


@pytest.mark.parametrize(
    ("context", "msgid", "expected"),
    [
        # the generic words, as the ticket pages, the dashboard and every other app use them
        (None, "Category", "事项分类"),
        (None, "Resume", "恢复办理"),
        (None, "Number", "编号"),
        (None, "Route", "分拨路径"),
        (None, "Alerts", "预警"),
        (None, "No alerts.", "暂无预警。"),
        (None, "Open", "在办"),
        (None, "Name", "名称"),
        (None, "Person", "人口"),
        (None, "Running", "进行中"),
        (None, "Progress", "进度"),
        (None, "Reason", "理由"),
        (None, "Timeline", "处理过程"),
        (None, "Unit", "单位"),
        (None, "Closed", "已办结"),
        # the domains' own meanings, asked for with a context
        ("dispute", "Category", "纠纷类别"),
        ("dispute", "Alerts", "提醒"),
        ("dispute", "Closed", "已结案"),
        ("dispute party", "Name", "姓名/名称"),
        ("dispute visit", "Route", "转办"),
        ("registry import", "Resume", "继续导入"),
        ("registry import", "Running", "导入中"),
        ("person", "Name", "姓名"),
        ("alert", "Open", "待处理"),
        ("report", "Running", "生成中"),
        ("datatype", "Number", "数字"),
        ("address level", "Unit", "单元"),
    ],
)
def test_key_strings_in_chinese(context, msgid, expected):
    with translation.override("zh-hans"):
        shown = gettext(msgid) if context is None else pgettext(context, msgid)
    assert shown == expected


def test_model_labels_keep_their_domain():
    from zhiwang.analytics.models import AlertStatus
    from zhiwang.disputes.models import CaseStatus, DisputeCase
    from zhiwang.tickets.models import Ticket

    with translation.override("zh-hans"):
        assert str(Ticket._meta.get_field("category").verbose_name) == "事项分类"
        assert str(DisputeCase._meta.get_field("category").verbose_name) == "纠纷类别"
        assert str(CaseStatus.CLOSED.label) == "已结案"
        assert str(AlertStatus.OPEN.label) == "待处理"


@pytest.mark.django_db
def test_ticket_pages_say_the_ticket_category(client, nanshan_dispatcher):
    report = client.get("/report/").content.decode()
    assert "事项分类" in report and "纠纷类别" not in report
    client.force_login(nanshan_dispatcher)
    # the ticket list's column (the queue shows no table while it is empty)
    listing = client.get("/tickets/").content.decode()
    assert "事项分类" in listing and "纠纷类别" not in listing


@pytest.mark.django_db
def test_the_disputes_ledger_keeps_its_own_words(client, world):  # noqa: F811
    client.force_login(world.sub_dispatcher)
    page = client.get(reverse("disputes:ledger"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "纠纷类别" in body and "事项分类" not in body
    assert "已结案" in body and "筛选" in body and "汇总" in body


@pytest.mark.django_db
def test_the_alerts_page_speaks_of_early_warnings(client, city_leader):
    client.force_login(city_leader)
    body = client.get(reverse("analytics:alerts")).content.decode()
    assert "预警" in body and "暂无预警。" in body and "待处理" in body
    assert "暂无提醒" not in body
