"""A session that cannot be saved because the database fails under it is answered 503 with
``Retry-After`` (the failure, which a client may retry), not 400 "session deleted".

The failure is PostgreSQL's own: another connection holds the session's row locked and the
request's connection gives up waiting (``lock_timeout``), an OperationalError as a database
going down mid-request is. It runs in a separate process with autocommit, as a server would,
so that the row is committed and the lock real."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.registry.committed import url_of_test_database

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import django
django.setup()
import psycopg
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from config.resilience import SessionMiddleware, server_error

session = SessionStore()
session["visits"] = 1
session.create()
dsn = sys.argv[1]
with psycopg.connect(dsn) as locker:
    locker.execute(
        "SELECT 1 FROM django_session WHERE session_key = %s FOR UPDATE", [session.session_key]
    )
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")

    def view(request):
        request.session["visits"] += 1
        return HttpResponse("counted")

    request = RequestFactory().get("/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = session.session_key
    try:
        SessionMiddleware(view)(request)
        print("saved")
    except Exception as error:
        print(type(error).__name__)
        response = server_error(request)
        print(response.status_code, response.get("Retry-After"))
session.delete()
"""


@pytest.mark.django_db
def test_a_session_the_database_fails_to_save_is_a_503_to_retry():
    url = url_of_test_database()
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, url.replace("postgis://", "postgresql://")],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # Django's own middleware raised SessionInterrupted here, which Django answers with 400.
    assert result.stdout.split() == ["OperationalError", "503", "5"], result.stdout
