import io
from pathlib import Path

import pytest
from django.core.management import call_command

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load_demo_quietly() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_blocker):
    """Test databases are cloned from the template migrated and loaded with the demo for this
    code (``manage.py prepare_test_template``, which ``make test`` runs first) where it is
    built; otherwise from the extensions' template, then migrated and loaded here."""
    from django.conf import settings

    from config.testing_template import built_template

    with django_db_blocker.unblock():
        template = built_template()
    if template:
        settings.DATABASES["default"]["TEST"]["TEMPLATE"] = template


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the demo into the test database once (it is there already when the database was
    cloned from the built template); tests run in transactions that roll back, so it stays as
    loaded."""
    with django_db_blocker.unblock():
        load_demo_quietly()


@pytest.fixture
def demo(db):
    """The demo districts; reloaded if a transactional test flushed the database."""
    from gis_layers.models import DatasetLoad

    if DatasetLoad.objects.count() < 2:
        load_demo_quietly()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (it is not part of the repository)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The real hasher is deliberately slow; tests log in often.
    # Accounts made before this fixture (the browser tests' session) keep the real hasher.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture(autouse=True)
def english(settings):
    """Pages in English unless a test asks for Chinese (the default for users)."""
    settings.LANGUAGE_CODE = "en"


def pytest_collection_modifyitems(items):
    """Browser tests last in a serial run: their session commits the demo accounts to the test
    database (their live server reads only what is committed). Under ``make test`` (``-n 2
    --dist loadfile``) each process has a database of its own and takes whole files in turn,
    so other files may follow them there; no test relies on those accounts being absent."""
    items.sort(key=lambda item: "/e2e/" in str(item.path))
