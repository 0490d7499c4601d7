"""Bad input through the admin's forms: a message naming the field, never a 500, nothing written."""

import pytest
from django.contrib.auth import get_user_model

from registry.models import Parcel
from tests.registry import factories

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
