"""Kept reports: ``/landuse/`` and ``/space/`` computed, then served from the report cache
(``gis_layers.report_cache``), and what the cache's change notes add to a write.

Usage (from the repository root, as root or a user who may ``sudo -u postgres``)::

    .venv/bin/python bench/report_cache_benchmark.py --repeats 5
    .venv/bin/python bench/report_cache_benchmark.py --parcels 100000 --repeats 3

Works only in its own database (``--database``, default ``landledger_bench_reports``): cloned
from ``landledger_template`` when missing, migrated and loaded with the demo; with
``--parcels`` also the synthetic city of that many parcels, with its plan and a building on
most parcels (``bench/synthetic_city.py``), unless it holds them already.

(a) computed: the page requested with no kept report (``DELETE FROM gis_layers_cachedreport``
    first), so the request computes the report and keeps it;
(b) kept: the same page requested again, served from the kept report.
Requests go through Django's test client in this process (the middleware, the view, the
template; no HTTP server), as a superuser, DEBUG off. Each repeat runs (a) once and (b) three
times; the figures are medians over the repeats. The kept report is checked to equal the
report computed afresh.

(c) the cost of the notes: one-row ``UPDATE``s of ``registry_district`` (each in its own
    transaction, as autocommit runs them) with its note trigger on, and with it off
    (``ALTER TABLE ... DISABLE TRIGGER``, turned on again afterwards), in alternating blocks.

The figures go to the section "Kept reports" of ``docs/benchmarks.md`` (``--no-doc`` prints it).
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a file, the script's own folder is on the path, not the repository root.
    sys.path.insert(0, str(REPOSITORY))

from doc_sections import load_average, operating_system, recorded_command, replace_section  # noqa: E402  (a module beside this script)

from bench import synthetic_city  # noqa: E402  (after the path is set)
from bench.benchdb import BenchDatabase  # noqa: E402

SECTION_HEADING = "## Kept reports: `/landuse/` and `/space/`"
PAGES = ("/landuse/", "/space/")
KEPT_READS = 3  # kept requests per repeat
NOTE_TRIGGER = "registry_district_report_input_change"
BLOCK = 100  # statements per block of (c)


def prepare(*, parcels: int, seed: int) -> None:
    from django.core.management import call_command

    from gis_layers.models import DatasetLoad

    if not DatasetLoad.objects.exists():
        call_command("load_demo")
    if parcels:
        synthetic_city.fill(parcels=parcels, seed=seed)
        synthetic_city.fill_plan_and_buildings(parcels=parcels, seed=seed, buildings=parcels)


def timed_get(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code}")
    return elapsed


def pages(repeats: int) -> dict[str, dict[str, float]]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    user = get_user_model().objects.filter(username="bench-reports").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench-reports")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    results = {}
    for path in PAGES:
        computed, kept = [], []
        for _ in range(repeats):
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM gis_layers_cachedreport")
            computed.append(timed_get(client, path))
            kept.append(statistics.median(timed_get(client, path) for _ in range(KEPT_READS)))
        results[path] = {"computed": statistics.median(computed), "kept": statistics.median(kept)}
    return results


def _without_timings(value):
    """The report less the solver's time (``solve_seconds``), which differs between runs."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k != "solve_seconds"}
    if isinstance(value, list):
        return [_without_timings(item) for item in value]
    return value


def check_agreement() -> dict[str, bool]:
    """The kept reports against the reports computed afresh, as JSON gives them back, the
    solver's time aside."""
    from django.contrib.auth import get_user_model

    from gis_layers import landuse_report, space_report

    user = get_user_model().objects.get(username="bench-reports")

    def alike(kept: dict, fresh: dict) -> bool:
        return _without_timings(kept) == _without_timings(json.loads(json.dumps(fresh)))

    return {
        "/landuse/": alike(landuse_report.cached_landuse_report(), landuse_report.landuse_report()),
        "/space/": alike(
            space_report.cached_space_report(user=user), space_report.space_report(user=user)
        ),
    }


def note_cost(statements: int) -> dict[str, float]:
    """Median time of a one-row UPDATE with the note trigger on and off, seconds."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM registry_district")
        district = cursor.fetchone()[0]
        times = {"on": [], "off": []}
        try:
            for block in range(2 * max(1, statements // BLOCK)):
                state = "on" if block % 2 == 0 else "off"
                action = "ENABLE" if state == "on" else "DISABLE"
                cursor.execute(f"ALTER TABLE registry_district {action} TRIGGER {NOTE_TRIGGER}")
                for _ in range(BLOCK):
                    started = time.perf_counter()
                    cursor.execute(
                        "UPDATE registry_district SET name = name WHERE id = %s", [district]
                    )
                    times[state].append(time.perf_counter() - started)
        finally:
            cursor.execute(f"ALTER TABLE registry_district ENABLE TRIGGER {NOTE_TRIGGER}")
    return {state: statistics.median(values) for state, values in times.items()}


def _ms(seconds: float) -> str:
    milliseconds = seconds * 1000
    return f"{milliseconds:,.0f}" if milliseconds >= 100 else f"{milliseconds:.3g}"


def section(arguments, *, command: str, figures: dict, agree: dict, notes: dict, facts: dict):
    rows = [
        f"| `{path}` | {_ms(times['computed'])} | {_ms(times['kept'])} | "
        f"{times['computed'] / times['kept']:.0f}× | {'yes' if agree[path] else 'NO'} |"
        for path, times in figures.items()
    ]
    extra = notes["on"] - notes["off"]
    city = (
        f"the demo and a synthetic city of {arguments.parcels:,} parcels (seed {arguments.seed}) "
        "with its plan and buildings"
        if arguments.parcels
        else "the demo"
    )
    return "\n".join(
        [
            SECTION_HEADING,
            "",
            "Command, from the repository root, as root or as a user who may `sudo -u postgres`"
            f" (it works only in the database `{arguments.database}`, cloned from"
            " `landledger_template` when missing, migrated and loaded):",
            "",
            "```sh",
            command,
            "```",
            "",
            f"Data: {city}; {facts['parcels']:,} current parcels, {facts['buildings']:,} current"
            f" buildings. Machine: {facts['machine']}; load average {facts['load_start']} at the"
            f" start, {load_average()} at the end. Code measured: {facts['code']}.",
            "",
            "(a) computed: the page with no kept report, so the request computes the report and"
            " keeps it; (b) kept: the page again, from the kept report. Through Django's test"
            " client in the benchmark's process (middleware, view, template; no HTTP server), as"
            f" a superuser, DEBUG off; medians of {arguments.repeats} repeats, each of one (a)"
            f' and {KEPT_READS} (b) (their median). "Agrees": the kept report equals the report'
            " computed afresh (the solver's time aside: the kept plan shows the time its solve took).",
            "",
            "| page | (a) computed, ms | (b) kept, ms | (a) ÷ (b) | agrees |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "(c) What the change notes add to a write: a one-row `UPDATE` of `registry_district`,"
            " in its own transaction, with the note trigger on and off, in alternating blocks of"
            f" {BLOCK} ({arguments.statements:,} statements each way): median"
            f" {notes['on'] * 1000:.3f} ms with it, {notes['off'] * 1000:.3f} ms without,"
            f" {extra * 1e6:+.0f} µs per statement that writes to a table a report reads (the"
            " trigger runs once per statement, not per row).",
            "",
        ]
    )


def facts_now() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM registry_parcel WHERE valid_to IS NULL), "
            "(SELECT count(*) FROM registry_building WHERE valid_to IS NULL), "
            "current_setting('server_version')"
        )
        parcels, buildings, server = cursor.fetchone()
    code = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPOSITORY
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "gis_layers", "registry", "config", "migrations"],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
    ).stdout.strip()
    return {
        "parcels": parcels,
        "buildings": buildings,
        "code": f"commit {code}" + (", with uncommitted changes" if dirty else ""),
        "machine": f"{operating_system()}, Python {platform.python_version()}, "
        f"PostgreSQL {server.split()[0]}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="landledger_bench_reports")
    parser.add_argument(
        "--parcels",
        type=synthetic_city.parse_size,
        default=0,
        help="parcels of a synthetic city added to the demo (default none)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--statements", type=int, default=2000, help="UPDATEs each way in (c)")
    parser.add_argument("--no-doc", action="store_true", help="print the section instead")
    arguments = parser.parse_args()
    command = recorded_command("bench/report_cache_benchmark.py", sys.argv[1:])
    load_start = load_average()
    database = BenchDatabase(arguments.database)
    database.ensure()
    database.setup_django()
    prepare(parcels=arguments.parcels, seed=arguments.seed)
    figures = pages(arguments.repeats)
    agree = check_agreement()
    notes = note_cost(arguments.statements)
    facts = {**facts_now(), "load_start": load_start}
    text = section(
        arguments, command=command.strip(), figures=figures, agree=agree, notes=notes, facts=facts
    )
    if arguments.no_doc:
        print(text)
    else:
        replace_section(text, heading=SECTION_HEADING)
        print(text)


if __name__ == "__main__":
    main()
