import os
import subprocess
import sys
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from config.code_version import ROOT
from config.testing_template import (
    BUILD_LOCK,
    database_exists,
    server_cursor,
    stale_templates,
    stamp,
    template_name,
)


class Command(BaseCommand):
    help = (
        "Build the database that test databases are cloned from (migrated, with the demo), "
        "unless the one for this code exists; drop those of other code older than a day."
    )

    def handle(self, *args, **options):
        name = template_name()
        building = f"{name}_building"
        base = settings.DATABASES["default"]["TEST"]["TEMPLATE"]
        # The connection holds the build lock until it closes, after the rename.
        with server_cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [BUILD_LOCK])
            if database_exists(cursor, name):
                self.stdout.write(f"test template {name}: built already")
                return
            for stale in stale_templates(cursor, name):
                self.drop(cursor, stale)
            self.stdout.write(f"test template {name}: building from {base}")
            cursor.execute(f'CREATE DATABASE "{building}" TEMPLATE "{base}"')
            for step in (["migrate", "--no-input", "-v0"], ["load_demo"]):
                self.run_in(building, step)
            cursor.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            stamp(cursor, name)
        self.stdout.write(f"test template {name}: built")

    def run_in(self, database: str, step: list[str]) -> None:
        """``manage.py STEP`` against ``database``: in a process of its own, which leaves no
        connection to it behind (a template with a connection cannot be cloned)."""
        url = urlsplit(os.environ.get("DATABASE_URL", settings.DEFAULT_DATABASE_URL))
        environment = {**os.environ, "DATABASE_URL": url._replace(path=f"/{database}").geturl()}
        done = subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=environment)
        if done.returncode != 0:
            raise CommandError(f"{' '.join(step)} failed in {database}; the template is not built")

    def drop(self, cursor, name: str) -> None:
        try:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            self.stdout.write(f"dropped {name}, a test template of other code")
        except DatabaseError as error:  # in use by a test run of that code: next time
            self.stdout.write(f"kept {name} for now: {error}".strip())
