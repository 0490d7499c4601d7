"""Transfers: registered acts per second with N concurrent approvers, beside pgbench.

Usage (from the repository root, as root or a user who may ``sudo -u postgres``)::

    .venv/bin/python bench/transfer_benchmark.py --clients 1 2 4 8 --transfers-per-client 50

Works only in its own database, ``landledger_bench``, cloned from ``landledger_template`` when
missing (``--recreate`` drops it first) and migrated. Synthetic titles (small non-overlapping
squares, each with a land-use right first registered through the services, so the journal is
complete) are created once and reused. For each client count N and each run, N x M transfers
of different titles are lodged and examined (untimed), then N processes, each with its own
database connection, approve M of them at the same time. The approval phase is timed on the
wall clock, from the moment all approvers are released to the last one finishing; each
approval is also timed on its own, and ``pg_stat_activity`` is sampled for approvers queued on
the journal's advisory lock. After every LandLedger run, ``pgbench -c N -j N -T S``
(TPC-B-like, scale 1, its tables in the same database) runs on the same machine. At the end
``manage.py verify_journal`` checks the journal, and the figures are written to the section
"Transfers: registered acts per second" of ``docs/benchmarks.md``.
"""

import argparse
import datetime
import json
import multiprocessing
import os
import queue
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from doc_sections import (  # noqa: E402  (a module beside this script)
    load_average,
    memory_gib,
    operating_system,
    recorded_command,
    replace_section,
)
from tqdm import tqdm

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a file, the script's own folder is on the path, not the repository root.
    sys.path.insert(0, str(REPOSITORY))

from bench import benchdb  # noqa: E402  (after the path is set)
from bench.benchdb import BenchDatabase  # noqa: E402

DEFAULT_DATABASE = "landledger_bench"
# The database measured: the default, or the one --database names (set by main; the
# approvers, spawned, are given its name).
DATABASE = BenchDatabase(DEFAULT_DATABASE)
DOC = REPOSITORY / "docs" / "benchmarks.md"
SECTION_HEADING = "## Transfers: registered acts per second"
DOC_WIDTH = 96
TABLE_HEADER = (
    "| clients | LandLedger acts/s, median (runs) | median approval latency "
    "| queued on the journal lock | pgbench tps, median (runs) | ratio |\n"
    "|---|---|---|---|---|---|"
)

# A made-up division code, so that the bench's parcels and certificates have their own office.
BENCH_DIVISION = "990100"
REGISTRAR = "bench-registrar"
SUPERVISOR = "bench-supervisor"
FIRST_REGISTERED = datetime.date(2024, 1, 1)
# Every transfer takes effect on the same day: a right may end on the day it began.
TRANSFER_EFFECTIVE = datetime.date(2024, 6, 1)
PARCEL_SIDE_DEG = 0.0005  # about 43 m x 56 m near Beijing
PARCEL_PITCH_DEG = 0.001  # twice the side, so neighbours never touch
PARCELS_PER_ROW = 100
# Longitude, latitude in degrees (EPSG:4490): west of the synthetic city of the harness, which
# at its largest reaches from 115.98° E, so that these parcels never overlap its own.
ORIGIN = (115.50, 39.00)
JOURNAL_LOCK_SQL = "hashtext('landledger.journal')"
APPROVER_APPLICATION = "landledger-bench-approver"  # how the sampler tells approvers apart
SAMPLE_INTERVAL_S = 0.05  # pg_stat_activity sampling during the approval phase
# Long enough for a slow approval phase, short enough that a stuck approver fails the run.
APPROVAL_TIMEOUT_S = 600


# --- the database ------------------------------------------------------------------------


# --- synthetic titles ----------------------------------------------------------------------


@dataclass(frozen=True)
class BenchTitle:
    """A synthetic title and the two parties its land-use right passes between."""

    title_id: int
    parties: tuple[int, int]


def _unit_code(number: int) -> str:
    # Zone 001, subzone 001 upwards: 99 999 parcel numbers per subzone.
    subzone, parcel_number = divmod(number - 1, 99_999)
    return f"{BENCH_DIVISION}001{subzone + 1:03d}GB{parcel_number + 1:05d}W00000000"


def _square(number: int):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    row, column = divmod(number - 1, PARCELS_PER_ROW)
    x = ORIGIN[0] + column * PARCEL_PITCH_DEG
    y = ORIGIN[1] + row * PARCEL_PITCH_DEG
    side = PARCEL_SIDE_DEG
    ring = ((x, y), (x + side, y), (x + side, y + side), (x, y + side), (x, y))
    return MultiPolygon(Polygon(ring), srid=4490)


def ensure_titles(count: int) -> list[BenchTitle]:
    """At least ``count`` titles in the bench district, each with a current land-use right
    held by its first party; what an earlier run created is reused."""
    from django.contrib.auth import get_user_model

    from registry.models import District, Parcel, Party, PartyKind, Right, RightKind
    from registry.roles import Role
    from registry.services.acts import approve_act, examine_act, lodge_act, title_of
    from registry.services.users import create_user_with_role

    users = get_user_model().objects
    for username, role in ((REGISTRAR, Role.REGISTRAR), (SUPERVISOR, Role.SUPERVISOR)):
        if not users.filter(username=username).exists():
            # Nobody signs in as these users: a random password keeps it so.
            password = secrets.token_urlsafe(24)
            create_user_with_role(username=username, password=password, role=role)
    registrar = users.get(username=REGISTRAR)
    supervisor = users.get(username=SUPERVISOR)

    district, _ = District.objects.get_or_create(
        code=BENCH_DIVISION,
        defaults={"name": "Benchmark district", "is_synthetic_code": True},
    )
    existing = set(Parcel.objects.filter(district=district).values_list("unit_code", flat=True))
    missing = [number for number in range(1, count + 1) if _unit_code(number) not in existing]
    # Parcels are spatial units, not acts: like the demo loader, they are written directly.
    Parcel.objects.bulk_create(
        [
            Parcel(
                unit_code=_unit_code(number),
                district=district,
                land_use_id="0801",
                name=f"Benchmark parcel {number}",
                geom=_square(number),
                valid_from=FIRST_REGISTERED,
                source="bench/transfer_benchmark.py",
            )
            for number in tqdm(missing, desc="parcels", unit="parcel", leave=False)
        ],
        batch_size=500,
    )
    parcels = {
        parcel.unit_code: parcel
        for parcel in Parcel.objects.filter(
            unit_code__in=[_unit_code(number) for number in range(1, count + 1)]
        )
    }

    wanted_parties = [f"BENCH{number:06d}{side}" for number in range(1, count + 1) for side in "AB"]
    known = set(
        Party.objects.filter(identifier__in=wanted_parties).values_list("identifier", flat=True)
    )
    Party.objects.bulk_create(
        [
            Party(
                kind=PartyKind.ENTERPRISE, name=f"Bench holder {identifier}", identifier=identifier
            )
            for identifier in wanted_parties
            if identifier not in known
        ],
        batch_size=1000,
    )
    party_ids = dict(
        Party.objects.filter(identifier__in=wanted_parties).values_list("identifier", "pk")
    )

    titles = []
    registered = set(
        Right.objects.filter(
            title__parcel__district=district,
            kind=RightKind.LAND_USE_RIGHT,
            valid_to__isnull=True,
        ).values_list("title_id", flat=True)
    )
    for number in tqdm(range(1, count + 1), desc="titles", unit="title"):
        title = title_of(parcels[_unit_code(number)])
        first = party_ids[f"BENCH{number:06d}A"]
        second = party_ids[f"BENCH{number:06d}B"]
        if title.pk not in registered:
            act = lodge_act(
                act_type="first",
                titles=[title],
                effective_date=FIRST_REGISTERED,
                lodged_by=registrar,
                payload={
                    "right": {
                        "kind": RightKind.LAND_USE_RIGHT,
                        "land_use_right_type": "allocated",
                        "holders": [{"party": first, "parts": 1}],
                        "share_denominator": 1,
                    }
                },
            )
            examine_act(act=act, examiner=registrar)
            approve_act(act=act, approver=supervisor)
        titles.append(BenchTitle(title.pk, (first, second)))
    return titles


def prepare_transfers(titles: list[BenchTitle], *, show_progress: bool = True) -> list[int]:
    """Lodge and examine one transfer of each title, to the party not holding it now; returns
    the act ids, in the order of ``titles``."""
    from django.contrib.auth import get_user_model

    from registry.models import Right, RightKind, Title
    from registry.services.acts import examine_act, lodge_act

    registrar = get_user_model().objects.get(username=REGISTRAR)
    ids = [bench.title_id for bench in titles]
    rights = {
        right.title_id: right
        for right in Right.objects.filter(
            title_id__in=ids, kind=RightKind.LAND_USE_RIGHT, valid_to__isnull=True
        ).prefetch_related("shares")
    }
    current = Title.objects.select_related("parcel__district").in_bulk(ids)
    acts = []
    for bench in tqdm(
        titles, desc="lodge+examine", unit="act", leave=False, disable=not show_progress
    ):
        right = rights[bench.title_id]
        (holder,) = [share.party_id for share in right.shares.all()]
        buyer = bench.parties[1] if holder == bench.parties[0] else bench.parties[0]
        act = lodge_act(
            act_type="transfer",
            titles=[current[bench.title_id]],
            effective_date=TRANSFER_EFFECTIVE,
            lodged_by=registrar,
            payload={
                "right": right.pk,
                "transferors": [holder],
                "holders": [{"party": buyer, "parts": 1}],
                "share_denominator": 1,
            },
        )
        acts.append(examine_act(act=act, examiner=registrar).pk)
    return acts


# --- one approval, looked at closely -------------------------------------------------------


@dataclass(frozen=True)
class ApprovalProfile:
    statements: int  # SQL statements one approval sends, BEGIN and COMMIT included
    after_journal_lock: int  # of which sent after the journal's advisory lock, COMMIT included


def profile_one_approval(title: BenchTitle) -> ApprovalProfile:
    """Approve one transfer with the statements captured (outside the timed runs)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from registry.models import RegistrationAct
    from registry.services.acts import approve_act

    (act_id,) = prepare_transfers([title], show_progress=False)
    supervisor = get_user_model().objects.get(username=SUPERVISOR)
    supervisor.has_perm("registry.decide_act")  # permissions cached, as in the timed runs
    with CaptureQueriesContext(connection) as captured:
        approve_act(act=RegistrationAct(pk=act_id), approver=supervisor)
    statements = [query["sql"] for query in captured.captured_queries]
    locked_at = next(index for index, sql in enumerate(statements) if JOURNAL_LOCK_SQL in sql)
    return ApprovalProfile(len(statements), len(statements) - locked_at - 1)


# --- the timed approval phase --------------------------------------------------------------


def approver_process(database: str, tasks, results, barrier) -> None:
    """One client: its own Django and database connection; approves each batch of act ids it
    is handed once every client is ready, and reports (start s, end s, latencies s)."""
    BenchDatabase(database).setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from registry.models import RegistrationAct
    from registry.services.acts import approve_act

    approver = get_user_model().objects.get(username=SUPERVISOR)
    # Permissions are read once per user object: do it before the clock starts.
    approver.has_perm("registry.decide_act")
    try:
        while (act_ids := tasks.get()) is not None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('application_name', %s, false)", [APPROVER_APPLICATION]
                    )
                barrier.wait(timeout=APPROVAL_TIMEOUT_S)
                latencies = []
                # time.monotonic is CLOCK_MONOTONIC, one clock for all processes on Linux.
                started = time.monotonic()
                for act_id in act_ids:
                    before = time.monotonic()
                    approve_act(act=RegistrationAct(pk=act_id), approver=approver)
                    latencies.append(time.monotonic() - before)
                finished = time.monotonic()
                results.put(("ok", started, finished, latencies))
            except Exception as error:  # handed to the parent, which stops the benchmark
                barrier.abort()
                results.put(("error", repr(error)))
    finally:
        connection.close()


@dataclass
class ApprovalRun:
    """One timed approval phase: acts approved, wall clock (s), each approval's latency (s)."""

    acts: int
    wall_s: float
    latencies_s: list[float]
    lock_waiters: list[int]  # approvers waiting for the journal lock, one count per sample

    @property
    def acts_per_s(self) -> float:
        return self.acts / self.wall_s


def approvers_waiting_for_journal() -> int:
    """How many approvers' backends wait on an advisory lock now: in a transfer's approval
    the only one taken is the journal's."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
            [APPROVER_APPLICATION],
        )
        return cursor.fetchone()[0]


class Approvers:
    """N approver processes, kept for all runs of one client count (started with ``spawn``,
    so that none inherits the parent's database connection)."""

    def __init__(self, clients: int):
        context = multiprocessing.get_context("spawn")
        self.results = context.Queue()
        self.barrier = context.Barrier(clients)
        self.tasks = [context.Queue() for _ in range(clients)]
        self.processes = [
            context.Process(
                target=approver_process, args=(DATABASE.name, tasks, self.results, self.barrier)
            )
            for tasks in self.tasks
        ]
        for process in self.processes:
            process.start()

    def run(self, act_ids: list[int]) -> ApprovalRun:
        """Approve ``act_ids``, split evenly between the clients, all starting together."""
        clients = len(self.tasks)
        for index, tasks in enumerate(self.tasks):
            tasks.put(act_ids[index::clients])
        outcomes = []
        lock_waiters = []
        deadline = time.monotonic() + APPROVAL_TIMEOUT_S
        while len(outcomes) < clients:
            try:
                outcomes.append(self.results.get(timeout=SAMPLE_INTERVAL_S))
            except queue.Empty:
                lock_waiters.append(approvers_waiting_for_journal())
                # A process that died (at start-up, say) never reports: do not wait for it.
                dead = [process.exitcode for process in self.processes if not process.is_alive()]
                if dead:
                    raise RuntimeError(f"an approver process exited ({dead})") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("an approver neither finished nor failed in time") from None
        errors = [outcome[1] for outcome in outcomes if outcome[0] == "error"]
        if errors:
            raise RuntimeError(f"approvals failed: {errors}")
        started = min(outcome[1] for outcome in outcomes)
        finished = max(outcome[2] for outcome in outcomes)
        latencies = [latency for outcome in outcomes for latency in outcome[3]]
        return ApprovalRun(len(act_ids), finished - started, latencies, lock_waiters)

    def close(self) -> None:
        for tasks in self.tasks:
            tasks.put(None)
        for process in self.processes:
            process.join(timeout=60)
            if process.is_alive():  # stuck in an approval: it would hold its locks forever
                process.terminate()


# --- pgbench ---------------------------------------------------------------------------------


def pgbench_binary() -> str:
    found = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    if not os.path.exists(found):
        sys.exit("pgbench not found: install postgresql-contrib (or postgresql-client)")
    return found


def pgbench(*arguments: str) -> str:
    """Run pgbench as the application role on the bench database; returns its stdout."""
    command = [
        pgbench_binary(),
        "-h",
        benchdb.HOST,
        "-p",
        benchdb.PORT,
        "-U",
        benchdb.ROLE,
        *arguments,
        DATABASE.name,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=DATABASE.environment)
    if result.returncode != 0:
        sys.exit(f"pgbench failed:\n{result.stderr}")
    return result.stdout


def pgbench_tps(clients: int, seconds: int) -> float:
    """Transactions per second of the TPC-B-like script, without connection time."""
    output = pgbench("-c", str(clients), "-j", str(clients), "-T", str(seconds))
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", output)
    if match is None:
        sys.exit(f"could not read tps from pgbench's output:\n{output}")
    return float(match.group(1))


# --- the machine and the report ----------------------------------------------------------------


def machine() -> dict[str, str]:
    from django.db import connection

    system = operating_system()
    with connection.cursor() as cursor:
        settings = {}
        for name in ("server_version", "fsync", "synchronous_commit", "wal_sync_method"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
        postgis = cursor.fetchone()[0]
    return {
        "cpus": str(len(os.sched_getaffinity(0))),
        "memory": memory_gib(),
        "system": system,
        "postgresql": settings["server_version"].split()[0],
        "postgis": postgis,
        "durability": (
            f"fsync {settings['fsync']}, synchronous_commit {settings['synchronous_commit']}, "
            f"wal_sync_method {settings['wal_sync_method']}"
        ),
    }


def verify_journal() -> str:
    """Run ``manage.py verify_journal`` on the bench database; returns its verdict line."""
    result = subprocess.run(
        [sys.executable, "manage.py", "verify_journal"],
        cwd=REPOSITORY,
        env=DATABASE.environment,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"verify_journal failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


@dataclass
class Configuration:
    """All runs with one client count: LandLedger's approval phases and pgbench's tps."""

    clients: int
    runs: list[ApprovalRun] = field(default_factory=list)
    pgbench_tps: list[float] = field(default_factory=list)

    @property
    def acts_per_s(self) -> float:
        return statistics.median(run.acts_per_s for run in self.runs)

    @property
    def runs_acts_per_s(self) -> list[float]:
        return [run.acts_per_s for run in self.runs]

    @property
    def latency_ms(self) -> float:
        return 1000 * statistics.median(latency for run in self.runs for latency in run.latencies_s)

    @property
    def queued(self) -> float:
        """Approvers waiting for the journal lock, mean over all samples of the runs."""
        samples = [count for run in self.runs for count in run.lock_waiters]
        return statistics.fmean(samples) if samples else 0.0

    @property
    def tps(self) -> float:
        return statistics.median(self.pgbench_tps)

    @property
    def ratio(self) -> float:
        return self.acts_per_s / self.tps


def spread(series) -> float:
    """The largest fastest-to-slowest quotient among several lists of rates (×)."""
    return max(max(rates) / min(rates) for rates in series)


def _figures(values: list[float], digits: int = 1) -> str:
    return ", ".join(f"{value:.{digits}f}" for value in values)


def _prose(text: str) -> str:
    """One paragraph, re-wrapped to the doc's line length; a code span stays on one line."""
    # NUL stands in for the spaces inside `code` while wrapping, so no span is broken.
    joined = re.sub(
        r"`[^`]*`", lambda span: span.group().replace(" ", "\0"), " ".join(text.split())
    )
    wrapped = textwrap.fill(joined, width=DOC_WIDTH, break_long_words=False, break_on_hyphens=False)
    return wrapped.replace("\0", " ")


def render_section(
    *,
    command: str,
    arguments: argparse.Namespace,
    host: dict[str, str],
    configurations: list[Configuration],
    profile: ApprovalProfile,
    journal: str,
) -> str:
    runs, per_client = arguments.runs, arguments.transfers_per_client
    rows = "\n".join(
        f"| {c.clients} | {c.acts_per_s:.1f} ({_figures(c.runs_acts_per_s)}) "
        f"| {c.latency_ms:.1f} ms | {c.queued:.1f} | {c.tps:.0f} ({_figures(c.pgbench_tps, 0)}) "
        f"| {c.ratio:.4f} |"
        for c in configurations
    )
    first, last = configurations[0], configurations[-1]
    scaling = (
        f"From {first.clients} to {last.clients} clients LandLedger's rate changed "
        f"×{last.acts_per_s / first.acts_per_s:.2f} and pgbench's ×{last.tps / first.tps:.2f}."
        if len(configurations) > 1
        else ""
    )
    connect = f"-h {benchdb.HOST} -U {benchdb.ROLE}"
    blocks = [
        SECTION_HEADING,
        _prose(
            f"""Command, from the repository root, as root or as a user who may `sudo -u
            postgres` (it works only in the database `{DATABASE.name}`: cloned from
            `{benchdb.TEMPLATE_DATABASE}` when missing, `--recreate` drops it first, then
            migrated):"""
        ),
        f"```sh\n{command}\n```",
        _prose(
            """Beside it, on the same database and machine, the script runs pgbench (once
            `-i`, then one run right after each LandLedger run):"""
        ),
        f"```sh\npgbench {connect} -i -q -s 1 {DATABASE.name}\n"
        f"pgbench {connect} -c N -j N -T {arguments.pgbench_seconds} {DATABASE.name}\n```",
        _prose(
            f"""Machine: {host["cpus"]} CPUs (`nproc`), {host["memory"]} of memory,
            {host["system"]}, PostgreSQL {host["postgresql"]} with PostGIS {host["postgis"]}
            ({host["durability"]}); clients and server on the same machine; 1-minute load
            average {host["load"]} of the benchmark (`/proc/loadavg`)."""
        ),
        _prose(
            f"""What is measured: {arguments.titles} synthetic titles (squares of about 43 m ×
            56 m, apart from each other), each with a land-use right first registered through
            `lodge_act`, `examine_act` and `approve_act`. For each client count N and each of
            {runs} runs, N × {per_client} transfers of different titles (never two of one
            title, so no conflicts) are lodged and examined, untimed; then N processes, each
            with its own database connection, are released together and call `approve_act`
            on {per_client} of them each. Acts/s is the number of approvals over the wall
            clock from the release to the last approval's commit; the latency is that of one
            `approve_act` call, the median over all approvals of the {runs} runs. Django runs
            with `DEBUG` off, as in production (with it on, every statement is also logged in
            memory). "Queued on the journal lock" is how many approvers' backends
            `pg_stat_activity` shows waiting for an advisory lock (in a transfer, only the
            journal's is taken), sampled every {SAMPLE_INTERVAL_S * 1000:.0f} ms during the
            approval phase, the mean over the samples of the {runs} runs. pgbench is its
            TPC-B-like script at scale 1; tps as it reports it, without connection time.
            Medians, with the {runs} runs in brackets; ratio = LandLedger acts/s ÷ pgbench
            tps."""
        ),
        f"{TABLE_HEADER}\n{rows}",
        _prose(
            f"""Between the runs of one configuration, the fastest was up to
            ×{spread(c.runs_acts_per_s for c in configurations):.1f} the slowest for
            LandLedger and ×{spread(c.pgbench_tps for c in configurations):.1f} for pgbench:
            compare medians, and the ratio of figures taken side by side, rather than single
            runs."""
        ),
        _prose(f"""The journal was verified afterwards and passed ("{journal}"):"""),
        f"```sh\nDATABASE_URL={DATABASE.url} \\\n"
        "    .venv/bin/python manage.py verify_journal\n```",
        _prose(
            f"""What this means for the ratio: each approval is one durable transaction, like
            a pgbench transaction, so both wait for one WAL flush at commit; the difference is
            the work around it. An approval sends {profile.statements} SQL statements, BEGIN
            and COMMIT included (pgbench's transaction: 7); the rows it writes to titles and
            rights also fire the history triggers; and Python (the ORM, the rules, the act's
            serialisation for the journal) runs between the statements. So the ratio compares
            the cost of a registered act with that of a minimal durable transaction on the
            same machine at the same moment: it is bound to stay well below 1, and what would
            point at a regression is the ratio falling from one run of this benchmark to the
            next, not its level."""
        ),
        _prose(
            f"""With more clients: from the journal's advisory lock to the end of the commit
            ({profile.after_journal_lock} of those statements, the COMMIT and its WAL flush
            included) approvals go one at a time, so that stretch caps the rate however many
            clients there are; more clients can only overlap the work before it, and the
            others queue (the "queued" column). pgbench at scale 1 is serialised too, on its
            single `pgbench_branches` row, but only over its last two statements and the
            commit. {scaling} The clients' Python and the server share the same
            {host["cpus"]} CPUs, on a machine that other work shares too, so with more clients
            than CPUs the processes also wait for a CPU."""
        ),
    ]
    return "\n\n".join(blocks) + "\n"


def write_section(section: str) -> None:
    replace_section(section, heading=SECTION_HEADING, doc=DOC)


# --- main --------------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=[1, 2, 4, 8],
        help="concurrent approvers (and pgbench clients), one configuration each",
    )
    parser.add_argument(
        "--transfers-per-client",
        type=int,
        default=50,
        help="transfers each client approves in one run",
    )
    parser.add_argument(
        "--titles",
        type=int,
        default=None,
        help="synthetic titles to have (default and minimum: max clients x transfers per client)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration")
    parser.add_argument(
        "--pgbench-seconds", type=int, default=10, help="duration of one pgbench run, s"
    )
    parser.add_argument(
        "--recreate",
        action="store_true",
        help="drop and re-create the database first, for figures from a fresh register",
    )
    parser.add_argument(
        "--database", default=DEFAULT_DATABASE, help=f"the database (default {DEFAULT_DATABASE})"
    )
    parser.add_argument("--summary", type=Path, help="also write the medians here, as JSON")
    parser.add_argument(
        "--no-doc", action="store_true", help="print the section instead of writing the doc"
    )
    arguments = parser.parse_args()
    needed = max(arguments.clients) * arguments.transfers_per_client
    if arguments.titles is None:
        arguments.titles = needed
    if arguments.titles < needed:
        parser.error(f"--titles must be at least {needed}: a run transfers different titles")
    if min(arguments.clients) < 1 or arguments.transfers_per_client < 1 or arguments.runs < 1:
        parser.error("clients, transfers per client and runs must be positive")
    return arguments


def main() -> None:
    arguments = parse_arguments()
    load_at_start = load_average()
    command = recorded_command("bench/transfer_benchmark.py", sys.argv[1:])
    global DATABASE
    DATABASE = BenchDatabase(arguments.database)
    DATABASE.ensure(recreate=arguments.recreate)
    DATABASE.setup_django()
    from django.db import connection

    titles = ensure_titles(arguments.titles)
    profile = profile_one_approval(titles[0])
    pgbench("-i", "-q", "-s", "1")
    host = machine()
    # The parent's connection would sit idle during the runs; the clients bring their own.
    connection.close()

    configurations = []
    for clients in arguments.clients:
        configuration = Configuration(clients)
        approvers = Approvers(clients)
        try:
            for run in range(1, arguments.runs + 1):
                batch = titles[: clients * arguments.transfers_per_client]
                act_ids = prepare_transfers(batch)
                connection.close()
                approval = approvers.run(act_ids)
                configuration.runs.append(approval)
                configuration.pgbench_tps.append(pgbench_tps(clients, arguments.pgbench_seconds))
                print(
                    f"clients {clients} run {run}: {approval.acts_per_s:.1f} acts/s "
                    f"({approval.acts} in {approval.wall_s:.2f} s), "
                    f"pgbench {configuration.pgbench_tps[-1]:.0f} tps",
                    flush=True,
                )
        finally:
            approvers.close()
        configurations.append(configuration)

    host["load"] = f"{load_at_start} at the start, {load_average()} at the end"
    journal = verify_journal()
    print(journal)
    if arguments.summary:
        arguments.summary.parent.mkdir(parents=True, exist_ok=True)
        arguments.summary.write_text(
            json.dumps(
                {
                    str(c.clients): {
                        "acts_per_s": c.acts_per_s,
                        "runs_acts_per_s": c.runs_acts_per_s,
                        "latency_ms": c.latency_ms,
                        "queued": c.queued,
                        "pgbench_tps": c.tps,
                        "ratio": c.ratio,
                    }
                    for c in configurations
                }
                | {"journal": journal},
                indent=1,
            )
        )
    section = render_section(
        command=command,
        arguments=arguments,
        host=host,
        configurations=configurations,
        profile=profile,
        journal=journal,
    )
    if arguments.no_doc:
        print(section)
    else:
        write_section(section)
        print(f"written to {DOC.relative_to(REPOSITORY)}, section {SECTION_HEADING!r}")


if __name__ == "__main__":
    main()
