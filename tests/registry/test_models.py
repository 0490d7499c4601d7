"""Every database guard on the spatial units is shown to refuse a bad row, and model
validation names the field at fault."""

import datetime

import pytest
from django.contrib.gis.geos import MultiPoint, MultiPolygon, Point
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, InternalError, connection, transaction

from registry.models import Agency, LandUseClass, Parcel, Party, StaffEstablishment
from tests.registry import factories

pytestmark = pytest.mark.django_db


def assert_refused_by_database(row, constraint: str | None = None):
    with pytest.raises((IntegrityError, DataError, InternalError)) as error, transaction.atomic():
        with connection.cursor() as cursor:
            # Foreign keys are deferred to commit; a test never commits, so check them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        row.save()
    if constraint:
        assert constraint in str(error.value)


def test_valid_parcel_is_stored_with_its_geodesic_area():
    parcel = factories.parcel()
    parcel.full_clean()
    parcel.save()
    parcel.refresh_from_db()
    # 0.0005° × 0.0005° at 39.91°N: about 55.5 m × 42.7 m.
    assert parcel.area_m2 == pytest.approx(55.5 * 42.7, rel=0.01)


def test_self_intersecting_parcel_is_refused_by_the_database():
    assert_refused_by_database(factories.parcel(geom=factories.bowtie()), "parcel_geom_valid")


def test_empty_parcel_geometry_is_refused_by_the_database():
    assert_refused_by_database(
        factories.parcel(geom=MultiPolygon(srid=4490)), "parcel_geom_not_empty"
    )


def test_projected_coordinates_labelled_cgcs2000_are_refused():
    metres = factories.square(x=500000.0, y=4420000.0, side=50.0)
    assert_refused_by_database(factories.parcel(geom=metres), "parcel_geom_lonlat")


def test_geometry_in_another_srid_is_refused_by_the_column_type():
    with pytest.raises((InternalError, DataError)) as error, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO registry_parcel (unit_code, district_id, land_use_id, geom, "
                "valid_from, source, is_synthetic) VALUES (%s, %s, '0801', "
                "ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))', 4326), "
                "'2024-01-01', '', false)",
                [factories.unit_code(), factories.district().pk],
            )
    assert "SRID" in str(error.value)


def test_orm_transforms_a_geometry_given_in_another_crs_to_cgcs2000():
    web_mercator = factories.square(x=12953000.0, y=4853000.0, side=50.0, srid=3857)
    parcel = factories.parcel(geom=web_mercator)
    parcel.save()
    parcel.refresh_from_db()
    assert parcel.geom.srid == 4490
    assert 116 < parcel.geom.centroid.x < 117


def test_malformed_unit_code_is_refused_by_the_database():
    assert_refused_by_database(
        factories.parcel(unit_code="110102001001gb00001W00000000"), "parcel_unit_code_layout"
    )


def test_first_level_land_use_class_is_refused_for_a_parcel():
    assert_refused_by_database(
        factories.parcel(land_use=LandUseClass.objects.get(code="08")),
        "parcel_land_use_second_level",
    )


def test_unknown_land_use_code_is_refused_by_the_foreign_key():
    row = factories.parcel()
    row.land_use_id = "0899"
    assert_refused_by_database(row)


def test_retirement_before_start_is_refused():
    row = factories.parcel(valid_to=factories.START - datetime.timedelta(days=1))
    assert_refused_by_database(row, "parcel_interval_ordered")


def test_duplicate_unit_code_is_refused():
    code = factories.unit_code()
    factories.parcel(unit_code=code).save()
    assert_refused_by_database(
        factories.parcel(unit_code=code, geom=factories.square(x=116.37)), "unit_code"
    )


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"footprint": factories.bowtie()}, "building_footprint_valid"),
        ({"gross_floor_area_m2": 0.0}, "building_gfa_positive"),
        ({"height_m": -3.0}, "building_height_positive"),
        ({"year_built": 3024}, "building_year_plausible"),
    ],
)
def test_bad_building_is_refused_by_the_database(overrides, constraint):
    assert_refused_by_database(factories.building(**overrides), constraint)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"location": Point(500000.0, 4420000.0, srid=4490)}, "shelter_location_lonlat"),
        ({"entrances": MultiPoint(srid=4490)}, "shelter_entrances_not_empty"),
        ({"usable_area_m2": 0.0}, "shelter_usable_area_positive"),
        ({"classification": 9}, "shelter_classification_known"),
    ],
)
def test_bad_shelter_is_refused_by_the_database(overrides, constraint):
    assert_refused_by_database(factories.shelter(**overrides), constraint)


def test_land_use_class_code_must_be_two_or_four_digits():
    assert_refused_by_database(
        LandUseClass(code="081", name_zh="x", name_en="x"), "landuseclass_code_two_or_four_digits"
    )


def test_district_code_must_be_six_digits():
    from registry.models import District

    assert_refused_by_database(District(code="1101", name="x"), "district_code_six_digits")


def test_agency_cannot_be_its_own_parent_and_ranks_are_unique():
    party = Party.objects.create(kind="agency", name="Test agency")
    agency = Agency.objects.create(party=party, level="central")
    agency.parent_id = party.pk
    assert_refused_by_database(agency, "agency_not_own_parent")
    StaffEstablishment.objects.create(agency=agency, rank="division", headcount=3)
    assert_refused_by_database(
        StaffEstablishment(agency=agency, rank="division", headcount=4),
        "establishment_one_per_rank",
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"geom": factories.bowtie()}, "geom", "not valid: Self-intersection"),
        ({"geom": MultiPolygon(srid=4490)}, "geom", "empty"),
        ({"unit_code": "110102001001GB0001W00000000"}, "unit_code", "28 characters"),
        ({"unit_code": "110102001001QB00001W00000000"}, "unit_code", "owner type 'Q'"),
    ],
)
def test_model_validation_names_the_field_at_fault(overrides, field, message):
    with pytest.raises(ValidationError) as error:
        factories.parcel(**overrides).full_clean()
    assert field in error.value.message_dict
    assert any(message in text for text in error.value.message_dict[field])
    assert not Parcel.objects.filter(district__code="110102").exists()
