"""Import: parcels per second from a GeoPackage, beside ogr2ogr loading the same file.

Usage (from the repository root, as root or a user who may ``sudo -u postgres``)::

    .venv/bin/python bench/import_benchmark.py --features 1000000 --repeats 3

Generates, reproducibly from ``--seed``, a GeoPackage of N parcels in the scratch directory
(reused when it is already there): small non-overlapping star-shaped polygons of 4 to 8
corners, stored as MultiPolygon in EPSG:4490, each with a valid 28-character unit code in
district 990101 (10,000 parcels per subzone, 10 subzones per zone), land use 0801 and a name.

Works only in its own database, ``landledger_bench_import``, which it drops, clones again from
``landledger_template``, migrates and gives district 990101 before each measured write into
the register, so that every repeat inserts N parcels into the same empty register. (Deleting
the parcels instead would leave 2N more rows in the append-only history each time.) In each
repeat, one process after the other:

1. ``ogr2ogr`` loads the file into a bare table (no index, no constraint, no trigger);
2. ``psql`` copies that table into ``registry_parcel`` with one ``INSERT ... SELECT``, as the
   import's final statement does: with 1., the least a load into the register costs;
3. on a fresh copy, ``manage.py import_layer parcels --dry-run`` validates the file and
   writes nothing;
4. ``manage.py import_layer parcels`` imports it, all or nothing, into ``registry_parcel``.

Each is timed on the wall clock from start to exit; its peak memory is the "Maximum resident
set size" of ``/usr/bin/time -v``, and the private memory of its PostgreSQL backend is
sampled from ``/proc``. When the import runs at less than half of ogr2ogr's rate, a smaller
file (``--profile-features``) is imported once more inside this process, with timers around
the pipeline's stages and statements and EXPLAIN ANALYZE of its INSERT, and once under
cProfile. The figures are written to the section "Import: N parcels from a GeoPackage" of
``docs/benchmarks.md``.
"""

import argparse
import cProfile
import dataclasses
import hashlib
import io
import json
import os
import platform
import pstats
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from doc_sections import (  # noqa: E402  (a module beside this script)
    load_average,
    memory_gib,
    operating_system,
    recorded_command,
    replace_section,
)

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a file, the script's own folder is on the path, not the repository root.
    sys.path.insert(0, str(REPOSITORY))

from bench import benchdb  # noqa: E402  (after the path is set)
from bench.benchdb import BenchDatabase  # noqa: E402

DEFAULT_DATABASE = "landledger_bench_import"
# The database measured: the default, or the one --database names (set by main).
DATABASE = BenchDatabase(DEFAULT_DATABASE)
OGR_TABLE = "bench_bare_parcels"
# The import's INSERT (gis_layers/imports/staging.py, _write_parcels), from the bare table.
FLOOR_SQL = (
    "INSERT INTO registry_parcel (unit_code, district_id, land_use_id, name, address, geom, "
    "valid_from, source, is_synthetic) "
    "SELECT b.unit_code, d.id, b.land_use, b.name, '', b.geom, current_date, "
    f"'bench#' || b.fid, false FROM {OGR_TABLE} b "
    "JOIN registry_district d ON d.code = left(b.unit_code, 6)"
)
DOC = REPOSITORY / "docs" / "benchmarks.md"
DOC_WIDTH = 96
DEFAULT_SCRATCH = Path("var") / "bench-import"

# The file's parcels: a made-up division code (the demo's Helsinki district), and a grid of
# blocks of 100 x 100 cells, one block per subzone, ten subzones (a row of blocks) per zone.
DISTRICT = "990101"
LAND_USE = "0801"
BLOCK_SIDE = 100
PARCELS_PER_SUBZONE = BLOCK_SIDE * BLOCK_SIDE
SUBZONES_PER_ZONE = 10
MAX_FEATURES = 999 * SUBZONES_PER_ZONE * PARCELS_PER_SUBZONE
CELL_DEG = 0.0004  # side of one parcel's cell, degrees (about 34 m x 44 m at 39.5° N)
ORIGIN = (116.0, 39.5)  # south-west corner of the grid: longitude, latitude, degrees
# A corner lies 0.30-0.45 cells from its cell's centre, which moves at most 0.03 cells: every
# parcel stays 0.02 cells (about 1 m) inside its cell, so no two parcels touch.
RADIUS_CELLS = (0.30, 0.45)
CENTRE_JITTER_CELLS = 0.03
CORNERS = (4, 8)
# Random draws are keyed by the chunk, so a smaller file is the first part of a bigger one.
GENERATION_CHUNK = 50_000

SAMPLE_INTERVAL_S = 0.25  # sampling of the PostgreSQL backends' memory
RATIO_GOAL = 0.5  # LandLedger's features/s over ogr2ogr's that the import aims at
TOP_FUNCTIONS = 15  # rows of the cProfile table in the doc
TOP_STATEMENTS = 6  # rows of the slowest-statements table in the doc
PIPE = "\\|"  # a | inside a Markdown table cell
# The code whose speed is measured (the migrations: the schema and its triggers). Other work
# commits to this repository during a run; a change here invalidates the run's repeats.
MEASURED_CODE = (
    "gis_layers/imports",
    "gis_layers/management/commands/import_layer.py",
    "registry/codes.py",
    "migrations",
    "config/settings.py",
)
CREATE_RETRIES = 20  # createdb fails while another session is cloning the template too


# --- the database ------------------------------------------------------------------------


def recreate_database() -> float:
    """Drop ``landledger_bench_import`` if present, clone it from the template, migrate it and
    add district 990101. Returns the time it took, s (never part of a measurement)."""
    from django.db import connection

    started = time.monotonic()
    connection.close()  # dropdb refuses while this process is connected
    DATABASE.ensure(recreate=True)
    from registry.models import District

    District.objects.get_or_create(
        code=DISTRICT,
        defaults={"name": "Benchmark district", "is_synthetic_code": True},
    )
    return time.monotonic() - started


def rows(sql: str, params=()) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def scalar(sql: str, params=()):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


# --- the file ------------------------------------------------------------------------------


def unit_codes(first: int, count: int) -> list[str]:
    """Unit codes of parcels ``first`` .. ``first + count - 1`` (0-based): 10,000 a subzone,
    parcel numbers 00001-10000, well within the 5 digits' 99,999."""
    codes = []
    for index in range(first, first + count):
        block, within = divmod(index, PARCELS_PER_SUBZONE)
        zone, subzone = divmod(block, SUBZONES_PER_ZONE)
        codes.append(f"{DISTRICT}{zone + 1:03d}{subzone + 1:03d}GB{within + 1:05d}W00000000")
    return codes


def parcels_chunk(first: int, count: int, seed: int):
    """Parcels ``first`` .. ``first + count - 1`` as a GeoDataFrame in EPSG:4490."""
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng([seed, first // GENERATION_CHUNK])
    index = np.arange(first, first + count)
    block, within = np.divmod(index, PARCELS_PER_SUBZONE)
    # One empty cell between blocks, as a street: blocks stay apart on a map.
    column = (block % SUBZONES_PER_ZONE) * (BLOCK_SIDE + 1) + within % BLOCK_SIDE
    row = (block // SUBZONES_PER_ZONE) * (BLOCK_SIDE + 1) + within // BLOCK_SIDE
    jitter = rng.uniform(-CENTRE_JITTER_CELLS, CENTRE_JITTER_CELLS, size=(2, count))
    centre_x = ORIGIN[0] + (column + 0.5 + jitter[0]) * CELL_DEG
    centre_y = ORIGIN[1] + (row + 0.5 + jitter[1]) * CELL_DEG

    corners = rng.integers(CORNERS[0], CORNERS[1] + 1, size=count)
    owner = np.repeat(np.arange(count), corners)
    step = np.arange(owner.size) - np.repeat(np.cumsum(corners) - corners, corners)
    # Corner k sits at angle (k + u) / n of a turn, |u| <= 0.3: the angles keep increasing
    # around the centre, so the ring is star-shaped, never self-intersecting, always valid.
    turn = (step + rng.uniform(-0.3, 0.3, size=owner.size)) / corners[owner]
    angle = rng.uniform(0, 2 * np.pi, size=count)[owner] + 2 * np.pi * turn
    radius = rng.uniform(*RADIUS_CELLS, size=owner.size) * CELL_DEG
    coordinates = np.column_stack(
        (centre_x[owner] + radius * np.cos(angle), centre_y[owner] + radius * np.sin(angle))
    )
    rings = shapely.linearrings(coordinates, indices=owner)  # closed by shapely
    geometry = shapely.multipolygons(shapely.polygons(rings), indices=np.arange(count))
    return gpd.GeoDataFrame(
        {
            "unit_code": unit_codes(first, count),
            "land_use": LAND_USE,
            "name": [f"宗地 {number}" for number in index + 1],
        },
        geometry=geometry,
        crs="EPSG:4490",
    )


def generate_file(path: Path, *, features: int, seed: int) -> float:
    """Write the GeoPackage (layer ``parcels``) unless it is already there; returns the time
    it took, s (0 when reused). Written under a temporary name, so that an interrupted run
    never leaves a partial file to be reused."""
    import pyogrio
    from tqdm import tqdm

    if path.exists():
        return 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.gpkg")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    with tqdm(total=features, desc="generate", unit="parcel", unit_scale=True) as bar:
        for first in range(0, features, GENERATION_CHUNK):
            count = min(GENERATION_CHUNK, features - first)
            pyogrio.write_dataframe(
                parcels_chunk(first, count, seed),
                partial,
                layer="parcels",
                driver="GPKG",
                append=first > 0,
                # GeoPackage 1.2, which every GDAL since 2.2 reads without a warning (Debian's
                # ogr2ogr among them); newer GDALs would write 1.4.
                **({} if first else {"dataset_options": {"VERSION": "1.2"}}),
            )
            bar.update(count)
    partial.rename(path)
    return time.monotonic() - started


# --- measured runs -------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    """One measured process."""

    wall_s: float  # start to exit, wall clock
    peak_rss_mib: float  # the process's peak resident set (/usr/bin/time -v)
    backend_peak_mib: float  # peak private memory of its PostgreSQL backend(s), sampled
    output: str


class BackendSampler:
    """Samples, every SAMPLE_INTERVAL_S, the private memory (``RssAnon``: not the shared
    buffers every backend maps) of the client backends connected to the bench database, and
    keeps the largest sum seen. Uses its own connection, left out of the sums."""

    def __init__(self):
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(
            host=benchdb.HOST,
            port=benchdb.PORT,
            dbname=DATABASE.name,
            user=benchdb.ROLE,
            password=benchdb.PASSWORD,
            autocommit=True,
        ) as connection:
            while not self._stop.is_set():
                pids = connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                    [DATABASE.name],
                ).fetchall()
                total = sum(private_memory_kib(pid) for (pid,) in pids)
                self.peak_kib = max(self.peak_kib, total)
                self._stop.wait(SAMPLE_INTERVAL_S)


def private_memory_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("RssAnon:")), 0)
    except OSError:  # the backend ended between the query and the read
        return 0


def measure(command: list[str]) -> Run:
    """Run ``command`` from the repository root under ``/usr/bin/time -v``; fail loudly if it
    fails, since a failed import's time means nothing."""
    with (
        tempfile.NamedTemporaryFile(mode="r", suffix=".time") as usage,
        BackendSampler() as sampler,
    ):
        started = time.monotonic()
        completed = subprocess.run(
            ["/usr/bin/time", "-v", "-o", usage.name, *command],
            cwd=REPOSITORY,
            env=DATABASE.environment,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - started
        resources = usage.read()
    if completed.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(command)} failed ({completed.returncode}):\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", resources)[1])
    return Run(
        wall_s=wall,
        peak_rss_mib=peak_kib / 1024,
        backend_peak_mib=sampler.peak_kib / 1024,
        output=completed.stdout,
    )


def ogr2ogr_command(path: Path) -> list[str]:
    return [
        "ogr2ogr",
        "-f",
        "PostgreSQL",
        DATABASE.ogr_connection,
        str(path),
        "-nln",
        OGR_TABLE,
        "-overwrite",
        "-lco",
        "GEOMETRY_NAME=geom",
        "-lco",
        "SPATIAL_INDEX=NONE",
    ]


def floor_command() -> list[str]:
    # One statement, so psql commits it alone: the deferred checks run at its COMMIT.
    return [*DATABASE.psql(), "-c", FLOOR_SQL]


def import_command(path: Path, *, dry_run: bool, report: Path) -> list[str]:
    # The report goes to the scratch directory, not among an operator's reports in var/.
    return [
        sys.executable,
        "manage.py",
        "import_layer",
        "parcels",
        str(path),
        *(["--dry-run"] if dry_run else []),
        "--report",
        str(report),
    ]


@dataclasses.dataclass
class Series:
    """The repeats of one command."""

    label: str
    runs: list[Run] = dataclasses.field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return statistics.median(run.wall_s for run in self.runs)

    def rate(self, features: int) -> float:
        """Features per second, of the median time."""
        return features / self.wall_s

    @property
    def peak_rss_mib(self) -> float:
        return statistics.median(run.peak_rss_mib for run in self.runs)

    @property
    def backend_peak_mib(self) -> float:
        return statistics.median(run.backend_peak_mib for run in self.runs)


def count_rows(table: str) -> int:
    return scalar(f"SELECT count(*) FROM {table}")


def expect_rows(features: int, **tables: str) -> None:
    """Every load must have written every feature, or its time compares nothing."""
    counts = {name: count_rows(table) for name, table in tables.items()}
    if any(count != features for count in counts.values()):
        raise RuntimeError(f"expected {features} rows each: {counts}")


def combined(first: Series, then: Series, label: str) -> Series:
    """Two commands run one after the other in each repeat, as one."""
    return Series(
        label,
        [
            Run(
                wall_s=one.wall_s + two.wall_s,
                peak_rss_mib=max(one.peak_rss_mib, two.peak_rss_mib),
                backend_peak_mib=max(one.backend_peak_mib, two.backend_peak_mib),
                output="",
            )
            for one, two in zip(first.runs, then.runs, strict=True)
        ],
    )


def mean_area_m2(seed: int, sample: int = 2_000) -> float:
    """Mean geodesic area of the first ``sample`` parcels, m² (on the CGCS2000 ellipsoid)."""
    import pyproj

    geod = pyproj.Geod(ellps="GRS80")
    geometries = parcels_chunk(0, sample, seed).geometry
    return statistics.fmean(abs(geod.geometry_area_perimeter(g)[0]) for g in geometries)


def _git(*arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=REPOSITORY, capture_output=True, text=True
    ).stdout


def code_revision() -> str:
    """The commit measured, and the files of the measured code that differed from it."""
    commit = _git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = _git("status", "--porcelain", "--", *MEASURED_CODE)
    return f"commit {commit}" + (
        ", with uncommitted changes in "
        + ", ".join(sorted({line[3:] for line in changed.splitlines()}))
        if changed
        else ""
    )


def latest_migrations() -> dict[str, str]:
    """App → the last migration applied to the bench database, for the apps the import
    writes to: their triggers are part of what is measured."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT app, max(name) FROM django_migrations "
            "WHERE app IN ('registry', 'gis_layers') GROUP BY app ORDER BY app"
        )
        return dict(cursor.fetchall())


def code_fingerprint() -> str:
    """A digest of the measured code as it is on disk (committed or not) and of the
    migrations applied. Other work changes this repository while the benchmark runs: repeats
    measured on different code or schema would make their median meaningless."""
    from django.db import connection

    digest = hashlib.sha256()
    files = _git("ls-files", "--cached", "--others", "--exclude-standard", "--", *MEASURED_CODE)
    for name in sorted(set(files.split())):
        path = REPOSITORY / name
        if path.is_file():  # a file deleted but not yet committed is still listed
            digest.update(name.encode() + b"\0" + path.read_bytes())
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        digest.update(repr(cursor.fetchall()).encode())
    return digest.hexdigest()


class CodeWatch:
    """Fails the run when the code or schema differs from what the first repeat measured."""

    def __init__(self):
        self.first: str | None = None

    def check(self, when: str) -> None:
        current = code_fingerprint()
        if self.first is None:
            self.first = current
        elif current != self.first:
            raise RuntimeError(
                f"the measured code or migrations changed during the run ({when}): "
                "the repeats would not measure the same thing; run the benchmark again"
            )


# --- profiling -----------------------------------------------------------------------------


@dataclasses.dataclass
class Profile:
    """Where the time of one import of ``features`` parcels goes."""

    features: int
    wall_s: float  # the import with stage timers, no cProfile
    stages: dict[str, float]  # stage → s
    statements: list[tuple[str, float]]  # SQL (shortened) → s, in order, the slowest first
    insert: list[tuple[str, float]]  # the parcels' INSERT by EXPLAIN ANALYZE: part → s
    plan: list[str]  # its EXPLAIN ANALYZE output
    profiled_wall_s: float  # the import under cProfile
    top: list[tuple[str, int, float, float]]  # function, calls, own s, cumulative s


class StageTimer:
    """Wall-clock time spent inside wrapped functions, by stage name."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, stage: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started

        return timed

    def wrap_iterator(self, stage: str, function: Callable) -> Callable:
        """For a generator function: the time of producing each item, not of using it."""

        def timed(*args, **kwargs) -> Iterator:
            iterator = iter(function(*args, **kwargs))
            while True:
                started = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    self.seconds[stage] += time.perf_counter() - started
                yield item

        return timed


def _short(sql: str, width: int = 90) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@contextmanager
def instrumented_pipeline(timer: StageTimer, statements: list, explain: list):
    """Timers around the stages ``run_import`` calls (patched on its module, for this process
    only) and around each SQL statement. The parcels' INSERT runs under EXPLAIN ANALYZE with
    the deferred constraints made immediate, so that its plan reports the time of each trigger
    (the overlap check and the foreign keys otherwise run at COMMIT, where nothing reports
    them)."""
    from django.db import connection, connections

    from gis_layers.imports import pipeline

    patched = {
        "read_chunks": timer.wrap_iterator(
            "read the file (GDAL, Arrow → GeoDataFrame)", pipeline.read_chunks
        ),
        "check_chunk": timer.wrap("validate rows (check_chunk)", pipeline.check_chunk),
        "copy_rows": timer.wrap("COPY to the staging table (copy_rows)", pipeline.copy_rows),
        "create_staging": timer.wrap("staging table, lock", pipeline.create_staging),
        "check_staged": timer.wrap("checks in SQL (check_staged)", pipeline.check_staged),
        "write_staged": timer.wrap(
            "write to registry_parcel (write_staged)", pipeline.write_staged
        ),
        "file_sha256": timer.wrap("file SHA-256", pipeline.file_sha256),
        "record_audit": timer.wrap("ImportRun, audit", pipeline.record_audit),
    }
    originals = {name: getattr(pipeline, name) for name in patched}
    database = connections["default"]
    database.ensure_connection()
    commit = database.commit
    database.commit = timer.wrap("COMMIT", commit)

    def timed_sql(execute, sql, params, many, context):
        if sql.startswith("INSERT INTO registry_parcel "):
            # Deferred checks (the overlap trigger, the foreign keys) fire at the statement's
            # end instead of inside COMMIT, where EXPLAIN can time them.
            context["cursor"].execute("SET CONSTRAINTS ALL IMMEDIATE")
            # The rows are inserted all the same; only the count the import then reports
            # (EXPLAIN's lines, not rows) is off, in a database dropped right after.
            sql = "EXPLAIN (ANALYZE) " + sql
        started = time.perf_counter()
        try:
            result = execute(sql, params, many, context)
            if sql.startswith("EXPLAIN"):
                explain.extend(line for (line,) in context["cursor"].fetchall())
            return result
        finally:
            statements.append((_short(sql), time.perf_counter() - started))

    for name, wrapper in patched.items():
        setattr(pipeline, name, wrapper)
    try:
        with connection.execute_wrapper(timed_sql):
            yield
    finally:
        for name, original in originals.items():
            setattr(pipeline, name, original)
        database.commit = commit


def profile_import(path: Path, *, features: int, watch: CodeWatch) -> Profile:
    """Import ``path`` twice in this process, each time into a fresh database: with stage
    and statement timers, then under cProfile."""
    from gis_layers.imports.pipeline import run_import

    recreate_database()
    watch.check("before the profile")
    timer, statements, explain = StageTimer(), [], []
    with instrumented_pipeline(timer, statements, explain):
        started = time.perf_counter()
        report = run_import(kind_name="parcels", path=path)
        wall = time.perf_counter() - started
    if report.rejected or report.read != features:
        raise RuntimeError(f"the profiled import failed:\n{report.summary()}")
    stages = dict(timer.seconds)
    stages["other (Python between the stages)"] = wall - sum(stages.values())
    indexes = scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'registry_parcel'")
    recreate_database()
    watch.check("before the profile under cProfile")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(run_import, kind_name="parcels", path=path)
    profiled_wall = time.perf_counter() - started
    return Profile(
        features=features,
        wall_s=wall,
        stages=stages,
        statements=sorted(statements, key=lambda item: -item[1]),
        insert=insert_anatomy(explain, indexes=indexes),
        plan=explain,
        profiled_wall_s=profiled_wall,
        top=top_functions(profiler),
    )


def insert_anatomy(plan: list[str], *, indexes: int) -> list[tuple[str, float]]:
    """Split the INSERT's EXPLAIN ANALYZE into its parts, s: the SELECT feeding it, the
    writing of the rows themselves, each trigger; the last part is the whole statement."""

    def seconds(pattern: str, line: str) -> float | None:
        match = re.search(pattern, line)
        return float(match[1]) / 1000 if match else None

    insert_end = source_end = None
    parts, total = [], 0.0
    for line in plan:
        ends = seconds(r"actual time=[\d.]+\.\.([\d.]+)", line)
        if line.startswith("Insert on "):
            insert_end = ends
        elif line.startswith("  ->  ") and source_end is None:
            source_end = ends  # the Insert node's only child: the SELECT
        elif trigger := re.match(r"Trigger (?:for constraint )?(\S+): time=([\d.]+)", line):
            parts.append((f"trigger `{trigger[1]}`", float(trigger[2]) / 1000))
        elif (execution := seconds(r"^Execution Time: ([\d.]+) ms", line)) is not None:
            total = execution
    if insert_end is None or source_end is None:
        raise RuntimeError("unexpected EXPLAIN output:\n" + "\n".join(plan))
    parts = [
        ("the SELECT: staging table, joins with districts and parcels", source_end),
        (
            f"the rows: heap, {indexes} indexes, CHECK constraints (ST_IsValid among them), "
            "generated geodesic area",
            insert_end - source_end,
        ),
        *sorted(parts, key=lambda part: -part[1]),
    ]
    parts.append(("rest (end of statement)", total - sum(part[1] for part in parts)))
    parts.append(("whole statement", total))
    return parts


def top_functions(profiler: cProfile.Profile) -> list[tuple[str, int, float, float]]:
    """The functions with the most own time: (where, calls, own s, cumulative s)."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        where = name if filename == "~" else f"{_module_of(filename)}:{line} {name}"
        rows.append((where, calls, own, cumulative))
    return sorted(rows, key=lambda row: -row[2])[:TOP_FUNCTIONS]


def _module_of(filename: str) -> str:
    """A source file as a short, machine-independent name: the part after site-packages or
    the repository root."""
    path = Path(filename)
    for anchor in ("site-packages", REPOSITORY.name):
        if anchor in path.parts:
            return "/".join(path.parts[path.parts.index(anchor) + 1 :])
    return path.name


# --- the machine and the report --------------------------------------------------------------


def machine() -> dict[str, str]:
    import pyogrio
    import shapely

    system = operating_system()
    settings = {
        name: scalar(f"SHOW {name}")
        for name in (
            "server_version",
            "shared_buffers",
            "work_mem",
            "maintenance_work_mem",
            "max_wal_size",
            "synchronous_commit",
        )
    }
    ogr2ogr_version = subprocess.run(
        ["ogr2ogr", "--version"], capture_output=True, text=True, check=True
    ).stdout
    return {
        "cpus": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "memory": memory_gib(),
        "system": system,
        "postgresql": settings["server_version"].split()[0],
        "postgis": scalar("SELECT postgis_lib_version()"),
        "server_settings": ", ".join(
            f"{name} {value}" for name, value in settings.items() if name != "server_version"
        ),
        "ogr2ogr_gdal": ogr2ogr_version.split(",")[0].removeprefix("GDAL ").strip(),
        "pyogrio_gdal": pyogrio.__gdal_version_string__,
        "geos": shapely.geos_version_string,
        "python": platform.python_version(),
        "code": code_revision(),
        "migrations": ", ".join(f"{app} {name}" for app, name in latest_migrations().items()),
        "triggers": ", ".join(
            f"`{name}`"
            for (name,) in rows(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'registry_parcel'::regclass "
                "AND NOT tgisinternal ORDER BY tgname"
            )
        ),
    }


def _minutes(durations_s: list[float]) -> str:
    low, high = min(durations_s) / 60, max(durations_s) / 60
    return f"{low:.1f} min" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}–{high:.1f} min"


def _figures(values, digits: int = 1) -> str:
    return ", ".join(f"{value:.{digits}f}" for value in values)


def _prose(text: str) -> str:
    """One paragraph, re-wrapped to the doc's line length; a code span stays on one line."""
    # NUL stands in for the spaces inside `code` while wrapping, so no span is broken.
    joined = re.sub(
        r"`[^`]*`", lambda span: span.group().replace(" ", "\0"), " ".join(text.split())
    )
    wrapped = textwrap.fill(joined, width=DOC_WIDTH, break_long_words=False, break_on_hyphens=False)
    return wrapped.replace("\0", " ")


def section_heading(features: int) -> str:
    return f"## Import: {features:,} parcels from a GeoPackage"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def render_profile(profile: Profile, *, ogr2ogr_rate: float, import_rate: float) -> list[str]:
    total, features = profile.wall_s, profile.features
    per_parcel_us = 1e6 / features
    stages = _table(
        ["stage", "s", "share", "µs per parcel"],
        [
            [
                stage,
                f"{seconds:.2f}",
                f"{seconds / total:.0%}",
                f"{seconds * per_parcel_us:.1f}",
            ]
            for stage, seconds in sorted(profile.stages.items(), key=lambda item: -item[1])
        ],
    )
    statements = _table(
        ["statement", "s"],
        [
            [f"`{sql.replace('|', PIPE)}`", f"{seconds:.2f}"]
            for sql, seconds in profile.statements[:TOP_STATEMENTS]
        ],
    )
    insert = _table(
        ["part of the INSERT", "s", "µs per parcel"],
        [
            [part, f"{seconds:.2f}", f"{seconds * per_parcel_us:.1f}"]
            for part, seconds in profile.insert
        ],
    )
    functions = _table(
        ["function", "calls", "own s", "cumulative s"],
        [
            [f"`{where}`", f"{calls:,}", f"{own:.2f}", f"{cumulative:.2f}"]
            for where, calls, own, cumulative in profile.top
        ],
    )
    python_s = sum(
        seconds
        for stage, seconds in profile.stages.items()
        if stage.startswith(("read the file", "validate rows", "other"))
    )
    write_s = profile.insert[-1][1]
    return [
        f"### Where the import's time goes ({features:,} parcels)",
        _prose(
            f"""The first {features:,} parcels of the same generator, imported inside the
            benchmark's process (`run_import`, as `import_layer` calls it) into a fresh copy of
            the database: once with wall-clock timers around the stages `run_import` calls and
            around each SQL statement, once under cProfile. In the timed run the parcels'
            INSERT runs under `EXPLAIN (ANALYZE)` after `SET CONSTRAINTS ALL IMMEDIATE`, so
            that its triggers' times are reported (the overlap check and the foreign keys
            otherwise run inside COMMIT, which is then nearly empty). The timed run took
            {total:.1f} s ({features / total:,.0f} parcels/s, against {import_rate:,.0f}/s for
            the whole file above); under cProfile, which slows Python down, it took
            {profile.profiled_wall_s:.1f} s."""
        ),
        stages,
        "The slowest statements (the time of `execute` in the importing process):",
        statements,
        "The parcels' INSERT, by its EXPLAIN ANALYZE:",
        insert,
        _prose(
            f"""cProfile, the {TOP_FUNCTIONS} functions with the most own time. The first is
            the database driver waiting for the server: the time of the SQL above, seen from
            Python."""
        ),
        functions,
        _prose(
            f"""In short: reading and validating rows in Python took {python_s:.1f} s per
            {features:,} parcels, the COPY to the staging table
            {profile.stages.get("COPY to the staging table (copy_rows)", 0):.1f} s (Python
            encoding each row, and the server), the checks in SQL
            {profile.stages.get("checks in SQL (check_staged)", 0):.1f} s, and the INSERT
            into the register {write_s:.1f} s. That INSERT alone allows at most
            {features / write_s:,.0f} parcels/s, {features / write_s / ogr2ogr_rate:.3f} of
            ogr2ogr's rate: most of the distance from the goal is the register's own per-row
            work (its triggers, the validity check, the geodesic area, the indexes), which no
            change to the import's Python can remove."""
        ),
    ]


def render_section(
    *,
    command: str,
    arguments: argparse.Namespace,
    path: Path,
    file_mib: float,
    area_m2: float,
    host: dict[str, str],
    series: dict[str, Series],
    repeat_s: list[float],
    profile: Profile | None,
) -> str:
    features, repeats = arguments.features, arguments.repeats
    ogr2ogr, floor = series["ogr2ogr"], series["floor"]
    dry_run, real = series["dry run"], series["import"]
    ogr2ogr_rate, import_rate = ogr2ogr.rate(features), real.rate(features)
    file_name = path.as_posix()

    def row(what: str, item: Series) -> list[str]:
        return [
            what,
            f"{item.wall_s:.1f} ({_figures(r.wall_s for r in item.runs)})",
            f"{item.rate(features):,.0f}",
            f"{item.rate(features) / ogr2ogr_rate:.3f}",
            f"{item.peak_rss_mib:,.0f} ({_figures((r.peak_rss_mib for r in item.runs), 0)})",
            f"{item.backend_peak_mib:,.0f}",
        ]

    table = _table(
        [
            "what",
            "wall time, s: median (runs)",
            "features/s",
            "÷ ogr2ogr",
            "peak memory, MiB: median (runs)",
            "its PostgreSQL backend, MiB",
        ],
        [
            row("`ogr2ogr` into a bare table", ogr2ogr),
            row("`ogr2ogr`, then one `INSERT … SELECT` into `registry_parcel`", floor),
            row("`import_layer --dry-run` (validation only)", dry_run),
            row("**`import_layer`** (validated, all or nothing, into `registry_parcel`)", real),
        ],
    )
    ratio = import_rate / ogr2ogr_rate
    verdict = (
        f"meets the goal of {RATIO_GOAL}"
        if ratio >= RATIO_GOAL
        else f"misses the goal of {RATIO_GOAL} by a factor of {RATIO_GOAL / ratio:.0f}"
    )
    repeats_text = f"medians of {repeats} repeats" if repeats > 1 else "one repeat"
    sql_s = series["sql"].wall_s
    blocks = [
        section_heading(features),
        _prose(
            f"""Command, from the repository root, as root or as a user who may `sudo -u
            postgres` (it works only in the database `{DATABASE.name}`, which it drops and
            clones again from `{benchdb.TEMPLATE_DATABASE}`, migrates and gives district {DISTRICT}
            before each write into the register, so that every repeat inserts
            {features:,} parcels into the same empty register; deleting them instead would
            leave twice as many rows more in the append-only history each time):"""
        ),
        f"```sh\n{command}\n```",
        _prose(
            f"""The file, `{file_name}` ({file_mib:,.0f} MiB, GeoPackage 1.2, generated from
            seed {arguments.seed}): {features:,} parcels, star-shaped polygons of {CORNERS[0]}
            to {CORNERS[1]} corners, {area_m2:,.0f} m² on average, none touching another,
            stored as MultiPolygon in EPSG:4490, each with a valid unit code of district
            {DISTRICT} ({PARCELS_PER_SUBZONE:,} parcels per subzone, {SUBZONES_PER_ZONE}
            subzones per zone), land use {LAND_USE} and a name."""
        ),
        _prose(
            f"""In each repeat, one process after the other: ogr2ogr into a bare table (no
            spatial index, no constraint, no trigger; GDAL's PostgreSQL driver sends COPY);
            psql copying that table into `registry_parcel` with the import's own INSERT
            statement, in one transaction (the register's constraints, indexes, generated
            area and triggers, the deferred ones at COMMIT),
            which with ogr2ogr is the least a load into the register costs; then, on a fresh
            copy of the database, the dry run and the import. A repeat took
            {_minutes(repeat_s)} in all. Django runs with `DEBUG` off, as in production:"""
        ),
        "```sh\n"
        + shlex.join(ogr2ogr_command(path)[:4])
        + " \\\n    "
        + shlex.join(ogr2ogr_command(path)[4:])
        + f"\nPGPASSWORD={benchdb.PASSWORD} "
        + shlex.join(floor_command()[:-2])
        # Double quotes read better than shlex's quoting of the SQL's single quotes; the
        # statement holds nothing the shell would expand inside them.
        + f' -c \\\n    "{FLOOR_SQL}"'
        + f"\nDATABASE_URL={DATABASE.url} DEBUG=0 SECRET_KEY=... \\\n"
        f"    .venv/bin/python manage.py import_layer parcels {file_name} --dry-run\n"
        f"DATABASE_URL={DATABASE.url} DEBUG=0 SECRET_KEY=... \\\n"
        f"    .venv/bin/python manage.py import_layer parcels {file_name}\n```",
        _prose(
            f"""Machine: {host["cpus"]} CPUs (`nproc`), {host["memory"]} of memory,
            {host["system"]}, PostgreSQL {host["postgresql"]} with PostGIS
            {host["postgis"]} ({host["server_settings"]}); GDAL {host["ogr2ogr_gdal"]}
            (ogr2ogr) and {host["pyogrio_gdal"]} (pyogrio's, which `import_layer` reads
            with), GEOS {host["geos"]}, Python {host["python"]}; clients and server on the
            same machine, which other work shares: 1-minute load average {host["load"]}
            (`/proc/loadavg`). Code measured: {host["code"]}; migrations up to
            {host["migrations"]} (their triggers are part of what is measured)."""
        ),
        _prose(
            f"""Wall time from the start of the process to its exit (Python's and Django's
            start-up included), {repeats_text}, with the runs in brackets; features/s =
            {features:,} ÷ the median time; ÷ ogr2ogr = that rate over ogr2ogr's. Peak memory
            is that of the command's own process ("Maximum resident set size" of
            `/usr/bin/time -v`; of the larger of the two processes on the second line); the
            backend's is the private memory (`RssAnon`, without the shared buffers) of the
            PostgreSQL backend serving it, sampled every {SAMPLE_INTERVAL_S * 1000:.0f} ms,
            median of the peaks."""
        ),
        table,
        _prose(
            f"""The import ran at {import_rate:,.0f} parcels/s and ogr2ogr at
            {ogr2ogr_rate:,.0f} features/s: a ratio of {ratio:.3f}, which {verdict}. Most
            of the gap is not the import's: the `INSERT … SELECT` alone took
            {sql_s:.1f} s (median), {sql_s / real.wall_s:.0%} of the import's time, so even
            ogr2ogr followed by that one statement reaches only
            {floor.rate(features) / ogr2ogr_rate:.3f} of ogr2ogr's rate: for every parcel the
            register checks the geometry's validity, computes its geodesic area, updates its
            indexes and runs its triggers ({host["triggers"]}) and foreign-key checks, where
            ogr2ogr's table has none of these. Against that floor the
            import runs at {import_rate / floor.rate(features):.2f}. The dry run (read,
            validate, stage and check in SQL, no write) took
            {dry_run.wall_s / real.wall_s:.0%} of the import's time."""
        ),
    ]
    if profile is not None:
        blocks += render_profile(profile, ogr2ogr_rate=ogr2ogr_rate, import_rate=import_rate)
    return "\n\n".join(blocks) + "\n"


def write_section(section: str, heading: str) -> None:
    replace_section(section, heading=heading, doc=DOC)


# --- main ----------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--features", type=int, default=1_000_000, help="parcels in the generated file"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each command")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated file")
    parser.add_argument(
        "--scratch",
        type=Path,
        default=DEFAULT_SCRATCH,
        help="directory for the generated files and import reports (relative: to the "
        "repository root)",
    )
    parser.add_argument(
        "--profile-features",
        type=int,
        default=100_000,
        help="parcels of the profiled import, run when the ratio misses the goal (0: never)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile even when the ratio meets the goal",
    )
    parser.add_argument(
        "--database", default=DEFAULT_DATABASE, help=f"the database (default {DEFAULT_DATABASE})"
    )
    parser.add_argument("--summary", type=Path, help="also write the medians here, as JSON")
    parser.add_argument(
        "--no-doc", action="store_true", help="print the section instead of writing the doc"
    )
    arguments = parser.parse_args()
    if not 1 <= arguments.features <= MAX_FEATURES:
        parser.error(f"--features must be between 1 and {MAX_FEATURES:,}")
    if arguments.repeats < 1:
        parser.error("--repeats must be positive")
    if not 0 <= arguments.profile_features <= MAX_FEATURES:
        parser.error(f"--profile-features must be between 0 and {MAX_FEATURES:,}")
    return arguments


def file_path(scratch: Path, features: int, seed: int) -> Path:
    return scratch / f"parcels-{features}-seed{seed}.gpkg"


def main() -> None:
    arguments = parse_arguments()
    os.chdir(REPOSITORY)  # the scratch directory and the doc's commands are relative to it
    if shutil.which("ogr2ogr") is None:
        sys.exit("ogr2ogr is not on PATH (Debian: apt-get install gdal-bin)")
    load_at_start = load_average()
    command = recorded_command("bench/import_benchmark.py", sys.argv[1:])
    features = arguments.features
    path = file_path(arguments.scratch, features, arguments.seed)
    generated_s = generate_file(path, features=features, seed=arguments.seed)
    print(f"{path}: generated in {generated_s:.1f} s" if generated_s else f"{path}: reused")

    global DATABASE
    DATABASE = BenchDatabase(arguments.database)
    DATABASE.setup_django()
    from django.db import connection

    series = {name: Series(name) for name in ("ogr2ogr", "sql", "dry run", "import")}
    host = None
    watch = CodeWatch()

    def measured(repeat: int, name: str, command: list[str]) -> Run:
        watch.check(f"before repeat {repeat}, {name}")
        connection.close()  # this process stays out of the database while measuring
        run = measure(command)
        series[name].runs.append(run)
        print(
            f"repeat {repeat} {name}: {run.wall_s:.1f} s, {features / run.wall_s:,.0f}/s, "
            f"peak {run.peak_rss_mib:,.0f} MiB, backend {run.backend_peak_mib:,.0f} MiB",
            flush=True,
        )
        return run

    repeat_s = []
    for repeat in range(1, arguments.repeats + 1):
        repeat_started = time.monotonic()
        print(f"repeat {repeat}: database recreated in {recreate_database():.1f} s", flush=True)
        host = host or machine()
        measured(repeat, "ogr2ogr", ogr2ogr_command(path))
        measured(repeat, "sql", floor_command())
        expect_rows(features, bare=OGR_TABLE, register="registry_parcel")

        print(f"repeat {repeat}: database recreated in {recreate_database():.1f} s", flush=True)
        for name, dry in (("dry run", True), ("import", False)):
            report = arguments.scratch / f"report-{name.replace(' ', '-')}-{repeat}"
            run = measured(repeat, name, import_command(path, dry_run=dry, report=report))
        if f"written: {features} inserted, 0 updated, 0 unchanged" not in run.output:
            raise RuntimeError(f"the import did not write {features} parcels:\n{run.output}")
        expect_rows(features, register="registry_parcel")
        repeat_s.append(time.monotonic() - repeat_started)

    series["floor"] = combined(series["ogr2ogr"], series["sql"], "floor")
    import_rate = series["import"].rate(features)
    ratio = import_rate / series["ogr2ogr"].rate(features)
    print(
        f"median: import {import_rate:,.0f}/s, ogr2ogr {series['ogr2ogr'].rate(features):,.0f}/s, "
        f"ratio {ratio:.3f}; ogr2ogr + INSERT {series['floor'].rate(features):,.0f}/s"
    )

    if arguments.summary:
        arguments.summary.parent.mkdir(parents=True, exist_ok=True)
        arguments.summary.write_text(
            json.dumps(
                {
                    name: {
                        "wall_s": serie.wall_s,
                        "runs_s": [run.wall_s for run in serie.runs],
                        "per_s": serie.rate(features),
                        "peak_rss_mib": serie.peak_rss_mib,
                        "backend_peak_mib": serie.backend_peak_mib,
                    }
                    for name, serie in series.items()
                }
                | {"features": features, "file_mib": path.stat().st_size / 2**20},
                indent=1,
            )
        )
    profile = None
    profile_features = min(arguments.profile_features, features)
    if profile_features and (ratio < RATIO_GOAL or arguments.profile):
        profile_path = file_path(arguments.scratch, profile_features, arguments.seed)
        generate_file(profile_path, features=profile_features, seed=arguments.seed)
        profile = profile_import(profile_path, features=profile_features, watch=watch)
        print(f"profiled {profile_features} parcels: {profile.wall_s:.1f} s")
        print("\n".join(profile.plan))

    host["load"] = f"{load_at_start} at the start, {load_average()} at the end"
    section = render_section(
        command=command,
        arguments=arguments,
        path=path,
        file_mib=path.stat().st_size / 2**20,
        area_m2=mean_area_m2(arguments.seed),
        host=host,
        series=series,
        repeat_s=repeat_s,
        profile=profile,
    )
    if arguments.no_doc:
        print(section)
    else:
        heading = section_heading(features)
        write_section(section, heading)
        print(f"written to {DOC.relative_to(REPOSITORY)}, section {heading!r}")


if __name__ == "__main__":
    main()
