"""The template test databases are cloned from: named by a fingerprint of the code that
shapes it, and templates of other code dropped once they are a day old."""

from datetime import UTC, datetime, timedelta

import pytest

from config import code_version
from config.testing_template import PREFIX, server_cursor, stale_templates


def write(root, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def code_tree(tmp_path):
    for relative in (
        "pyproject.toml",
        "constraints.txt",
        "scripts/setup_database.sh",
        "scripts/app_role_grants.sql",
        "registry/models.py",
        "tests/x.py",
    ):
        write(tmp_path, relative, "# one\n")
    return tmp_path


def test_the_fingerprint_follows_the_code_that_shapes_the_database(code_tree):
    first = code_version.fingerprint(code_tree)
    assert code_version.fingerprint(code_tree) == first
    write(code_tree, "tests/x.py", "# a test changed\n")
    assert code_version.fingerprint(code_tree) == first
    write(code_tree, "registry/migrations/0099_new.py", "# a migration\n")
    after_migration = code_version.fingerprint(code_tree)
    assert after_migration != first
    write(code_tree, "constraints.txt", "django==9.9\n")
    after_upgrade = code_version.fingerprint(code_tree)
    assert after_upgrade != after_migration
    write(code_tree, "scripts/app_role_grants.sql", "-- a grant more\n")
    assert code_version.fingerprint(code_tree) != after_upgrade


@pytest.fixture
def databases_of_other_code():
    """Three databases named like templates: built two days ago, built now, and a build that
    never finished (no stamp). Dropped afterwards."""
    names = {age: f"{PREFIX}zz_{age}" for age in ("old", "new", "unfinished")}
    stamps = {
        "old": (datetime.now(UTC) - timedelta(days=2)).isoformat(timespec="seconds"),
        "new": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with server_cursor() as cursor:
        for age, name in names.items():
            cursor.execute(f'CREATE DATABASE "{name}"')
            if age in stamps:
                cursor.execute(f'COMMENT ON DATABASE "{name}" IS %s', [f"built {stamps[age]}"])
    yield names
    with server_cursor() as cursor:
        for name in names.values():
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.mark.django_db
def test_only_templates_of_other_code_a_day_old_or_unfinished_are_stale(databases_of_other_code):
    names = databases_of_other_code
    with server_cursor() as cursor:
        stale = set(stale_templates(cursor, current=names["new"]))
        assert {names["old"], names["unfinished"]} <= stale
        assert names["new"] not in stale
        # The current template is never stale, however old.
        assert names["old"] not in stale_templates(cursor, current=names["old"])
