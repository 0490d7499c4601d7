"""An exported file imports again without a mapping and without loss: ``run_import`` rejects
nothing and finds nothing to insert or update."""

import pandas as pd
import pyogrio
import pytest
from django.contrib.gis.geos import GEOSGeometry

from gis_layers.exports import AGENCY_RANK_SHAPEFILE_NAMES, FORMATS, LAYERS, export_layer
from gis_layers.imports.pipeline import run_import
from gis_layers.models import ImportRun, ZoningArea
from registry.models import Agency, Building, Parcel, Shelter, StaffEstablishment, StaffRank
from registry.roles import Role
from tests.registry.register import user

pytestmark = pytest.mark.django_db

KINDS = [
    pytest.param("parcels", Parcel, id="parcels"),
    pytest.param("buildings", Building, id="buildings"),
    pytest.param("shelters", Shelter, id="shelters"),
    pytest.param("zoning", ZoningArea, id="zoning"),
    pytest.param("agencies", Agency, id="agencies"),
]


def export_and_import(tmp_path, *, kind: str, key: str, dry_run: bool):
    fmt = FORMATS[key]
    path = tmp_path / f"{kind}{fmt.suffix}"
    exported = export_layer(kind=kind, path=path, user=user(Role.AUDITOR))
    assert exported.rows > 0
    report = run_import(
        kind_name=kind, path=path, crs=None if fmt.has_crs else "EPSG:4490", dry_run=dry_run
    )
    return exported, report


@pytest.mark.parametrize("key", sorted(FORMATS))
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_every_exported_row_passes_the_importers_checks(demo, tmp_path, kind, key):
    exported, report = export_and_import(tmp_path, kind=kind, key=key, dry_run=True)
    assert report.rejected == []
    assert report.read == report.accepted == exported.rows


@pytest.mark.parametrize("key", sorted(FORMATS))
@pytest.mark.parametrize("kind, model", KINDS)
def test_an_exported_layer_reimports_without_change(demo, tmp_path, kind, model, key):
    rows_before = model.objects.count()
    exported, report = export_and_import(tmp_path, kind=kind, key=key, dry_run=False)
    assert report.read == exported.rows
    assert report.rejected == []
    assert ImportRun.objects.filter(file_name=exported.path.name).exists()
    assert report.written == {"inserted": 0, "updated": 0}
    assert model.objects.count() == rows_before


@pytest.mark.parametrize("kind, model", [("buildings", Building), ("shelters", Shelter)])
def test_records_keep_their_start_date_in_a_register_that_lacks_them(demo, tmp_path, kind, model):
    """Exported, then imported as new records (as into another register): each begins when
    the original did (2020-01-01 in the demo), not on the day of import."""
    path = tmp_path / f"{kind}.gpkg"
    export_layer(kind=kind, path=path, user=user(Role.AUDITOR))
    frame = pyogrio.read_dataframe(path)
    starts = dict(zip(frame["source_id"], frame["valid_from"].astype(str), strict=True))
    assert set(starts.values()) == {"2020-01-01"}
    frame["source_id"] = "elsewhere " + frame["source_id"]
    elsewhere = tmp_path / f"{kind}-elsewhere.gpkg"
    frame.to_file(elsewhere)
    report = run_import(kind_name=kind, path=elsewhere)
    assert report.written == {"inserted": len(frame), "updated": 0}
    imported = model.objects.filter(source__startswith=f"{elsewhere.name}#elsewhere ")
    assert {
        source.split("#elsewhere ", 1)[1]: str(start)
        for source, start in imported.values_list("source", "valid_from")
    } == starts


def test_a_start_date_after_today_is_refused(demo, tmp_path):
    path = tmp_path / "shelters.gpkg"
    export_layer(kind="shelters", path=path, user=user(Role.AUDITOR))
    frame = pyogrio.read_dataframe(path).head(1)
    frame["source_id"] = "ahead"
    frame["valid_from"] = "2999-01-01"
    frame.to_file(path)
    report = run_import(kind_name="shelters", path=path, dry_run=True)
    assert [(finding.field, finding.reason) for finding in report.rejected] == [
        ("valid_from", "2999-01-01 is after today: the register holds what is in force")
    ]


def _headcounts(row, key: str) -> dict[str, int]:
    """The ranks a file's row gives a headcount for (an empty cell: none)."""
    counts = {}
    for rank in StaffRank.values:
        value = row[AGENCY_RANK_SHAPEFILE_NAMES.get(rank, rank) if key == "shp.zip" else rank]
        if value is not None and value != "" and not pd.isna(value):
            counts[rank] = int(value)
    return counts


@pytest.mark.parametrize("key", sorted(FORMATS))
def test_agencies_round_trip_their_seats_parents_and_staff(demo, tmp_path, key):
    """Each agency's seat is exported as a point in its seat building (none without a seat),
    and importing the file again restores a changed headcount, parent and seat."""
    fmt = FORMATS[key]
    path = tmp_path / f"agencies{fmt.suffix}"
    export_layer(kind="agencies", path=path, user=user(Role.PLANNER))
    frame = pyogrio.read_dataframe(path, **({"GEOM_POSSIBLE_NAMES": "wkt"} if key == "csv" else {}))
    frame["seat_point"] = frame.geometry.where(frame.geometry.notna() & ~frame.geometry.is_empty)
    agencies = Agency.objects.select_related("party", "parent__party", "seat_building")
    assert sorted(frame["name"]) == sorted(agency.party.name for agency in agencies)
    rows = {row["name"]: row for _, row in frame.iterrows()}
    assert any(agency.seat_building is None for agency in agencies), "a seatless agency"
    for agency in agencies:
        row = rows[agency.party.name]
        if agency.seat_building is None:
            assert pd.isna(row["seat_point"])
        else:
            point = GEOSGeometry(row["seat_point"].wkt, srid=4490)
            assert agency.seat_building.footprint.intersects(point)
        parent = None if pd.isna(row["parent"]) or row["parent"] == "" else row["parent"]
        assert parent == (agency.parent.party.name if agency.parent else None)
        assert row["level"] == agency.level
        # A planner is cleared for public premises: higher clearances are left empty.
        empty = pd.isna(row["clearance"]) or row["clearance"] == ""
        assert (None if empty else int(row["clearance"])) == (
            agency.clearance if agency.clearance == 0 else None
        )
        assert _headcounts(row, key) == {s.rank: s.headcount for s in agency.establishment.all()}

    changed = Agency.objects.exclude(seat_building=None).exclude(parent=None).first()
    seat, parent = changed.seat_building_id, changed.parent_id
    staff = changed.establishment.first()
    Agency.objects.filter(pk=changed.pk).update(seat_building=None, parent=None)
    StaffEstablishment.objects.filter(pk=staff.pk).update(headcount=staff.headcount + 7)
    report = run_import(kind_name="agencies", path=path, crs=None if fmt.has_crs else "EPSG:4490")
    assert report.rejected == []
    assert report.written == {"inserted": 0, "updated": 1}
    changed.refresh_from_db()
    assert (changed.seat_building_id, changed.parent_id) == (seat, parent)
    assert StaffEstablishment.objects.get(pk=staff.pk).headcount == staff.headcount


@pytest.mark.parametrize("key", sorted(FORMATS))
def test_agencies_clearances_round_trip_as_far_as_the_exporter_is_cleared(demo, tmp_path, key):
    """A user cleared for everything exports every clearance, and the file restores one that
    was lowered; a file of a user cleared less leaves higher clearances empty, and importing
    it keeps them."""
    fmt = FORMATS[key]
    cleared = Agency.objects.filter(clearance__gt=0).first()
    assert cleared is not None, "the demo has an agency cleared above public"
    crs = None if fmt.has_crs else "EPSG:4490"
    for role, path in [(Role.AUDITOR, "auditor"), (Role.PLANNER, "planner")]:
        export_layer(kind="agencies", path=tmp_path / f"{path}{fmt.suffix}", user=user(role))
    Agency.objects.filter(pk=cleared.pk).update(clearance=0)
    report = run_import(kind_name="agencies", path=tmp_path / f"planner{fmt.suffix}", crs=crs)
    assert report.written == {"inserted": 0, "updated": 0}
    assert Agency.objects.get(pk=cleared.pk).clearance == 0
    report = run_import(kind_name="agencies", path=tmp_path / f"auditor{fmt.suffix}", crs=crs)
    assert report.written == {"inserted": 0, "updated": 1}
    assert Agency.objects.get(pk=cleared.pk).clearance == cleared.clearance


def test_an_agency_seated_where_buildings_overlap_keeps_its_seat_on_reimport(demo, tmp_path):
    agency = Agency.objects.exclude(seat_building=None).first()
    older = agency.seat_building
    copy = Building.objects.create(
        footprint=older.footprint, valid_from=older.valid_from, floors_above=1, parcel=older.parcel
    )
    Agency.objects.filter(pk=agency.pk).update(seat_building=copy)
    path = tmp_path / "agencies.gpkg"
    export_layer(kind="agencies", path=path, user=user(Role.PLANNER))
    report = run_import(kind_name="agencies", path=path)
    assert report.written == {"inserted": 0, "updated": 0}
    agency.refresh_from_db()
    assert agency.seat_building_id == copy.pk != older.pk
