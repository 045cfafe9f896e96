"""The alerts page asks for what a person may choose, and its words say what and where (walkthrough).

- The subscription form asked for a raw unit code (pre-filled with one's own) and a 12-digit
  division code, and the alert filter for a division code: now menus of the units the service
  lets the user subscribe and the divisions of their jurisdiction, grouped by district. The
  service and its error codes are unchanged (a hand-written code is checked as before).
- The kinds are a wrapping row of checkbox + label pairs, not a centred box over each label.
- The count cell's "in your jurisdiction" has its own context ("alert count"), so the page can say
  辖区内 while the ticket list keeps 管辖范围内; it does not wrap.
- An alert's notification names its kind and place before its explanation.
- The dashboard's top categories tell catch-all leaves ("其他") apart by their parent.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext

from zhiwang.accounts.models import OrgUnit
from zhiwang.analytics import selectors, services
from zhiwang.analytics.finding import Finding
from zhiwang.analytics.models import AlertKind, AlertSubscription
from zhiwang.analytics.selectors.alerts import alert_headline, division_choices, subscribable_units
from zhiwang.core.errors import ServiceError
from zhiwang.core.scoping import scope_of
from zhiwang.geo.models import Division
from zhiwang.tickets.catalogue_selectors import CATCH_ALL_NAMES
from zhiwang.tickets.models import Category, Notification

pytestmark = pytest.mark.django_db

NANSHAN = "440305000000"
LUOHU = "440303000000"


def _select(page: str, name: str, testid: str) -> str:
    match = re.search(rf'<select name="{name}"[^>]*data-testid="{testid}".*?</select>', page, re.S)
    assert match, f"no <select name={name}> ({testid})"
    return match.group(0)


def _values(select: str) -> list[str]:
    return re.findall(r'<option value="([^"]*)"', select)


def _codes(choices) -> list[str]:
    return [value for _group, options in choices for value, _label in options]


# --- 1. menus instead of codes --------------------------------------------------------------------


def test_a_district_dispatcher_chooses_from_their_units_and_divisions(client, nanshan_dispatcher):
    """Fails on the old code: the form had ``<input name="unit" value="DEMO-NS-CC">`` and a blank
    ``<input name="division">``, the filter a division-code text box."""
    client.force_login(nanshan_dispatcher)
    page = client.get(reverse("analytics:alerts")).content.decode()
    assert '<input name="unit"' not in page and '<input name="division"' not in page
    units = _select(page, "unit", "subscribe-unit")
    own = nanshan_dispatcher.org_unit.code
    assert f'<option value="{own}" selected>' in units  # one's own unit first chosen
    assert "DEMO-LH-CC" not in units  # another district's center is not theirs to subscribe
    divisions = _select(page, "division", "subscribe-division")
    assert _values(divisions)[0] == NANSHAN and LUOHU not in divisions
    assert '<optgroup label="南山区">' in divisions
    assert '<optgroup label="南山区 · ' in divisions  # a group per subdistrict
    assert "\u3000" in divisions  # communities indented under their subdistrict
    # the filter offers the same divisions, after "all"
    assert _values(_select(page, "division", "alert-filter-division")) == ["", *_values(divisions)]


def test_the_filter_keeps_the_chosen_division(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    page = client.get(reverse("analytics:alerts"), {"division": "440305001000"}).content.decode()
    assert '<option value="440305001000" selected>' in _select(page, "division", "alert-filter-division")


def test_a_city_leader_has_every_division_grouped_by_district(client, city_leader):
    choices = division_choices(user=city_leader)
    assert choices[0][0] == ""  # the city, outside any district's group
    assert [code for code, _label in choices[0][1]] == list(
        Division.objects.filter(level="city").values_list("code", flat=True)
    )
    districts = Division.objects.filter(level="district")
    subdistricts = Division.objects.filter(level="subdistrict")
    # a group per district (the district alone), then one per subdistrict with its communities
    # (test_division_menus.py); a menu of ~900 divisions in short groups
    groups = [group for group, _options in choices[1:]]
    assert [g for g in groups if " · " not in g] == [d.display_name for d in districts.order_by("code")]
    assert len([g for g in groups if " · " in g]) == subdistricts.count()
    assert sorted(_codes(choices)) == sorted(Division.objects.values_list("code", flat=True))
    client.force_login(city_leader)
    page = client.get(reverse("analytics:alerts")).content.decode()
    divisions = _select(page, "division", "subscribe-division")
    assert divisions.count("<optgroup") == districts.count() + subdistricts.count()
    assert len(_values(divisions)) == Division.objects.count()


@pytest.mark.parametrize("persona", ["nanshan_dispatcher", "subdistrict_dispatcher", "city_leader"])
def test_the_menus_offer_exactly_what_the_service_accepts(request, persona):
    """Every active unit: offered if and only if ``alert_subscribe`` takes it; the divisions
    offered are those of the jurisdiction, which it takes (and no other)."""
    user = request.getfixturevalue(persona)
    offered = set(_codes(subscribable_units(user=user)))
    division = _codes(division_choices(user=user))[0]
    for unit in OrgUnit.objects.filter(is_active=True):
        try:
            services.alert_subscribe(user=user, unit_code=unit.code, division_code=division)
        except ServiceError as error:
            assert unit.code not in offered, (unit.code, error.code)
        else:
            assert unit.code in offered, unit.code
    scope = scope_of(user)
    expected = (
        Division.objects.all() if scope.everything else Division.objects.filter(pk__in=scope.division_ids)
    )
    assert sorted(_codes(division_choices(user=user))) == sorted(expected.values_list("code", flat=True))


def test_the_form_posts_the_chosen_codes_and_the_service_still_checks_them(client, nanshan_dispatcher):
    client.force_login(nanshan_dispatcher)
    unit = nanshan_dispatcher.org_unit.code
    url = reverse("analytics:alert_subscribe")
    client.post(url, {"unit": unit, "division": "440305001000", "kinds": ["surge"]})
    assert AlertSubscription.objects.get(unit__code=unit, division__code="440305001000").kinds == ["surge"]
    # a code typed by hand outside the menu: refused as before, nothing saved
    response = client.post(url, {"unit": unit, "division": LUOHU}, follow=True)
    assert not AlertSubscription.objects.filter(division__code=LUOHU).exists()
    assert "440303000000" in response.content.decode()  # the error names the code


def test_a_user_without_divisions_to_subscribe_is_told_so(client, nanshan_dispatcher, grid_worker):
    """An analyst scoped to a grid only (no division of their own): no form with empty menus."""
    from zhiwang.accounts.models import GridAssignment, Role, User

    analyst = User.objects.create(
        username="grid-only-analyst", role=Role.DISPATCHER, org_unit=grid_worker.org_unit
    )
    GridAssignment.objects.create(grid=grid_worker.grid_assignments.first().grid, user=analyst)
    assert division_choices(user=analyst) == []
    client.force_login(analyst)
    page = client.get(reverse("analytics:alerts")).content.decode()
    assert 'data-testid="subscribe-none"' in page and 'data-testid="subscribe-form"' not in page


def test_the_kinds_are_inline_checkbox_label_pairs(client, nanshan_dispatcher):
    """Fails on the old code: a card's label is a block and its input 100 % wide, so each
    checkbox stood centred above its label."""
    client.force_login(nanshan_dispatcher)
    page = client.get(reverse("analytics:alerts")).content.decode()
    form = re.search(r'data-testid="subscribe-form".*?</form>', page, re.S).group(0)
    pairs = re.findall(
        r'<label style="([^"]*)"><input type="checkbox" name="kinds" value="(\w+)" style="([^"]*)">', form
    )
    assert [kind for _label, kind, _box in pairs] == list(AlertKind.values)
    for label, _kind, box in pairs:
        assert "inline-flex" in label and "width:auto" in box
    assert "flex-wrap:wrap" in form


# --- 2. "in your jurisdiction" of the count: its own words, on one line --------------------------


def test_the_count_scope_has_its_own_context_and_does_not_wrap(
    make_ticket, luohu_building, frozen_now, client, nanshan_dispatcher
):
    """Fails on the old code: the cell said the ticket list's "in your jurisdiction" (管辖范围内),
    which the explanation beside it calls 辖区内, and could wrap (管辖范围/内)."""
    here = make_ticket(external_id="cs-n")
    there = make_ticket(external_id="cs-l", address_code=luohu_building.code)
    now = timezone.now()
    alert, _created = services.alert_raise(
        finding=Finding(
            kind=AlertKind.REPEAT_CALLER,
            key="caller:count-scope",
            explanation="stored sentence",
            window_start=now - timedelta(days=30),
            window_end=now,
            observed=2,
            division_id=here.district_id,
            ticket_ids=sorted([here.pk, there.pk]),
            detail={"explain": {"phone": "138****8000", "observed": 2, "days": 30}},
        )
    )
    client.force_login(nanshan_dispatcher)
    page = client.get(reverse("analytics:alerts")).content.decode()
    cell = re.search(r'<small[^>]*data-testid="alert-count-scope"[^>]*>([^<]*)</small>', page)
    assert cell and "white-space:nowrap" in cell.group(0)
    with translation.override("zh-hans"):
        words = pgettext("alert count", "in your jurisdiction")
    assert cell.group(1) == words


# --- 3. the notification says what and where ------------------------------------------------------


def test_the_notification_names_the_kind_and_place(
    make_ticket, frozen_now, nanshan_dispatcher, nanshan_community
):
    """Fails on the old code: the message was "3天内3件，主题…" alone."""
    services.alert_subscribe(
        user=nanshan_dispatcher, unit_code=nanshan_dispatcher.org_unit.code, division_code=NANSHAN
    )
    tickets = [make_ticket(external_id=f"hl-{i}") for i in range(3)]
    now = timezone.now()
    with translation.override("en"):  # whoever's run raised it, the inbox is in the city's language
        alert, created = services.alert_raise(
            finding=Finding(
                kind=AlertKind.TOPIC_CLUSTER,
                key="topic:hl",
                explanation="stored sentence",
                window_start=now - timedelta(days=3),
                window_end=now,
                observed=3,
                division_id=tickets[0].district_id,
                ticket_ids=[t.pk for t in tickets],
                detail={"explain": {"observed": 3, "days": 3, "words": ["噪音", "工地"]}},
            )
        )
    assert created
    note = Notification.objects.get(kind="analytics_alert", recipient=nanshan_dispatcher)
    with translation.override("zh-hans"):
        frame = gettext("%(kind)s · %(place)s: %(explanation)s")
    assert note.message == frame % {
        "kind": "同一主题聚集",
        "place": "南山区",
        "explanation": "3天内3件，主题“噪音、工地”",
    }
    assert note.message.startswith("同一主题聚集 · 南山区")


def test_a_surge_names_its_place_once(frozen_now, nanshan_community):
    class Surge:  # what ``alert_headline`` reads of a page's alert row
        kind = AlertKind.SURGE
        division = nanshan_community
        tickets_outside = False
        explanation_text = f"{nanshan_community.name}，噪音：3天内9件，预期2±1"

        def get_kind_display(self):
            return AlertKind.SURGE.label

    with translation.override("zh-hans"):
        text = alert_headline(Surge())
        assert text == gettext("%(kind)s: %(explanation)s") % {
            "kind": "激增",
            "explanation": Surge.explanation_text,
        }
    assert text.count(nanshan_community.name) == 1


def test_a_city_wide_alert_is_placed_in_the_city(frozen_now):
    city = Division.objects.get(level="city")

    class CityWide:
        kind = AlertKind.REPEAT_CALLER
        division = None
        tickets_outside = False
        explanation_text = "来电人138****8000：30天内9件"

        def get_kind_display(self):
            return AlertKind.REPEAT_CALLER.label

    with translation.override("zh-hans"):
        assert alert_headline(CityWide()).startswith(f"重复来电 · {city.display_name}")


# --- 4. the dashboard's top categories tell "其他" apart -------------------------------------------


def test_catch_all_categories_are_named_after_their_parent(make_ticket, city_leader):
    """Fails on the old code: three bars named "其他"."""
    catch_alls = list(
        Category.objects.filter(name__in=CATCH_ALL_NAMES, children__isnull=True, is_active=True)
        .select_related("parent")
        .order_by("code")[:3]
    )
    assert len(catch_alls) == 3, "the demo catalogue has catch-all leaves under several branches"
    plain = Category.objects.filter(children__isnull=True, is_active=True).exclude(name__in=CATCH_ALL_NAMES)
    plain = plain.order_by("code").first()
    for category in [*catch_alls, plain]:
        make_ticket(category=category.code, external_id=f"cat-{category.code}")
    place = selectors.place_for(user=city_leader)
    today = timezone.localdate()
    rows = selectors.breakdown(
        place=place, start=today - timedelta(days=1), end=today + timedelta(days=1), dim="category"
    )
    names = {r["code"]: r["name"] for r in rows}
    for category in catch_alls:
        assert names[category.code] == f"{category.parent.name} · {category.name}"
    assert names[plain.code] == plain.name  # a name of its own stays as it is
    assert len(set(names.values())) == len(names)
