"""Faults, on a private PostgreSQL cluster (tests/reliability/cluster.py) and gunicorn:
the database stopped in the middle of registrations and of an import, the server killed
with SIGKILL under load, connections exhausted, the disk full, and a backup restored.

After each, ``verify_journal`` must pass and the register must hold every act whole or not
at all (bench/load_test.py's ``REGISTER_CHECKS``), with every act a client saw registered
in it exactly once. Clients may see 503 with ``Retry-After`` (or no answer while the server
itself is down), never a 500. ``LANDLEDGER_FAULT_ROUNDS`` (default 1) repeats each fault.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest
import requests

from tests.reliability.clients import Crowd, Registrar
from tests.reliability.cluster import APP_ROLE, PrivateCluster, unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import load_test  # noqa: E402  (bench/load_test.py: the server, the plan, the checks)

pytestmark = pytest.mark.faults
ROUNDS = int(os.environ.get("LANDLEDGER_FAULT_ROUNDS", "1"))
DOWN_S = 1.5  # how long the database stays down in a restart: requests meet it down
SEEN: list[int] = []  # every act a client saw registered, over the whole module


@pytest.fixture(scope="module")
def cluster():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    cluster = PrivateCluster().start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="module")
def register(cluster, tmp_path_factory):
    """A migrated register on the private cluster with four registrars' accounts and
    titles (the plan), and a template like the main cluster's for the restore drill."""
    cluster.create_database("landledger_template")
    url = cluster.create_database("landledger_faults")
    load_test.manage(url, "migrate", "--no-input", "-v0")
    plan_path = tmp_path_factory.mktemp("plan") / "plan.json"
    subprocess.run(
        [
            sys.executable, "bench/load_test.py", "--existing", "--database", "landledger_faults",
            "--registrars", "4", "--readers", "0", "--titles-per-registrar", "3",
            "--plan-only", str(plan_path),
        ],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, check=True, capture_output=True,
    )  # fmt: skip
    return {
        "url": url,
        # The server logs in as the application's role, which owns nothing, as `make serve`.
        "app_url": cluster.url("landledger_faults", role=APP_ROLE),
        "plan": json.loads(plan_path.read_text()),
    }


@pytest.fixture
def server(register, tmp_path):
    """gunicorn on the private register: ``server["base"]``; ``server["restart"]()``."""
    port = load_test.free_port()
    state = {"base": f"http://127.0.0.1:{port}", "log": tmp_path / "gunicorn.log"}
    secret_key = secrets.token_urlsafe(50)  # the same after a restart: sessions survive it

    def start(healthy: bool = True):
        state["process"] = load_test.start_server(
            register["app_url"], port, 2, 2, state["log"], healthy=healthy, secret_key=secret_key
        )

    state["start"] = start
    start()
    yield state
    if state["process"].poll() is None:
        load_test.stop_server(state["process"])


def assert_register_whole(register, crowd: Crowd | None = None) -> None:
    if crowd is not None:
        # The figures of docs/reliability.md (shown with pytest -rP).
        print(f"acts registered: {len(crowd.registered)}; answers: {dict(crowd.answers())}")
        SEEN.extend(crowd.registered)  # before any assertion: the next test checks them too
        assert crowd.problems == []
    journal = load_test.manage(register["url"], "verify_journal", check=False)
    assert journal.returncode == 0, journal.stdout + journal.stderr
    assert load_test.register_problems(register["url"], SEEN) == []


def test_registrations_survive_the_database_going_down(cluster, register, server):
    with Crowd(server["base"], register["plan"]) as crowd:
        crowd.wait_for(3)
        for round_number in range(ROUNDS):
            mode = "immediate" if round_number % 2 == 0 else "fast"  # a crash, then politely
            cluster.stop(mode)
            time.sleep(DOWN_S)
            cluster.start_again()
            crowd.wait_for(3)
    assert_register_whole(register, crowd)
    # The fault met the traffic, and was told apart from everything else.
    rules = crowd.unavailable_rules()
    assert rules["database_unavailable"] > 0, crowd.answers()
    assert set(rules) == {"database_unavailable"}
    assert not {code for code in crowd.answers() if code.startswith("5") and code != "503"}


def test_pages_and_health_say_the_database_is_down_with_retry_after(cluster, register, server):
    registrar = Registrar(server["base"], register["plan"]["registrars"][0])
    registrar.log_in()
    cluster.stop("fast")
    try:
        api = registrar.clerk.get(server["base"] + "/api/titles/", timeout=30)
        page = registrar.clerk.get(server["base"] + "/registry/", timeout=30)
        health = requests.get(server["base"] + "/healthz", timeout=30)
    finally:
        cluster.start_again()
    assert api.status_code == page.status_code == health.status_code == 503
    assert {api.headers["Retry-After"], page.headers["Retry-After"]} == {"5"}
    assert health.headers["Retry-After"] == "5"
    assert api.json()["rule"] == "database_unavailable"
    assert 'data-rule="database_unavailable"' in page.text
    assert "Traceback" not in page.text
    assert requests.get(server["base"] + "/healthz", timeout=30).status_code == 200


def test_an_import_cut_off_by_the_database_going_down_writes_nothing(cluster, register, tmp_path):
    from tests.gis_layers.test_import_interrupted import ZONE, grid_of_parcels

    path = tmp_path / "parcels.gpkg"
    grid_of_parcels(path, features=20_000)
    # The grid's district, which the demo would otherwise bring.
    cluster.psql(
        "landledger_faults",
        "INSERT INTO registry_district (code, name, name_local, is_synthetic_code, attribution, "
        f"certificate_office, certificate_province) VALUES ('{ZONE[:6]}', 'Faults', '', true, "
        "'', '', '') ON CONFLICT (code) DO NOTHING",
    )
    command = [sys.executable, "manage.py", "import_layer", "parcels", str(path)]
    env = {**os.environ, "DATABASE_URL": register["url"]}

    def imported() -> int:
        with psycopg.connect(register["url"].replace("postgis://", "postgresql://")) as db:
            return db.execute(
                "SELECT count(*) FROM registry_parcel WHERE unit_code LIKE %s", [ZONE + "%"]
            ).fetchone()[0]

    for _ in range(ROUNDS):
        importing = subprocess.Popen(
            [*command, "--chunk-size", "2000"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for_import_transaction(cluster, importing)
        cluster.stop("immediate")
        time.sleep(DOWN_S)
        cluster.start_again()
        out, err = importing.communicate(timeout=120)
        assert importing.returncode != 0
        assert "nothing written; run the import again" in err, err[-2000:]
        assert "Traceback" not in err
        assert imported() == 0
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    assert imported() == 20_000
    assert_register_whole(register)


def wait_for_import_transaction(cluster: PrivateCluster, importing: subprocess.Popen) -> None:
    """Until the import's transaction is open: it takes its advisory lock first and holds it
    to the commit, so the whole import (reading, COPY, checks, writes) lies ahead. (Waiting
    for a COPY statement to be seen missed the short COPYs of a fast machine.)"""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert importing.poll() is None, importing.communicate()
        holding = cluster.psql(
            "landledger_faults",
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
        )
        if holding != "0":
            return
        time.sleep(0.05)
    raise AssertionError("the import never opened its transaction")


def test_the_server_killed_with_sigkill_under_load_leaves_nothing_half_written(register, server):
    with Crowd(server["base"], register["plan"]) as crowd:
        crowd.wait_for(3)
        for _ in range(ROUNDS):
            master = psutil.Process(server["process"].pid)
            for process in [*master.children(recursive=True), master]:
                process.send_signal(signal.SIGKILL)
            server["process"].wait()
            time.sleep(0.5)
            server["start"]()
            crowd.wait_for(3)
    assert_register_whole(register, crowd)
    assert crowd.answers()["no answer"] > 0, "the kill met no request"


def test_exhausted_connections_are_answered_503_database_busy(cluster, register, server):
    registrar = Registrar(server["base"], register["plan"]["registrars"][0])
    registrar.log_in()
    # New workers, with no connection of their own yet, behind a full database.
    load_test.stop_server(server["process"])
    url = register["url"].replace("postgis://", "postgresql://")
    held = []
    try:
        for _ in range(cluster.max_connections):
            try:
                held.append(psycopg.connect(url))
            except psycopg.OperationalError as refusal:
                assert "too many" in str(refusal) or "remaining connection slots" in str(refusal)
                break
        else:
            raise AssertionError("the database never ran out of connections")
        server["start"](healthy=False)
        api = registrar.clerk.get(server["base"] + "/api/titles/", timeout=30)
        page = registrar.clerk.get(server["base"] + "/registry/", timeout=30)
    finally:
        for connection in held:
            connection.close()
    assert api.status_code == page.status_code == 503
    assert api.json()["rule"] == "database_busy"
    assert 'data-rule="database_busy"' in page.text
    assert api.headers["Retry-After"] == page.headers["Retry-After"] == "5"
    # Connections free again: served as usual.
    assert registrar.clerk.get(server["base"] + "/api/titles/", timeout=30).status_code == 200


def test_a_full_disk_refuses_registrations_clearly_and_loses_nothing(cluster, register, server):
    """The register's tables on a tablespace of a small tmpfs, filled up: PostgreSQL's own
    "could not extend file: No space left on device", not a simulation."""
    # Inside the cluster's folder: the postgres user cannot reach into pytest's own.
    mount = cluster.root / "tiny"
    mount.mkdir()
    tables = [
        "registry_registrationact", "registry_acttitle", "registry_journalentry",
        "registry_right", "registry_rightholder", "registry_certificate", "registry_auditevent",
    ]  # fmt: skip
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        subprocess.run(["chown", "postgres:postgres", str(mount)], check=True)
        cluster.psql("postgres", f"CREATE TABLESPACE tiny LOCATION '{mount}'")
        for table in tables:
            cluster.psql("landledger_faults", f"ALTER TABLE {table} SET TABLESPACE tiny")
        filler = mount / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)

        registrar = Registrar(server["base"], register["plan"]["registrars"][1])
        registrar.log_in()
        titles = register["plan"]["registrars"][1]["titles"]
        for attempt in range(200):
            title_id, parties = titles[attempt % len(titles)]
            before = len(registrar.registered)
            full = attempt_transfer_until_disk_full(registrar, title_id, parties)
            if full is not None:  # (a Response is falsy when it is an error)
                break
            assert len(registrar.registered) == before + 1, registrar.problems
        else:
            raise AssertionError("the disk never filled up")
        assert full.headers["Retry-After"] == "5"
        assert full.json()["rule"] == "disk_full"
        assert "disk space" in full.json()["message"]
        filler.unlink()
        registrar.transfer(*titles[0])
        assert registrar.problems == []
        SEEN.extend(registrar.registered)
        assert_register_whole(register)
    finally:
        for table in tables:
            cluster.psql("landledger_faults", f"ALTER TABLE {table} SET TABLESPACE pg_default")
        cluster.psql("postgres", "DROP TABLESPACE IF EXISTS tiny")
        subprocess.run(["umount", str(mount)])


def attempt_transfer_until_disk_full(registrar: Registrar, title_id: int, parties: list[int]):
    """One transfer; the 503 answer if the disk filled up on the way, else ``None``."""
    original = registrar.call

    def call_without_retrying_503(session, method, path, **kwargs):
        headers = {
            "X-CSRFToken": session.cookies.get("csrftoken", ""),
            "Accept": "application/json",
        }
        response = session.request(
            method, registrar.base + path, headers=headers, timeout=60, **kwargs
        )
        if response.status_code == 503:
            raise DiskFull(response)
        return response

    registrar.call = call_without_retrying_503
    try:
        registrar.transfer(title_id, parties)
    except DiskFull as full:
        return full.response
    finally:
        registrar.call = original
    return None


class DiskFull(Exception):
    def __init__(self, response):
        super().__init__(response.status_code)
        self.response = response


def test_a_backup_restores_into_a_new_database_with_the_journal_and_counts_equal(cluster, register):
    drill = subprocess.run(
        ["bash", "scripts/restore_drill.sh"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": register["url"], "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "journal intact" in drill.stdout
    assert "every table has the same number of rows" in drill.stdout
    assert "restore drill passed" in drill.stdout


@pytest.mark.django_db
def test_an_upload_to_a_full_disk_is_a_clear_503_and_leaves_no_partial_file(
    client, settings, tmp_path
):
    """The upload folder on a 1 MiB tmpfs, and a 1.5 MiB file: the write fails for real."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from registry.roles import Role
    from tests.gis_layers.test_import_views import as_role, upload

    if unavailable_reason():
        pytest.skip(unavailable_reason())
    folder = tmp_path / "uploads"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)]).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        settings.LANDLEDGER_UPLOAD_DIR = str(folder)
        as_role(client, Role.REGISTRAR)
        big = SimpleUploadedFile("survey.geojson", b"{" + b" " * (3 * 2**19) + b"}")
        response = upload(client, big)
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert 'data-rule="disk_full"' in response.content.decode()
        assert [path for path in folder.rglob("*") if path.is_file()] == []
    finally:
        subprocess.run(["umount", str(folder)])
