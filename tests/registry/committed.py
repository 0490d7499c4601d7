"""Running code on a connection of its own, outside the test's rollback transaction.

What runs here commits, so other connections (threads, ``psql``) see it; it stays in the test
database until the session ends. Tests that use it work on their own district and parcels.
"""

import subprocess
import threading

from django.db import connection, connections


def url_of_test_database() -> str:
    """The test database as a ``DATABASE_URL``, for a process of its own (an import, a
    server) that works on it outside the test's transaction."""
    db = connection.settings_dict
    return f"postgis://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def in_own_connection(function, *args, **kwargs):
    """Run ``function`` in a thread with its own autocommit connection; return its result."""
    outcome = {}

    def run():
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # handed back to the caller's thread
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def as_database_superuser(sql: str) -> subprocess.CompletedProcess:
    """Run SQL on the test database as the cluster's superuser, which can bypass triggers."""
    return subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            connection.settings_dict["NAME"],
            "-c",
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
