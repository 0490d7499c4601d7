"""Uploading a layer in the web app: checked first with the same report, imported only on
confirmation, by the roles allowed to, with unsafe archives and oversized files refused."""

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from registry.models import Parcel, Shelter
from registry.roles import Role
from tests.gis_layers.test_import import squares
from tests.registry.register import user

pytestmark = pytest.mark.django_db


def gpkg_upload(tmp_path, name="survey.gpkg", count=3) -> SimpleUploadedFile:
    path = tmp_path / name
    squares(count).to_file(path)
    return SimpleUploadedFile(name, path.read_bytes())


def as_role(client, role):
    client.force_login(user(role, f"upload-{role.value}"))
    return client


def upload(client, file, kind="parcels", **fields):
    return client.post(
        "/layers/import/", {"kind": kind, "file": file, "invalid": "repair", **fields}
    )


def test_registrar_checks_then_confirms_an_import(client, tmp_path):
    as_role(client, Role.REGISTRAR)
    page = upload(client, gpkg_upload(tmp_path)).content.decode()
    assert "3 read, 3 accepted, 0 rejected" in page and "nothing written (dry run)" in page
    assert not Parcel.objects.filter(unit_code__startswith="990101009009").exists()
    token = re.search(r"/layers/import/([0-9a-f]{32})/", page).group(1)
    assert 'id="map-frame"' in page
    done = client.post(f"/layers/import/{token}/", follow=True).content.decode()
    assert "3 inserted" in done and 'id="map-frame"' in done
    assert Parcel.objects.filter(unit_code__startswith="990101009009").count() == 3
    again = client.post(f"/layers/import/{token}/", follow=True).content.decode()
    assert "no longer waiting" in again


def test_rejected_rows_are_listed_and_cannot_be_confirmed(client, tmp_path):
    frame = squares(2)
    frame.loc[1, "land_use"] = "9999"
    path = tmp_path / "bad.gpkg"
    frame.to_file(path)
    as_role(client, Role.REGISTRAR)
    page = upload(client, SimpleUploadedFile("bad.gpkg", path.read_bytes())).content.decode()
    assert "&#x27;9999&#x27; is not a GB/T 21010-2017 second-level class" in page
    assert "confirm-import" not in page


def test_the_check_draws_the_files_rows_with_their_values_escaped(client, tmp_path):
    frame = squares(2, start=41)
    frame.loc[1, "unit_code"] = "<img src=x onerror=alert(1)>"
    path = tmp_path / "survey.gpkg"
    frame.to_file(path)
    as_role(client, Role.REGISTRAR)
    response = upload(client, SimpleUploadedFile("survey.gpkg", path.read_bytes()))
    page = response.content.decode()
    assert 'id="map-frame"' in page and "check-rejected" in page
    assert " ".join(page.split()).count("1 rejected row ") == 1
    # The file's text reaches the map's popups, which write it as markup, only escaped for
    # HTML (then for JSON: "&" as \u0026).
    script = response.context["map"]["script"]
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in script
    assert "<img" not in script


def test_zip_with_parent_paths_is_refused_and_nothing_written(client, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("../../etc/evil.geojson", "{}")
    as_role(client, Role.REGISTRAR)
    page = upload(
        client, SimpleUploadedFile("evil.zip", buffer.getvalue()), follow=True
    ).content.decode()
    assert "Refused, nothing written" in page


def test_refusals_speak_of_the_forms_fields_and_show_the_files_start_as_text(client):
    """The check is the command's; its advice is worded for the page (no --crs, no
    --mapping there), and a file's first bytes are shown as a reader would write them."""
    as_role(client, Role.REGISTRAR)
    no_crs = "unit_code,land_use,x,y\n110102001001GB00001W00000000,0801,116.4,39.9\n"
    page = " ".join(
        upload(client, SimpleUploadedFile("rows.csv", no_crs.encode())).content.decode().split()
    )
    assert "enter EPSG:NNNN in the form&#x27;s CRS field with the EPSG code" in page
    assert "--crs" not in page
    page = upload(client, SimpleUploadedFile("rows.csv", no_crs.encode()), crs="EPSG:99999")
    assert "the CRS EPSG:99999 is not a known EPSG code" in page.content.decode()
    unnamed = "code,x,y\n110102001001GB00001W00000000,116.4,39.9\n"
    page = upload(client, SimpleUploadedFile("rows.csv", unnamed.encode()), crs="EPSG:4490")
    assert "name its column &#x27;unit_code&#x27; in the file" in page.content.decode()
    junk = upload(client, SimpleUploadedFile("survey.gpkg", b"this is not a geopackage"))
    assert (
        "this file starts with the text &#x27;this is not a geopac&#x27;" in junk.content.decode()
    )
    assert not Parcel.objects.filter(unit_code="110102001001GB00001W00000000").exists()


def test_oversized_and_unknown_files_are_refused(client, tmp_path, settings):
    settings.LANDLEDGER_UPLOAD_MAX_BYTES = 10
    as_role(client, Role.REGISTRAR)
    assert "larger than" in upload(client, gpkg_upload(tmp_path)).content.decode()
    settings.LANDLEDGER_UPLOAD_MAX_BYTES = 10**9
    assert "Give one of" in upload(client, SimpleUploadedFile("x.exe", b"MZ")).content.decode()


@pytest.mark.parametrize(
    ("role", "kind", "allowed"),
    [
        (Role.REGISTRAR, "parcels", True),
        (Role.CIVIL_DEFENCE, "shelters", True),
        (Role.CIVIL_DEFENCE, "parcels", False),
        (Role.REGISTRAR, "shelters", False),
        (Role.PLANNER, "parcels", False),
        (Role.AUDITOR, "parcels", False),
        (Role.SUPERVISOR, "parcels", False),
    ],
)
def test_only_the_roles_that_keep_a_layer_may_import_it(client, tmp_path, role, kind, allowed):
    as_role(client, role)
    response = upload(client, gpkg_upload(tmp_path), kind=kind)
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 403
    assert Shelter.objects.filter(source__startswith="survey.gpkg").count() == 0


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/layers/import/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
