"""Every benchmark at one size of the synthetic city, in one command, written into
``docs/benchmarks.md`` beside the other sizes already measured.

Usage (from the repository root, as root or as a user who may ``sudo -u postgres``)::

    .venv/bin/python bench/harness.py --size M

Sizes: S (10,000 parcels), M (100,000), L (1,000,000). Each size has its own database,
``landledger_bench_s`` / ``_m`` / ``_l``, cloned from ``landledger_template`` and migrated
when missing, holding the seeded city of ``bench/synthetic_city.py`` (parcels, buildings,
shelters), the titles the read benchmark registers and the transfer benchmark's titles; the
import gets a database of its own (``landledger_bench_import_<size>``), dropped and cloned
again before each write. A second run reuses the city and the titles.

The steps, each a benchmark of its own run as a separate process (``--only`` picks some):

- ``city``: fill the city (``synthetic_city.py``), timed;
- ``tiles``: vector tiles cold and cached against bare ``ST_AsMVT`` (``tile_benchmark.py``);
- ``reads``: the parcel at a point (API), OGC API pages of 1,000, a title as of a date with
  100 versions, export to GeoPackage, each against its bare reference (``read_benchmark.py``);
- ``import``: a GeoPackage of as many parcels as the city into the register against
  ``ogr2ogr`` into a bare table (``import_benchmark.py``);
- ``transfers``: registered transfers per second with 16 concurrent clients against pgbench
  on the same database (``transfer_benchmark.py``);
- ``coverage``: shelter coverage against naive buffers (``coverage_benchmark.py``);
- ``space``: a space redistribution plan, its time and optimality gap (``space_benchmark.py``).

Each step writes its medians as JSON; the harness keeps them with the command, the machine
and the code's revision in ``bench/results/<size>.json`` and rewrites the section "Every
benchmark at sizes S, M and L" of ``docs/benchmarks.md`` from all the sizes on record.
"""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a file, the script's own folder is on the path, not the repository root.
    sys.path.insert(0, str(REPOSITORY))

from bench.benchdb import BenchDatabase  # noqa: E402
from bench.doc_sections import (  # noqa: E402
    load_average,
    memory_gib,
    operating_system,
    recorded_command,
    replace_section,
)
from bench.harness_report import HEADING, render  # noqa: E402

RESULTS = REPOSITORY / "bench" / "results"
SCRATCH = Path("var") / "bench"  # each step's own JSON, relative to the repository
STEPS = ("city", "tiles", "reads", "import", "transfers", "coverage", "space")
TRANSFER_CLIENTS = 16


@dataclasses.dataclass(frozen=True)
class Size:
    """What each benchmark does at one size of the city."""

    parcels: int
    tiles: int  # tiles measured, over zooms 12-17
    titles: int  # titles the read benchmark registers
    points: int  # points asked for the parcel at a point
    pages: int  # OGC pages of 1,000 parcels
    import_repeats: int
    cells: int  # coverage: population cells (100 m)
    shelters: int  # coverage: shelters
    walk_edges: int  # coverage on foot: street edges
    walk_shelters: int
    agencies: int  # space: agencies and their buildings
    buildings: int
    space_time_limit_s: int


SIZES = {
    "S": Size(10_000, tiles=60, titles=150, points=100, pages=3, import_repeats=3, cells=10_000,
              shelters=100, walk_edges=10_000, walk_shelters=200, agencies=50, buildings=20,
              space_time_limit_s=60),
    "M": Size(100_000, tiles=120, titles=300, points=200, pages=10, import_repeats=3,
              cells=100_000, shelters=1_000, walk_edges=30_000, walk_shelters=600,
              agencies=400, buildings=100, space_time_limit_s=60),
    "L": Size(1_000_000, tiles=200, titles=300, points=200, pages=10, import_repeats=2,
              cells=1_000_000, shelters=10_000, walk_edges=100_000, walk_shelters=2_000,
              agencies=2_000, buildings=500, space_time_limit_s=120),
}  # fmt: skip


def python() -> str:
    return sys.executable


def step_commands(size_name: str, size: Size, *, database: BenchDatabase, seed: int) -> dict:
    """Each step's command line; each writes its figures to ``summary_path(size, step)``."""
    summary = {step: str(summary_path(size_name, step)) for step in STEPS}
    import_database = f"landledger_bench_import_{size_name.lower()}"
    return {
        "city": [python(), "bench/synthetic_city.py", "--parcels", str(size.parcels),
                 "--seed", str(seed), "--database-url", database.url],
        "tiles": [python(), "bench/tile_benchmark.py", "--database", database.name,
                  "--parcels", str(size.parcels), "--seed", str(seed), "--tiles", str(size.tiles),
                  "--repeats", "3", "--wait", "600", "--no-profile", "--no-doc",
                  "--summary", summary["tiles"]],
        "reads": [python(), "bench/read_benchmark.py", "--database", database.name,
                  "--parcels", str(size.parcels), "--seed", str(seed),
                  "--titles", str(size.titles), "--points", str(size.points),
                  "--pages", str(size.pages), "--repeats", "3", "--summary", summary["reads"]],
        "import": [python(), "bench/import_benchmark.py", "--database", import_database,
                   "--features", str(size.parcels), "--seed", str(seed),
                   "--repeats", str(size.import_repeats), "--profile-features", "0",
                   "--scratch", str(SCRATCH / "import"), "--no-doc", "--summary", summary["import"]],
        "transfers": [python(), "bench/transfer_benchmark.py", "--database", database.name,
                      "--clients", str(TRANSFER_CLIENTS), "--runs", "3", "--no-doc",
                      "--summary", summary["transfers"]],
        "coverage": [python(), "bench/coverage_benchmark.py", "--cells", str(size.cells),
                     "--shelters", str(size.shelters), "--edges", str(size.walk_edges),
                     "--walk-shelters", str(size.walk_shelters), "--repeats", "3", "--no-write",
                     "--summary", summary["coverage"]],
        "space": [python(), "bench/space_benchmark.py", "--agencies", str(size.agencies),
                  "--buildings", str(size.buildings), "--seeds", "1",
                  "--time-limit", str(size.space_time_limit_s), "--no-write",
                  "--summary", summary["space"]],
    }  # fmt: skip


def summary_path(size_name: str, step: str) -> Path:
    return SCRATCH / size_name / f"{step}.json"


def shown(command: list[str]) -> str:
    """A command as the doc shows it: the virtualenv's Python, relative to the repository."""
    return shlex.join([".venv/bin/python" if part == python() else part for part in command])


def run_step(step: str, command: list[str], *, environment: dict) -> dict:
    """Run one step, its output passing through; its wall time and figures."""
    print(f"\n=== {step}: {shown(command)}", flush=True)
    started = time.monotonic()
    subprocess.run(command, cwd=REPOSITORY, env=environment, check=True)
    wall_s = time.monotonic() - started
    record = {"command": shown(command), "wall_s": wall_s}
    summary = (
        REPOSITORY / command[command.index("--summary") + 1] if "--summary" in command else None
    )
    if summary is not None:
        record["figures"] = json.loads(summary.read_text())
    print(f"=== {step}: {wall_s:.0f} s", flush=True)
    return record


def machine(database: BenchDatabase) -> dict:
    versions = subprocess.run(
        [*database.psql(), "-tA", "-c",
         "SELECT split_part(version(), ' ', 2) || ' / ' || "
         "(SELECT extversion FROM pg_extension WHERE extname = 'postgis')"],
        env=database.environment, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "memory": memory_gib(),
        "system": operating_system(),
        "python": platform.python_version(),
        "postgresql_postgis": versions,
    }


def code_revision() -> str:
    revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPOSITORY,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
    changed = subprocess.run(["git", "status", "--porcelain", "--", ".", ":!docs", ":!bench/results"],
                             cwd=REPOSITORY, capture_output=True, text=True).stdout.strip()  # fmt: skip
    return revision + (" with uncommitted changes" if changed else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=SIZES, required=True)
    parser.add_argument("--seed", type=int, default=1, help="seed of the city (default 1)")
    parser.add_argument("--only", nargs="+", choices=STEPS, help="run only these steps")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the doc's section")
    arguments = parser.parse_args()
    os.chdir(REPOSITORY)
    size = SIZES[arguments.size]
    database = BenchDatabase(f"landledger_bench_{arguments.size.lower()}")
    steps = arguments.only or list(STEPS)
    started = time.monotonic()
    load_at_start = load_average()
    database.ensure()
    commands = step_commands(arguments.size, size, database=database, seed=arguments.seed)

    path = RESULTS / f"{arguments.size}.json"
    record = json.loads(path.read_text()) if path.exists() and arguments.only else {"steps": {}}
    for step in steps:
        record["steps"][step] = run_step(step, commands[step], environment=database.environment)
        record["steps"][step]["revision"] = code_revision()
        # Kept after every step: a run cut off keeps what it measured.
        record.update(
            size=arguments.size,
            parcels=size.parcels,
            seed=arguments.seed,
            machine=machine(database),
            date=datetime.date.today().isoformat(),
        )
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1))
    total_s = time.monotonic() - started
    command = recorded_command("bench/harness.py", sys.argv[1:])
    if not arguments.only:
        record["whole_run"] = {
            "command": command,
            "wall_s": total_s,
            "load": f"{load_at_start} at the start, {load_average()} at the end",
        }
        path.write_text(json.dumps(record, indent=1))
    print(f"\n{command}: {total_s / 60:.1f} min", flush=True)
    if not arguments.no_doc:
        replace_section(render(load_results()), heading=HEADING)
        print(f"written to docs/benchmarks.md, section {HEADING!r}")


def load_results() -> dict[str, dict]:
    """Every size on record, smallest first."""
    return {
        name: json.loads((RESULTS / f"{name}.json").read_text())
        for name in SIZES
        if (RESULTS / f"{name}.json").exists()
    }


if __name__ == "__main__":
    main()
