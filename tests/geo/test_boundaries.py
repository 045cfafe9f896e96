"""import-boundaries: matching features to divisions and grids, checking geometry, all or nothing."""

from __future__ import annotations

import json

import pytest
import shapely
from django.core.management import CommandError, call_command

from zhiwang.core.errors import ServiceError
from zhiwang.geo.boundaries import BoundaryImportRejected, boundaries_import, boundaries_read
from zhiwang.geo.crs import wgs84_to_gcj02
from zhiwang.geo.locator import current_version
from zhiwang.geo.models import Division, DivisionLevel, GeometrySource, Grid

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

FUTIAN = "440304000000"
LIANHUA = "440304008000"  # 莲花街道


def _shape(division: Division) -> shapely.Geometry:
    return shapely.from_geojson(division.geometry)


def _snapshot() -> tuple:
    """Everything an import may touch, to prove a refused import wrote nothing."""
    return (
        current_version(),
        list(
            Division.objects.order_by("code").values_list("code", "geometry", "geometry_source", "grid_count")
        ),
        list(Grid.objects.order_by("code").values_list("code", "name", "geometry", "geometry_source")),
    )


def _communities(n: int, **filters) -> list[Division]:
    return list(Division.objects.of_level(DivisionLevel.COMMUNITY).filter(**filters).order_by("code")[:n])


# -- matching by code -----------------------------------------------------------------------


def test_communities_by_12_digit_code_replace_the_synthetic_boundary(city, make_feature):
    communities = _communities(3, code__startswith="440304")
    version = current_version()
    shrunk = [shapely.buffer(_shape(c), -1e-4) for c in communities]

    report = boundaries_import(
        features=[make_feature(g, code=c.code) for c, g in zip(communities, shrunk, strict=True)],
        level="community",
    )

    assert sorted(report.updated) == [c.code for c in communities]
    assert report.version == version + 1 == current_version()
    stored = Division.objects.get(code=communities[0].code)
    assert stored.geometry_source == GeometrySource.IMPORTED
    assert shapely.hausdorff_distance(shapely.from_geojson(stored.geometry), shrunk[0]) < 2e-7


def test_subdistricts_by_9_digit_code_given_as_json_numbers(city, make_feature):
    lianhua = Division.objects.get(code=LIANHUA)

    report = boundaries_import(
        features=[make_feature(_shape(lianhua), code=int(LIANHUA[:9]))], level="subdistrict"
    )

    assert report.updated == [LIANHUA]
    assert Division.objects.get(code=LIANHUA).geometry_source == GeometrySource.IMPORTED


def test_districts_by_6_digit_code_in_a_custom_property(city, make_feature):
    futian = Division.objects.get(code=FUTIAN)

    report = boundaries_import(
        features=[make_feature(_shape(futian), adcode="440304")], level="district", code_property="adcode"
    )

    assert report.updated == [FUTIAN]


def test_a_code_of_another_level_is_unmatched_and_says_what_it_is(city, make_feature):
    futian = Division.objects.get(code=FUTIAN)

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=[make_feature(_shape(futian), code=FUTIAN)], level="subdistrict")

    (problem,) = error.value.report.unmatched
    assert problem.feature == 1
    assert FUTIAN in problem.message and "福田区" in problem.message


@pytest.mark.parametrize("code", ["44030400800", "4403040080011", "44030400800X", "", None, True])
def test_malformed_codes_are_unmatched(city, make_feature, code):
    community = _communities(1)[0]

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=[make_feature(_shape(community), code=code)], level="community")

    assert error.value.code == "geo.import_rejected"
    assert len(error.value.report.unmatched) == 1


def test_a_feature_without_the_code_property_lists_the_properties_it_has(city, make_feature):
    community = _communities(1)[0]

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=[make_feature(_shape(community), CODE=community.code)], level="community")

    (problem,) = error.value.report.unmatched
    assert problem.code == "geo.property_missing"
    assert "CODE" in problem.message


# -- matching by name --------------------------------------------------------------------------------


def test_subdistricts_by_name_or_short_name(city, make_feature):
    lianhua = Division.objects.get(code=LIANHUA)
    other = (
        Division.objects.of_level(DivisionLevel.SUBDISTRICT).exclude(pk=lianhua.pk).order_by("code").first()
    )

    by_name = boundaries_import(
        features=[make_feature(_shape(lianhua), name=f"  {lianhua.name} ")], level="subdistrict", match="name"
    )
    by_short_name = boundaries_import(
        features=[make_feature(_shape(other), 名称=other.short_name)],
        level="subdistrict",
        match="name",
        name_property="名称",
    )

    assert by_name.updated == [LIANHUA]
    assert by_short_name.updated == [other.code]


def test_an_ambiguous_community_name_is_reported_with_every_candidate(city, make_feature):
    # Community short names repeat across districts (e.g. 南园社区 in Futian and Nanshan).
    name = "南园社区"
    same = list(Division.objects.of_level(DivisionLevel.COMMUNITY).filter(short_name=name))
    assert len(same) > 1

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(
            features=[make_feature(_shape(same[0]), name=name)], level="community", match="name"
        )

    (problem,) = error.value.report.unmatched
    assert problem.code == "geo.name_ambiguous"
    assert all(d.code in problem.message for d in same)


# -- all or nothing ----------------------------------------------------------------------------


def test_one_unmatched_feature_aborts_the_whole_import(city, make_feature):
    communities = _communities(2)
    before = _snapshot()
    features = [make_feature(_shape(c), code=c.code, name=c.name) for c in communities]
    features.insert(1, make_feature(_shape(communities[0]), code="440304999999", name="不存在社区"))

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=features, level="community")

    assert _snapshot() == before
    (problem,) = error.value.report.unmatched
    assert problem.feature == 2
    assert problem.properties == {"code": "440304999999", "name": "不存在社区"}
    assert "不存在社区" in problem.describe()
    assert error.value.fields[0].field == "feature 2"


def test_skip_unmatched_imports_the_others_and_lists_the_skipped(city, make_feature):
    communities = _communities(2)
    features = [make_feature(_shape(c), code=c.code) for c in communities]
    features.append(make_feature(_shape(communities[0]), code="440304999999"))

    report = boundaries_import(features=features, level="community", skip_unmatched=True)

    assert sorted(report.updated) == [c.code for c in communities]
    assert [p.feature for p in report.unmatched] == [3]


def test_skip_unmatched_still_fails_when_nothing_matches(city, make_feature):
    community = _communities(1)[0]

    with pytest.raises(BoundaryImportRejected):
        boundaries_import(
            features=[make_feature(_shape(community), adcode=community.code)],
            level="community",
            skip_unmatched=True,
        )


def test_skip_unmatched_does_not_skip_invalid_geometry(city, make_feature):
    community = _communities(1)[0]
    before = _snapshot()
    point = {"type": "Point", "coordinates": [114.05, 22.55]}

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(
            features=[make_feature(point, code=community.code)], level="community", skip_unmatched=True
        )

    assert error.value.report.invalid[0].code == "geo.geometry_type"
    assert _snapshot() == before


def test_two_features_for_the_same_division_are_refused(city, make_feature):
    community = _communities(1)[0]
    features = [make_feature(_shape(community), code=community.code)] * 2

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=features, level="community")

    assert error.value.report.invalid[0].code == "geo.feature_duplicate"


def test_a_dry_run_checks_and_writes_nothing(city, make_feature):
    community = _communities(1)[0]
    before = _snapshot()

    report = boundaries_import(
        features=[make_feature(_shape(community), code=community.code)], level="community", dry_run=True
    )

    assert report.updated == [community.code] and report.version is None
    assert _snapshot() == before


# -- geometry --------------------------------------------------------------------------------


def test_a_self_intersecting_polygon_is_repaired_with_a_note(city, make_feature):
    community = _communities(1)[0]
    c = _shape(community).centroid
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[c.x, c.y], [c.x + 1e-3, c.y + 1e-3], [c.x + 1e-3, c.y], [c.x, c.y + 1e-3], [c.x, c.y]]
        ],
    }

    report = boundaries_import(features=[make_feature(bowtie, code=community.code)], level="community")

    assert report.notes[0].code == "geo.geometry_repaired"
    stored = shapely.from_geojson(Division.objects.get(pk=community.pk).geometry)
    assert stored.is_valid and stored.geom_type == "MultiPolygon"
    assert stored.area == pytest.approx(0.5e-6, rel=1e-3)


@pytest.mark.parametrize(
    "geometry, code",
    [
        (None, "geo.geometry_missing"),
        ({"type": "LineString", "coordinates": [[114.0, 22.5], [114.1, 22.6]]}, "geo.geometry_type"),
        ({"type": "Polygon", "coordinates": []}, "geo.geometry_empty"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[114.0, 22.5], [114.1, 22.5], [114.2, 22.5], [114.0, 22.5]]],
            },
            "geo.geometry_invalid",
        ),
        ({"type": "Polygon", "coordinates": [[[114.0, 22.5], [114.1]]]}, "geo.geometry_malformed"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[500.0, 22.5], [114.1, 22.5], [114.1, 22.6], [500.0, 22.5]]],
            },
            "geo.coordinates_out_of_range",
        ),
    ],
)
def test_unusable_geometry_is_invalid(city, make_feature, geometry, code):
    community = _communities(1)[0]
    feature = make_feature({"type": "Point", "coordinates": [0, 0]}, code=community.code)
    feature["geometry"] = geometry

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=[feature], level="community")

    assert [p.code for p in error.value.report.invalid] == [code]


def test_projected_coordinates_get_a_hint(city, make_feature):
    community = _communities(1)[0]
    metres = shapely.box(500_000, 2_500_000, 501_000, 2_501_000)

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=[make_feature(metres, code=community.code)], level="community")

    assert "projected" in error.value.report.invalid[0].message


def test_a_polygon_outside_the_shenzhen_area_is_refused_naming_the_feature(city, make_feature):
    communities = _communities(2)
    guangzhou = shapely.box(113.25, 23.10, 113.30, 23.15)
    features = [make_feature(_shape(communities[0]), code=communities[0].code)]
    features.append(make_feature(guangzhou, code=communities[1].code, name=communities[1].name))

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=features, level="community")

    (problem,) = error.value.report.invalid
    assert problem.code == "geo.outside_area"
    assert problem.feature == 2
    assert "Feature 2" in error.value.fields[0].message


def test_swapped_longitude_and_latitude_get_a_hint(city, make_feature):
    community = _communities(1)[0]
    swapped = shapely.transform(_shape(community), lambda xy: xy[:, ::-1])

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=[make_feature(swapped, code=community.code)], level="community")

    assert "swapped" in error.value.report.invalid[0].message


def test_gcj02_input_is_stored_as_wgs84(city, make_feature):
    community = _communities(1)[0]
    wgs = _shape(community)
    gcj = shapely.transform(wgs, lambda xy: [wgs84_to_gcj02(x, y) for x, y in xy])

    boundaries_import(features=[make_feature(gcj, code=community.code)], level="community", crs="gcj02")

    stored = shapely.from_geojson(Division.objects.get(pk=community.pk).geometry)
    assert shapely.get_num_coordinates(stored) == shapely.get_num_coordinates(wgs)
    assert shapely.hausdorff_distance(stored, wgs) < 1e-6


def test_an_unknown_crs_is_refused_before_anything_else(city, make_feature):
    with pytest.raises(ServiceError) as error:
        boundaries_import(features=[], level="community", crs="epsg:3857")

    assert error.value.code == "geo.unknown_crs"


@pytest.mark.parametrize(
    "options, code",
    [({"level": "city"}, "geo.level_invalid"), ({"level": "grid", "match": "name"}, "geo.match_invalid")],
)
def test_bad_options_are_refused(city, options, code):
    with pytest.raises(ServiceError) as error:
        boundaries_import(features=[], **options)

    assert error.value.code == code


# -- grids -----------------------------------------------------------------------------------


def test_grid_import_creates_and_updates_grids_in_the_right_community(city, make_feature):
    community = city.community
    existing = city.grids[0]
    shape = _shape(community)
    c = shape.representative_point()
    square = shapely.box(c.x - 1e-4, c.y - 1e-4, c.x + 1e-4, c.y + 1e-4)
    grid_count = community.grid_count

    report = boundaries_import(
        features=[
            make_feature(square, code=int(community.code + "101"), name="荔枝网格"),
            make_feature(square, code=community.code + "102"),
            make_feature(shapely.from_geojson(existing.geometry), code=existing.code, name="改名网格"),
        ],
        level="grid",
    )

    assert report.created == [community.code + "101", community.code + "102"]
    assert report.updated == [existing.code]
    named = Grid.objects.get(code=community.code + "101")
    assert named.community == community and named.name == "荔枝网格"
    assert named.geometry_source == GeometrySource.IMPORTED and named.area_m2 > 0
    assert Grid.objects.get(code=community.code + "102").name == f"{community.display_name}第102网格"
    assert Grid.objects.get(pk=existing.pk).name == "改名网格"
    assert Division.objects.get(pk=community.pk).grid_count == grid_count + 2


@pytest.mark.parametrize(
    "code, problem",
    [
        ("440304999999001", "geo.community_missing"),
        ("440304008001000", "geo.grid_code_invalid"),
        ("12345", "geo.grid_code_invalid"),
    ],
)
def test_grids_whose_code_names_no_community_are_unmatched(city, make_feature, code, problem):
    square = shapely.box(114.05, 22.55, 114.051, 22.551)

    with pytest.raises(BoundaryImportRejected) as error:
        boundaries_import(features=[make_feature(square, code=code)], level="grid")

    assert [p.code for p in error.value.report.unmatched] == [problem]


# -- files and the command -----------------------------------------------------------------------


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")

    with pytest.raises(ServiceError) as error:
        boundaries_read(path)

    assert error.value.code == "geo.json_invalid"
    assert "line 1" in error.value.message


@pytest.mark.parametrize("data", [[], {"type": "Polygon", "coordinates": []}, {"type": "FeatureCollection"}])
def test_json_that_is_not_a_feature_collection_is_refused(tmp_path, data):
    path = tmp_path / "wrong.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(ServiceError) as error:
        boundaries_read(path)

    assert error.value.code == "geo.geojson_invalid"


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ServiceError) as error:
        boundaries_read(tmp_path / "nowhere.geojson")

    assert error.value.code == "geo.file_unreadable"


def test_a_single_feature_and_a_gbk_file_are_read(city, tmp_path, geojson_file, make_feature):
    community = _communities(1)[0]
    single = tmp_path / "one.geojson"
    single.write_text(json.dumps(make_feature(_shape(community), code=community.code)), encoding="utf-8")
    gbk = geojson_file([make_feature(_shape(community), name=community.name)], encoding="gbk")

    assert len(boundaries_read(single)) == 1
    assert boundaries_read(gbk)[0]["properties"]["name"] == community.name


def test_the_command_imports_and_reports(city, geojson_file, make_feature, capsys):
    communities = _communities(2)
    path = geojson_file(
        [make_feature(_shape(c), code=c.code) for c in communities]
        + [make_feature(_shape(communities[0]), code="440304999999", name="外星社区")]
    )

    call_command("import_boundaries", str(path), "--level", "community", "--skip-unmatched", "--no-progress")

    out = capsys.readouterr().out
    assert "外星社区" in out and "2 replaced" in out
    assert "Imported community boundaries" not in out  # the level in words (社区), not its code
    assert "Imported Community boundaries" in out or "已导入社区边界" in out
    assert Division.objects.get(pk=communities[0].pk).geometry_source == GeometrySource.IMPORTED


def test_the_command_fails_naming_every_rejected_feature(city, geojson_file, make_feature):
    community = _communities(1)[0]
    path = geojson_file(
        [
            make_feature(_shape(community), code="440304999998"),
            make_feature(shapely.box(113.2, 23.1, 113.3, 23.2), code=community.code),
        ]
    )
    before = _snapshot()

    with pytest.raises(CommandError) as error:
        call_command("import_boundaries", str(path), "--level", "community", "--no-progress")

    message = str(error.value)
    assert "geo.import_rejected" in message
    assert "Feature 1" in message and "440304999998" in message
    assert "Feature 2" in message and "geo.outside_area" in message
    assert _snapshot() == before


@pytest.mark.parametrize(
    "content, options, code",
    [
        ("not json", [], "geo.json_invalid"),
        ('{"type": "FeatureCollection", "features": []}', ["--crs", "bd09"], "geo.unknown_crs"),
    ],
)
def test_the_command_fails_on_bad_files_and_options(city, tmp_path, content, options, code):
    path = tmp_path / "x.geojson"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError, match=code):
        call_command("import_boundaries", str(path), "--level", "community", "--no-progress", *options)
