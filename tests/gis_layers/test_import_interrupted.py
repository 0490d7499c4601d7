"""An import killed in the middle (SIGKILL) leaves the database as it was; run again, it
completes; run a third time, it adds nothing. The import runs as a separate process against
the test database, as an operator would run it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from django.db import connection

from registry.models import Parcel
from tests.registry.committed import as_database_superuser, url_of_test_database

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
# Ten chunks: the kill meets the copy well before the last one.
FEATURES = 20_000
# A zone of district 990101 of its own, far from every other test's parcels.
ZONE = "990101007"
FILE_NAME = "survey.gpkg"


def grid_of_parcels(path: Path, features: int = FEATURES) -> None:
    index = np.arange(features)
    side = 0.0004
    x = 105.0 + (index % 500) * side * 1.1
    y = 35.0 + (index // 500) * side * 1.1
    subzones = 1 + index // 99_999
    codes = [
        f"{ZONE}{subzone:03d}GB{number % 99_999 + 1:05d}W00000000"
        for subzone, number in zip(subzones, index, strict=True)
    ]
    gpd.GeoDataFrame(
        {"unit_code": codes, "land_use": "0801"},
        geometry=shapely.box(x, y, x + side, y + side),
        crs=4490,
    ).to_file(path)


def command(path: Path) -> list[str]:
    return [
        sys.executable,
        "manage.py",
        "import_layer",
        "parcels",
        str(path),
        "--chunk-size",
        "2000",
    ]


def environment() -> dict:
    return {**os.environ, "DATABASE_URL": url_of_test_database()}


def imported_count() -> int:
    return Parcel.objects.filter(unit_code__startswith=ZONE).count()


def wait_until_the_import_writes(timeout_s: float = 60) -> None:
    """Until the importing session is inside its transaction: it holds the import's advisory
    lock from before its first chunk until it commits. (Watching for its COPY alone missed
    it at times: a chunk's COPY lasts milliseconds, between checks of a chunk that take longer.)"""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            # Statistics views are a snapshot per transaction, and the test is in one.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() "
                "AND a.datname = current_database() "
                "AND l.objid::bigint = (hashtext('landledger.import.parcels')::bigint & 4294967295)"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("the import never began its transaction")


@pytest.fixture
def imports_taken_out_afterwards():
    """The imports here run in processes of their own, so they commit: afterwards their
    parcels, history, tile notes, run records and audit rows are deleted again, so that the
    tests after this one see the demo and not 20,000 more parcels. The history and audit log
    are append-only by trigger; the superuser deletes with triggers off."""
    yield
    gone = f"SELECT id::text FROM registry_parcel WHERE unit_code LIKE '{ZONE}%'"
    history = f"registry_historyevent WHERE table_name = 'registry_parcel' AND row_pk IN ({gone})"
    as_database_superuser(
        "SET session_replication_role = replica; "
        "DELETE FROM gis_layers_tilechange WHERE transaction_id IN "
        f"(SELECT transaction_id FROM {history}); "
        f"DELETE FROM {history}; "
        f"DELETE FROM registry_parcel WHERE unit_code LIKE '{ZONE}%'; "
        f"DELETE FROM gis_layers_importrun WHERE file_name = '{FILE_NAME}'; "
        f"DELETE FROM registry_auditevent WHERE action = 'import' AND object_id = '{FILE_NAME}'"
    )


def test_killed_import_changes_nothing_and_a_rerun_completes_once(
    tmp_path, imports_taken_out_afterwards
):
    path = tmp_path / FILE_NAME
    grid_of_parcels(path)
    process = subprocess.Popen(
        command(path),
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_the_import_writes()
        time.sleep(1.5)  # a few chunks in: the whole import takes several seconds
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert imported_count() == 0

    completed = subprocess.run(
        command(path), cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr
    assert f"written: {FEATURES} inserted" in completed.stdout
    assert imported_count() == FEATURES

    again = subprocess.run(
        command(path), cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr
    assert f"written: 0 inserted, 0 updated, {FEATURES} unchanged" in again.stdout
    assert imported_count() == FEATURES
