"""Hardening of the import: a file is read only as the format its name says, text encodings
are decided from the whole file, malformed files are refused rather than crash, a mapping
wins over a column of the same name, empty dates and unknown building uses are handled in
the open, shelter imports respect clearance, retired parcels stay as they were, and the web
upload keeps its full report for download and its pending files for a day at most."""

import datetime
import os
import pathlib
import re
import sqlite3
import time
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile

from gis_layers.imports.errors import ImportRefusal
from gis_layers.imports.pipeline import run_import
from gis_layers.imports.schema import KINDS
from gis_layers.imports.validation import attributes_of
from gis_layers.models import RoadSegment
from registry.models import Agency, Building, Parcel, Party, SecurityLevel, Shelter
from registry.roles import Role
from tests.gis_layers.test_import import imported, refused, squares
from tests.gis_layers.test_import_views import as_role, gpkg_upload, upload
from tests.registry.register import user

pytestmark = pytest.mark.django_db

SECRET = "held-only-on-the-server"


@pytest.fixture
def server_file(tmp_path) -> pathlib.Path:
    """A file on the server that no import may read; read as parcels, its values would come
    back in the report's findings."""
    folder = tmp_path / "server"
    folder.mkdir()
    secret = folder / "secret.csv"
    secret.write_text(f"unit_code,land_use,name\n{SECRET},{SECRET},{SECRET}\n", encoding="utf-8")
    return secret


def ogr_vrt(target: pathlib.Path) -> str:
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="{target.stem}">'
        f"<SrcDataSource>CSV:{target}</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>\n"
    )


def refusal_of(**options) -> ImportRefusal:
    with pytest.raises(ImportRefusal) as refusal:
        run_import(**options)
    return refusal.value


# --- 1. the content must be the format the suffix names ----------------------------------


@pytest.mark.parametrize(
    ("suffix", "format_name"),
    [
        (".geojson", "GeoJSON"),
        (".json", "GeoJSON"),
        (".csv", "CSV"),
        (".gpkg", "a GeoPackage"),
        (".fgb", "FlatGeobuf"),
        (".shp", "a Shapefile"),
        (".pbf", "an OSM PBF file"),
    ],
)
def test_an_ogr_vrt_under_a_data_suffix_is_refused_before_gdal_opens_it(
    tmp_path, server_file, suffix, format_name
):
    path = tmp_path / f"survey{suffix}"
    path.write_text(ogr_vrt(server_file), encoding="utf-8")
    refusal = refusal_of(kind_name="parcels", path=path, crs="EPSG:4490", dry_run=True)
    assert f"survey{suffix} is not {format_name}" in refusal.message
    assert SECRET not in str(refusal)


def test_a_gdal_pipeline_file_named_geojson_is_read_as_geojson_only(tmp_path, server_file):
    """A GDALG file is JSON like GeoJSON, so only forcing GDAL's GeoJSON driver stops it."""
    path = tmp_path / "survey.geojson"
    path.write_text(
        '{"type": "gdal_streamed_alg", "command_line": "gdal vector pipeline ! read '
        f'{server_file} ! write --of stream streamed_dataset", '
        '"relative_paths_relative_to_this_file": false}',
        encoding="utf-8",
    )
    refusal = refusal_of(kind_name="parcels", path=path, crs="EPSG:4490", dry_run=True)
    assert "survey.geojson" in str(refusal) and SECRET not in str(refusal)


def test_a_raster_vrt_named_tif_is_refused(tmp_path, server_file):
    path = tmp_path / "population.tif"
    path.write_text(
        '<VRTDataset rasterXSize="4" rasterYSize="1"><VRTRasterBand dataType="Byte" band="1" '
        f'subClass="VRTRawRasterBand"><SourceFilename relativetoVRT="0">{server_file}'
        "</SourceFilename><ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset>"
        "<LineOffset>4</LineOffset></VRTRasterBand></VRTDataset>\n",
        encoding="utf-8",
    )
    refusal = refusal_of(kind_name="population", path=path, crs="EPSG:4490", dry_run=True)
    assert "population.tif is not a GeoTIFF" in refusal.message


def test_a_zip_member_gets_the_same_check(tmp_path, server_file):
    archive = tmp_path / "survey.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("parcels.geojson", ogr_vrt(server_file))
    refused("parcels", archive, "parcels.geojson is not GeoJSON", crs="EPSG:4490")


def test_the_web_upload_refuses_a_vrt_named_geojson(client, tmp_path, server_file, settings):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    as_role(client, Role.REGISTRAR)
    page = upload(
        client, SimpleUploadedFile("evil.geojson", ogr_vrt(server_file).encode()), crs="EPSG:4490"
    ).content.decode()
    assert "Refused, nothing written: evil.geojson is not GeoJSON" in page
    assert SECRET not in page


def test_geojson_with_a_byte_order_mark_and_leading_space_is_still_geojson(tmp_path):
    path = tmp_path / "bom.geojson"
    squares(2).to_file(path, driver="GeoJSON")
    path.write_bytes(b"\xef\xbb\xbf \n" + path.read_bytes())
    assert "written: 2 inserted" in imported("parcels", path)


# --- 2. text encodings and malformed files ---------------------------------------------

LINE = '"LINESTRING (100.3 {y}, 100.301 {y})"'


def test_a_gbk_csv_whose_first_megabyte_is_ascii_is_read_as_gbk(tmp_path):
    path = tmp_path / "roads.csv"
    ascii_part = f"source_id,name,highway,note,wkt\na,plain,residential,{'x' * 1_100_000},"
    ascii_part += LINE.format(y=30.3) + "\n"
    gbk_part = "b,长安街,primary,y," + LINE.format(y=30.4) + "\n"
    path.write_bytes(ascii_part.encode("ascii") + gbk_part.encode("gbk"))
    assert "written: 2 inserted" in imported("roads", path, crs="EPSG:4490")
    assert RoadSegment.objects.filter(name="长安街").exists()


def test_text_that_is_neither_utf8_nor_gbk_is_refused_at_its_byte_offset(tmp_path):
    path = tmp_path / "roads.csv"
    head = f"source_id,name,highway,note,wkt\na,plain,residential,{'x' * 1_100_000},"
    head += LINE.format(y=30.3) + "\nb,"
    path.write_bytes(head.encode("ascii") + b"\xff\xff,primary,y," + LINE.format(y=30.4).encode())
    refusal = refusal_of(kind_name="roads", path=path, crs="EPSG:4490", dry_run=True)
    assert "roads.csv" in str(refusal)
    assert f"byte {len(head.encode())}" in refusal.message


def test_the_web_upload_refuses_undecodable_text_instead_of_failing(client, tmp_path, settings):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    content = f"source_id,name,highway,note,wkt\na,plain,residential,{'x' * 1_100_000},"
    content += LINE.format(y=30.3) + "\nb,"
    as_role(client, Role.REGISTRAR)
    response = upload(
        client,
        SimpleUploadedFile("roads.csv", content.encode() + b"\xff\xff,primary,y,\n"),
        kind="roads",
        crs="EPSG:4490",
    )
    assert response.status_code == 200
    assert "Refused, nothing written" in response.content.decode()


def test_a_malformed_value_inside_a_geopackage_is_a_refusal(tmp_path):
    path = tmp_path / "names.gpkg"
    squares(2).to_file(path, layer="parcels")
    with sqlite3.connect(path) as database:
        # GDAL's triggers call SpatiaLite functions that plain SQLite lacks.
        triggers = database.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        for (trigger,) in triggers.fetchall():
            database.execute(f'DROP TRIGGER "{trigger}"')
        database.execute("UPDATE parcels SET name = CAST(X'41FF42' AS TEXT) WHERE fid = 2")
    refusal = refusal_of(kind_name="parcels", path=path, dry_run=True)
    assert "names.gpkg" in str(refusal) and "cannot read" in refusal.message


@pytest.mark.parametrize("missing", [".dbf", ".shx"])
def test_a_shapefile_missing_a_part_is_refused_naming_it(tmp_path, missing):
    path = tmp_path / "parcels.shp"
    squares(2).to_file(path)
    path.with_suffix(missing).unlink()
    refusal = refusal_of(kind_name="parcels", path=path, dry_run=True)
    assert f"is missing parcels{missing}" in refusal.message


# --- 3. UTF-8 shapefiles without a .cpg ---------------------------------------------------


def test_a_utf8_shapefile_without_cpg_keeps_its_chinese_column_names(tmp_path):
    buildings = gpd.GeoDataFrame(
        {"名称": ["教学楼", "图书馆"], "层数": [5, 3]},
        geometry=[
            shapely.box(100.8, 30.8, 100.801, 30.801),
            shapely.box(100.81, 30.8, 100.811, 30.801),
        ],
        crs=4490,
    )
    path = tmp_path / "campus.shp"
    pyogrio.write_dataframe(buildings, path, encoding="UTF-8")
    path.with_suffix(".cpg").unlink()
    assert "written: 2 inserted" in imported("buildings", path)
    library = Building.objects.get(source__startswith="campus.shp#", name="图书馆")
    assert library.floors_above == 3


# --- 4. a mapping wins over a column of the target's name --------------------------------


def test_a_mapping_wins_over_a_column_named_like_its_target(tmp_path):
    frame = squares(2, start=401)
    frame.insert(2, "name_zh", ["一号地块", "二号地块"])
    assert list(frame.columns) == ["unit_code", "land_use", "name_zh", "name", "geometry"]
    path = tmp_path / "mapped.gpkg"
    frame.to_file(path)
    report = run_import(kind_name="parcels", path=path, mapping={"name": "name_zh"})
    assert Parcel.objects.get(unit_code=frame.unit_code[0]).name == "一号地块"
    assert any("'name'" in note and "'name_zh'" in note for note in report.notes)
    assert "name_zh" in report.summary()


# --- 5. empty dates -------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb"])
def test_empty_datetimes_are_empty_not_nat(tmp_path, suffix):
    frame = squares(2, start=451)
    frame["valid_from"] = pd.to_datetime(["2020-01-02", None])
    path = tmp_path / f"dated{suffix}"
    frame.to_file(path)
    report = run_import(kind_name="parcels", path=path)
    assert report.rejected == []
    assert Parcel.objects.get(unit_code=frame.unit_code[0]).valid_from == datetime.date(2020, 1, 2)
    # No date in the file: the day of the import.
    assert Parcel.objects.get(unit_code=frame.unit_code[1]).valid_from > datetime.date(2020, 1, 2)


@pytest.mark.parametrize(
    "empty", [None, float("nan"), pd.NaT, pd.NA, np.datetime64("NaT"), np.datetime64("NaT", "ms")]
)
def test_every_kind_of_empty_value_is_an_empty_date(empty):
    attributes = attributes_of(KINDS["zoning"], {"planned_use": "0801", "plan_date": empty})
    assert attributes["plan_date"] is None


# --- 6. building uses --------------------------------------------------------------------


def test_chinese_building_uses_are_mapped_and_unknown_ones_reported(tmp_path):
    uses = ["住宅", "办公", "商业", "Industrial", "warehouse", ""]
    frame = gpd.GeoDataFrame(
        {"source_id": [f"b{i}" for i in range(len(uses))], "use": uses},
        geometry=[
            shapely.box(100.9 + i * 0.01, 30.9, 100.905 + i * 0.01, 30.905) for i in range(6)
        ],
        crs=4490,
    )
    path = tmp_path / "uses.gpkg"
    frame.to_file(path)
    report = run_import(kind_name="buildings", path=path)
    stored = dict(
        Building.objects.filter(source__startswith="uses.gpkg#").values_list("source", "use")
    )
    assert [stored[f"uses.gpkg#b{i}"] for i in range(6)] == [
        "residential",
        "office",
        "commercial",
        "industrial",
        "other",
        "other",
    ]
    assert [(f.row, f.field, f.action) for f in report.findings] == [(5, "use", "repaired")]
    assert report.findings[0].reason.startswith("use 'warehouse' is not one of ")
    assert report.findings[0].reason.endswith(": recorded as other")


# --- 7. shelters and clearance ----------------------------------------------------------


def shelter_file(path, *, source_ids, classification=None, capacity=100) -> pathlib.Path:
    columns = {
        "source_id": source_ids,
        "name": [f"shelter {key}" for key in source_ids],
        "shelter_type": "personnel",
        "protection_class": "n6",
        "capacity_persons": capacity,
        "usable_area_m2": 120.0,
    }
    if classification is not None:
        columns["classification"] = classification
    return points_file(path, columns, count=len(source_ids))


def points_file(path, columns: dict, *, count: int) -> pathlib.Path:
    """A GeoPackage of ``count`` points in a row, one per row of ``columns``."""
    frame = gpd.GeoDataFrame(
        columns,
        geometry=[shapely.Point(101.2 + i * 0.001, 31.2) for i in range(count)],
        crs=4490,
    )
    frame.to_file(path)
    return path


def stored_shelter(*, classification: int, name: str = "Hidden command post") -> Shelter:
    return Shelter.objects.create(
        name=name,
        location=Point(101.3, 31.3, srid=4490),
        shelter_type="command",
        protection_class="n5",
        capacity_persons=50,
        usable_area_m2=80.0,
        classification=classification,
        valid_from=datetime.date(2020, 1, 1),
    )


@pytest.mark.parametrize("classification", [None, ["", ""]], ids=["no column", "empty cells"])
def test_a_reimport_without_classifications_keeps_them(tmp_path, classification):
    first = shelter_file(tmp_path / "works.gpkg", source_ids=["w1", "w2"], classification=[2, 0])
    assert "written: 2 inserted" in imported("shelters", first)
    again = shelter_file(
        tmp_path / "works.gpkg", source_ids=["w1", "w2"], classification=classification, capacity=90
    )
    assert "written: 0 inserted, 2 updated" in imported("shelters", again)
    stored = Shelter.objects.filter(source__startswith="works.gpkg#").order_by("source")
    assert [(s.classification, s.capacity_persons) for s in stored] == [(2, 90), (0, 90)]


def test_a_web_import_cannot_touch_shelters_above_the_users_clearance(client, tmp_path, settings):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    officer = user(Role.CIVIL_DEFENCE, "upload-cd-officer")  # cleared to SECRET
    hidden = stored_shelter(classification=SecurityLevel.CONFIDENTIAL)
    visible = stored_shelter(classification=SecurityLevel.SECRET, name="Visible post")
    path = shelter_file(
        tmp_path / "works.gpkg",
        source_ids=[f"id:{hidden.pk}", f"id:{visible.pk}", "new-1", "id:999999999"],
        classification=[0, 2, 3, 0],
    )
    client.force_login(officer)
    page = upload(
        client, SimpleUploadedFile("works.gpkg", path.read_bytes()), kind="shelters"
    ).content.decode()
    assert f"no shelter id:{hidden.pk} you are cleared to change" in page
    assert "no shelter id:999999999 you are cleared to change" in page
    assert "classification 3 is above your clearance" in page
    assert f"id:{visible.pk}" not in page  # the visible one may be changed
    assert "Hidden command post" not in page and "confirm-import" not in page
    report = run_import(kind_name="shelters", path=path, user=officer)
    assert len(report.rejected) == 3
    hidden.refresh_from_db()
    assert (hidden.name, hidden.classification) == ("Hidden command post", 3)


def test_the_command_line_is_not_bound_by_clearance(tmp_path):
    hidden = stored_shelter(classification=SecurityLevel.CONFIDENTIAL)
    path = shelter_file(tmp_path / "works.gpkg", source_ids=[f"id:{hidden.pk}"], classification=[3])
    assert "written: 0 inserted, 1 updated" in imported("shelters", path)
    hidden.refresh_from_db()
    assert (hidden.name, hidden.classification) == (f"shelter id:{hidden.pk}", 3)


# --- 7b. agencies and clearance ---------------------------------------------------------


def agency_file(path, *, names, clearance=None) -> pathlib.Path:
    columns = {"name": names, "level": "central"}
    if clearance is not None:
        columns["clearance"] = clearance
    return points_file(path, columns, count=len(names))


def clearances(*names: str) -> list[int]:
    by_name = dict(
        Agency.objects.filter(party__name__in=names).values_list("party__name", "clearance")
    )
    return [by_name.get(name) for name in names]


def test_an_agency_keeps_its_clearance_unless_a_file_gives_one(tmp_path):
    path = tmp_path / "agencies.gpkg"
    agency_file(path, names=["Bureau A", "Bureau B"], clearance=[2, 1])
    assert "written: 2 inserted" in imported("agencies", path)
    assert clearances("Bureau A", "Bureau B") == [2, 1]
    agency_file(path, names=["Bureau A", "Bureau B"])  # no clearance column
    assert "written: 0 inserted, 0 updated" in imported("agencies", path)
    assert clearances("Bureau A", "Bureau B") == [2, 1]
    agency_file(path, names=["Bureau A", "Bureau B"], clearance=["0", ""])
    assert "written: 0 inserted, 1 updated" in imported("agencies", path)
    assert clearances("Bureau A", "Bureau B") == [0, 1]


def test_a_user_clears_no_agency_beyond_their_own_clearance(tmp_path):
    path = tmp_path / "agencies.gpkg"
    agency_file(path, names=["Cleared bureau"], clearance=[3])
    imported("agencies", path)  # the command line: no limit
    officer = user(Role.CIVIL_DEFENCE, "agency-cd-officer")  # cleared to SECRET
    agency_file(
        path,
        names=["Cleared bureau", "New bureau", "Second new bureau"],
        clearance=[0, 3, 2],
    )
    report = run_import(kind_name="agencies", path=path, user=officer)
    assert [(f.row, f.field, f.reason) for f in report.rejected] == [
        (1, "clearance", "the agency's clearance is above your own: you may not change it"),
        (2, "clearance", "clearance 3 is above your own"),
    ]
    # Rows rejected: the import writes nothing, the accepted row included.
    assert clearances("Cleared bureau", "New bureau", "Second new bureau") == [3, None, None]
    # The same clearance again changes nothing, so it is no attempt to change it.
    agency_file(path, names=["Cleared bureau"], clearance=[3])
    assert run_import(kind_name="agencies", path=path, user=officer).rejected == []


def test_an_agency_is_guarded_whatever_the_kind_of_its_party(tmp_path):
    """The import matches agencies on their party's name, whatever kind the party has: so
    does the clearance check."""
    party = Party.objects.create(kind="person", name="Odd bureau")
    Agency.objects.create(party=party, level="central", clearance=SecurityLevel.CONFIDENTIAL)
    officer = user(Role.CIVIL_DEFENCE, "agency-cd-officer")  # cleared to SECRET
    path = agency_file(tmp_path / "agencies.gpkg", names=["Odd bureau"], clearance=[0])
    report = run_import(kind_name="agencies", path=path, user=officer)
    assert [f.reason for f in report.rejected] == [
        "the agency's clearance is above your own: you may not change it"
    ]
    assert clearances("Odd bureau") == [3]


# --- 8. retired parcels --------------------------------------------------------------


def test_an_import_does_not_change_a_retired_parcel(tmp_path):
    frame = squares(2, start=801)
    path = tmp_path / "parcels.gpkg"
    frame.to_file(path)
    imported("parcels", path)
    retired_code = frame.unit_code[0]
    Parcel.objects.filter(unit_code=retired_code).update(
        valid_from=datetime.date(2020, 1, 1), valid_to=datetime.date(2024, 6, 30)
    )
    # The same file again changes nothing, retired or not.
    assert "written: 0 inserted, 0 updated, 2 unchanged" in imported("parcels", path)
    frame["name"] = ["renamed 0", "renamed 1"]
    frame.to_file(path)
    refused("parcels", path, "1 row(s) rejected", report=tmp_path / "report")
    assert (
        f"parcel {retired_code} was retired on 2024-06-30; an import does not change retired parcels"
        in (tmp_path / "report.csv").read_text(encoding="utf-8")
    )
    assert Parcel.objects.get(unit_code=retired_code).name == "imported 0"


# --- 9. the web upload's full report and its pending files -------------------------------


@pytest.fixture
def upload_dir(settings, tmp_path) -> pathlib.Path:
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    return tmp_path / "uploads"


def report_links(page: str) -> dict[str, str]:
    return dict(
        (fmt, link)
        for link, fmt in re.findall(
            r'href="(/layers/import/[0-9a-f]{32}/report\.(csv|html))"', page
        )
    )


def test_the_full_report_is_downloadable_by_the_uploader_only(client, tmp_path, upload_dir):
    frame = squares(505, start=1001, side=0.0001)
    frame["land_use"] = "9999"
    path = tmp_path / "many.gpkg"
    frame.to_file(path)
    as_role(client, Role.REGISTRAR)
    page = upload(client, SimpleUploadedFile("many.gpkg", path.read_bytes())).content.decode()
    assert "… and 5 more." in page
    links = report_links(page)
    assert set(links) == {"csv", "html"}
    csv = client.get(links["csv"])
    assert csv.status_code == 200 and "attachment" in csv["Content-Disposition"]
    rows = b"".join(csv.streaming_content).decode().splitlines()
    assert rows[0] == "file,row,field,action,reason" and len(rows) == 1 + 505
    html = b"".join(client.get(links["html"]).streaming_content).decode()
    assert html.count("<tr class='rejected'>") == 505
    # The rejected upload can never be confirmed: its file is gone, its report stays.
    assert not list(upload_dir.rglob("many.gpkg"))
    client.force_login(user(Role.REGISTRAR, "another-registrar"))
    assert client.get(links["csv"]).status_code == 404
    client.force_login(user(Role.PLANNER, "upload-planner"))
    assert client.get(links["csv"]).status_code == 403


def test_the_report_of_a_confirmed_import_stays_downloadable(client, tmp_path, upload_dir):
    as_role(client, Role.REGISTRAR)
    page = upload(client, gpkg_upload(tmp_path, count=2)).content.decode()
    token = re.search(r"/layers/import/([0-9a-f]{32})/", page).group(1)
    done = client.post(f"/layers/import/{token}/").content.decode()
    assert "2 inserted" in done
    assert not list(upload_dir.rglob("survey.gpkg"))
    csv = client.get(report_links(done)["csv"])
    assert csv.status_code == 200


def test_pending_uploads_older_than_a_day_are_deleted_when_an_upload_starts(
    client, tmp_path, upload_dir
):
    registrar = as_role(client, Role.REGISTRAR)
    reports = upload_dir.parent / "upload-reports"
    stale_upload, stale_report = upload_dir / "1" / ("a" * 32), reports / "1" / ("a" * 32)
    fresh_upload, fresh_report = upload_dir / "2" / ("b" * 32), reports / "2" / ("b" * 32)
    for folder, age_hours in (
        (stale_upload, 25),
        (stale_report, 25),
        (fresh_upload, 23),
        (fresh_report, 23),
    ):
        folder.mkdir(parents=True)
        (folder / "kept").write_bytes(b"")
        then = time.time() - age_hours * 3600
        os.utime(folder, (then, then))
    upload(registrar, gpkg_upload(tmp_path))
    assert not stale_upload.exists() and not stale_report.exists()
    assert (fresh_upload / "kept").exists() and (fresh_report / "kept").exists()


# --- 10. files cut short ----------------------------------------------------------------


def flatgeobuf_feature_ends(path: pathlib.Path) -> list[int]:
    """The offset at which each feature of a FlatGeobuf without a spatial index ends: after
    the 8 magic bytes and the header (its size in 4 bytes, little-endian, then the header),
    each feature is its size in 4 bytes and then that many bytes."""
    data = path.read_bytes()
    offset = 12 + int.from_bytes(data[8:12], "little")
    ends = []
    while offset < len(data):
        offset += 4 + int.from_bytes(data[offset : offset + 4], "little")
        ends.append(offset)
    return ends


@pytest.mark.parametrize(
    ("spatial_index", "cut_at"),
    [
        pytest.param("YES", lambda path: path.stat().st_size // 2, id="at-half-its-bytes"),
        pytest.param("YES", lambda path: 20, id="within-its-header"),
        pytest.param(
            "NO", lambda path: flatgeobuf_feature_ends(path)[1], id="after-2-whole-features"
        ),
    ],
)
def test_a_flatgeobuf_cut_short_is_refused_and_nothing_written(tmp_path, spatial_index, cut_at):
    frame = squares(5, start=1101)
    path = tmp_path / "survey.fgb"
    frame.to_file(path, SPATIAL_INDEX=spatial_index)
    assert pyogrio.read_info(path)["features"] == 5
    path.write_bytes(path.read_bytes()[: cut_at(path)])
    message = refused("parcels", path, "survey.fgb")
    assert "cut short or damaged" in message
    assert not Parcel.objects.filter(unit_code__in=list(frame.unit_code)).exists()


def test_a_geopackage_declaring_more_features_than_it_holds_is_refused(tmp_path):
    path = tmp_path / "survey.gpkg"
    squares(3, start=1201).to_file(path, layer="parcels")
    with sqlite3.connect(path) as database:
        database.execute("UPDATE gpkg_ogr_contents SET feature_count = 5")
    refusal = refusal_of(kind_name="parcels", path=path, dry_run=True)
    assert "survey.gpkg declares 5 features but only 3 could be read" in refusal.message


def test_a_geopackage_cut_short_is_refused(tmp_path):
    path = tmp_path / "survey.gpkg"
    squares(3, start=1301).to_file(path, layer="parcels")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    refusal = refusal_of(kind_name="parcels", path=path, dry_run=True)
    assert "survey.gpkg" in str(refusal) and "GDAL cannot read it" in refusal.message


# --- 11. the report's download has its own address; confirming is a POST only -----------


def test_the_report_is_downloaded_from_its_own_address_and_confirming_is_post_only(
    client, tmp_path, upload_dir
):
    as_role(client, Role.REGISTRAR)
    page = upload(client, gpkg_upload(tmp_path, count=2)).content.decode()
    token = re.search(r"/layers/import/([0-9a-f]{32})/", page).group(1)
    assert report_links(page) == {
        "csv": f"/layers/import/{token}/report.csv",
        "html": f"/layers/import/{token}/report.html",
    }
    # A GET of the confirmation address neither downloads nor confirms.
    assert client.get(f"/layers/import/{token}/", {"format": "csv"}).status_code == 405
    assert client.head(f"/layers/import/{token}/report.csv").status_code == 200
    assert client.post(f"/layers/import/{token}/report.csv").status_code == 405
    for missing in (f"{token}/report.pdf", f"{token}/report.", f"{'0' * 32}/report.csv"):
        assert client.get(f"/layers/import/{missing}").status_code == 404
    # The upload still waits for its confirmation.
    assert "2 inserted" in client.post(f"/layers/import/{token}/").content.decode()
