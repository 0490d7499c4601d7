"""A private PostgreSQL cluster for fault tests, so that restarting, crashing or starving
the database disturbs nobody else on the machine.

``initdb`` makes it in a temporary folder (owned by the ``postgres`` system user, as
PostgreSQL refuses to run as root), it listens on loopback only, trusts local connections
(nothing else can reach it) and is removed when stopped. It needs root (to act as
``postgres``) and the PostgreSQL 15 server binaries; :func:`unavailable_reason` says why not
when these are missing, for tests to skip with.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
EXTENSIONS = ("postgis", "pgrouting", "btree_gist")
ROLE = "landledger"
APP_ROLE = "landledger_app"  # serves the application, owning nothing (as on the main cluster)
APP_ROLE_GRANTS = Path(__file__).resolve().parents[2] / "scripts" / "app_role_grants.sql"


def unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "a private PostgreSQL cluster needs root (to run initdb as postgres)"
    if not (BIN / "initdb").exists() or shutil.which("runuser") is None:
        return f"PostgreSQL 15 server binaries ({BIN}) or runuser are missing"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateCluster:
    """One throw-away cluster: ``start()``, ``restart(mode)``, ``stop()``, ``url(db)``."""

    def __init__(self, *, max_connections: int = 40):
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="landledger-faults-"))
        self.data = self.root / "data"
        self.log = self.root / "postgresql.log"
        self.max_connections = max_connections

    # --- running commands as postgres --------------------------------------------------

    def as_postgres(self, *command: str, check: bool = True, **kwargs):
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=check,
            capture_output=True,
            text=True,
            **kwargs,
        )

    def psql(self, database: str, sql: str, /, **variables: str) -> str:
        """Run ``sql`` (a script, read from standard input so that psql puts in its
        ``variables``) as the superuser; its output."""
        settings = [f"--variable={name}={value}" for name, value in variables.items()]
        result = self.as_postgres(
            str(BIN.parent / "bin" / "psql"),
            "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", *settings,
            "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
            check=False, input=sql,
        )  # fmt: skip
        if result.returncode:
            raise AssertionError(f"psql on {database}: {sql}\n{result.stderr}")
        return result.stdout.strip()

    def pg_ctl(self, *arguments: str, check: bool = True):
        return self.as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *arguments,
            check=check,
        )  # fmt: skip

    # --- life cycle --------------------------------------------------------------------

    def start(self) -> "PrivateCluster":
        shutil.chown(self.root, "postgres", "postgres")
        self.as_postgres(
            str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale", "C.UTF-8",
        )  # fmt: skip
        settings = {
            "port": self.port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": self.max_connections,
            "superuser_reserved_connections": 3,
            # Only the process is crashed here, never the machine: the WAL in the page cache
            # survives, so these speed-ups lose nothing a test relies on.
            "fsync": "off",
            "full_page_writes": "off",
            "shared_buffers": "'64MB'",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self.pg_ctl("-w", "start")
        self.psql("postgres", f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{ROLE}'")
        self.psql("postgres", f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_ROLE}'")
        return self

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """A database owned by the application role, with the extensions; its URL."""
        clause = f" TEMPLATE {template}" if template else ""
        self.psql("postgres", f"CREATE DATABASE {name} OWNER {ROLE}{clause}")
        if template is None:
            for extension in EXTENSIONS:
                self.psql(name, f"CREATE EXTENSION IF NOT EXISTS {extension}")
            self.psql(name, f"GRANT ALL ON SCHEMA public TO {ROLE}")
            self.grant_rows_to_app_role(name)
        return self.url(name)

    def grant_rows_to_app_role(self, database: str) -> None:
        self.psql(
            database, APP_ROLE_GRANTS.read_text(), database=database, owner=ROLE, app_role=APP_ROLE
        )

    def url(self, database: str, *, role: str = ROLE) -> str:
        """``database``'s URL, logged in as the owner or as ``APP_ROLE``."""
        return f"postgis://{role}:{role}@127.0.0.1:{self.port}/{database}"

    def restart(self, mode: str = "fast") -> None:
        """``fast`` ends sessions politely; ``immediate`` is a crash: no checkpoint, the
        next start replays the WAL."""
        self.pg_ctl("-w", "-m", mode, "restart")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-w", "-m", mode, "stop", check=False)

    def start_again(self) -> None:
        self.pg_ctl("-w", "start")

    def wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"the private cluster did not come back; see {self.log}")

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
