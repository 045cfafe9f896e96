"""Registry pages and the place pages: scoping, masking, reveal, correction, import wizard."""

from __future__ import annotations

import pytest
from django.test import Client

from zhiwang.registry import selectors
from zhiwang.registry.models import AccessLog, ImportBatch, Person, RecordChange, Residence


@pytest.fixture
def page(db):
    def client_for(user):
        client = Client()
        client.force_login(user)
        return client

    return client_for


@pytest.fixture
def worker_resident(registry_demo, grid_worker):
    return (
        Residence.objects.filter(grid_id__in=grid_worker.scope.grid_ids, until__isnull=True)
        .select_related("person", "address")
        .order_by("pk")
        .first()
    )


def test_building_page_shows_masked_residents(page, grid_worker, worker_resident):
    person = worker_resident.person
    building = selectors.building_of(worker_resident.address)
    html = page(grid_worker).get(f"/places/{building.code}/").content.decode()
    assert person.name in html and person.masked_id_number in html
    assert person.id_number not in html and (not person.phone or person.phone not in html)


def test_room_page_and_outsider_404(page, grid_worker, luohu_dispatcher, citizen, worker_resident):
    room = worker_resident.address
    assert page(grid_worker).get(f"/places/{room.code}/").status_code == 200
    assert page(luohu_dispatcher).get(f"/places/{room.code}/").status_code == 404
    assert page(citizen).get(f"/places/{room.code}/").status_code == 403
    assert page(luohu_dispatcher).get(f"/registry/people/{worker_resident.person_id}/").status_code == 404


def test_person_page_reveal_and_correct(page, grid_worker, worker_resident):
    person = worker_resident.person
    client = page(grid_worker)
    html = client.get(f"/registry/people/{person.pk}/").content.decode()
    assert person.masked_id_number in html and person.id_number not in html
    assert "查看完整身份证号码和电话" in html  # zh-hans first
    bad = client.post(f"/registry/people/{person.pk}/reveal/", {"reason": ""})
    assert bad.status_code == 400 and not AccessLog.objects.exists()
    shown = client.post(f"/registry/people/{person.pk}/reveal/", {"reason": "入户核查"}).content.decode()
    assert person.id_number in shown
    assert AccessLog.objects.filter(record_id=person.pk, actor=grid_worker).count() == 1
    form = {
        "name": person.name + "华",
        "household_type": person.household_type,
        "note": "核对户口本",
        "expected_version": person.version,
    }
    assert client.post(f"/registry/people/{person.pk}/correct/", form).status_code == 302
    person.refresh_from_db()
    assert person.name.endswith("华")
    assert RecordChange.objects.filter(record_id=person.pk, action="correct", actor=grid_worker).exists()
    stale = client.post(f"/registry/people/{person.pk}/correct/", {**form, "name": "别名"})
    assert stale.status_code == 400  # stale version: the conflict is shown on the form, nothing written
    assert Person.objects.get(pk=person.pk).name.endswith("华")


def test_search_page(page, nanshan_dispatcher, worker_resident):
    person = worker_resident.person
    html = (
        page(nanshan_dispatcher).get("/registry/", {"q": person.id_number, "kind": "person"}).content.decode()
    )
    assert person.masked_id_number in html
    found = page(nanshan_dispatcher).get(
        "/registry/", {"q": worker_resident.address.full_name, "kind": "place"}
    )
    assert found.status_code == 302 and found["Location"].endswith(f"/places/{worker_resident.address.code}/")


def test_import_wizard(page, steward, source_unit, tmp_path, settings, home_room, monkeypatch):
    from huey.contrib.djhuey import HUEY

    from zhiwang.registry.defaults import seed_defaults
    from zhiwang.registry.models import EligibilityRule, MappingTemplate

    seed_defaults(MappingTemplate=MappingTemplate, EligibilityRule=EligibilityRule)
    settings.ZHIWANG_REGISTRY_IMPORT_DIR = str(tmp_path)
    monkeypatch.setattr(HUEY, "immediate", True)
    content = f"姓名,身份证号码,现住址\n张三,110101199003070011,{home_room.code}\n李四,123,\n".encode("gbk")
    from django.core.files.uploadedfile import SimpleUploadedFile

    template = MappingTemplate.objects.get(name="公安实有人口")
    client = page(steward)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: fn())
        response = client.post(
            "/registry/imports/new/",
            {
                "kind": "person",
                "source": source_unit.pk,
                "template": template.pk,
                "file": SimpleUploadedFile("人口.csv", content),
            },
        )
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.rows_created, batch.rows_rejected) == ("done", 1, 1)
    html = client.get(response["Location"]).content.decode()
    assert "id_number.length" in html
    report = client.get(f"/registry/imports/{batch.pk}/report.xlsx")
    assert report.status_code == 200 and report["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client.get("/registry/imports/").status_code == 200


def test_import_wizard_refuses_other_roles(page, grid_worker):
    assert page(grid_worker).get("/registry/imports/new/").status_code == 403
