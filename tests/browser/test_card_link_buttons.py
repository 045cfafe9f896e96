"""A link-styled button on a white card is visible and stays in its line of text (the alert page's
"unsubscribe" was white on white, on a line of its own); the top bar's sign-out stays white.

Cheap: the page is rendered by the test client and laid out by Chromium with the real stylesheets
inlined (no live server, no city build)."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

from zhiwang.accounts.models import OrgUnit
from zhiwang.analytics.models import AlertSubscription
from zhiwang.geo.models import Division

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

WHITE = "rgb(255, 255, 255)"


def _css(*paths: str) -> str:
    parts = []
    for path in paths:
        with open(finders.find(path), encoding="utf-8") as f:
            parts.append(f.read())
    return "\n".join(parts)


def test_the_unsubscribe_button_is_visible_and_inline(browser, client, nanshan_dispatcher):
    nanshan = Division.objects.get(code="440305000000")
    own = AlertSubscription.objects.create(unit=nanshan_dispatcher.org_unit, division=nanshan, kinds=[])
    AlertSubscription.objects.create(
        unit=OrgUnit.objects.get(code="DEMO-CITY-CC"), division=nanshan, kinds=[]
    )
    client.force_login(nanshan_dispatcher)
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/analytics/alerts/").content.decode()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.route("**/*", lambda route: route.abort())  # the static files are inlined below
        page.set_content(html, wait_until="domcontentloaded")
        page.add_style_tag(content=_css("web/zhiwang.css", "analytics/analytics.css"))
        button = page.get_by_test_id(f"unsubscribe-{own.pk}")
        assert button.evaluate("b => getComputedStyle(b).color") != WHITE
        assert button.evaluate("b => getComputedStyle(b.form).display") == "inline"
        # on the subscription's line, not a line of its own
        row = page.get_by_test_id(f"subscription-{own.pk}")
        line = row.evaluate("li => parseFloat(getComputedStyle(li).lineHeight)")
        assert row.bounding_box()["height"] < 1.6 * line
        sign_out = page.locator(".usermenu button.link")
        assert sign_out.evaluate("b => getComputedStyle(b).color") == WHITE
    finally:
        context.close()
