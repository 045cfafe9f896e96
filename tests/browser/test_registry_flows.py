"""The registry's key flows in headless Chromium.

One test (one city build): a grid worker opens a building of their grid and sees its
residents with masked ID numbers, opens a person and unmasks with a reason; a data
steward imports a small GBK CSV through the wizard and sees the validation report.
"""

from __future__ import annotations

import pytest

from tests.conftest import city_restore

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"


@pytest.fixture
def registry_city(transactional_db, settings, tmp_path, monkeypatch):
    from huey.contrib.djhuey import HUEY

    from zhiwang.accounts.models import User
    from zhiwang.geo.models import Division
    from zhiwang.registry.demo import demo_registry_create

    city_restore()
    settings.ZHIWANG_REGISTRY_IMPORT_DIR = str(tmp_path / "imports")
    monkeypatch.setattr(HUEY, "immediate", True)  # the import runs in the request: no worker in tests
    worker = User.objects.get(username="demo_grid_worker")
    community = Division.objects.get(pk=next(iter(worker.scope.grid_community_ids)))
    demo_registry_create(scale="small", seed=2, communities=[community])
    return worker


def login(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base}/")


def test_grid_worker_sees_masked_residents_and_steward_imports(page, registry_city, live_server, tmp_path):
    from zhiwang.registry import selectors
    from zhiwang.registry.models import Residence

    base = live_server.url
    residence = (
        Residence.objects.filter(grid_id__in=registry_city.scope.grid_ids, until__isnull=True)
        .select_related("person", "address")
        .order_by("pk")
        .first()
    )
    person = residence.person
    building = selectors.building_of(residence.address)

    login(page, base, "demo_grid_worker")
    # On a phone each search kind is one line, its radio beside its label (the shell's radio group),
    # not a full-width radio centred above the text.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/registry/")
    kinds = page.get_by_test_id("search-kind")
    radio, row = (
        kinds.locator("input[value=person]").bounding_box(),
        kinds.locator("label").first.bounding_box(),
    )
    assert radio["width"] < 40 and row["height"] < 40 and radio["x"] - row["x"] < 10, (radio, row)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/places/{building.code}/")
    assert page.get_by_test_id("building-name").inner_text().startswith(building.full_name)
    ids = page.get_by_test_id("resident-id").all_inner_texts()
    assert person.masked_id_number in ids
    assert all("*" in text for text in ids)
    assert person.id_number not in page.content()
    page.screenshot(path=str(tmp_path / "building.png"), full_page=True)

    page.get_by_role("link", name=person.name).first.click()
    page.wait_for_url(f"**/registry/people/{person.pk}/")
    assert page.get_by_test_id("id-number").inner_text() == person.masked_id_number
    page.get_by_test_id("reveal-form").locator("input[name=reason]").fill("入户核查身份")
    page.get_by_test_id("reveal-form").locator("button").click()
    assert page.get_by_test_id("id-number").inner_text() == person.id_number
    page.context.clear_cookies()

    login(page, base, "demo_steward")
    page.goto(f"{base}/registry/imports/new/")
    page.select_option("#id_kind", "person")
    page.select_option("#id_source", label="深圳市政务服务数据管理局")
    page.select_option("#id_template", label="公安实有人口")
    content = f"姓名,身份证号码,人口类型,现住址\n王小明,110101199003070011,户籍,{residence.address.code}\n错号,110101199013070011,户籍,\n"
    page.set_input_files(
        "#id_file", files=[{"name": "人口.csv", "mimeType": "text/csv", "buffer": content.encode("gbk")}]
    )
    page.get_by_test_id("import-form").locator("button[type=submit]").click()
    page.wait_for_url("**/registry/imports/*/")
    page.wait_for_selector("[data-testid=import-progress][data-status=done]")
    assert page.get_by_test_id("rows-created").inner_text() == "1"
    assert page.get_by_test_id("rows-rejected").inner_text() == "1"
    issues = page.get_by_test_id("issues").inner_text()
    assert "3" in issues and "id_number.birth_date" in issues
    page.screenshot(path=str(tmp_path / "import.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("report-download").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    # Validate first, publish after reading the report.
    from datetime import date

    from zhiwang.registry.demo import make_id_number
    from zhiwang.registry.models import Person

    page.goto(f"{base}/registry/imports/new/")
    page.select_option("#id_kind", "person")
    page.select_option("#id_source", label="深圳市政务服务数据管理局")
    page.select_option("#id_template", label="公安实有人口")
    number = make_id_number("440305", date(1980, 5, 6), 321, male=False)
    content = f"姓名,身份证号码,人口类型\n李小红,{number},户籍\n"
    page.set_input_files(
        "#id_file", files=[{"name": "人口2.csv", "mimeType": "text/csv", "buffer": content.encode("utf-8")}]
    )
    page.check("#id_validate_only")
    page.get_by_test_id("import-form").locator("button[type=submit]").click()
    page.wait_for_url("**/registry/imports/*/")
    page.wait_for_selector("[data-testid=import-progress][data-status=validated]")
    assert page.get_by_test_id("rows-created").inner_text() == "1"
    assert not Person.objects.filter(name="李小红").exists()
    page.get_by_test_id("publish").click()
    page.wait_for_selector("[data-testid=import-progress][data-status=done]")
    assert Person.objects.filter(name="李小红").count() == 1
