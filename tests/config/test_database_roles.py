"""The role the web application serves as (scripts/setup_database.sh) reads and writes the
register's rows but owns none of its tables, so even a query it was tricked into running
cannot turn off, drop or replace a guard of the register: only the owner, which migrations
run as, could."""

import psycopg
import pytest
from django.db import connection

from tests.reliability.cluster import APP_ROLE

# Each is a way around a guard of the register; each needs the tables' owner.
WAYS_AROUND_THE_GUARDS = [
    "ALTER TABLE registry_right DISABLE TRIGGER registry_right_never_deleted",
    "ALTER TABLE registry_journalentry DISABLE TRIGGER ALL",
    "DROP TRIGGER registry_parcel_no_overlap ON registry_parcel",
    "TRUNCATE registry_journalentry",
    "CREATE OR REPLACE FUNCTION landledger_recording_secret() RETURNS text "
    "LANGUAGE sql AS $$ SELECT 'known' $$",
    "ALTER TABLE registry_rightholder DROP CONSTRAINT registry_rightholder_pkey CASCADE",
    "DROP TABLE registry_historyevent",
    "CREATE TABLE registry_shadow (id integer)",
]


@pytest.fixture
def as_app(db):
    """An autocommit connection to the test database as the application's role (``db``
    makes sure the test database is set up, and named in the settings, before this reads
    them)."""
    settings = connection.settings_dict
    try:
        app = psycopg.connect(
            host=settings["HOST"], port=settings["PORT"], dbname=settings["NAME"],
            user=APP_ROLE, password=APP_ROLE, autocommit=True,
        )  # fmt: skip
    except psycopg.OperationalError as error:
        pytest.skip(f"no {APP_ROLE} role here (scripts/setup_database.sh makes it): {error}")
    with app:
        yield app


def test_the_app_role_may_read_and_write_every_table_the_owner_made(as_app):
    """Default privileges grant the rows of every table a migration makes, now and later."""
    lacking = as_app.execute(
        """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          AND pg_get_userbyid(c.relowner) <> 'postgres'  -- PostGIS's own, read-only to all
          AND NOT (has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'INSERT')
                   AND has_table_privilege(c.oid, 'UPDATE')
                   AND has_table_privilege(c.oid, 'DELETE'))
        ORDER BY 1
        """
    ).fetchall()
    assert lacking == []
    tables = as_app.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'postgres'"
    ).fetchone()[0]
    assert tables > 50  # the register's, the layers' and Django's own
    owned = as_app.execute(
        "SELECT count(*) FROM pg_class WHERE pg_get_userbyid(relowner) = current_user"
    ).fetchone()[0]
    assert owned == 0
    with as_app.transaction(force_rollback=True):
        as_app.execute("SELECT count(*) FROM registry_right").fetchone()
        as_app.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date) "
            "VALUES ('role-probe', '', now())"
        )


@pytest.mark.parametrize("statement", WAYS_AROUND_THE_GUARDS)
def test_the_app_role_cannot_turn_off_or_replace_a_guard(as_app, statement):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_app.execute(statement)
