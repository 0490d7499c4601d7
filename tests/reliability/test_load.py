"""The load test, briefly: ``bench/load_test.py`` for 15 seconds against gunicorn on the
test database (the long run is ten minutes: docs/reliability.md), served as the
application's role, which owns no table. No request may fail, the journal must verify, and
every act a registrar saw registered must be in the register exactly once."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.registry.committed import url_of_test_database

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.load


# ``db``, not only ``django_db_setup``: run on its own, this test would otherwise find the
# settings still naming the development database.
def test_a_short_load_serves_every_request_and_registers_each_act_once(db, tmp_path):
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        started = cursor.fetchone()[0]
    result = subprocess.run(
        [
            sys.executable, "bench/load_test.py", "--existing", "--database", connection.settings_dict["NAME"],
            "--duration", "15", "--registrars", "4", "--readers", "2", "--workers", "2",
            "--serve-as", "landledger_app", "--out", str(tmp_path),
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url_of_test_database()},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    _wait_for_the_sessions_opened_since(started)
    summary_file = tmp_path / "summary.json"
    assert summary_file.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(summary_file.read_text())
    assert summary["failures"] == 0, summary["failure_rows"]
    assert summary["requests"] >= 100
    assert summary["acts_registered"] >= 10
    assert summary["journal_ok"], summary["journal_output"]
    assert summary["problems"] == []
    assert result.returncode == 0, result.stdout[-3000:]


def _wait_for_the_sessions_opened_since(started, timeout_s: float = 10) -> None:
    """The server's and the script's database sessions end a moment after their processes:
    the test database can be dropped at the end of the run only once they have."""
    deadline = time.monotonic() + timeout_s
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_start >= %s",
                [started],
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)
