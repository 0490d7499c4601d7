"""Bad input through the admin's forms: a message naming the field, never a 500, nothing written."""

import pytest
from django.contrib.auth import get_user_model

from gis_layers.models import DatasetLoad
from registry.models import Parcel, Shelter
from registry.roles import Role
from tests.registry import factories
from tests.registry.register import user as user_of_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    user = get_user_model().objects.create_superuser("root-admin", password="x")
    client.force_login(user)
    return client


def parcel_form(**overrides) -> dict:
    form = {
        "unit_code": "110102001001GB09999W00000000",
        "district": factories.district().pk,
        "land_use": "0801",
        "geom": factories.square().geojson,
        "valid_from": "2024-01-01",
        "source": "",
        "name": "",
        "address": "",
    }
    form.update(overrides)
    return form


def test_admin_adds_a_valid_parcel(admin_client_):
    response = admin_client_.post("/admin/registry/parcel/add/", parcel_form())
    assert response.status_code == 302
    assert Parcel.objects.filter(unit_code="110102001001GB09999W00000000").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"geom": factories.bowtie().geojson}, "Self-intersection"),
        ({"geom": '{"type": "MultiPolygon", "coordinates": []}'}, "empty"),
        ({"geom": "not a geometry"}, "Invalid geometry value"),
        ({"unit_code": "110102001001GB0999W00000000"}, "28 characters"),
        ({"unit_code": "110102001001GB00000W00000000"}, "parcel number 00000"),
        ({"land_use": "0899"}, "Select a valid choice"),
        ({"land_use": "08"}, "second-level"),
        ({"valid_from": "2024-13-01"}, "Enter a valid date"),
    ],
)
def test_bad_parcel_in_the_admin_is_refused_with_a_message(admin_client_, overrides, message):
    before = Parcel.objects.count()
    response = admin_client_.post("/admin/registry/parcel/add/", parcel_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Parcel.objects.count() == before


def test_parcel_with_registered_rights_cannot_be_edited_in_the_admin(admin_client_):
    from tests.registry.register import land_use_right, parcel_with_title, party

    parcel, title = parcel_with_title()
    land_use_right(title, party("Holder"))
    response = admin_client_.post(
        f"/admin/registry/parcel/{parcel.pk}/change/",
        parcel_form(unit_code=parcel.unit_code, name="edited"),
    )
    assert response.status_code == 403
    parcel.refresh_from_db()
    assert parcel.name != "edited"


@pytest.mark.parametrize(
    "model", ["title", "right", "registrationact", "journalentry", "certificate", "historyevent"]
)
def test_register_tables_are_read_only_in_the_admin(admin_client_, model):
    assert admin_client_.get(f"/admin/registry/{model}/").status_code == 200
    assert admin_client_.get(f"/admin/registry/{model}/add/").status_code == 403


def test_a_parcel_with_a_registered_act_but_no_rights_cannot_be_edited_in_the_admin(
    admin_client_,
):
    """A change of use registered on a parcel without rights: the admin must not undo it."""
    from registry.services.acts import approve_act, examine_act, lodge_act
    from tests.registry.register import day, parcel_with_title, user

    parcel, title = parcel_with_title()
    registrar = user(Role.REGISTRAR)
    act = lodge_act(
        act_type="change",
        titles=[title],
        lodged_by=registrar,
        effective_date=day("2025-06-01"),
        payload={"land_use": "0702", "override_reason": "test"},
    )
    examine_act(act=act, examiner=registrar)
    approve_act(act=act, approver=user(Role.SUPERVISOR))
    response = admin_client_.post(
        f"/admin/registry/parcel/{parcel.pk}/change/",
        parcel_form(unit_code=parcel.unit_code, land_use="0801"),
    )
    assert response.status_code == 403
    parcel.refresh_from_db()
    assert parcel.land_use_id == "0702"


def test_a_building_with_a_title_on_the_register_cannot_be_edited_in_the_admin(admin_client_, demo):
    from registry.models import Building, Right

    building = Building.objects.filter(
        pk__in=Right.objects.filter(title__building__isnull=False).values("title__building"),
        valid_to__isnull=True,
    ).first()
    response = admin_client_.post(
        f"/admin/registry/building/{building.pk}/change/", {"name": "edited", "use": "office"}
    )
    assert response.status_code == 403
    building.refresh_from_db()
    assert building.name != "edited"


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("SRID=99999;POINT(1 1)", "EPSG:99999 cannot be converted to EPSG:4490"),
        ("SRID=3857;POINT(1e300 1e300)", "coordinates must be finite and within"),
        ("SRID=3857;POINT(30000000 30000000)", "outside what EPSG:3857 can place"),
    ],
)
def test_a_shelter_location_that_cannot_be_placed_is_refused_with_a_message(
    admin_client_, location, message
):
    before = Shelter.objects.count()
    response = admin_client_.post("/admin/registry/shelter/add/", shelter_form(location=location))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Shelter.objects.count() == before


def test_the_admin_adds_a_shelter_given_in_web_mercator(admin_client_):
    response = admin_client_.post(
        "/admin/registry/shelter/add/", shelter_form(location="SRID=3857;POINT(12958000 4853000)")
    )
    assert response.status_code == 302
    lon, lat = Shelter.objects.get(name="Admin shelter").location.coords
    assert lon == pytest.approx(116.404, abs=0.001) and lat == pytest.approx(39.911, abs=0.001)


def test_an_officer_cannot_classify_a_shelter_above_their_clearance(client):
    client.force_login(user_of_role(Role.CIVIL_DEFENCE))
    response = client.post(
        "/admin/registry/shelter/add/",
        shelter_form(location="SRID=4490;POINT(116.4 39.9)", classification=3),
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Shelter.objects.filter(name="Admin shelter").exists()
    page = client.get("/admin/registry/shelter/add/").content.decode()
    assert 'value="2"' in page and 'value="3"' not in page


def test_the_dataset_admin_shows_shelter_counts_only_to_users_cleared_for_all(client, demo):
    load = DatasetLoad.objects.filter(counts__has_key="shelters").first()
    for role, sees in [
        (Role.PLANNER, False),
        (Role.CIVIL_DEFENCE, False),
        (Role.AUDITOR, True),
        (Role.ADMINISTRATOR, True),
    ]:
        client.force_login(user_of_role(role))
        listing = client.get("/admin/gis_layers/datasetload/")
        assert listing.status_code == 200, role
        page = listing.content.decode()
        assert ("shelters: " in page) is sees, role
        assert "buildings: " in page
        # One load's page: shown to read, to an administrator too, never a form to change.
        detail = client.get(f"/admin/gis_layers/datasetload/{load.pk}/change/")
        assert detail.status_code == 200, role
        assert ("shelters: " in detail.content.decode()) is sees, role
        assert 'name="_save"' not in detail.content.decode(), role
        assert (
            client.post(f"/admin/gis_layers/datasetload/{load.pk}/change/", {}).status_code == 403
        )


def shelter_form(**overrides) -> dict:
    form = {
        "name": "Admin shelter",
        "shelter_type": "personnel",
        "protection_class": "c5",
        "capacity_persons": "100",
        "usable_area_m2": "100",
        "condition": "good",
        "classification": "0",
        "valid_from": "2024-01-01",
        "location": "SRID=4490;POINT(116.4 39.9)",
        "is_underground": "on",
        "inspections-TOTAL_FORMS": "0",
        "inspections-INITIAL_FORMS": "0",
    }
    form.update(overrides)
    return form
