"""What every benchmark needs around its measurements: a database of its own cloned from the
test template, the environment of its Django processes, a server on a free port and plain
HTTP requests to it.

A benchmark works only in a database it names (never the register of ``make run``); the
harness gives each size its own (``bench/harness.py``).
"""

import http.client
import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
TEMPLATE_DATABASE = "landledger_template"
ROLE = "landledger"
PASSWORD = "landledger"
HOST = "127.0.0.1"
PORT = "5432"
CREATE_RETRIES = 20  # createdb fails while another session is cloning the template too
HTTP_TIMEOUT_S = 600
SERVER_START_TIMEOUT_S = 60


def as_postgres(*command: str) -> list[str]:
    """``command`` run as the cluster's superuser, who alone may clone the template."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return ["sudo", "-u", "postgres", *command]


class BenchDatabase:
    """One benchmark database: its name, URL, the environment of the Django processes that
    use it, and how to make it."""

    def __init__(self, name: str):
        self.name = name
        self.url = f"postgis://{ROLE}:{PASSWORD}@{HOST}:{PORT}/{name}"
        self.ogr_connection = f"PG:host={HOST} dbname={name} user={ROLE} password={PASSWORD}"
        # One secret key for every process of the run: a server must accept the session
        # cookie the benchmark's own process signed.
        self.environment = {
            **os.environ,
            "DATABASE_URL": self.url,
            "PGPASSWORD": PASSWORD,  # psql's, pgbench's
            # DEBUG off as in production (with it on, Django keeps every statement in memory);
            # settings then refuse the development key.
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        }

    def exists(self) -> bool:
        query = f"SELECT 1 FROM pg_database WHERE datname = '{self.name}'"
        result = subprocess.run(
            as_postgres("psql", "-X", "-tA", "-d", "postgres", "-c", query),
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip() == "1"

    def create_command(self) -> list[str]:
        return as_postgres("createdb", "-O", ROLE, "-T", TEMPLATE_DATABASE, self.name)

    def create(self) -> None:
        """Clone the template (which is migrated only as far as ``make test`` left it: call
        ``migrate`` after)."""
        for attempt in range(CREATE_RETRIES):
            created = subprocess.run(self.create_command(), capture_output=True, text=True)
            if created.returncode == 0:
                return
            # Only one session at a time may copy a template (tests clone it too): wait, retry.
            if "is being accessed by other users" not in created.stderr:
                raise RuntimeError(f"createdb failed: {created.stderr.strip()}")
            time.sleep(1 + attempt)
        raise RuntimeError(f"createdb failed {CREATE_RETRIES} times: {created.stderr.strip()}")

    def drop(self) -> None:
        if self.exists():
            subprocess.run(as_postgres("dropdb", self.name), check=True)

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=REPOSITORY,
            env=self.environment,
            check=True,
        )

    def ensure(self, *, recreate: bool = False) -> None:
        """The database, migrated; dropped and cloned anew first with ``recreate``. The
        caller's own connection must be closed before a drop (``dropdb`` refuses otherwise)."""
        if recreate:
            self.drop()
        if not self.exists():
            self.create()
        self.migrate()

    def setup_django(self) -> None:
        """Point this process's Django at the database; must run before anything imports the
        models."""
        os.environ.update(self.environment)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()

    def psql(self) -> list[str]:
        """psql on this database as the application's role, stopping at the first error."""
        return [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            HOST,
            "-U",
            ROLE,
            "-d",
            self.name,
        ]


# --- a server and requests to it ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def server_command(kind: str, port: int, *, workers: int = 1) -> list[str]:
    if kind == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
            "--timeout", str(HTTP_TIMEOUT_S), "--log-level", "warning",
        ]  # fmt: skip
    return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


def http_get(port: int, path: str, cookie: str = "") -> tuple[int, bytes, float]:
    """Status, body and the time from sending the request to having read the body, s. A new
    connection each time: gunicorn's sync worker closes it after every response."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT_S)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return response.status, body, time.perf_counter() - started


@contextmanager
def running_server(kind: str, *, environment: dict[str, str]):
    """The application served on a free port with ``environment``; yields the port."""
    port = free_port()
    process = subprocess.Popen(
        server_command(kind, port),
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the {kind} server stopped:\n{process.stderr.read()[-2000:]}")
            try:
                if http_get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the {kind} server did not answer in {SERVER_START_TIMEOUT_S} s"
                )
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()  # this process's own child, by its id
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def session_cookie(user) -> str:
    """A session of ``user``'s, made as a login makes one (without the password: the login
    form's throttling wants a request, and only the session matters here)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
