"""``export_layer``: every format read back by GDAL, rows in force on a date, shelters by
clearance, the audit event, the command and the web page with its role checks."""

import datetime
import getpass
import io
import zipfile

import pyogrio
import pytest
import shapely
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.utils import timezone

from gis_layers.exports import FORMATS, LAYERS, ExportRefusal, export_layer
from gis_layers.imports.pipeline import resolve_columns
from gis_layers.imports.schema import KINDS
from registry.models import AuditEvent, Building, Parcel, ParcelLineage, SecurityLevel, Shelter
from registry.roles import Role
from registry.selectors import clearance_of, in_force_on
from tests.registry.register import user

pytestmark = pytest.mark.django_db
CSV_OPTIONS = {"GEOM_POSSIBLE_NAMES": "wkt", "KEEP_GEOM_COLUMNS": "NO"}
PARCEL_COLUMNS = [
    "unit_code",
    "land_use",
    "name",
    "address",
    "valid_from",
    "valid_to",
    "area_m2",
    "district",
]
# What the importer finds in an exported file of each kind, by target field.
IMPORTED_TARGETS = {
    "parcels": {"unit_code", "land_use", "name", "address", "valid_from"},
    "buildings": {target.name for target in KINDS["buildings"].targets},
    "shelters": {target.name for target in KINDS["shelters"].targets},
    "roads": {"source_id", "name", "highway"},
    "population": {"source_id", "residents"},
    "zoning": {target.name for target in KINDS["zoning"].targets},
    "agencies": {target.name for target in KINDS["agencies"].targets},
}


def today() -> datetime.date:
    return timezone.localdate()


def read(path, **options):
    """The exported file as a GeoDataFrame (a CSV with its wkt column as geometry)."""
    if path.name.endswith(".csv"):
        options = {**CSV_OPTIONS, **options}
    return pyogrio.read_dataframe(path, **options)


def info(path) -> dict:
    return pyogrio.read_info(path, **(CSV_OPTIONS if path.name.endswith(".csv") else {}))


def current_parcels(on: datetime.date | None = None):
    return Parcel.objects.filter(in_force_on(on or today()))


def split_parcel() -> tuple[Parcel, list[Parcel]]:
    """The demo's parcel split in halves: the retired parent and its children."""
    lineage = ParcelLineage.objects.select_related("parent", "child").order_by("child__unit_code")
    parent = lineage.first().parent
    return parent, [link.child for link in lineage.filter(parent=parent)]


# --- formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(FORMATS))
def test_each_format_reads_back_with_every_row_its_crs_and_columns(demo, tmp_path, key):
    fmt = FORMATS[key]
    path = tmp_path / f"parcels{fmt.suffix}"
    result = export_layer(kind="parcels", path=path, user=None)
    expected = current_parcels()
    assert result.rows == expected.count() > 800
    described = info(path)
    assert described["features"] == result.rows
    assert list(described["fields"]) == PARCEL_COLUMNS
    assert described["crs"] == ("EPSG:4490" if fmt.has_crs else None)
    frame = read(path)
    assert set(frame["unit_code"]) == set(expected.values_list("unit_code", flat=True))


@pytest.mark.parametrize("key", sorted(FORMATS))
def test_geometry_reads_back_as_the_stored_coordinates_exactly(demo, tmp_path, key):
    path = tmp_path / f"parcels{FORMATS[key].suffix}"
    export_layer(kind="parcels", path=path, user=None)
    stored = {
        parcel.unit_code: shapely.from_wkb(bytes(parcel.geom.wkb)) for parcel in current_parcels()
    }
    frame = read(path)
    for unit_code, geometry in zip(frame["unit_code"], frame.geometry, strict=True):
        original = stored[unit_code]
        if key == "shp.zip":
            # A Shapefile winds rings its own way and keeps one-part polygons single.
            assert shapely.equals(geometry, original), unit_code
            assert sorted(shapely.get_coordinates(geometry).tolist()) == sorted(
                shapely.get_coordinates(original).tolist()
            )
        else:
            assert shapely.equals_exact(geometry, original, tolerance=0), unit_code


def test_csv_has_a_wkt_column_and_iso_dates_and_exact_numbers(demo, tmp_path):
    path = tmp_path / "parcels.csv"
    export_layer(kind="parcels", path=path, user=None)
    header, first = path.read_text(encoding="utf-8").splitlines()[:2]
    assert header == "wkt," + ",".join(PARCEL_COLUMNS)
    frame = pyogrio.read_dataframe(path, **CSV_OPTIONS)
    parcel = Parcel.objects.get(unit_code=frame["unit_code"][0])
    assert frame["valid_from"][0] == parcel.valid_from.isoformat()
    assert float(frame["area_m2"][0]) == parcel.area_m2


def test_shapefile_zip_carries_prj_and_utf8_cpg_and_short_field_names(demo, tmp_path):
    path = tmp_path / "shelters.shp.zip"
    export_layer(kind="shelters", path=path, user=None)
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        assert names == sorted(
            f"shelters{suffix}" for suffix in (".cpg", ".dbf", ".prj", ".shp", ".shx")
        )
        assert archive.read("shelters.cpg").decode().strip() == "UTF-8"
        assert "China_2000" in archive.read("shelters.prj").decode()
    fields = list(info(path)["fields"])
    assert all(len(name) <= 10 for name in fields)
    assert fields == [
        "source_id",
        "name",
        "type",
        "prot_class",
        "capacity",
        "usable_m2",
        "condition",
        "peace_use",
        "sec_class",
        "undergrnd",
        "elev_bot",
        "elev_top",
        "valid_from",
    ]


@pytest.mark.parametrize("key", ["gpkg", "shp.zip", "csv"])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_every_column_is_one_the_importer_recognises(demo, tmp_path, kind, key):
    path = tmp_path / f"{kind}{FORMATS[key].suffix}"
    result = export_layer(kind=kind, path=path, user=user(Role.AUDITOR))
    fields = [str(name) for name in info(path)["fields"]]
    assert fields == list(result.columns)
    columns = resolve_columns(KINDS[kind], fields, None, path=str(path))
    assert set(columns) == IMPORTED_TARGETS[kind]
    assert result.rows == info(path)["features"] > 0


def test_source_id_is_unique_even_where_rows_share_a_source(demo, tmp_path):
    path = tmp_path / "shelters.gpkg"
    export_layer(kind="shelters", path=path, user=user(Role.AUDITOR))
    source_ids = list(read(path)["source_id"])
    assert len(set(source_ids)) == len(source_ids)
    building = Building.objects.filter(source__startswith="OSM").first()
    path = tmp_path / "buildings.gpkg"
    export_layer(kind="buildings", path=path, user=None)
    assert building.source in set(read(path)["source_id"])


def test_an_export_streams_in_chunks(demo, tmp_path):
    totals, chunks = [], []
    result = export_layer(
        kind="parcels",
        path=tmp_path / "parcels.fgb",
        user=None,
        chunk_size=100,
        on_total=totals.append,
        on_progress=chunks.append,
    )
    assert totals == [result.rows]
    assert sum(chunks) == result.rows and max(chunks) == 100
    assert len(chunks) == -(-result.rows // 100)


@pytest.mark.parametrize("key", sorted(FORMATS))
def test_an_export_of_nothing_is_a_readable_empty_layer(demo, tmp_path, key):
    path = tmp_path / f"parcels{FORMATS[key].suffix}"
    result = export_layer(kind="parcels", path=path, as_of=datetime.date(1900, 1, 1), user=None)
    assert result.rows == 0
    # An empty FlatGeobuf does not state its count (GDAL says -1); reading finds nothing.
    assert len(read(path)) == 0
    if key != "geojson":  # GeoJSON has no schema but its features' properties
        assert list(info(path)["fields"]) == list(result.columns)


def test_an_export_replaces_the_file_and_leaves_no_scratch_behind(demo, tmp_path):
    path = tmp_path / "roads.gpkg"
    path.write_bytes(b"an older file")
    result = export_layer(kind="roads", path=path, user=None)
    assert info(path)["features"] == result.rows
    assert [child.name for child in tmp_path.iterdir()] == ["roads.gpkg"]


def test_text_cut_by_the_shapefile_limit_is_reported(demo, tmp_path):
    building = Building.objects.filter(valid_to__isnull=True).first()
    Building.objects.filter(pk=building.pk).update(name="政府办公楼" * 20)  # 300 bytes
    result = export_layer(kind="buildings", path=tmp_path / "buildings.shp.zip", user=None)
    assert any("1 text value(s) longer than 254 bytes were cut" in note for note in result.notes)


# --- as of a date ----------------------------------------------------------------------------


def test_as_of_before_a_split_exports_the_parent_and_not_its_children(demo, tmp_path):
    parent, children = split_parcel()
    assert parent.valid_to == datetime.date(2025, 3, 3) and len(children) == 2
    before = export_layer(
        kind="parcels", path=tmp_path / "before.gpkg", as_of=datetime.date(2025, 3, 2), user=None
    )
    codes = set(read(before.path)["unit_code"])
    assert parent.unit_code in codes
    assert not codes & {child.unit_code for child in children}
    assert before.rows == current_parcels(datetime.date(2025, 3, 2)).count()
    on_the_day = export_layer(
        kind="parcels", path=tmp_path / "after.gpkg", as_of=datetime.date(2025, 3, 3), user=None
    )
    codes = set(read(on_the_day.path)["unit_code"])
    assert parent.unit_code not in codes
    assert {child.unit_code for child in children} <= codes


def test_as_of_defaults_to_today(demo, tmp_path):
    result = export_layer(kind="parcels", path=tmp_path / "parcels.gpkg", user=None)
    assert result.as_of == today()
    retired = Parcel.objects.filter(valid_to__isnull=False).values_list("unit_code", flat=True)
    assert not set(read(result.path)["unit_code"]) & set(retired)


def test_kinds_without_a_legal_interval_ignore_as_of_and_say_so(demo, tmp_path):
    result = export_layer(
        kind="roads", path=tmp_path / "roads.gpkg", as_of=datetime.date(2000, 1, 1), user=None
    )
    assert result.as_of is None and result.rows > 0
    assert any("no legal interval" in note for note in result.notes)


# --- shelters and clearance ------------------------------------------------------------------


def exported_classifications(tmp_path, **kwargs) -> list[int]:
    result = export_layer(kind="shelters", path=tmp_path / "shelters.gpkg", **kwargs)
    return sorted(read(result.path)["classification"])


def shelters_up_to(level: int) -> list[int]:
    return sorted(
        Shelter.objects.filter(in_force_on(today()), classification__lte=level).values_list(
            "classification", flat=True
        )
    )


def test_the_demo_has_classified_shelters(demo):
    assert Shelter.objects.filter(classification__gt=SecurityLevel.PUBLIC).count() >= 2


def test_without_a_user_only_public_shelters_are_exported(demo, tmp_path):
    assert exported_classifications(tmp_path, user=None) == shelters_up_to(SecurityLevel.PUBLIC)


def test_a_user_without_clearance_gets_no_classified_shelter(demo, tmp_path):
    exported = exported_classifications(tmp_path, user=user(Role.PLANNER))
    assert exported == shelters_up_to(SecurityLevel.PUBLIC)
    assert set(exported) == {SecurityLevel.PUBLIC}


def test_shelters_are_exported_up_to_the_users_clearance(demo, tmp_path):
    exported = exported_classifications(tmp_path, user=user(Role.CIVIL_DEFENCE))
    assert exported == shelters_up_to(SecurityLevel.SECRET)
    assert SecurityLevel.CONFIDENTIAL not in exported


def test_an_auditor_gets_every_shelter(demo, tmp_path):
    exported = exported_classifications(tmp_path, user=user(Role.AUDITOR))
    assert exported == shelters_up_to(SecurityLevel.CONFIDENTIAL)
    assert max(exported) > SecurityLevel.PUBLIC


def test_a_user_without_the_view_permission_is_refused_and_nothing_written(demo, tmp_path):
    path = tmp_path / "roads.gpkg"
    with pytest.raises(PermissionDenied):
        export_layer(kind="roads", path=path, user=user(Role.REGISTRAR))
    assert not path.exists()
    assert not AuditEvent.objects.filter(action="export", object_type="roads").exists()


# --- audit -----------------------------------------------------------------------------------


def test_an_export_writes_an_audit_event(demo, tmp_path):
    auditor = user(Role.AUDITOR)
    result = export_layer(
        kind="shelters",
        path=tmp_path / "shelters.geojson",
        as_of=datetime.date(2025, 6, 1),
        user=auditor,
    )
    event = AuditEvent.objects.filter(action="export").first()
    assert (event.user, event.object_type, event.object_id) == (
        auditor,
        "shelters",
        "shelters.geojson",
    )
    # The clearance the export was done at: it decides who may see the event in the log.
    assert event.detail == {
        "rows": result.rows,
        "as_of": "2025-06-01",
        "format": "geojson",
        "clearance": clearance_of(user=auditor),
    }


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["parcels.shp", "parcels.zip", "parcels.json", "parcels", ".gpkg"])
def test_an_unknown_suffix_is_refused_naming_the_accepted_ones(demo, tmp_path, name):
    with pytest.raises(ExportRefusal) as refusal:
        export_layer(kind="parcels", path=tmp_path / name, user=None)
    assert ".gpkg, .geojson, .fgb, .csv, .shp.zip" in str(refusal.value)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_kind_and_a_missing_directory_are_refused(demo, tmp_path):
    with pytest.raises(ExportRefusal, match="unknown kind 'titles'; export one of parcels"):
        export_layer(kind="titles", path=tmp_path / "titles.gpkg", user=None)
    with pytest.raises(ExportRefusal, match="does not exist"):
        export_layer(kind="parcels", path=tmp_path / "nowhere" / "parcels.gpkg", user=None)


# --- the command -----------------------------------------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command("export_layer", *map(str, args), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_command_exports_parcels_as_of_a_date(demo, tmp_path):
    path = tmp_path / "parcels.gpkg"
    output = run("parcels", path, "--as-of", "2025-03-02")
    count = current_parcels(datetime.date(2025, 3, 2)).count()
    assert f"{count} parcels in force on 2025-03-02, GeoPackage, CRS EPSG:4490" in output
    assert info(path)["features"] == count
    event = AuditEvent.objects.filter(action="export").first()
    assert event.user is None and event.object_id == "parcels.gpkg"
    # No user of the register: the operating-system account that ran the command says by whom.
    assert event.detail == {
        "rows": count,
        "as_of": "2025-03-02",
        "format": "gpkg",
        "os_account": getpass.getuser(),
    }


def test_command_says_a_csv_is_in_epsg_4490_and_how_to_reimport_it(demo, tmp_path):
    output = run("buildings", tmp_path / "buildings.csv")
    assert "coordinates in EPSG:4490" in output
    assert "re-import it with --crs EPSG:4490" in output


def test_command_without_user_exports_public_shelters_and_says_so(demo, tmp_path):
    path = tmp_path / "shelters.fgb"
    output = run("shelters", path)
    assert "only public ones" in output
    assert set(read(path)["classification"]) == {SecurityLevel.PUBLIC}


def test_command_with_user_applies_their_clearance(demo, tmp_path):
    auditor = user(Role.AUDITOR, "export-auditor")
    path = tmp_path / "shelters.fgb"
    run("shelters", path, "--user", auditor.username)
    assert sorted(read(path)["classification"]) == shelters_up_to(SecurityLevel.CONFIDENTIAL)
    assert AuditEvent.objects.filter(action="export").first().user == auditor


@pytest.mark.parametrize(
    "args, message",
    [
        (["parcels", "parcels.xlsx"], "use one of .gpkg, .geojson, .fgb, .csv, .shp.zip"),
        (["parcels", "parcels.gpkg", "--as-of", "2025-02-30"], "is not a date YYYY-MM-DD"),
        (["parcels", "parcels.gpkg", "--user", "nobody"], "no user named 'nobody'"),
        (["titles", "titles.gpkg"], "invalid choice: 'titles'"),
        (["parcels", "parcels.gpkg", "--chunk-size", "0"], "'0' is not a whole number of at least"),
    ],
)
def test_command_refuses_bad_input_with_a_message(demo, tmp_path, args, message):
    args = [tmp_path / arg if arg.endswith((".xlsx", ".gpkg")) else arg for arg in args]
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert list(tmp_path.iterdir()) == []


def test_the_command_speaks_english_whatever_the_sites_language(demo, tmp_path, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    with pytest.raises(CommandError, match="use one of .gpkg, .geojson"):
        run("parcels", tmp_path / "parcels.xlsx")
    assert ", zipped ESRI Shapefile, " in run("parcels", tmp_path / "parcels.shp.zip")


def test_command_refuses_a_user_without_the_view_permission(demo, tmp_path):
    registrar = user(Role.REGISTRAR, "export-registrar")
    with pytest.raises(CommandError, match="export-registrar may not export population"):
        run("population", tmp_path / "population.gpkg", "--user", registrar.username)


# --- the web page ----------------------------------------------------------------------------

URL = "/layers/export/"


def logged_in(client, role: Role):
    client.force_login(user(role, f"export-{role.value}"))
    return client


def download(response, tmp_path):
    path = tmp_path / response["Content-Disposition"].split('filename="')[1].rstrip('"')
    path.write_bytes(b"".join(response.streaming_content))
    return path


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_page_shows_the_form(client):
    page = logged_in(client, Role.PLANNER).get(URL)
    assert page.status_code == 200
    for name in ("kind", "format", "as_of"):
        assert f'name="{name}"' in page.content.decode()


def test_the_page_names_layers_and_formats_in_the_readers_language(client, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    page = logged_in(client, Role.PLANNER).get(URL).content.decode()
    assert '<option value="parcels">宗地</option>' in page
    assert "压缩的 ESRI Shapefile (.shp.zip)" in page


def test_a_user_who_may_view_no_layer_is_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("export-nobody"))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"kind": "parcels", "format": "gpkg"}).status_code == 403


def test_web_export_answers_with_the_file_and_audits_it(client, demo, tmp_path):
    registrar = user(Role.REGISTRAR, f"export-{Role.REGISTRAR.value}")
    response = logged_in(client, Role.REGISTRAR).post(
        URL, {"kind": "parcels", "format": "gpkg", "as_of": "2025-03-02"}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="parcels-2025-03-02.gpkg"'
    path = download(response, tmp_path)
    count = current_parcels(datetime.date(2025, 3, 2)).count()
    assert info(path)["features"] == count and info(path)["crs"] == "EPSG:4490"
    event = AuditEvent.objects.filter(action="export").first()
    assert (event.user, event.object_type, event.object_id) == (
        registrar,
        "parcels",
        "parcels-2025-03-02.gpkg",
    )
    assert event.detail == {"rows": count, "as_of": "2025-03-02", "format": "gpkg"}


@pytest.mark.parametrize(
    "role, kind, allowed",
    [
        (Role.REGISTRAR, "roads", False),
        (Role.SUPERVISOR, "population", False),
        (Role.REGISTRAR, "buildings", True),
        (Role.CIVIL_DEFENCE, "shelters", True),
        (Role.CIVIL_DEFENCE, "parcels", True),
        (Role.PLANNER, "roads", True),
        # Civil-defence officers read agencies, not their staff establishments.
        (Role.CIVIL_DEFENCE, "agencies", False),
        (Role.PLANNER, "agencies", True),
    ],
)
def test_web_export_needs_the_view_permission_of_the_layer(client, demo, role, kind, allowed):
    response = logged_in(client, role).post(URL, {"kind": kind, "format": "fgb"})
    assert response.status_code == (200 if allowed else 403)
    assert AuditEvent.objects.filter(action="export", object_type=kind).exists() == allowed


def test_web_export_of_shelters_applies_the_users_clearance(client, demo, tmp_path):
    response = logged_in(client, Role.CIVIL_DEFENCE).post(
        URL, {"kind": "shelters", "format": "shp.zip"}
    )
    path = download(response, tmp_path)
    assert path.name == f"shelters-{today().isoformat()}.shp.zip"
    assert sorted(read(path)["sec_class"]) == shelters_up_to(SecurityLevel.SECRET)


def test_web_csv_export_is_text_with_a_wkt_column(client, demo, tmp_path):
    response = logged_in(client, Role.PLANNER).post(
        URL, {"kind": "population", "format": "csv", "as_of": "2020-01-01"}
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    # Population has no legal interval: the file holds it as it is today, and says so.
    assert f'filename="population-{today().isoformat()}.csv"' in response["Content-Disposition"]
    assert download(response, tmp_path).read_text(encoding="utf-8").startswith("wkt,source_id,")


@pytest.mark.parametrize(
    "form, message",
    [
        ({"kind": "titles", "format": "gpkg"}, "Unknown layer “titles”: choose one of parcels"),
        ({"kind": "parcels", "format": "xlsx"}, "Unknown format “xlsx”: choose one of .gpkg"),
        ({"kind": "parcels", "format": "gpkg", "as_of": "2025-02-30"}, "Enter the date as"),
        ({"kind": "parcels", "format": "gpkg", "as_of": "next week"}, "Enter the date as"),
        ({"format": "gpkg"}, "This field is required."),
        ({}, "This field is required."),
    ],
)
def test_bad_input_reshows_the_form_with_the_reason(client, demo, form, message):
    response = logged_in(client, Role.AUDITOR).post(URL, form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="export-form"' in response.content.decode()
    assert not AuditEvent.objects.filter(action="export").exists()


def test_export_of_the_maps_view_keeps_only_what_lies_in_the_box(tmp_path, client):
    from django.contrib.gis.geos import Polygon

    from registry.models import AuditEvent, Parcel
    from registry.roles import Role
    from tests.registry.register import user

    helsinki_box = (24.93, 60.16, 24.96, 60.18)
    path = tmp_path / "view.gpkg"
    export_layer(kind="parcels", path=path, user=user(Role.AUDITOR), bbox=helsinki_box)
    exported = pyogrio.read_dataframe(path)
    assert len(exported) > 0 and set(exported.unit_code.str[:6]) == {"990101"}
    envelope = Polygon.from_bbox(helsinki_box)
    envelope.srid = 4490
    assert (
        len(exported)
        == Parcel.objects.filter(valid_to__isnull=True, geom__intersects=envelope).count()
    )
    assert AuditEvent.objects.filter(action="export", object_id="view.gpkg").get().detail[
        "bbox"
    ] == list(helsinki_box)
    client.force_login(user(Role.AUDITOR))
    bad = client.post(
        "/layers/export/", {"kind": "parcels", "format": "gpkg", "bbox": "24.9,60.1,24.8"}
    )
    assert bad.status_code == 400 and "Give four numbers" in bad.content.decode()
    form = client.get("/layers/export/", {"bbox": "24.93,60.16,24.96,60.18"}).content.decode()
    assert 'value="24.93,60.16,24.96,60.18"' in form


def test_an_export_of_a_selection_holds_only_the_selected_features_the_user_may_see(demo, tmp_path):
    classified = Shelter.objects.filter(classification__gt=SecurityLevel.PUBLIC).first()
    public = list(Shelter.objects.filter(classification=SecurityLevel.PUBLIC)[:2])
    selection = [classified.pk, *(shelter.pk for shelter in public)]
    path = tmp_path / "selection.geojson"
    result = export_layer(kind="shelters", path=path, user=user(Role.PLANNER), ids=selection)
    assert result.rows == 2
    assert sorted(read(path)["name"]) == sorted(shelter.name for shelter in public)
    event = AuditEvent.objects.get(action="export", object_id="selection.geojson")
    assert event.detail["selected"] == sorted(selection) and event.detail["rows"] == 2


def test_the_map_opens_the_form_with_its_selection_and_the_form_exports_it(client, demo, tmp_path):
    parcels = list(Parcel.objects.filter(valid_to__isnull=True).order_by("pk")[:3])
    ids = ",".join(str(parcel.pk) for parcel in parcels)
    client = logged_in(client, Role.PLANNER)
    form = client.get(URL, {"kind": "parcels", "ids": ids, "selection_of": "parcels"})
    page = form.content.decode()
    assert "Only the 3 features selected on the map." in page
    assert f'name="ids" value="{ids}"' in page
    response = client.post(
        URL, {"kind": "parcels", "format": "gpkg", "ids": ids, "selection_of": "parcels"}
    )
    assert response.status_code == 200
    exported = read(download(response, tmp_path))
    assert sorted(exported["unit_code"]) == sorted(parcel.unit_code for parcel in parcels)


@pytest.mark.parametrize(
    "form, message",
    [
        ({"ids": "1,two", "selection_of": "parcels"}, "feature numbers separated by commas"),
        ({"ids": "1," + "9" * 19, "selection_of": "parcels"}, "feature numbers separated"),
        ({"ids": "-4", "selection_of": "parcels"}, "feature numbers separated by commas"),
        (
            {"ids": ",".join(str(n) for n in range(1, 502)), "selection_of": "parcels"},
            "At most 500 selected features",
        ),
        ({"ids": "1,2", "selection_of": "shelters"}, "selected on the shelters layer"),
        ({"ids": "1,2"}, "does not say which layer it was made on"),
    ],
)
def test_a_bad_selection_is_refused_with_the_reason_and_nothing_exported(
    client, demo, form, message
):
    response = logged_in(client, Role.PLANNER).post(
        URL, {"kind": "parcels", "format": "gpkg", **form}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action="export").exists()


def test_a_selection_not_all_in_force_or_visible_on_the_date_is_refused_whole(client, demo):
    """Features selected at another date, retired ones, and numbers the user may not see
    (the same words for all) are named; nothing is exported."""
    retired = Parcel.objects.filter(valid_to__isnull=False).first()
    current = Parcel.objects.filter(valid_to__isnull=True).first()
    hidden = Shelter.objects.filter(classification__gt=SecurityLevel.PUBLIC).first()
    public = Shelter.objects.filter(classification=SecurityLevel.PUBLIC).first()
    client = logged_in(client, Role.PLANNER)
    for form, missing in [
        ({"kind": "parcels", "ids": f"{current.pk},{retired.pk}"}, retired.pk),
        ({"kind": "shelters", "ids": f"{public.pk},{hidden.pk}"}, hidden.pk),
        ({"kind": "shelters", "ids": f"{public.pk},999999999"}, 999999999),
    ]:
        response = client.post(URL, {**form, "selection_of": form["kind"], "format": "geojson"})
        assert response.status_code == 400
        page = response.content.decode()
        assert f"1 of the 2 selected features are not among the {form['kind']}" in page
        assert f"({missing})" in page
    assert not AuditEvent.objects.filter(action="export").exists()
    response = client.post(
        URL,
        {"kind": "parcels", "ids": str(retired.pk), "selection_of": "parcels",
         "format": "geojson", "as_of": str(retired.valid_from)},
    )  # fmt: skip
    assert response.status_code == 200
