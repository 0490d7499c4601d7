"""Uploading a layer in the web app: checked first with the same report, imported only on
confirmation, by the roles allowed to, with unsafe archives and oversized files refused."""

import csv
import io
import itertools
import os
import re
import time
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gis_layers import import_views
from gis_layers.imports.progress import ProgressFile
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


def checked_with_a_bad_land_use(client, tmp_path) -> str:
    """The page of a registrar's check of two parcels, the second with an unknown land use."""
    frame = squares(2)
    frame.loc[1, "land_use"] = "9999"
    path = tmp_path / "bad.gpkg"
    frame.to_file(path)
    as_role(client, Role.REGISTRAR)
    return upload(client, SimpleUploadedFile("bad.gpkg", path.read_bytes())).content.decode()


def test_rejected_rows_are_listed_and_cannot_be_confirmed(client, tmp_path):
    page = checked_with_a_bad_land_use(client, tmp_path)
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


# --- how far the work has got -------------------------------------------------------------

PROGRESS_ID = "0123456789abcdef" * 2


def progress_of(client, progress_id=PROGRESS_ID):
    return client.get("/layers/import/progress/", {"id": progress_id})


def recorded_progress(user, progress_id=PROGRESS_ID) -> ProgressFile:
    return ProgressFile(import_views._progress_path(user, progress_id))


def test_the_page_is_told_how_far_its_own_work_has_got(client, settings, tmp_path):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    registrar = user(Role.REGISTRAR, "progress-registrar")
    client.force_login(registrar)
    assert progress_of(client).json() == {"stage": None, "fraction": None, "message": None}
    recorder = recorded_progress(registrar)
    recorder.on_total(50_000)
    recorder.on_stage("reading")
    recorder.on_progress(20_000)
    recorder._write()  # at once, not after the interval
    answer = progress_of(client).json()
    assert answer["stage"] == "reading" and answer["fraction"] == pytest.approx(0.4)
    assert "20,000 of 50,000" in answer["message"] and "left" in answer["message"]
    recorder.on_stage("writing")
    answer = progress_of(client).json()
    assert answer["stage"] == "writing" and answer["fraction"] is None
    assert answer["message"].startswith("Writing the rows into the register")
    # Another registrar asking for the same id is told nothing: each user's work is theirs.
    client.force_login(user(Role.REGISTRAR, "progress-other-registrar"))
    assert progress_of(client).json()["stage"] is None
    recorder.remove()
    client.force_login(registrar)
    assert progress_of(client).json()["stage"] is None


def test_progress_is_refused_to_other_roles_and_needs_a_well_formed_id(client):
    as_role(client, Role.REGISTRAR)
    response = progress_of(client, "../../etc/passwd")
    assert response.status_code == 400 and "32 hexadecimal digits" in response.json()["error"]
    as_role(client, Role.PLANNER)
    assert progress_of(client).status_code == 403
    client.logout()
    assert progress_of(client).status_code == 403


def test_the_upload_and_the_import_record_each_stage_then_remove_the_record(
    client, tmp_path, settings, monkeypatch
):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    written = []
    original_write = ProgressFile._write

    def write_and_keep(recorder):
        original_write(recorder)
        written.append(ProgressFile.read(recorder.path))

    monkeypatch.setattr(ProgressFile, "_write", write_and_keep)
    as_role(client, Role.REGISTRAR)
    page = upload(client, gpkg_upload(tmp_path), progress=PROGRESS_ID).content.decode()
    assert "3 read, 3 accepted" in page
    # (A slow machine may also write the rows' count before the next stage.)
    assert (written[0].stage, written[0].rows_read, written[0].rows_declared) == ("reading", 0, 3)
    assert (written[-1].stage, written[-1].rows_read) == ("checking", 3)
    assert stages_in_turn(written) == ["reading", "checking"]
    token = re.search(r"/layers/import/([0-9a-f]{32})/", page).group(1)
    written.clear()
    done = client.post(f"/layers/import/{token}/", {"progress": PROGRESS_ID}).content.decode()
    assert "3 inserted" in done
    assert stages_in_turn(written) == ["reading", "checking", "writing", "committing"]
    folder = tmp_path / "upload-progress" / client.session["_auth_user_id"]
    assert folder.is_dir() and not list(folder.iterdir())


def stages_in_turn(states) -> list[str]:
    return [stage for stage, _ in itertools.groupby(state.stage for state in states)]


def test_uploads_reports_and_progress_left_a_day_are_deleted(client, tmp_path, settings):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    registrar = user(Role.REGISTRAR, "sweep-registrar")
    client.force_login(registrar)
    old_upload = import_views._pending_dir(registrar, PROGRESS_ID)
    old_report = import_views._report_base(registrar, PROGRESS_ID).parent
    recorder = recorded_progress(registrar)
    recorder.on_stage("reading")  # left behind by a server killed in the middle
    fresh = recorded_progress(registrar, "f" * 32)
    fresh.on_stage("reading")
    for folder in (old_upload, old_report):
        folder.mkdir(parents=True)
        (folder / "kept.gpkg").write_bytes(b"x")
    two_days_ago = time.time() - 2 * 24 * 3600
    for entry in (old_upload, old_report, recorder.path):
        os.utime(entry, (two_days_ago, two_days_ago))
    upload(client, gpkg_upload(tmp_path))
    assert not old_upload.exists() and not old_report.exists() and not recorder.path.exists()
    assert fresh.path.exists()


def test_progress_that_cannot_be_written_does_not_stop_the_work(client, tmp_path, settings):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    # A file where the progress folder would be: nothing can be written under it.
    (tmp_path / "upload-progress").write_text("not a folder")
    as_role(client, Role.REGISTRAR)
    page = upload(client, gpkg_upload(tmp_path), progress=PROGRESS_ID).content.decode()
    assert "3 read, 3 accepted" in page
    # The page asking meanwhile is told nothing, not given an error.
    asked = progress_of(client)
    assert asked.status_code == 200 and asked.json()["stage"] is None


def test_the_page_and_its_report_files_speak_the_users_chinese(client, tmp_path, settings):
    settings.LANGUAGE_CODE = "zh-hans"  # the users' default
    page = checked_with_a_bad_land_use(client, tmp_path)
    assert "bad.gpkg：宗地，坐标系 EPSG:4490" in page
    assert "读取 2 行，接受 1，拒收 1，修复 0" in page and "未写入任何内容（试运行）" in page
    assert "<td>已拒收</td>" in page
    assert "&#x27;9999&#x27; 不是 GB/T 21010-2017 二级类" in page
    token = re.search(r"/layers/import/([0-9a-f]{32})/report\.html", page).group(1)

    def report(suffix: str) -> str:
        response = client.get(f"/layers/import/{token}/report.{suffix}")
        return b"".join(response.streaming_content).decode()

    html = report("html")
    assert "导入报告：bad.gpkg" in html and "读取 2 行，接受 1，拒收 1，修复 0" in html
    assert "<th>原因</th>" in html and "&#x27;9999&#x27; 不是 GB/T 21010-2017 二级类" in html
    # The CSV's column names and actions are keys for programs; its reasons are for people.
    rows = list(csv.DictReader(io.StringIO(report("csv"))))
    assert [(row["row"], row["field"], row["action"]) for row in rows] == [
        ("2", "land_use", "rejected")
    ]
    assert rows[0]["reason"] == "'9999' 不是 GB/T 21010-2017 二级类"


def test_a_refusal_of_the_whole_file_speaks_the_users_chinese(client, tmp_path, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    as_role(client, Role.REGISTRAR)
    shapefile = tmp_path / "noprj.shp"
    squares(2).to_file(shapefile)
    shapefile.with_suffix(".prj").unlink()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for part in tmp_path.glob("noprj.*"):
            bundle.write(part, part.name)
    page = upload(client, SimpleUploadedFile("noprj.zip", buffer.getvalue())).content.decode()
    assert "文件未声明坐标参考系（Shapefile 需要其 .prj 文件）" in page
    assert "表单的" in page  # the form's field to fill in, not the command's option
    assert "--crs" not in page


def send(client, file):
    """The file alone, as the page sends it ahead of the form."""
    return client.post("/layers/import/send/", {"file": file})


def test_a_file_sent_ahead_is_checked_and_imported_as_the_form_names_it(client, tmp_path):
    as_role(client, Role.REGISTRAR)
    sent = send(client, gpkg_upload(tmp_path))
    assert sent.status_code == 200
    token = sent.json()["sent"]
    page = upload(client, "", sent=token).content.decode()
    assert "survey.gpkg: parcels" in page and "3 read, 3 accepted, 0 rejected" in page
    # The file the check read waits for confirmation under the same token: nothing is copied.
    assert f"/layers/import/{token}/" in page
    done = client.post(f"/layers/import/{token}/", follow=True).content.decode()
    assert "3 inserted" in done
    assert Parcel.objects.filter(unit_code__startswith="990101009009").count() == 3
    # Imported, the file is gone: naming it again finds nothing.
    again = upload(client, "", sent=token).content.decode()
    assert "no longer waiting" in again and "read," not in again


def test_a_file_sent_ahead_is_only_its_senders(client, tmp_path):
    as_role(client, Role.REGISTRAR)
    token = send(client, gpkg_upload(tmp_path)).json()["sent"]
    client.force_login(user(Role.REGISTRAR, "another-registrar"))
    page = upload(client, "", sent=token).content.decode()
    assert "no longer waiting" in page and "read," not in page
    for malformed in ("../../etc", "0" * 31, "X" * 32):
        assert "no longer waiting" in upload(client, "", sent=malformed).content.decode()
    assert "This field is required." in upload(client, "").content.decode()


def test_sending_ahead_is_refused_as_the_form_would_be(client, tmp_path, settings):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    assert send(client, gpkg_upload(tmp_path)).status_code == 302  # to the login page
    as_role(client, Role.PLANNER)
    assert send(client, gpkg_upload(tmp_path)).status_code == 403
    as_role(client, Role.REGISTRAR)
    unknown = send(client, SimpleUploadedFile("x.exe", b"MZ"))
    assert unknown.status_code == 400 and "Give one of" in unknown.json()["error"]
    survey = gpkg_upload(tmp_path)
    settings.LANDLEDGER_UPLOAD_MAX_BYTES = survey.size - 1  # the request within its margin
    larger = send(client, survey)
    assert larger.status_code == 400 and "larger than" in larger.json()["error"]
    # Declared larger than any upload may be: refused before the body is read.
    declared = client.post(
        "/layers/import/send/",
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(10**9),
    )
    assert declared.status_code == 413 and "larger than" in declared.json()["error"]
    assert not any(path.is_file() for path in (tmp_path / "uploads").rglob("*"))


class UnreadableBody(io.RawIOBase):
    def read(self, size=-1):
        raise AssertionError("the request's body was read")


def test_a_body_declared_too_large_is_refused_before_anything_reads_it(tmp_path, settings):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    # The CSRF check enforced, as in the browser: it reads a POST's body for its token.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user(Role.REGISTRAR, "upload-unread"))
    for url in ("/layers/import/", "/layers/import/send/"):
        refused = browser.post(
            url,
            CONTENT_TYPE="multipart/form-data; boundary=x",
            CONTENT_LENGTH=str(settings.LANDLEDGER_UPLOAD_MAX_BYTES * 2),
            **{"wsgi.input": UnreadableBody()},
        )
        assert refused.status_code == 413
        limit_mb = settings.LANDLEDGER_UPLOAD_MAX_BYTES // 2**20
        assert f"larger than {limit_mb} MB" in refused.content.decode()
        # Within the limit, the CSRF check still applies.
        forged = browser.post(url, {"kind": "parcels", "file": gpkg_upload(tmp_path)})
        assert forged.status_code == 403
    assert not any(path.is_file() for path in (tmp_path / "uploads").rglob("*"))
