"""import_layer against real and crafted files: every format, the report's rows, CRS
handling, bad input refused with the right message and nothing written, idempotent re-runs."""

import io
import json
import pathlib
import zipfile

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from gis_layers.demo.sources import bubenec_path, helsinki_pbf_path
from gis_layers.imports.crs import wgs84_to_gcj02
from gis_layers.imports.errors import ImportRefusal
from gis_layers.imports.pipeline import run_import
from gis_layers.management.commands import import_layer
from gis_layers.models import ImportRun, PopulationCell, RoadSegment
from registry.models import AuditEvent, Building, Parcel, Shelter

pytestmark = pytest.mark.django_db
# Far from the demo districts, so that nothing overlaps them.
ORIGIN = (100.0, 30.0)


def squares(
    count: int, *, start: int = 1, side: float = 0.0005, crs: int = 4490
) -> gpd.GeoDataFrame:
    """``count`` parcels in a row with valid unit codes in demo district 990101."""
    x0, y0 = ORIGIN
    geometries = [
        shapely.box(x0 + i * side * 1.1, y0, x0 + i * side * 1.1 + side, y0 + side)
        for i in range(count)
    ]
    frame = gpd.GeoDataFrame(
        {
            "unit_code": [f"990101009009GB{start + i:05d}W00000000" for i in range(count)],
            "land_use": ["0801"] * count,
            "name": [f"imported {i}" for i in range(count)],
        },
        geometry=geometries,
        crs=4490,
    )
    return frame.to_crs(crs)


def imported(kind: str, path, **options) -> str:
    out = io.StringIO()
    call_command("import_layer", kind, str(path), stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def refused(kind: str, path, message: str, **options) -> str:
    with pytest.raises(CommandError) as error:
        imported(kind, path, **options)
    assert message in str(error.value)
    return str(error.value)


def test_geopackage_parcels_are_imported_then_a_rerun_changes_nothing(tmp_path):
    path = tmp_path / "parcels.gpkg"
    squares(5).to_file(path, layer="survey")
    output = imported("parcels", path, report=tmp_path / "report")
    assert "written: 5 inserted, 0 updated, 0 unchanged" in output
    assert Parcel.objects.filter(unit_code__startswith="990101009009").count() == 5
    assert "written: 0 inserted, 0 updated, 5 unchanged" in imported("parcels", path)
    assert ImportRun.objects.filter(file_name="parcels.gpkg").count() == 2
    assert AuditEvent.objects.filter(action="import", object_id="parcels.gpkg").exists()
    assert (
        (tmp_path / "report.csv")
        .read_text(encoding="utf-8")
        .startswith("file,row,field,action,reason")
    )


def test_projected_file_is_transformed_to_cgcs2000(tmp_path):
    path = tmp_path / "parcels_utm.gpkg"
    squares(2).to_crs(32647).to_file(path)
    imported("parcels", path)
    parcel = Parcel.objects.get(unit_code="990101009009GB00001W00000000")
    assert parcel.geom.srid == 4490
    assert parcel.geom.extent[0] == pytest.approx(ORIGIN[0], abs=1e-6)


def test_bad_rows_are_reported_by_row_and_field_and_nothing_is_written(tmp_path):
    frame = squares(6)
    frame.loc[1, "unit_code"] = "990101009009GB0002W00000000"  # 27 characters
    frame.loc[2, "land_use"] = "0899"
    frame.loc[3, "unit_code"] = frame.loc[0, "unit_code"]  # duplicate
    frame.loc[4, "geometry"] = shapely.Polygon(
        [(100.1, 30), (100.101, 30.001), (100.101, 30), (100.1, 30.001)]
    )
    frame.loc[5, "unit_code"] = "880101009009GB00009W00000000"  # no such district
    path = tmp_path / "bad.gpkg"
    frame.to_file(path)
    before = Parcel.objects.count()
    refused("parcels", path, "4 row(s) rejected: nothing written", report=tmp_path / "bad-report")
    assert Parcel.objects.count() == before
    rows = (tmp_path / "bad-report.csv").read_text(encoding="utf-8")
    assert 'bad.gpkg,2,unit_code,rejected,"Unit code must have 28 characters, not 27' in rows
    assert "bad.gpkg,3,land_use,rejected,'0899' is not a GB/T 21010-2017 second-level class" in rows
    assert "bad.gpkg,4,unit_code,rejected,duplicate of row 1" in rows
    assert "bad.gpkg,5,geometry,repaired,invalid geometry repaired: Self-intersection" in rows
    assert "bad.gpkg,6,unit_code,rejected,no district with division code 880101" in rows
    assert "<table>" in (tmp_path / "bad-report.html").read_text(encoding="utf-8")


def test_overlap_with_a_current_parcel_is_rejected(tmp_path):
    demo_parcel = Parcel.objects.filter(district__code="990201", valid_to__isnull=True).first()
    overlapping = gpd.GeoDataFrame(
        {"unit_code": ["990201009009GB00001W00000000"], "land_use": ["0701"]},
        geometry=[shapely.from_wkb(bytes(demo_parcel.geom.wkb)).buffer(0)],
        crs=4490,
    )
    path = tmp_path / "overlap.geojson"
    overlapping.to_file(path, driver="GeoJSON")
    output = refused("parcels", path, "1 row(s) rejected")
    assert output


def test_dry_run_writes_nothing_and_exits_zero(tmp_path):
    path = tmp_path / "dry.fgb"
    squares(3).to_file(path, driver="FlatGeobuf")
    assert "nothing written (dry run)" in imported("parcels", path, dry_run=True)
    assert not Parcel.objects.filter(unit_code__startswith="990101009009").exists()


def test_two_imports_of_one_file_in_the_same_second_keep_two_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(import_layer, "REPORTS_DIRECTORY", tmp_path / "reports")
    frozen = timezone.now()
    monkeypatch.setattr(import_layer.timezone, "now", lambda: frozen)
    path = tmp_path / "plan.v2.fgb"
    squares(2).to_file(path, driver="FlatGeobuf")
    named = [
        line.removeprefix("report: ").split(" and ")
        for run in range(3)
        for line in imported("parcels", path, dry_run=True).splitlines()
        if line.startswith("report: ")
    ]
    stem = f"{frozen:%Y%m%d-%H%M%S}-parcels-plan_v2"
    assert [pathlib.Path(csv).name for csv, _ in named] == [
        f"{stem}.csv",
        f"{stem}-2.csv",
        f"{stem}-3.csv",
    ]
    for csv, html in named:
        assert pathlib.Path(csv).read_text(encoding="utf-8").startswith("file,row,field")
        assert "plan.v2.fgb" in pathlib.Path(html).read_text(encoding="utf-8")


def test_three_dimensional_geometries_are_flattened_and_reported(tmp_path):
    frame = squares(2)
    frame["geometry"] = shapely.force_3d(frame.geometry.values, 12.0)
    path = tmp_path / "z.gpkg"
    frame.to_file(path)
    report = run_import(kind_name="parcels", path=path)
    assert [finding.reason for finding in report.repaired] == ["3-D geometry flattened to 2-D"] * 2
    assert not Parcel.objects.get(unit_code="990101009009GB00001W00000000").geom.hasz


def test_missing_prj_is_refused_with_what_to_pass(tmp_path):
    path = tmp_path / "noprj.shp"
    squares(2).to_file(path)
    path.with_suffix(".prj").unlink()
    refused("parcels", path, "--crs")
    assert "990101009009GB00001W00000000" not in set(
        Parcel.objects.values_list("unit_code", flat=True)
    )
    assert "written: 2 inserted" in imported("parcels", path, crs="EPSG:4490")


def test_unknown_epsg_is_refused(tmp_path):
    path = tmp_path / "parcels.gpkg"
    squares(1).to_file(path)
    refused("parcels", path, "999999", crs="EPSG:999999")


def test_zipped_gbk_shapefile_with_chinese_columns(tmp_path):
    shelters = gpd.GeoDataFrame(
        {
            "工程名称": ["人防工程一号", "人防工程二号"],
            "工程类型": ["人员掩蔽", "医疗救护"],
            "防护等级": ["核6级", "核5级"],
            "掩蔽人数": [800, 300],
            "使用面积": [820.5, 310.0],
            "密级": ["公开", "公开"],
        },
        geometry=[shapely.Point(100.2, 30.2), shapely.Point(100.21, 30.2)],
        crs=4490,
    )
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(shelters, folder / "shelters.shp", encoding="GBK")
    (folder / "shelters.cpg").unlink(missing_ok=True)
    archive = tmp_path / "shelters.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for part in folder.iterdir():
            bundle.write(part, part.name)
    assert "written: 2 inserted" in imported("shelters", archive)
    shelter = Shelter.objects.get(name="人防工程一号")
    assert (shelter.shelter_type, shelter.protection_class, shelter.capacity_persons) == (
        "personnel",
        "n6",
        800,
    )


def test_csv_in_gbk_with_gcj02_coordinates_is_converted(tmp_path):
    wgs_lon, wgs_lat = 116.3912, 39.9067
    gcj_lon, gcj_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    text = (
        "工程名称,工程类型,防护等级,掩蔽人数,使用面积,经度,纬度\n"
        f"西城一号,人员掩蔽,核6级,500,520,{float(gcj_lon):.8f},{float(gcj_lat):.8f}\n"
    )
    path = tmp_path / "shelters.csv"
    path.write_bytes(text.encode("gbk"))
    refused("shelters", path, "--crs")
    output = imported("shelters", path, crs="gcj02")
    assert "converted from GCJ02" in output.replace("-", "")
    location = Shelter.objects.get(name="西城一号").location
    assert location.x == pytest.approx(wgs_lon, abs=1e-6) and location.y == pytest.approx(
        wgs_lat, abs=1e-6
    )


def test_csv_with_wkt_and_bad_coordinates(tmp_path):
    path = tmp_path / "roads.csv"
    path.write_text(
        "source_id,name,highway,wkt\n"
        'a,Good street,residential,"LINESTRING (100.3 30.3, 100.301 30.3)"\n'
        "b,No geometry,residential,\n"
        'c,Infinite,residential,"LINESTRING (100.3 30.3, inf 30.3)"\n',
        encoding="utf-8",
    )
    with pytest.raises(CommandError):
        imported("roads", path, crs="EPSG:4490", report=tmp_path / "r")
    rows = (tmp_path / "r.csv").read_text(encoding="utf-8")
    assert 'roads.csv,2,geometry,rejected,"no geometry' in rows
    assert "roads.csv,3,geometry,rejected" in rows
    assert not RoadSegment.objects.filter(name="Good street").exists()


def test_ring_that_does_not_close_is_rejected(tmp_path):
    path = tmp_path / "open.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {
                            "unit_code": "990101009009GB00001W00000000",
                            "land_use": "0801",
                        },
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[100, 30], [100.001, 30], [100.001, 30.001]]],
                        },
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(CommandError):
        imported("parcels", path, report=tmp_path / "open")
    assert "rejected" in (tmp_path / "open.csv").read_text(encoding="utf-8")


def test_zip_with_parent_paths_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../evil.geojson", "{}")
    refused("parcels", archive, "evil.zip")
    assert not (tmp_path.parent / "evil.geojson").exists()


def test_unknown_format_is_refused(tmp_path):
    path = tmp_path / "parcels.xlsx"
    path.write_bytes(b"PK")
    refused("parcels", path, "unknown format '.xlsx'")


def test_missing_required_column_names_the_field_and_the_mapping(tmp_path):
    refused("parcels", bubenec_path(), "required field 'unit_code'", layer="plots")
    with pytest.raises(ImportRefusal, match="mapping names column 'nope'"):
        run_import(
            kind_name="parcels", path=bubenec_path(), layer="plots", mapping={"unit_code": "nope"}
        )


def test_mapping_file_maps_other_column_names(tmp_path):
    frame = squares(2).rename(columns={"unit_code": "CODE28", "land_use": "USE"})
    path = tmp_path / "mapped.gpkg"
    frame.to_file(path)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"unit_code": "CODE28", "land_use": "USE"}))
    assert "written: 2 inserted" in imported("parcels", path, mapping=mapping)


def test_rows_without_a_source_id_are_known_by_their_geometry_not_their_place(tmp_path):
    """With one row deleted from the file, a re-import changes nothing: no later row's
    values move onto its neighbour's record."""
    frame = squares(4).drop(columns=["unit_code", "land_use"])
    frame["floors"] = [1, 2, 3, 4]
    path = tmp_path / "blocks.gpkg"
    frame.to_file(path)
    first = run_import(kind_name="buildings", path=path)
    assert first.written == {"inserted": 4, "updated": 0}
    floors_of = dict(
        Building.objects.filter(source__startswith="blocks.gpkg#").values_list(
            "name", "floors_above"
        )
    )
    frame.drop(index=1).to_file(path)
    again = run_import(kind_name="buildings", path=path)
    assert again.written == {"inserted": 0, "updated": 0}
    assert (
        dict(
            Building.objects.filter(source__startswith="blocks.gpkg#").values_list(
                "name", "floors_above"
            )
        )
        == floors_of
        == {f"imported {i}": i + 1 for i in range(4)}
    )
    # The whole file again, one row with another value: its own record is updated, and the
    # row deleted before finds the record it left.
    frame.loc[2, "floors"] = 9
    frame.to_file(path)
    assert run_import(kind_name="buildings", path=path).written == {"inserted": 0, "updated": 1}
    assert (
        Building.objects.get(source__startswith="blocks.gpkg#", name="imported 2").floors_above == 9
    )


def test_two_rows_of_one_geometry_without_source_ids_are_duplicates(tmp_path):
    frame = squares(2).drop(columns=["unit_code", "land_use"])
    frame.loc[1, "geometry"] = frame.loc[0, "geometry"]
    path = tmp_path / "twice.geojson"
    frame.to_file(path)
    report = run_import(kind_name="buildings", path=path, dry_run=True)
    assert [(finding.row, finding.reason[:16]) for finding in report.rejected] == [
        (2, "duplicate of row")
    ]


def test_momepy_buildings_and_osm_roads_from_the_wheels():
    output = imported("buildings", bubenec_path(), layer="buildings")
    assert "144 read, 144 accepted" in output and "144 inserted" in output
    report = run_import(kind_name="roads", path=helsinki_pbf_path(), dry_run=True)
    assert report.read > 3000
    # A way the extract cut down to one point cannot be a road.
    assert [finding.reason for finding in report.rejected] == [
        "invalid geometry: Too few points in geometry component[24.9533655 60.1672975]"
    ]
    assert Building.objects.filter(source__startswith="bubenec.gpkg#").count() == 144


@pytest.mark.shared_data
def test_population_geotiff_sum_is_kept(shared_data):
    raster = shared_data / "helsinki_centre" / "helsinki_population_2020_250m_EPSG3879_DERIVED.tif"
    report = run_import(kind_name="population", path=raster, crs="EPSG:3879")
    assert report.written["inserted"] == 92
    cells = PopulationCell.objects.filter(source__startswith=raster.name)
    assert sum(cells.values_list("residents", flat=True)) == pytest.approx(71_724)
    assert np.median(list(cells.values_list("area_m2", flat=True))) == pytest.approx(
        62_500, rel=0.01
    )


@pytest.mark.shared_data
def test_population_polygons_from_a_real_geopackage(shared_data):
    report = run_import(
        kind_name="population",
        path=shared_data / "helsinki_centre" / "helsinki_population_grid_2020.gpkg",
    )
    assert report.written["inserted"] == 92


def test_zoning_with_overlapping_polygons_and_unknown_codes_is_reported(tmp_path):
    zones = gpd.GeoDataFrame(
        {
            "规划用途": ["0801", "070101", "08", "abc"],
            "规划名称": ["西城分区规划"] * 4,
            "容积率上限": [2.5, 3.0, None, 1.0],
        },
        geometry=[
            shapely.box(100.5, 30.5, 100.51, 30.51),
            shapely.box(100.52, 30.5, 100.53, 30.51),
            shapely.box(100.505, 30.5, 100.515, 30.51),
            shapely.box(100.6, 30.5, 100.61, 30.51),
        ],
        crs=4490,
    )
    path = tmp_path / "plan.gpkg"
    zones.to_file(path)
    refused("zoning", path, "2 row(s) rejected", report=tmp_path / "plan")
    rows = (tmp_path / "plan.csv").read_text(encoding="utf-8")
    assert "plan.gpkg,3,geometry,rejected,overlaps row 1 of the same file" in rows
    assert "plan.gpkg,4,planned_use,rejected,\"'abc' is not a 用地用海 class code" in rows
    zones.iloc[[0, 1]].to_file(tmp_path / "good.gpkg")
    assert "written: 2 inserted" in imported("zoning", tmp_path / "good.gpkg")
    from gis_layers.models import ZoningArea

    assert ZoningArea.objects.get(planned_use="0801").max_far == 2.5


def test_agencies_with_hierarchy_staff_and_seat_from_a_chinese_csv(tmp_path):
    from registry.models import Agency, StaffEstablishment

    seat = Building.objects.filter(name="Helsinki City Hall").get()
    point = seat.footprint.point_on_surface
    path = tmp_path / "agencies.csv"
    path.write_text(
        "单位名称,上级单位,级别,正司局级,处级,处级以下,经度,纬度\n"
        f"测试部,,中央,3,20,80,{point.x},{point.y}\n"
        "测试部办公厅,测试部,中央,1,5,30,,\n"
        "孤立单位,不存在的上级,市级,0,1,2,,\n",
        encoding="utf-8",
    )
    with pytest.raises(CommandError):
        imported("agencies", path, crs="EPSG:4490", report=tmp_path / "a")
    assert "agencies.csv,3,parent,rejected,no agency named '不存在的上级'" in (
        tmp_path / "a.csv"
    ).read_text(encoding="utf-8")
    path.write_text(
        "\n".join(path.read_text(encoding="utf-8").splitlines()[:3]) + "\n", encoding="utf-8"
    )
    assert "written: 2 inserted" in imported("agencies", path, crs="EPSG:4490")
    ministry = Agency.objects.get(party__name="测试部")
    office = Agency.objects.get(party__name="测试部办公厅")
    assert office.parent == ministry and ministry.seat_building == seat
    assert StaffEstablishment.objects.get(agency=ministry, rank="division").headcount == 20
    path.write_text(
        path.read_text(encoding="utf-8").replace(",3,20,80,", ",3,25,80,"), encoding="utf-8"
    )
    assert "written: 0 inserted, 1 updated, 1 unchanged" in imported(
        "agencies", path, crs="EPSG:4490"
    )
    assert StaffEstablishment.objects.get(agency=ministry, rank="division").headcount == 25


def test_nan_and_infinite_coordinates_are_rejected(tmp_path):
    shelters = gpd.GeoDataFrame(
        {
            "name": ["ok", "nan", "inf"],
            "shelter_type": "personnel",
            "protection_class": "n6",
            "capacity_persons": 100,
            "usable_area_m2": 100.0,
        },
        geometry=[
            shapely.Point(100.2, 30.2),
            shapely.Point(100.2, float("nan")),
            shapely.Point(float("inf"), 30.2),
        ],
        crs=4490,
    )
    path = tmp_path / "odd.gpkg"
    shelters.to_file(path)
    refused("shelters", path, "2 row(s) rejected", report=tmp_path / "odd")
    rows = (tmp_path / "odd.csv").read_text(encoding="utf-8")
    assert "odd.gpkg,2,geometry,rejected,coordinates are NaN or infinite" in rows
    assert "odd.gpkg,3,geometry,rejected,coordinates are NaN or infinite" in rows
    assert not Shelter.objects.filter(name="ok").exists()


def test_zip_bomb_is_refused_before_it_fills_the_disk(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        with bundle.open("parcels.geojson", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(300):  # 300 MB of zeros, a few hundred kB compressed
                member.write(block)
    assert archive.stat().st_size < 2_000_000
    refused("parcels", archive, "bomb.zip")


def test_a_row_a_database_guard_refuses_refuses_the_file_and_writes_nothing(tmp_path, demo):
    """What the checks let through but a guard in the database refuses (here a CHECK added
    for this test, inside its transaction) is a refusal naming the guard, not a crash."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE registry_parcel ADD CONSTRAINT test_refuse_name CHECK (name <> 'imported 1')"
        )
    path = tmp_path / "guarded.gpkg"
    squares(3, start=71).to_file(path)
    with pytest.raises(ImportRefusal, match=r"the database refused the data \(.*test_refuse_name"):
        run_import(kind_name="parcels", path=path)
    assert not Parcel.objects.filter(unit_code__startswith="990101009009GB0007").exists()


def test_the_command_says_when_each_stage_after_reading_begins(tmp_path):
    path = tmp_path / "survey.gpkg"
    squares(2).to_file(path)
    progress = io.StringIO()  # not a terminal: no bar, only the stages' lines
    call_command(
        "import_layer",
        "parcels",
        str(path),
        stdout=io.StringIO(),
        stderr=progress,
        report=tmp_path / "report",
    )
    lines = progress.getvalue().splitlines()
    assert [line.partition(" (after ")[0] for line in lines] == [
        import_layer.STAGE_LINES[stage] for stage in ("checking", "writing", "committing")
    ]
    dry = io.StringIO()
    call_command(
        "import_layer",
        "parcels",
        str(path),
        dry_run=True,
        stdout=io.StringIO(),
        stderr=dry,
        report=tmp_path / "dry",
    )
    assert dry.getvalue().splitlines()[0].startswith(import_layer.STAGE_LINES["checking"])
    assert len(dry.getvalue().splitlines()) == 1


def test_the_command_speaks_english_whatever_the_sites_language(tmp_path, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    path = tmp_path / "survey.gpkg"
    frame = squares(2)
    frame.loc[1, "land_use"] = "9999"
    frame.to_file(path)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 row\\(s\\) rejected"):
        call_command(
            "import_layer",
            "parcels",
            str(path),
            dry_run=True,
            report=tmp_path / "report",
            stdout=out,
            stderr=io.StringIO(),
        )
    assert "2 read, 1 accepted, 1 rejected, 0 repaired" in out.getvalue()
    assert "'9999' is not a GB/T 21010-2017 second-level class" in out.getvalue()
    assert "second-level class" in (tmp_path / "report.csv").read_text()
    assert "<th>Reason</th>" in (tmp_path / "report.html").read_text()
    frame.to_file(tmp_path / "noprj.shp")
    (tmp_path / "noprj.prj").unlink()
    refused("parcels", tmp_path / "noprj.shp", "declares no coordinate reference system")
