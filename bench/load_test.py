"""Load test: mixed traffic against gunicorn for a fixed time, then the register is checked.

Usage (from the repository root)::

    .venv/bin/python bench/load_test.py --duration 600 --serve-as landledger_app --write-doc
    .venv/bin/python bench/load_test.py --duration 30 --registrars 4 --readers 4  # a short one

The server is ``gunicorn config.wsgi`` (``DEBUG`` off, as in production) on a free loopback
port, on its own database: ``--database`` (by default the one ``DATABASE_URL`` names, with
``_load`` appended), cloned from ``landledger_template`` when missing, migrated and loaded
with the demo; with ``--serve-as`` gunicorn logs in as that role (the long run: the
application's, which owns no table); ``--existing`` uses the database as it is (the test suite's short run does,
on its test database). Synthetic titles (``bench/transfer_benchmark.py``'s squares, each with a
first-registered land-use right) are shared out among the registrars, so that no two of them
ever act on the same title. Accounts are made for this run with random passwords.

``bench/locustfile.py`` then runs for ``--duration`` seconds: ``--registrars`` registrars each
transferring their titles back and forth through the API (lodge → examine → approve by a
supervisor's session) and ``--readers`` readers asking for vector tiles, OGC API items,
searches and titles and parcels as of past dates. Locust's own figures are read from its CSV.

Afterwards ``manage.py verify_journal`` must pass, and every act a registrar saw registered
must be in the register exactly once: registered, sealed by one journal entry, and the
source of exactly one new right; and the database must hold no registered act of these
accounts that no client saw. The exit status is non-zero when anything failed: a request
with an unexpected answer, the journal, or the acts. ``--write-doc`` writes the figures into
the section "Load" of ``docs/reliability.md``.
"""

import argparse
import csv
import datetime
import json
import math
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPOSITORY = Path(__file__).resolve().parent.parent
BENCH = REPOSITORY / "bench"
for folder in (REPOSITORY, BENCH):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from doc_sections import load_average, memory_gib, operating_system, replace_section  # noqa: E402

DOC = REPOSITORY / "docs" / "reliability.md"
SECTION_HEADING = "## Load: ten minutes of mixed traffic"
TEMPLATE_DATABASE = "landledger_template"
DEFAULT_URL = "postgis://landledger:landledger@127.0.0.1:5432/landledger"
USERNAME_PREFIX = "load-"
READER_ROLES = ("planner", "auditor", "civil_defence_officer")
PAST_DATES = ["2024-01-01", "2024-06-30", "2025-03-01"]


def database_url(name: str) -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", DEFAULT_URL))
    return urlunsplit(parts._replace(path="/" + name))


def as_role(url: str, role: str) -> str:
    """``url`` logged in as ``role``, whose password is its name (as scripts/setup_database.sh
    makes the application's role)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{role}@{host}"))


def default_database() -> str:
    return urlsplit(os.environ.get("DATABASE_URL", DEFAULT_URL)).path.lstrip("/") + "_load"


def manage(url: str, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "manage.py"), *arguments],
        env={**os.environ, "DATABASE_URL": url},
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=check,
    )


def ensure_database(name: str) -> None:
    """Create ``name`` from the template (as the application role, which may) if missing,
    then migrate it and load the demo (both do nothing when already done)."""
    import psycopg

    parts = urlsplit(database_url("postgres"))
    with psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    ) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            print(f"creating database {name} from {TEMPLATE_DATABASE}")
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DATABASE}')
    print(f"migrating {name} and loading the demo")
    manage(database_url(name), "migrate", "--no-input", "-v0")
    manage(database_url(name), "load_demo")


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def make_plan(*, registrars: int, readers: int, titles_per_registrar: int) -> dict:
    """Accounts (new random passwords), titles per registrar, and what readers ask for."""
    from transfer_benchmark import ensure_titles

    from registry.models import Parcel, Title
    from registry.roles import Role
    from registry.services.users import create_user_with_role

    def account(name: str, role: Role) -> tuple[str, str]:
        password = secrets.token_urlsafe(18)
        create_user_with_role(username=USERNAME_PREFIX + name, password=password, role=role)
        return USERNAME_PREFIX + name, password

    titles = ensure_titles(registrars * titles_per_registrar)
    plan: dict = {"registrars": [], "readers": []}
    for number in range(registrars):
        username, password = account(f"registrar-{number:02d}", Role.REGISTRAR)
        supervisor, supervisor_password = account(f"supervisor-{number:02d}", Role.SUPERVISOR)
        own = titles[number::registrars]
        plan["registrars"].append(
            {
                "username": username,
                "password": password,
                "supervisor": supervisor,
                "supervisor_password": supervisor_password,
                "titles": [[bench.title_id, list(bench.parties)] for bench in own],
            }
        )
    for number in range(readers):
        role = READER_ROLES[number % len(READER_ROLES)]
        username, password = account(f"{role}-{number:02d}", Role(role))
        plan["readers"].append({"username": username, "password": password, "role": role})

    parcels = list(Parcel.objects.filter(valid_to__isnull=True).order_by("pk"))
    step = max(1, len(parcels) // 200)
    sample = parcels[::step]
    plan["parcels"] = [parcel.unit_code for parcel in sample]
    plan["bboxes"] = [_around(parcel.geom.extent, 0.003) for parcel in sample]
    plan["tiles"] = sorted(
        {_tile(parcel.geom.centroid, zoom) for parcel in sample for zoom in (14, 16)}
    )
    plan["read_titles"] = list(
        Title.objects.filter(parcel__isnull=False).order_by("pk").values_list("pk", flat=True)[:300]
    )
    plan["dates"] = [*PAST_DATES, datetime.date.today().isoformat()]
    words = {parcel.unit_code[:12] for parcel in sample}
    words |= {(parcel.name or parcel.address or "")[:6] for parcel in sample}
    plan["search_terms"] = sorted(word for word in words if len(word) >= 2)
    return plan


def _around(extent: tuple[float, float, float, float], margin: float) -> list[float]:
    xmin, ymin, xmax, ymax = extent
    return [xmin - margin, ymin - margin, xmax + margin, ymax + margin]


def _tile(point, zoom: int) -> tuple[int, int, int]:
    """The web-mercator tile holding a lon/lat point."""
    lon, lat = point.x, point.y
    n = 2**zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return zoom, x, y


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    url: str,
    port: int,
    workers: int,
    threads: int,
    log: Path,
    *,
    healthy: bool = True,
    secret_key: str | None = None,
) -> subprocess.Popen:
    """gunicorn on ``url``, once it answers: ``/healthz`` 200 (or, with ``healthy`` false,
    any answer at all, for a database that is meant to be failing). A server started again
    with the same ``secret_key`` keeps its users' sessions."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "0",
        "SECRET_KEY": secret_key or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Plain HTTP on loopback: the cookies must travel without TLS here.
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LANDLEDGER_BASEMAP_URL": "",
        # The production server's own settings (config/gunicorn.conf.py), sized here.
        "LANDLEDGER_BIND": f"127.0.0.1:{port}",
        "LANDLEDGER_WORKERS": str(workers),
        "LANDLEDGER_THREADS": str(threads),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "config/gunicorn.conf.py",
        "config.wsgi:application",
    ]
    server = subprocess.Popen(
        command, cwd=REPOSITORY, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped at start; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return server
        except urllib.error.HTTPError:
            if not healthy:
                return server
            time.sleep(0.5)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    server.kill()
    raise SystemExit("gunicorn did not answer /healthz within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def run_locust(*, host: str, users: int, duration: int, plan_path: Path, out: Path) -> int:
    env = {
        **os.environ,
        "LOAD_PLAN": str(plan_path),
        "LOAD_ACTS_OUT": str(out / "registered.txt"),
    }
    command = [
        sys.executable, "-m", "locust", "-f", str(BENCH / "locustfile.py"), "--headless",
        "--host", host, "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{duration}s", "--stop-timeout", "30", "--csv", str(out / "load"),
        "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    return subprocess.run(command, cwd=REPOSITORY, env=env).returncode


def read_figures(out: Path) -> dict:
    """Locust's aggregated row and the rows per request name, from its stats CSV."""
    with (out / "load_stats.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_name = {}
    for row in rows:
        by_name[(row["Type"] + " " + row["Name"]).strip()] = {
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "median_ms": row["50%"],
            "p95_ms": row["95%"],
            "p99_ms": row["99%"],
            "max_ms": f"{float(row['Max Response Time']):.0f}",
            "rps": f"{float(row['Requests/s']):.1f}",
        }
    failures = []
    failures_csv = out / "load_failures.csv"
    if failures_csv.exists():
        with failures_csv.open(newline="") as handle:
            failures = list(csv.DictReader(handle))
    return {"total": by_name.pop("Aggregated"), "by_name": by_name, "failure_rows": failures}


# Each query counts what must never exist: an act half-registered, or a title whose right
# was written twice or lost. Together with verify_journal they say "whole or absent".
REGISTER_CHECKS = {
    "registered acts without a journal entry": """
        SELECT count(*) FROM registry_registrationact a WHERE a.status = 'registered'
        AND NOT EXISTS (SELECT 1 FROM registry_journalentry j WHERE j.act_id = a.id)""",
    "journal entries of acts not registered": """
        SELECT count(*) FROM registry_journalentry j
        JOIN registry_registrationact a ON a.id = j.act_id WHERE a.status <> 'registered'""",
    "rights registered or ended by acts not registered": """
        SELECT count(*) FROM registry_right r JOIN registry_registrationact a
        ON a.id = r.registered_by_id OR a.id = r.cancelled_by_id WHERE a.status <> 'registered'""",
    "registered transfers that did not register exactly one right": """
        SELECT count(*) FROM registry_registrationact a
        WHERE a.status = 'registered' AND a.act_type = 'transfer'
        AND (SELECT count(*) FROM registry_right r WHERE r.registered_by_id = a.id) <> 1""",
    "transferred titles without exactly one current land-use right": """
        SELECT count(*) FROM (SELECT DISTINCT t.title_id FROM registry_acttitle t
        JOIN registry_registrationact a ON a.id = t.act_id WHERE a.act_type = 'transfer') x
        WHERE (SELECT count(*) FROM registry_right r WHERE r.title_id = x.title_id
        AND r.kind = 'land_use_right' AND r.valid_to IS NULL) <> 1""",
}


def register_problems(url: str, seen: list[int], *, after_act: int = 0) -> list[str]:
    """What is wrong with the register after a run: the checks above, and the acts clients
    saw registered against those the database holds as registered for the run's accounts
    (acts numbered above ``after_act``: an earlier run's are not this one's)."""
    import psycopg

    parts = urlsplit(url)
    problems = []
    with psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/"),
    ) as connection:
        for what, sql in REGISTER_CHECKS.items():
            if count := connection.execute(sql).fetchone()[0]:
                problems.append(f"{count} {what}")
        in_database = {
            row[0]
            for row in connection.execute(
                "SELECT a.id FROM registry_registrationact a JOIN auth_user u "
                "ON u.id = a.lodged_by_id WHERE a.status = 'registered' AND u.username LIKE %s "
                "AND a.id > %s",
                [USERNAME_PREFIX + "%", after_act],
            )
        }
    unique = set(seen)
    if len(unique) != len(seen):
        problems.append(f"{len(seen) - len(unique)} acts reported registered twice")
    if missing := sorted(unique - in_database):
        problems.append(f"acts reported registered but not registered: {missing[:10]}")
    if unseen := sorted(in_database - unique):
        problems.append(f"acts registered that no client saw registered: {unseen[:10]}")
    return problems


def check_register(url: str, registered: list[int], after_act: int) -> dict:
    """verify_journal, and each act a client saw registered in the register exactly once."""
    journal = manage(url, "verify_journal", check=False)
    return {
        "journal_ok": journal.returncode == 0,
        "journal_output": (journal.stdout + journal.stderr).strip().splitlines()[-1:],
        "acts_registered": len(set(registered)),
        "problems": register_problems(url, registered, after_act=after_act),
    }


def served_as(role: str | None) -> str:
    return f", logged in as `{role}`, which owns no table" if role else ""


def write_doc(command: str, args, figures: dict, register: dict, started: str) -> None:
    total = figures["total"]
    lines = [
        SECTION_HEADING,
        "",
        f"Command: `{command}` (measured {started}; {operating_system()}, {os.cpu_count()} cores, "
        f"{memory_gib()}, load average {load_average()} at the end; the machine is shared).",
        "",
        f"gunicorn (gthread, {args.workers} workers x {args.threads} threads, `DEBUG` off) on "
        f"its own database{served_as(args.serve_as)}; locust on the same machine: "
        f"{args.registrars} registrars "
        f"(lodge → examine → approve through the API, each on its own titles) and "
        f"{args.readers} readers (planners, auditors, civil-defence officers) for "
        f"{args.duration} s.",
        "",
        "| requests served | failed | requests/s | median | p95 | p99 | max | acts registered "
        "| verify_journal | acts in the register exactly once |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {total['requests']} | {total['failures']} | {total['rps']} | {total['median_ms']} ms "
        f"| {total['p95_ms']} ms | {total['p99_ms']} ms | {total['max_ms']} ms "
        f"| {register['acts_registered']} | {'passed' if register['journal_ok'] else 'FAILED'} "
        f"| {'yes' if not register['problems'] else 'NO: ' + '; '.join(register['problems'])} |",
        "",
        "Latency per request (ms):",
        "",
        "| request | count | failed | median | p95 | p99 | max |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| `{name}` | {row['requests']} | {row['failures']} | {row['median_ms']} "
            f"| {row['p95_ms']} | {row['p99_ms']} | {row['max_ms']} |"
            for name, row in sorted(figures["by_name"].items())
        ),
        "",
    ]
    replace_section("\n".join(lines), heading=SECTION_HEADING, doc=DOC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=600, help="seconds of traffic")
    parser.add_argument("--registrars", type=int, default=16)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--titles-per-registrar", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database", default=None, help="default: DATABASE_URL's name + _load")
    parser.add_argument("--existing", action="store_true", help="use the database as it is")
    parser.add_argument(
        "--serve-as",
        default=None,
        metavar="ROLE",
        help="the database role gunicorn logs in as (default: DATABASE_URL's), e.g. "
        "landledger_app, which owns no table",
    )
    parser.add_argument("--write-doc", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="folder for locust's CSV files")
    parser.add_argument(
        "--plan-only",
        type=Path,
        default=None,
        help="only make the accounts and titles, write the plan there",
    )
    args = parser.parse_args(argv)

    name = args.database or default_database()
    url = database_url(name)
    if not args.existing:
        ensure_database(name)
    setup_django(url)
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = args.out or Path(tempfile.mkdtemp(prefix="landledger-load-"))
    out.mkdir(parents=True, exist_ok=True)
    plan = make_plan(
        registrars=args.registrars,
        readers=args.readers,
        titles_per_registrar=args.titles_per_registrar,
    )
    plan_path = args.plan_only or out / "plan.json"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    if args.plan_only:
        return 0

    from django.db import connections
    from django.db.models import Max

    from registry.models import RegistrationAct

    after_act = RegistrationAct.objects.aggregate(last=Max("pk"))["last"] or 0
    connections.close_all()  # the server's workers need the connections, not this process
    port = free_port()
    served = as_role(url, args.serve_as) if args.serve_as else url
    server = start_server(served, port, args.workers, args.threads, out / "gunicorn.log")
    try:
        code = run_locust(
            host=f"http://127.0.0.1:{port}",
            users=args.registrars + args.readers,
            duration=args.duration,
            plan_path=plan_path,
            out=out,
        )
    finally:
        stop_server(server)
    registered_file = out / "registered.txt"
    registered = (
        [int(line) for line in registered_file.read_text().split()]
        if registered_file.exists()
        else []
    )
    figures = read_figures(out)
    register = check_register(url, registered, after_act)
    summary = {
        "database": name,
        "locust_exit": code,
        **{
            key: figures["total"][key]
            for key in ("requests", "failures", "median_ms", "p95_ms", "p99_ms", "max_ms", "rps")
        },
        **register,
        "failure_rows": figures["failure_rows"][:10],
        "out": str(out),
    }
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if args.write_doc:
        command = "bench/load_test.py " + shlex.join(argv if argv is not None else sys.argv[1:])
        write_doc(command, args, figures, register, started)
    ok = code == 0 and figures["total"]["failures"] == 0 and register["journal_ok"]
    return 0 if ok and not register["problems"] and registered else 1


if __name__ == "__main__":
    sys.exit(main())
