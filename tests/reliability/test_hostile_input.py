"""Hostile input through the web: SQL injection in every filter and search field, script in
every text a page shows, path traversal, oversized uploads and zip bombs.

SQL injection: each payload goes into each field; the answer must not be a server error,
must not wait for an injected ``pg_sleep``, and the register's tables must be as they were.
XSS: names, addresses, document titles and shelter names carrying markup must come back
escaped on every page that shows them (and the escaped text must be there, so that a page
that stopped showing the name cannot pass).
"""

import io
import time
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from registry.models import SecurityLevel, Shelter, Title
from registry.roles import Role
from registry.services.acts import Source, lodge_act
from tests.gis_layers.test_import_views import as_role, gpkg_upload, upload
from tests.registry.register import land_use_right, parcel_with_title, party, user

pytestmark = [pytest.mark.hostile, pytest.mark.django_db]

SQL_PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE registry_parcel; --",
    "1) OR (1=1",
    "x' AND (SELECT pg_sleep(4)) IS NULL --",
    "1; SELECT pg_sleep(4)",
    "' UNION SELECT username, password FROM auth_user --",
    "%' OR 1=1 --",
    "\\'; --",
    "-1",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "2024-13-45",
    "0000-00-00' OR '1'='1",
    "../../../../etc/passwd",
    "\u0000",
    "%00",
    "\ufeff' OR 1=1",
    "${jndi:ldap://x}",
    "a" * 5000,
]
SLEEP_S = 4

# (role, path, the query parameters that reach a database filter or search)
FIELDS = [
    (Role.AUDITOR, "/api/titles/", ["q", "limit"]),
    (Role.AUDITOR, "/api/titles/{title}/", ["as_of"]),
    (Role.AUDITOR, "/api/parcels/{unit_code}/", ["as_of"]),
    (Role.AUDITOR, "/api/parcels/at/", ["lon", "lat", "as_of"]),
    (Role.AUDITOR, "/api/acts/", ["status", "limit", "offset"]),
    (Role.PLANNER, "/map/search/", ["q"]),
    (Role.PLANNER, "/map/", ["as_of"]),
    (Role.PLANNER, "/map/popup/parcels/{parcel}/", ["as_of"]),
    (Role.PLANNER, "/tiles/parcels/15/18654/9480.pbf", ["as_of"]),
    (Role.PLANNER, "/tiles/changes/15/18654/9480.pbf", ["from", "to"]),
    (Role.PLANNER, "/ogc/collections/parcels/items", ["bbox", "limit", "offset", "datetime", "crs", "bbox-crs", "f"]),
    (Role.PLANNER, "/ogc/collections/parcels/items/{parcel}", ["crs", "f"]),
    (Role.PLANNER, "/ogc/collections/{payload}/items", []),
    (Role.PLANNER, "/ogc/collections/parcels/items/{payload}", []),
    (Role.REGISTRAR, "/registry/", ["q"]),
    (Role.REGISTRAR, "/registry/titles/{title}/", ["as_of"]),
    (Role.AUDITOR, "/registry/audit/", ["user", "object"]),
    (Role.PLANNER, "/layers/export/", ["kind", "bbox", "as_of", "format"]),
    (Role.CIVIL_DEFENCE, "/shelters/", ["district"]),
    (Role.PLANNER, "/landuse/", ["map"]),
    (None, "/verify/", ["number", "hash"]),
]  # fmt: skip


def register_state() -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM registry_parcel), (SELECT count(*) FROM auth_user), "
            "(SELECT count(*) FROM registry_right), (SELECT count(*) FROM registry_journalentry)"
        )
        return cursor.fetchone()


def test_sql_injection_in_every_filter_and_search_field(demo, client):
    title = Title.objects.filter(parcel__isnull=False, parcel__valid_to__isnull=True).first()
    ids = {"title": title.pk, "parcel": title.parcel_id, "unit_code": title.parcel.unit_code}
    for role, _, _ in FIELDS:
        if role is not None:
            user(role)  # made before the snapshot: accounts are counted in it
    before = register_state()
    tried, problems = 0, []
    for role, template, parameters in FIELDS:
        client.logout()
        if role is not None:
            client.force_login(user(role))
        for payload in SQL_PAYLOADS:
            for parameter in parameters or [None]:
                if parameter is None:
                    path = template.format(**ids, payload=payload.replace("/", "%2F"))
                    params = {}
                else:
                    path = template.format(**ids, payload="x")
                    params = {parameter: payload}
                where = f"{path} {parameter}={payload[:40]!r}"
                started = time.monotonic()
                try:
                    response = client.get(path, params, HTTP_ACCEPT="text/html,application/json")
                except Exception as error:  # a 500: noted with the others, then failed
                    problems.append(f"{where}: {type(error).__name__}: {error}")
                    continue
                elapsed = time.monotonic() - started
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code}")
                if elapsed >= SLEEP_S:
                    problems.append(f"{where} took {elapsed:.1f} s: injected sleep?")
                tried += 1
    assert problems == [], "\n".join(problems)
    assert register_state() == before
    assert tried >= 500


def test_sql_injection_in_the_api_body_is_refused_as_input(demo, client):
    client.force_login(user(Role.REGISTRAR))
    before = register_state()
    for payload in SQL_PAYLOADS:
        for body in (
            {"act_type": payload, "titles": [1], "effective_date": "2024-01-01", "payload": {}},
            {"act_type": "transfer", "titles": [payload], "effective_date": payload, "payload": {"right": payload}},
        ):  # fmt: skip
            response = client.post("/api/acts/", body, content_type="application/json")
            assert response.status_code in (400, 403, 404, 409), (payload, response.content[:200])
    assert register_state() == before


# --- XSS --------------------------------------------------------------------------------

SCRIPT = '<script>alert("xss")</script>'
IMAGE = '"><img src=x onerror=alert(1)>'


def assert_escaped(page: str, hostile: str, where: str) -> None:
    assert hostile not in page, f"{where}: {hostile} unescaped"
    escaped = (
        hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace('"', "&quot;").replace("'", "&#x27;")
    )  # fmt: skip
    assert escaped in page, f"{where}: the text is not shown at all"


@pytest.fixture
def hostile_register(demo):
    """A title whose parcel name and address and holder, and an act whose document title,
    carry markup; a public shelter named with a script."""
    parcel, title = parcel_with_title(name=f"Parcel {SCRIPT}", address=f"Road {IMAGE}")
    holder = party(f"Holder {SCRIPT}")
    land_use_right(title, holder)
    title.refresh_from_db()
    act = lodge_act(
        act_type="correction",
        titles=[title],
        effective_date=title.rights.first().valid_from,
        lodged_by=user(Role.REGISTRAR),
        payload={"right": title.rights.first().pk, "changes": {"description": f"Note {SCRIPT}"}},
        sources=[Source(kind="deed", file_name=f"deed {IMAGE}.pdf", content=b"%PDF-1.4")],
    )
    shelter = Shelter.objects.filter(classification=SecurityLevel.PUBLIC).first()
    shelter.name = f"Shelter {SCRIPT}"
    shelter.save(update_fields=["name"])
    return {"parcel": parcel, "title": title, "holder": holder, "act": act, "shelter": shelter}


def test_markup_in_names_addresses_and_document_titles_is_escaped_on_every_page(
    client, hostile_register
):
    title, parcel = hostile_register["title"], hostile_register["parcel"]
    act, shelter = hostile_register["act"], hostile_register["shelter"]
    pages = [
        # (the holder's name on the title, the address in the desk's results, ...)
        (Role.REGISTRAR, f"/registry/titles/{title.pk}/", [SCRIPT]),
        (Role.REGISTRAR, f"/registry/titles/{title.pk}/extract/", [SCRIPT]),
        (Role.REGISTRAR, "/registry/?q=Holder", [IMAGE]),
        (Role.REGISTRAR, f"/registry/acts/{act.pk}/", [IMAGE]),
        (Role.PLANNER, f"/map/popup/parcels/{parcel.pk}/", [SCRIPT]),
        (Role.PLANNER, f"/ogc/collections/parcels/items/{parcel.pk}?f=html", [SCRIPT, IMAGE]),
        (Role.CIVIL_DEFENCE, f"/shelters/{shelter.pk}/", [SCRIPT]),
        (Role.PLANNER, f"/map/popup/shelters/{shelter.pk}/", [SCRIPT]),
    ]
    problems = []
    for role, path, hostile_texts in pages:
        client.force_login(user(role))
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        page = response.content.decode()
        for hostile in hostile_texts:
            try:
                assert_escaped(page, hostile, path)
            except AssertionError as error:
                problems.append(str(error).splitlines()[0])
    assert problems == [], "\n".join(problems)


def test_markup_in_json_answers_stays_text(client, hostile_register):
    client.force_login(user(Role.PLANNER))
    found = client.get("/map/search/", {"q": "Parcel <script"}).json()["results"]
    assert any(SCRIPT in result["label"] for result in found)
    # JSON is served as JSON, so a browser never renders it as a page.
    assert client.get("/map/search/", {"q": "x"})["Content-Type"].startswith("application/json")


# --- uploads ----------------------------------------------------------------------------


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    return tmp_path / "uploads"


def kept_files(folder) -> list:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def test_a_traversing_file_name_is_kept_inside_the_upload_folder(client, tmp_path, upload_dir):
    as_role(client, Role.REGISTRAR)
    hostile = gpkg_upload(tmp_path)
    hostile.name = "../../../../tmp/evil/..\\..\\survey.gpkg"
    page = upload(client, hostile).content.decode()
    assert "3 read, 3 accepted" in page
    (kept,) = kept_files(upload_dir)
    assert kept.resolve().is_relative_to(upload_dir.resolve())
    assert kept.name == "survey.gpkg"


def test_a_confirmation_token_cannot_name_another_path(client, upload_dir):
    as_role(client, Role.REGISTRAR)
    for token in ("..%2F..%2Fetc", "0" * 31 + "/", "../" * 5):
        response = client.post(f"/layers/import/{token}/", follow=True)
        assert response.status_code in (200, 404)
    assert kept_files(upload_dir) == []


def test_an_upload_declared_larger_than_the_limit_is_refused_before_it_is_read(
    client, settings, upload_dir, tmp_path
):
    settings.LANDLEDGER_UPLOAD_MAX_BYTES = 2**20
    as_role(client, Role.REGISTRAR)
    big = SimpleUploadedFile("big.geojson", b"{" + b" " * (3 * 2**20) + b"}")
    response = upload(client, big)
    assert response.status_code == 413
    assert "larger than 1 MB" in response.content.decode()
    assert kept_files(upload_dir) == []


def test_a_zip_bomb_upload_is_refused_and_nothing_kept(client, upload_dir):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        with bundle.open("parcels.geojson", "w") as member:
            zeros = bytes(2**20)
            for _ in range(64):
                member.write(zeros)
    assert len(buffer.getvalue()) < 200_000
    as_role(client, Role.REGISTRAR)
    page = upload(client, SimpleUploadedFile("bomb.zip", buffer.getvalue())).content.decode()
    assert "Refused, nothing written" in page and "zip bomb" in page
    assert kept_files(upload_dir) == []


def test_the_import_page_escapes_a_hostile_file_name(client, tmp_path, upload_dir):
    as_role(client, Role.REGISTRAR)
    hostile = gpkg_upload(tmp_path)
    hostile.name = "<script>x</script>.gpkg"
    page = upload(client, hostile).content.decode()
    # The page's own scripts (the check's map) aside, no markup of the name's.
    assert "<script>x" not in page and "x</script>" not in page
    # The name is cut at its last "/" and every other character outside [\w.-] replaced.
    assert "script_.gpkg" in page
