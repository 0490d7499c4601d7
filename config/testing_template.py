"""The database that test databases are cloned from: the extensions' template, migrated and
loaded with the demo. A test process clones it in a second or two, where migrating a new test
database and loading the demo into it takes about half a minute, in every process.

Its name carries a fingerprint of the code that shapes its contents (migrations, models, the
demo loader and the packages they use): code that changed gets a template of its own, so no
test run clones one that other code built. ``manage.py prepare_test_template`` builds it."""

from datetime import UTC, datetime, timedelta

from django.db import connection

from config.code_version import fingerprint

PREFIX = "landledger_test_"
# Templates of other code are dropped once they are this old: a test run of other code (a
# second checkout) may still be cloning a newer one.
KEPT_FOR = timedelta(days=1)
# One build at a time on a server: two runs that meet wait for each other's template.
BUILD_LOCK = 0x11_7E57  # an arbitrary key of pg_advisory_lock, for this purpose only


def template_name() -> str:
    return PREFIX + fingerprint()


def server_cursor():
    """A cursor on the server's maintenance database: databases are created, renamed and
    dropped from outside them. (Django's own test set-up works through the same one.)"""
    return connection._nodb_cursor()


def database_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    return cursor.fetchone() is not None


def built_template() -> str | None:
    """The template for this code, if it has been built; None otherwise (also when the server
    cannot be reached: the test set-up then says so itself)."""
    name = template_name()
    try:
        with server_cursor() as cursor:
            return name if database_exists(cursor, name) else None
    except Exception:  # any failure to look means: not built
        return None


def stamp(cursor, name: str) -> None:
    built = datetime.now(UTC).isoformat(timespec="seconds")
    cursor.execute(f'COMMENT ON DATABASE "{name}" IS %s', [f"built {built}"])


def stale_templates(cursor, current: str) -> list[str]:
    """Templates of other code built more than ``KEPT_FOR`` ago (or unfinished builds)."""
    cursor.execute(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname LIKE %s AND datname <> %s",
        [PREFIX + "%", current],
    )
    cutoff = datetime.now(UTC) - KEPT_FOR
    stale = []
    for name, comment in cursor.fetchall():
        built = (comment or "").removeprefix("built ")
        try:
            is_stale = datetime.fromisoformat(built) < cutoff
        except ValueError:
            is_stale = True
        if is_stale:
            stale.append(name)
    return stale
