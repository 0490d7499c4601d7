"""Vector tiles: the endpoint ``/tiles/parcels/{z}/{x}/{y}.pbf`` against the bare ``ST_AsMVT``
query it runs, on a synthetic city.

Usage (from the repository root, as root or a user who may ``sudo -u postgres``)::

    .venv/bin/python bench/tile_benchmark.py --parcels 1000000 --tiles 200 --repeats 3

Works only in its own database, ``landledger_bench_tiles``: cloned from
``landledger_template`` when missing, migrated, and filled by ``bench/synthetic_city.py`` with
the city of ``--seed`` and ``--parcels`` unless it already holds it (a smaller city of the same
seed is completed; another city makes the script drop and clone the database again).

A fixed set of tiles at zooms 12-17 is drawn from ``--seed``: some in the dense centre, some
anywhere over the city, some on its edge. After one unmeasured pass over every tile (so that
the table and index pages are in memory for both sides alike), each repeat measures per tile,
side by side:

(a) bare: the statement ``gis_layers.tiles.render`` sends (captured from it, not rewritten),
    sent with psycopg on a connection of this process, the client-side-binding cursor Django
    uses, the bytes fetched;
(b) cold: ``GET /tiles/parcels/{z}/{x}/{y}.pbf`` from gunicorn (one sync worker;
    ``--server runserver`` for ``manage.py runserver --noreload``), logged in as a planner,
    with the tile cache emptied first (``DELETE FROM gis_layers_cachedtile``);
(c) cached: the same requests again.

(a) and (b) alternate which goes first from tile to tile, in an order shuffled anew in each
repeat. Every tile's bytes from (a), (b) and (c) are compared. When the endpoint misses a goal
(cold within 1.3 x bare; cached at least 20 x faster than cold), the requests are run again
inside this process through Django's test client, once with every SQL statement timed and
once under cProfile, to show where the time goes. The figures are written to the section
"Vector tiles: endpoint against bare ST_AsMVT" of ``docs/benchmarks.md``.
"""

import argparse
import cProfile
import dataclasses
import hashlib
import io
import json
import math
import os
import platform
import pstats
import re
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a file, the script's own folder is on the path, not the repository root.
    sys.path.insert(0, str(REPOSITORY))

from doc_sections import (  # noqa: E402  (a module beside this script)
    load_average,
    memory_gib,
    operating_system,
    recorded_command,
    replace_section,
)

from bench import benchdb, synthetic_city  # noqa: E402  (after the path is set)
from bench.benchdb import (  # noqa: E402
    BenchDatabase,
    http_get,
    running_server,
    server_command,
    session_cookie,
)

DEFAULT_DATABASE = "landledger_bench_tiles"
# The database measured: the default, or the one --database names (set by main).
DATABASE = BenchDatabase(DEFAULT_DATABASE)
DOC = REPOSITORY / "docs" / "benchmarks.md"
SECTION_HEADING = "## Vector tiles: endpoint against bare ST_AsMVT"
DOC_WIDTH = 96
SCRATCH = Path("var") / "bench-tiles"  # the city's load report, kept for later runs

LAYER = "parcels"
ZOOMS = tuple(range(12, 18))
# Where the tiles are drawn: the dense centre (within 3 km of it), anywhere over the city,
# on its outer edge; shares of the tiles of each zoom.
TILE_KINDS = {"dense": 0.4, "anywhere": 0.35, "edge": 0.25}
DENSE_RADIUS_M = 3_000.0
COLD_OVER_BARE_GOAL = 1.3  # the cold endpoint's time at most this many times the bare query's
COLD_OVER_CACHED_GOAL = 20.0  # a cached tile at least this many times faster than a cold one
USERNAME = "bench-tiles-planner"
TOP_FUNCTIONS = 12  # rows of each cProfile table in the doc
JIT_TILES = 8  # tiles per zoom of the JIT comparison
# What a measured request runs: a change here during a run invalidates its repeats.
MEASURED_CODE = (
    "gis_layers/tiles.py",
    "gis_layers/views.py",
    "registry/selectors.py",
    "registry/models",
    "config",
    "migrations",
)


# --- the database ------------------------------------------------------------------------


def load_report_path(parcels: int, seed: int) -> Path:
    return SCRATCH / f"city-{DATABASE.name}-seed{seed}-{parcels}.json"


def prepare_city(*, parcels: int, seed: int, batch: int) -> dict:
    """Make sure the bench database holds the city; returns what its load cost (read back
    from the report of the run that filled it, when that was an earlier run)."""
    from django.db import connection

    DATABASE.ensure()
    try:
        done = synthetic_city.city_state(parcels=parcels, seed=seed)
    except synthetic_city.CityMismatch as mismatch:
        print(f"{mismatch}: dropping {DATABASE.name}", flush=True)
        connection.close()  # dropdb refuses while this process is connected
        DATABASE.ensure(recreate=True)
        done = 0
    path = load_report_path(parcels, seed)
    if done == parcels and path.exists():
        return json.loads(path.read_text())
    started_with = done
    report = synthetic_city.fill(parcels=parcels, seed=seed, batch=batch)
    loaded = dataclasses.asdict(report) | {"resumed_from": started_with, "batch": batch}
    if started_with == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(loaded, indent=1))
    return loaded


# --- the tiles -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, order=True)
class Tile:
    z: int
    x: int
    y: int
    kind: str = dataclasses.field(compare=False)

    @property
    def path(self) -> str:
        return f"/tiles/{LAYER}/{self.z}/{self.x}/{self.y}.pbf"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The Web Mercator tile (x, y) holding a point, degrees."""
    side = 1 << z
    x = int((lon + 180) / 360 * side)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * side)
    return min(max(x, 0), side - 1), min(max(y, 0), side - 1)


def pick_tiles(extent: tuple[float, float, float, float], *, count: int, seed: int) -> list[Tile]:
    """``count`` different tiles spread over zooms 12-17, drawn from ``seed``: some in the
    dense centre, some anywhere in the city's extent (west, south, east, north, degrees),
    some on its edge; anywhere instead when the centre or the edge has no tile left at a zoom."""
    rng = np.random.default_rng([seed, 0x711E5])
    west, south, east, north = extent
    centre_lon, centre_lat = synthetic_city.CENTRE
    tiles: list[Tile] = []
    for position, z in enumerate(ZOOMS):
        wanted = count // len(ZOOMS) + (1 if position < count % len(ZOOMS) else 0)
        kinds = rng.choice(list(TILE_KINDS), size=wanted, p=list(TILE_KINDS.values()))
        chosen: set[tuple[int, int]] = set()
        for kind in kinds:
            for _ in range(50):  # a few retries for a tile not chosen yet
                if kind == "dense":
                    angle, radius = (
                        rng.uniform(0, 2 * math.pi),
                        DENSE_RADIUS_M * math.sqrt(rng.random()),
                    )
                    lon = centre_lon + radius * math.cos(angle) / synthetic_city.M_PER_DEG_LON
                    lat = centre_lat + radius * math.sin(angle) / synthetic_city.M_PER_DEG_LAT
                elif kind == "anywhere":
                    lon, lat = rng.uniform(west, east), rng.uniform(south, north)
                else:
                    side, along = rng.integers(4), rng.random()
                    lon = (west, east)[side % 2] if side < 2 else west + along * (east - west)
                    lat = south + along * (north - south) if side < 2 else (south, north)[side % 2]
                x, y = tile_of(lon, lat, z)
                if (x, y) not in chosen:
                    chosen.add((x, y))
                    tiles.append(Tile(z, x, y, str(kind)))
                    break
                if kind != "anywhere":
                    # At zoom 12 the centre is a handful of tiles: take another one instead.
                    kind = "anywhere"
    return sorted(tiles)


# --- measuring ----------------------------------------------------------------------------


class _Captured(Exception):
    def __init__(self, sql: str, params):
        super().__init__("captured")
        self.sql, self.params = sql, params


def renderer_statement(tile: Tile, *, clearance: int) -> tuple[str, list]:
    """The statement and parameters ``gis_layers.tiles.render`` sends for ``tile``, as the
    endpoint calls it (current parcels, the user's clearance), taken from the database
    wrapper before it reaches the server: the bare side runs exactly the endpoint's query."""
    from django.db import connection

    from gis_layers.tiles import LAYERS, render

    def capture(execute, sql, params, many, context):
        if "ST_AsMVT" not in sql:
            # Django's own statements on a new connection (PostGIS's version, say) go through.
            return execute(sql, params, many, context)
        raise _Captured(sql, params)

    try:
        with connection.execute_wrapper(capture):
            render(LAYERS[LAYER], z=tile.z, x=tile.x, y=tile.y, as_of=None, clearance=clearance)
    except _Captured as captured:
        return captured.sql, list(captured.params)
    raise RuntimeError(f"render sent no statement for {tile}")


class Bare:
    """The bare query through psycopg, with the client-side-binding cursor Django's backend
    uses (so the server receives the same statement text), autocommit as Django."""

    def __init__(self):
        import psycopg

        self.connection = psycopg.connect(
            host=benchdb.HOST,
            port=benchdb.PORT,
            dbname=DATABASE.name,
            user=benchdb.ROLE,
            password=benchdb.PASSWORD,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        )

    def text(self, sql: str, params: list) -> str:
        with self.connection.cursor() as cursor:
            return cursor.mogrify(sql, params)

    def run(self, sql: str, params: list) -> tuple[bytes, float]:
        """The tile's bytes, as render returns them, and the time, s."""
        started = time.perf_counter()
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            # The renderer's query string sets something for its own statement first (JIT
            # off): the tile is its last result.
            while cursor.nextset():
                pass
            data = bytes(cursor.fetchone()[0] or b"")
        return data, time.perf_counter() - started

    def execute(self, sql: str, params=()) -> list[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


def doc_server_command(kind: str) -> str:
    """The server's command as the doc shows it (relative, port 8000)."""
    command = server_command(kind, 8000)
    command[0] = ".venv/bin/python"
    return shlex.join(command)


@dataclasses.dataclass
class Measured:
    """One tile's measurements, s, one per repeat."""

    tile: Tile
    parcels: int = 0  # current parcels whose bounding box meets the tile
    size: int = 0  # bytes of the tile
    bare: list[float] = dataclasses.field(default_factory=list)
    cold: list[float] = dataclasses.field(default_factory=list)
    cached: list[float] = dataclasses.field(default_factory=list)
    different: list[str] = dataclasses.field(default_factory=list)  # comparisons that failed
    bare_digests: set[str] = dataclasses.field(default_factory=set)  # of each repeat's bytes
    pair: tuple[bytes, bytes] | None = None  # the first bare and endpoint bytes that differed
    same_features: bool | None = None  # whether that pair decodes to the same features

    @property
    def cold_over_bare(self) -> float:
        return statistics.median(self.cold) / statistics.median(self.bare)

    @property
    def cold_over_cached(self) -> float:
        return statistics.median(self.cold) / statistics.median(self.cached)


def measure(
    tiles: list[Tile],
    *,
    bare: Bare,
    port: int,
    cookie: str,
    clearance: int,
    repeats: int,
    seed: int,
) -> tuple[list[Measured], int]:
    """Bare, cold and cached for every tile, ``repeats`` times; returns the measurements and
    the cached requests that were not served from the cache (must be 0)."""
    from tqdm import tqdm

    statements = {tile: renderer_statement(tile, clearance=clearance) for tile in tiles}
    results = {tile: Measured(tile) for tile in tiles}
    rng = np.random.default_rng([seed, 0xBE7C])

    def get(tile: Tile) -> tuple[bytes, float]:
        status, body, seconds = http_get(port, tile.path, cookie)
        if status != 200:
            raise RuntimeError(f"GET {tile.path}: {status} {body[:200]!r}")
        return body, seconds

    for tile in tqdm(tiles, desc="warm-up", unit="tile"):
        data, _ = bare.run(*statements[tile])
        results[tile].size = len(data)
        get(tile)
    misses = 0
    with tqdm(total=repeats * len(tiles) * 3, desc="measure", unit="request") as bar:
        for repeat in range(repeats):
            bare.execute("DELETE FROM gis_layers_cachedtile")
            order = [tiles[k] for k in rng.permutation(len(tiles))]
            produced = {}
            for position, tile in enumerate(order):
                result = results[tile]
                # Alternate which side goes first, so that neither always finds the pages the
                # other just read.
                if (position + repeat) % 2 == 0:
                    data, seconds = bare.run(*statements[tile])
                    body, cold_s = get(tile)
                else:
                    body, cold_s = get(tile)
                    data, seconds = bare.run(*statements[tile])
                result.bare.append(seconds)
                result.cold.append(cold_s)
                result.bare_digests.add(hashlib.sha256(data).hexdigest())
                produced[tile] = data
                if body != data:
                    result.different.append(f"cold, repeat {repeat + 1}")
                    result.pair = result.pair or (data, body)
                bar.update(2)
            versions = dict(bare.execute("SELECT key, xmin::text FROM gis_layers_cachedtile"))
            for tile in order:
                body, seconds = get(tile)
                results[tile].cached.append(seconds)
                if body != produced[tile]:
                    results[tile].different.append(f"cached, repeat {repeat + 1}")
                    results[tile].pair = results[tile].pair or (produced[tile], body)
                bar.update(1)
            # A cached request that rendered again would have rewritten the row.
            after = dict(bare.execute("SELECT key, xmin::text FROM gis_layers_cachedtile"))
            misses += sum(1 for key, version in versions.items() if after.get(key) != version)
    return [results[tile] for tile in tiles], misses


def features(data: bytes) -> dict:
    """A tile's parcels layer decoded: feature id → (properties, geometry)."""
    import mapbox_vector_tile

    layer = mapbox_vector_tile.decode(data).get(LAYER, {"features": []})
    return {
        feature["id"]: (sorted(feature["properties"].items()), repr(feature["geometry"]))
        for feature in layer["features"]
    }


def compare_features(results: list[Measured]) -> None:
    """For the tiles whose endpoint bytes differed from the bare query's, whether both hold
    the same features (ids, attributes, geometry), in whatever order."""
    for result in results:
        if result.pair is not None:
            bare_data, endpoint_data = result.pair
            result.same_features = features(bare_data) == features(endpoint_data)
            result.pair = None  # megabytes at low zooms: not kept longer than needed


def wait_for_xmin(bare: Bare, *, timeout_s: float) -> float:
    """Wait until no transaction that began before the city's last write is still running
    anywhere in the cluster; returns the time waited, s.

    A cached tile's watermark is the oldest transaction running when it was rendered, cluster
    wide. While a transaction older than the city's load runs (another database's import, a
    backup), every tile rendered gets a watermark from within the load, and the cache takes
    the load's own tile-change notes for changes the tile may have missed: its lookups scan
    them and find the tile stale. Measured then, "cached" would measure that, not the cache."""
    started = time.monotonic()
    ((last,),) = bare.execute("SELECT coalesce(max(transaction_id), 0) FROM gis_layers_tilechange")
    while True:
        ((xmin,),) = bare.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        if xmin > last:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(
                f"a transaction older than the city's last write ({last}) is still running "
                f"after {timeout_s:.0f} s (oldest: {xmin}); see pg_stat_activity.backend_xmin"
            )
        holders = bare.execute(
            "SELECT pid, datname, now() - xact_start FROM pg_stat_activity "
            "WHERE backend_xid::text::bigint <= %s ORDER BY xact_start LIMIT 3",
            [last],
        )
        print(f"waiting for transactions older than the city's load to end: {holders}", flush=True)
        time.sleep(10)


def count_parcels(bare: Bare, tiles: list[Tile]) -> dict[Tile, int]:
    """Current parcels whose bounding box meets each tile (the renderer's filter)."""
    counts = {}
    for tile in tiles:
        ((count,),) = bare.execute(
            "SELECT count(*) FROM registry_parcel t WHERE t.valid_to IS NULL AND t.geom && "
            "ST_Transform(ST_TileEnvelope(%s, %s, %s), 4490)",
            [tile.z, tile.x, tile.y],
        )
        counts[tile] = count
    return counts


# --- where the time goes ------------------------------------------------------------------

# A statement's part of the request, by the first of these its text contains.
STATEMENT_PARTS = (
    ("django_session", "session (django_session)"),
    ('FROM "auth_user"', "user (auth_user)"),
    ("auth_permission", "permission (auth_permission, one query)"),
    ("registry_clearance", "clearance (registry_clearance)"),
    ("INSERT INTO gis_layers_cachedtile", "cache write (INSERT, commit)"),
    ("gis_layers_cachedtile", "cache lookup"),
    ("pg_current_snapshot", "snapshot"),
    ("ST_AsMVT", "render: the bare query"),
)
PYTHON_PART = "Python: Django, middleware, view (the rest)"


@dataclasses.dataclass
class Anatomy:
    """The in-process requests of one path at one zoom: mean ms per request by part."""

    requests: int = 0
    total_s: float = 0.0
    times: list[float] = dataclasses.field(default_factory=list)  # each request's, s
    parts_s: dict[str, float] = dataclasses.field(default_factory=lambda: defaultdict(float))
    statements: int = 0

    def ms(self, part: str) -> float:
        if part == PYTHON_PART:
            return 1000 * (self.total_s - sum(self.parts_s.values())) / self.requests
        return 1000 * self.parts_s.get(part, 0.0) / self.requests

    @property
    def total_ms(self) -> float:
        return 1000 * self.total_s / self.requests


def _part_of(sql: str) -> str:
    return next((part for marker, part in STATEMENT_PARTS if marker in sql), "other SQL")


def in_process_client(user):
    from django.test import Client

    # DEBUG is off: the host must be an allowed one, not the test client's "testserver".
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def anatomy(tiles: list[Tile], *, user, bare: Bare) -> dict[str, dict[int, Anatomy]]:
    """Each tile requested in this process through Django's test client, cold then cached,
    with every SQL statement timed: path → zoom → Anatomy."""
    from django.db import connection

    client = in_process_client(user)
    result = {"cold": defaultdict(Anatomy), "cached": defaultdict(Anatomy)}
    current: list[Anatomy] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            current[0].parts_s[_part_of(sql)] += time.perf_counter() - started
            current[0].statements += 1

    bare.execute("DELETE FROM gis_layers_cachedtile")
    client.get(tiles[0].path)  # the connection and Django's first-request work, untimed
    bare.execute("DELETE FROM gis_layers_cachedtile")
    with connection.execute_wrapper(timed):
        for path in ("cold", "cached"):
            for tile in tiles:
                current[:] = [result[path][tile.z]]
                started = time.perf_counter()
                response = client.get(tile.path)
                elapsed = time.perf_counter() - started
                current[0].total_s += elapsed
                current[0].times.append(elapsed)
                current[0].requests += 1
                if response.status_code != 200:
                    raise RuntimeError(f"GET {tile.path}: {response.status_code}")
    return result


# Steps of a tile request, by the function that runs each (file, name): their cumulative time
# under cProfile says what each costs, its SQL and Python together.
KEY_FUNCTIONS = (
    ("django/test/client.py", "request", "the whole request, test client included"),
    ("django/core/handlers/base.py", "_get_response", "the view, inside Django's middleware"),
    ("django/contrib/sessions/backends/db.py", "load", "session: read django_session"),
    ("django/contrib/auth/__init__.py", "get_user", "user: read auth_user (session included)"),
    ("registry/selectors.py", "holds_permission", "permission: holds_permission"),
    ("registry/selectors.py", "clearance_of", "clearance: clearance_of"),
    ("gis_layers/tiles.py", "draw", "gis_layers.tiles.draw: lookup, render"),
    ("gis_layers/tiles.py", "keep", "gis_layers.tiles.draw's keep: the cache write, once sent"),
    ("gis_layers/tiles.py", "render", "gis_layers.tiles.render"),
)


@dataclasses.dataclass
class Profiled:
    """cProfile of one path's requests: ms per request."""

    top: list[tuple]  # the functions with the most own time
    steps: list[tuple[str, float]]  # KEY_FUNCTIONS: label, cumulative ms per request


def profiled(tiles: list[Tile], *, user, bare: Bare) -> dict[str, Profiled]:
    """cProfile of the cold and of the cached requests of ``tiles``, in this process."""
    client = in_process_client(user)
    bare.execute("DELETE FROM gis_layers_cachedtile")
    client.get(tiles[0].path)
    bare.execute("DELETE FROM gis_layers_cachedtile")
    result = {}
    for path in ("cold", "cached"):
        profiler = cProfile.Profile()
        profiler.enable()
        for tile in tiles:
            client.get(tile.path)
        profiler.disable()
        result[path] = Profiled(
            top=top_functions(profiler, requests=len(tiles)),
            steps=key_functions(profiler, requests=len(tiles)),
        )
    return result


def key_functions(profiler: cProfile.Profile, *, requests: int) -> list[tuple[str, float]]:
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats
    steps = []
    for suffix, function, label in KEY_FUNCTIONS:
        cumulative = sum(
            values[3]
            for (filename, _, name), values in stats.items()
            if name == function and filename.endswith(suffix)
        )
        if cumulative:
            steps.append((label, 1000 * cumulative / requests))
    return steps


def top_functions(profiler: cProfile.Profile, *, requests: int) -> list[tuple]:
    """The functions with the most own time: (where, calls per request, own ms per request,
    cumulative ms per request)."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        where = name if filename == "~" else f"{_module_of(filename)}:{line} {name}"
        rows.append((where, calls / requests, 1000 * own / requests, 1000 * cumulative / requests))
    return sorted(rows, key=lambda row: -row[2])[:TOP_FUNCTIONS]


def _module_of(filename: str) -> str:
    """A source file as a short, machine-independent name."""
    path = Path(filename)
    for anchor in ("site-packages", REPOSITORY.name):
        if anchor in path.parts:
            return "/".join(path.parts[path.parts.index(anchor) + 1 :])
    return path.name


# --- the machine and the report --------------------------------------------------------------


def _git(*arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=REPOSITORY, capture_output=True, text=True
    ).stdout


def code_revision() -> str:
    """The commit measured, and the measured files that differed from it."""
    commit = _git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = _git("status", "--porcelain", "--", *MEASURED_CODE)
    names = sorted({line[3:] for line in changed.splitlines()})
    return f"commit {commit}" + (
        f", with uncommitted changes in {', '.join(names)}" if names else ""
    )


def code_fingerprint() -> str:
    """A digest of the measured files as they are on disk: other work changes this repository
    meanwhile, and figures measured on two versions of them would mean nothing. (Commits of
    other files do not count.)"""
    digest = hashlib.sha256()
    names = _git("ls-files", "--cached", "--others", "--exclude-standard", "--", *MEASURED_CODE)
    for name in sorted(set(names.split())):
        path = REPOSITORY / name
        digest.update(name.encode() + (path.read_bytes() if path.exists() else b"-"))
    return digest.hexdigest()


def machine(bare: Bare) -> dict[str, str]:
    system = operating_system()
    settings = {
        name: bare.execute(f"SHOW {name}")[0][0]
        for name in (
            "server_version",
            "shared_buffers",
            "work_mem",
            "effective_cache_size",
            "max_parallel_workers_per_gather",
            "jit",
            "synchronous_commit",
        )
    }
    import django
    import psycopg

    try:
        import gunicorn

        gunicorn_version = gunicorn.__version__
    except ImportError:
        gunicorn_version = "not installed"
    return {
        "cpus": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "memory": memory_gib(),
        "system": system,
        "postgresql": settings.pop("server_version").split()[0],
        "postgis": bare.execute("SELECT postgis_lib_version()")[0][0],
        "geos": bare.execute("SELECT postgis_geos_version()")[0][0].split("-")[0],
        "server_settings": ", ".join(f"{name} {value}" for name, value in settings.items()),
        "python": platform.python_version(),
        "django": django.get_version(),
        "psycopg": psycopg.__version__,
        "gunicorn": gunicorn_version,
        "code": code_revision(),
    }


def city_facts(bare: Bare) -> dict:
    """What the city holds, from the database."""
    code = synthetic_city.DIVISION
    (row,) = bare.execute(
        "SELECT count(*), avg(p.area_m2), ST_XMin(ST_Extent(p.geom)), ST_YMin(ST_Extent(p.geom)), "
        "ST_XMax(ST_Extent(p.geom)), ST_YMax(ST_Extent(p.geom)) "
        "FROM registry_parcel p JOIN registry_district d ON d.id = p.district_id WHERE d.code = %s",
        [code],
    )
    parcels, mean_area, *extent = row
    uses = bare.execute(
        "SELECT p.land_use_id, count(*) FROM registry_parcel p JOIN registry_district d "
        "ON d.id = p.district_id WHERE d.code = %s GROUP BY 1 ORDER BY 2 DESC, 1",
        [code],
    )
    counts = {
        table: bare.execute(f"SELECT count(*) FROM {table}")[0][0]
        for table in ("registry_building", "registry_shelter", "gis_layers_tilechange",
                      "registry_historyevent")
    }  # fmt: skip
    corners = bare.execute(
        "SELECT count(*) FILTER (WHERE ST_NPoints(geom) = 5), count(*) FILTER (WHERE ST_NPoints(geom) = 7) "
        "FROM registry_parcel"
    )[0]
    size = bare.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")[0][0]
    west, south, east, north = extent
    return {
        "parcels": parcels,
        "mean_area_m2": float(mean_area),
        "extent": (west, south, east, north),
        "width_km": (east - west) * synthetic_city.M_PER_DEG_LON / 1000,
        "height_km": (north - south) * synthetic_city.M_PER_DEG_LAT / 1000,
        "uses": uses,
        "counts": counts,
        "corners": corners,
        "database_size": size,
    }


def _prose(text: str) -> str:
    """One paragraph, re-wrapped to the doc's line length; a code span stays on one line."""
    joined = re.sub(
        r"`[^`]*`", lambda span: span.group().replace(" ", "\0"), " ".join(text.split())
    )
    wrapped = textwrap.fill(joined, width=DOC_WIDTH, break_long_words=False, break_on_hyphens=False)
    return wrapped.replace("\0", " ")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def p90(values) -> float:
    return float(np.percentile(list(values), 90))


def p10(values) -> float:
    return float(np.percentile(list(values), 10))


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def _ratio(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def overhead(items: list[Measured]) -> float:
    """Median over the tiles of cold − bare (each the tile's median), s."""
    return statistics.median(
        statistics.median(item.cold) - statistics.median(item.bare) for item in items
    )


def summary_row(label: str, items: list[Measured]) -> list[str]:
    bare = [statistics.median(item.bare) for item in items]
    cold = [statistics.median(item.cold) for item in items]
    cached = [statistics.median(item.cached) for item in items]
    over_bare = [item.cold_over_bare for item in items]
    over_cached = [item.cold_over_cached for item in items]
    return [
        label,
        str(len(items)),
        f"{statistics.median(item.parcels for item in items):,.0f} ({max(item.parcels for item in items):,})",
        f"{statistics.median(item.size for item in items) / 1024:,.1f} ({max(item.size for item in items) / 1024:,.0f})",
        f"{_ms(statistics.median(bare))} / {_ms(p90(bare))}",
        f"{_ms(statistics.median(cold))} / {_ms(p90(cold))}",
        f"{_ms(statistics.median(cached))} / {_ms(p90(cached))}",
        _ms(overhead(items)),
        f"{_ratio(statistics.median(over_bare))} ({_ratio(p90(over_bare))})",
        f"{_ratio(statistics.median(over_cached))} ({_ratio(p10(over_cached))})",
    ]


def zoom_table(results: list[Measured]) -> str:
    rows = [summary_row(str(z), [r for r in results if r.tile.z == z]) for z in ZOOMS]
    rows = [row for row in rows if row[1] != "0"]
    rows.append(summary_row("**all**", results))
    return _table(
        [
            "zoom",
            "tiles",
            "parcels in a tile: median (max)",
            "tile, KiB: median (max)",
            "bare, ms: median / p90",
            "cold, ms: median / p90",
            "cached, ms: median / p90",
            "cold − bare, ms: median",
            "cold ÷ bare: median (p90)",
            "cold ÷ cached: median (p10)",
        ],
        rows,
    )


def jit_effect(tiles: list[Tile], *, bare: Bare, clearance: int) -> dict[int, tuple[float, float]]:
    """The bare query of the heaviest zooms' tiles with PostgreSQL's JIT compilation on (the
    server's default) and off: zoom → (median s with, median s without)."""
    from gis_layers.tiles import WITHOUT_JIT

    effect = {}
    for z in ZOOMS[:2]:
        chosen = [tile for tile in tiles if tile.z == z][:JIT_TILES]
        if not chosen:
            continue
        times: dict[str, list[float]] = {"on": [], "off": []}
        for tile in chosen:
            sql, params = renderer_statement(tile, clearance=clearance)
            # Without the renderer's own "JIT off", so that the session's setting decides.
            statement = (sql.removeprefix(WITHOUT_JIT), params)
            for setting in ("off", "on"):
                bare.execute(f"SET jit = {setting}")
                times[setting].append(statistics.median(bare.run(*statement)[1] for _ in range(3)))
        bare.execute("RESET jit")
        effect[z] = (statistics.median(times["on"]), statistics.median(times["off"]))
    return effect


def binary_probe(bare: Bare, data: bytes, runs: int = 5) -> dict[str, float]:
    """Writing a tile to the cache table and reading it back, s (medians of ``runs``): as the
    tile cache does it, with client-side binding (the bytes as hex text), and with a binary
    parameter and a binary result (server-side binding). Under keys of its own, removed
    afterwards."""
    import psycopg

    insert = (
        "INSERT INTO gis_layers_cachedtile (key, layer, tile, etag, snapshot) "
        "VALUES (%s, 'probe', %s, '', '') ON CONFLICT (key) DO UPDATE SET tile = EXCLUDED.tile"
    )
    select = "SELECT tile FROM gis_layers_cachedtile WHERE key = %s"
    server = psycopg.connect(bare.connection.info.dsn, password=benchdb.PASSWORD, autocommit=True)
    times: dict[str, list[float]] = defaultdict(list)
    try:
        for _ in range(runs):
            for label, connection, binary in (
                ("text", bare.connection, False),
                ("binary", server, True),
            ):
                key = f"bench-probe/{label}"
                started = time.perf_counter()
                connection.execute(insert, [key, data])
                times[f"write {label}"].append(time.perf_counter() - started)
                started = time.perf_counter()
                with connection.cursor(binary=binary) as cursor:
                    cursor.execute(select, [key])
                    cursor.fetchone()
                times[f"read {label}"].append(time.perf_counter() - started)
    finally:
        bare.execute("DELETE FROM gis_layers_cachedtile WHERE key LIKE 'bench-probe/%%'")
        server.close()
    medians = {label: statistics.median(values) for label, values in times.items()}
    return medians | {"bytes": len(data)}


def _zooms_text(zooms: list[int]) -> str:
    if not zooms:
        return "none"
    runs, start = [], zooms[0]
    for previous, z in zip(zooms, [*zooms[1:], None], strict=True):
        if z != previous + 1 if z is not None else True:
            runs.append(f"{start}" if start == previous else f"{start}–{previous}")
            start = z
    return ", ".join(runs)


def _at_zooms(zooms: list[int]) -> str:
    if not zooms:
        return "at no zoom"
    return f"at zoom{'s' if len(zooms) > 1 else ''} {_zooms_text(zooms)}"


def city_paragraphs(*, facts: dict, load: dict, seed: int, database_url: str) -> list[str]:
    parcels = facts["parcels"]
    quads, hexagons = facts["corners"]
    uses = ", ".join(f"{code} {count / parcels:.0%}" for code, count in facts["uses"][:6])
    counts = facts["counts"]
    blocks = [
        _prose(
            f"""The city (`bench/synthetic_city.py`, seed {seed}): {parcels:,} parcels in the
            made-up district {synthetic_city.DIVISION} ({synthetic_city.DISTRICT_NAME_LOCAL}),
            {quads / parcels:.0%} of them four-cornered and {hexagons / parcels:.0%}
            six-cornered, {facts["mean_area_m2"]:,.0f} m² on average, filling blocks of a
            street grid over {facts["width_km"]:.0f} km × {facts["height_km"]:.0f} km around
            116.4° E, 39.9° N, cut finer towards the centre (a tile of zoom 12 is about
            7.5 km wide there); {counts["registry_building"]:,} buildings and
            {counts["registry_shelter"]:,} shelters. Land uses (GB/T 21010): {uses}, and
            {len(facts["uses"]) - 6} other classes. No titles. The database then holds
            {counts["gis_layers_tilechange"]:,} tile-change notes and
            {counts["registry_historyevent"]:,} history rows ({facts["database_size"]})."""
        )
    ]
    if load.get("resumed_from") == 0 and load.get("parcels") == parcels:
        total = load["total_s"]
        blocks.append(
            _prose(
                f"""Filling it took {total / 60:.1f} min ({parcels / total:,.0f} parcels/s), in
                {load["batches"]} transactions of {load["batch"]:,} parcels, with the
                register's constraints and triggers on: drawing the city and making the rows
                in Python {load["generate_s"]:.0f} s; COPY into temporary tables
                {load["copy_s"]:.0f} s; the INSERT into the three tables
                {load["insert_s"]:.0f} s (the rows, their indexes, the validity checks, a
                history row and a tile-change note for every row); COMMIT
                {load["commit_s"]:.0f} s (the deferred overlap check of each new parcel
                against its neighbours, which touch it, and the foreign keys);
                VACUUM ANALYZE {load["vacuum_s"]:.0f} s. In one transaction instead, the
                overlap checks of all {parcels:,} parcels would wait for a single COMMIT, and
                an interruption would lose all of it: batches make the fill resumable at the
                cost of one COMMIT each. Alone, the fill is:"""
            )
        )
    elif load.get("parcels"):
        blocks.append(
            _prose(
                f"""This run completed a city of {load["resumed_from"]:,} parcels already in
                the database, so the fill of the whole was not timed. Alone, the fill is:"""
            )
        )
    else:
        blocks.append(
            _prose(
                """The city was already in the database, filled by an earlier run whose
                report is gone, so its fill was not timed. Alone, the fill is:"""
            )
        )
    blocks.append(
        "```sh\n.venv/bin/python bench/synthetic_city.py "
        f"--parcels {parcels} --seed {seed} \\\n    --database-url {database_url}\n```"
    )
    return blocks


def anatomy_table(parts: dict[int, Anatomy], endpoint: dict[int, float]) -> str:
    """Mean ms per request of each part, by zoom; ``endpoint``: zoom → median s through
    the server, for the HTTP and server's share."""
    zooms = sorted(parts)
    names = [name for _, name in STATEMENT_PARTS]
    names = [name for name in names if any(parts[z].ms(name) > 0 for z in zooms)]
    rows = [[name, *(f"{parts[z].ms(name):.2f}" for z in zooms)] for name in names]
    rows.append([PYTHON_PART, *(f"{parts[z].ms(PYTHON_PART):.2f}" for z in zooms)])
    rows.append(["**in this process, mean**", *(f"{parts[z].total_ms:.2f}" for z in zooms)])
    rows.append(
        [
            "in this process, median",
            *(f"{1000 * statistics.median(parts[z].times):.2f}" for z in zooms),
        ]
    )
    rows.append(
        ["through the server (table above), median", *(f"{1000 * endpoint[z]:.2f}" for z in zooms)]
    )
    rows.append(
        [
            "HTTP and server: the difference of the medians (noisy)",
            *(
                f"{1000 * endpoint[z] - 1000 * statistics.median(parts[z].times):.2f}"
                for z in zooms
            ),
        ]
    )
    rows.append(
        [
            "SQL statements per request",
            *(f"{parts[z].statements / parts[z].requests:.0f}" for z in zooms),
        ]
    )
    return _table(["ms per request", *(f"z{z}" for z in zooms)], rows)


def functions_table(top: list[tuple]) -> str:
    return _table(
        ["function", "calls per request", "own ms per request", "cumulative ms per request"],
        [
            [f"`{where}`", f"{calls:,.1f}", f"{own:.2f}", f"{cumulative:.2f}"]
            for where, calls, own, cumulative in top
        ],
    )


def render_section(
    *,
    command: str,
    arguments: argparse.Namespace,
    host: dict[str, str],
    facts: dict,
    load: dict,
    tiles: list[Tile],
    results: list[Measured],
    misses: int,
    parts: dict | None,
    tops: dict | None,
    profiled_zoom: int | None,
    jit: dict | None,
    probe: dict | None,
) -> str:
    by_zoom = {z: [r for r in results if r.tile.z == z] for z in ZOOMS}
    by_zoom = {z: items for z, items in by_zoom.items() if items}

    def median_of(items, attribute):
        return statistics.median(statistics.median(getattr(r, attribute)) for r in items)

    over_bare = {
        z: statistics.median(r.cold_over_bare for r in items) for z, items in by_zoom.items()
    }
    over_cached = {
        z: statistics.median(r.cold_over_cached for r in items) for z, items in by_zoom.items()
    }
    all_over_bare = statistics.median(r.cold_over_bare for r in results)
    all_over_cached = statistics.median(r.cold_over_cached for r in results)
    sums = {
        side: sum(statistics.median(getattr(r, side)) for r in results)
        for side in ("bare", "cold", "cached")
    }
    bare_met = [z for z in by_zoom if over_bare[z] <= COLD_OVER_BARE_GOAL]
    cached_met = [z for z in by_zoom if over_cached[z] >= COLD_OVER_CACHED_GOAL]
    light = [z for z in by_zoom if z not in bare_met]
    kinds = {kind: sum(1 for t in tiles if t.kind == kind) for kind in TILE_KINDS}
    per_zoom = ", ".join(f"{len(items)} at {z}" for z, items in by_zoom.items())

    server = (
        f"gunicorn {host['gunicorn']} with one sync worker, which keeps its database connection "
        "from request to request (`CONN_MAX_AGE` 60 s)"
        if arguments.server == "gunicorn"
        else "`manage.py runserver --noreload`, which serves each request in a new thread, "
        "with a new database connection"
    )
    identical = [r for r in results if not r.different]
    differing = [r for r in results if r.different]
    reordered = [r for r in differing if r.same_features]
    wrong = [r for r in differing if r.same_features is False]
    self_varied = [r for r in differing if len(r.bare_digests) > 1]
    if not differing:
        bytes_text = f"""Bytes: for all {len(results)} tiles the endpoint's tile, cold and cached,
            was byte-identical to the bare query's in every repeat."""
    else:
        smallest = min(r.parcels for r in differing)
        bytes_text = f"""Bytes: for {len(identical)} of {len(results)} tiles the endpoint's tile,
            cold and cached, was byte-identical to the bare query's in every repeat.
            {len(reordered)} tiles, at zooms
            {_zooms_text(sorted({r.tile.z for r in reordered}))}, each with
            {smallest:,} parcels or more, differed in bytes but held the same features (ids,
            attributes, geometry) once decoded, and for {len(self_varied)} of them the bare
            query's own bytes also changed from repeat to repeat: on that many rows the
            planner scans in parallel, and the order in which the workers' rows reach
            `ST_AsMVT`, which sets the order of the features and of the attribute values in
            the tile, is not fixed."""
        if wrong:
            bytes_text += f""" {len(wrong)} tiles held different features:
                {", ".join(r.tile.path for r in wrong)}."""

    blocks = [
        SECTION_HEADING,
        _prose(
            f"""Command, from the repository root, as root or as a user who may `sudo -u
            postgres` (it works only in the database `{DATABASE.name}`, which it clones from
            `{benchdb.TEMPLATE_DATABASE}` when missing and migrates, and fills with the synthetic city
            unless it already holds it):"""
        ),
        f"```sh\n{command}\n```",
        "```sh\n"
        + shlex.join(DATABASE.create_command())
        + f"\nDATABASE_URL={DATABASE.url} .venv/bin/python manage.py migrate\n```",
        *city_paragraphs(facts=facts, load=load, seed=arguments.seed, database_url=DATABASE.url),
        _prose(
            f"""Machine: {host["cpus"]} CPUs (`nproc`), {host["memory"]} of memory,
            {host["system"]}, PostgreSQL {host["postgresql"]} with PostGIS {host["postgis"]}
            (GEOS {host["geos"]}; {host["server_settings"]}); Python {host["python"]}, Django
            {host["django"]}, psycopg {host["psycopg"]}; client, server and database on the
            same machine, which other work shares: 1-minute load average {host["load"]}
            (`/proc/loadavg`). Code measured: {host["code"]}."""
        ),
        _prose(
            f"""{len(tiles)} tiles of the `{LAYER}` layer, drawn from seed {arguments.seed}
            ({per_zoom}): {kinds["dense"]} in the dense centre (within
            {DENSE_RADIUS_M / 1000:.0f} km of it), {kinds["anywhere"]} anywhere over the
            city, {kinds["edge"]} on its edge. After one unmeasured pass over every tile (the
            bare query, then the endpoint), each of {arguments.repeats} repeats empties the
            tile cache (`DELETE FROM gis_layers_cachedtile`), then takes the tiles in an order
            shuffled anew and, for each, runs (a) and (b) one right after the other,
            alternating which goes first; then (c) for every tile."""
        ),
        _prose(
            f"""(a) bare: the statement `gis_layers.tiles.render` sends, captured from it
            through Django's execute wrapper (so not written again by hand), sent from the
            benchmark's process with psycopg {host["psycopg"]} on a connection of its own,
            with the client-side-binding cursor Django's backend uses (the statement's text
            was checked to be the same as Django composes it); timed from `execute` to
            having the bytes. (b) cold: `GET /tiles/{LAYER}/{{z}}/{{x}}/{{y}}.pbf` sent with
            `http.client` on a new connection, to {server}, with `DEBUG` off, as a user with
            the planner's role (its session cookie); timed from sending the request to having
            read the whole body. The request checks the cache, renders the tile with the
            statement of (a) and writes it to the cache. (c) cached: the same requests again,
            answered from the cache ({"none" if not misses else misses} rendered again:
            checked by the cache rows' versions). Before measuring, the run waited
            {host["waited"]} s for transactions older than the city's last write to end
            anywhere in the cluster (the cache's watermark, below, would otherwise be older
            than the city). The server:"""
        ),
        f"```sh\nDATABASE_URL={DATABASE.url} DEBUG=0 SECRET_KEY=... \\\n"
        f"    {doc_server_command(arguments.server)}\n```",
        _prose(
            f"""A tile's time is the median of its {arguments.repeats} repeats; a zoom's
            median and 90th percentile (p90) are over its tiles. The ratios are per tile (its
            cold time over its bare time; its cold time over its cached time), then the
            median over the tiles, with the 90th percentile of cold ÷ bare and the 10th of
            cold ÷ cached: the worst tenth of the tiles. "Parcels in a tile": current parcels
            whose bounding box meets the tile."""
        ),
        zoom_table(results),
        _prose(
            f"""Goals. Cold within {COLD_OVER_BARE_GOAL}× of bare:
            {"met" if all_over_bare <= COLD_OVER_BARE_GOAL else "missed"} over all tiles
            (median {_ratio(all_over_bare)}); met {_at_zooms(bare_met)}, missed
            {_at_zooms(light)}. Cached at least {COLD_OVER_CACHED_GOAL:.0f}× faster than
            cold: {"met" if all_over_cached >= COLD_OVER_CACHED_GOAL else "missed"} over all
            tiles (median {_ratio(all_over_cached)}); met {_at_zooms(cached_met)}. All tiles together (the sums of their medians): the
            cold requests took {sums["cold"] / sums["bare"]:.2f} times as long as the bare
            queries, and {sums["cold"] / sums["cached"]:.1f} times as long as the cached
            requests."""
        ),
        _prose(bytes_text),
    ]
    heavy = [z for z in by_zoom if z in bare_met]
    first, last = min(by_zoom), max(by_zoom)
    note = f"""In short: a cold request costs the bare query plus
        {_ms(overhead(by_zoom[last]))} ms at zoom {last} and {_ms(overhead(by_zoom[first]))} ms
        at zoom {first} (medians of cold − bare): a fixed part, about what a cached request
        costs ({_ms(median_of(by_zoom[last], "cached"))} ms at zoom {last}: session, user,
        permission check and cache lookup, with Django around them), and a part that grows
        with the tile (writing it to the cache, sending it)."""
    if heavy:
        note += f""" Where the query is heavy ({_at_zooms(heavy)}, a median bare query of
            {_ms(median_of([r for z in heavy for r in by_zoom[z]], "bare"))} ms), that is
            within the goal."""
    if light:
        note += f""" Where it takes a few milliseconds (zoom {last}: a median of
            {_ms(median_of(by_zoom[last], "bare"))} ms), the fixed part alone is larger than
            the query, so neither goal can be met there however fast the rendering: with a
            fixed cost F and a query of Q ms, cold ÷ bare is at least (Q + F) ÷ Q, and cold ÷
            cached at most about (Q + F) ÷ F; only less work per request can help (below)."""
    blocks.append(_prose(note))
    if parts is not None:
        blocks += profile_blocks(
            parts=parts,
            tops=tops,
            profiled_zoom=profiled_zoom,
            by_zoom=by_zoom,
            jit=jit,
            probe=probe,
        )
    return "\n\n".join(blocks) + "\n"


def profile_blocks(
    *, parts: dict, tops: dict, profiled_zoom: int, by_zoom: dict, jit: dict | None, probe: dict
) -> list[str]:
    cold_endpoint = {
        z: statistics.median(statistics.median(r.cold) for r in items)
        for z, items in by_zoom.items()
    }
    cached_endpoint = {
        z: statistics.median(statistics.median(r.cached) for r in items)
        for z, items in by_zoom.items()
    }
    steps = {path: dict(tops[path].steps) for path in ("cold", "cached")}
    steps_table = _table(
        ["step (cumulative, ms per request)", "cold", "cached"],
        [
            [label, f"{steps['cold'].get(label, 0):.2f}", f"{steps['cached'].get(label, 0):.2f}"]
            for _, _, label in KEY_FUNCTIONS
            if label in steps["cold"] or label in steps["cached"]
        ],
    )
    zooms = sorted(parts["cached"])
    light, heavy = profiled_zoom, zooms[0]
    cached, cold = parts["cached"][light], parts["cold"][light]
    session = "session (django_session)"
    user = "user (auth_user)"
    permission = "permission (auth_permission, one query)"
    write = "cache write (INSERT, commit)"
    lookup = "cache lookup"
    sql_ms = cached.total_ms - cached.ms(PYTHON_PART)
    whole = steps["cached"].get("the whole request, test client included", 0.0)
    view = steps["cached"].get("the view, inside Django's middleware", 0.0)
    user_ms = steps["cached"].get("user: read auth_user (session included)", 0.0)
    perm_ms = steps["cached"].get("permission: holds_permission", 0.0)
    blocks = [
        "### Where the endpoint's time goes",
        _prose(
            """Every tile requested once more, cold then cached, inside the benchmark's
            process through Django's test client (the same middleware, view and SQL; no HTTP,
            no server), with each SQL statement timed from Django's execute wrapper: mean ms
            per request, by zoom. "Python" is the rest of the request: Django's request
            handling, the middleware, the view, the ORM composing its queries, the test
            client. The last rows set the time through the server (the table above) beside
            it."""
        ),
        "Cold (cache emptied first):",
        anatomy_table(parts["cold"], cold_endpoint),
        "Cached:",
        anatomy_table(parts["cached"], cached_endpoint),
        _prose(
            f"""cProfile of the {len(by_zoom[light])} tiles of zoom {light} (where cold ÷
            bare is worst), cold then cached, in the same way (cProfile slows Python down, so
            its times are larger than the ones above). The steps of a request, each with what
            it calls (its SQL included):"""
        ),
        steps_table,
        "The functions with the most own time, cold:",
        functions_table(tops["cold"].top),
        "Cached:",
        functions_table(tops["cached"].top),
    ]
    if jit:
        blocks.append(
            _prose(
                """PostgreSQL compiles the bare query of the heavy tiles with JIT (its cost
                estimate passes `jit_above_cost`): """
                + "; ".join(
                    f"zoom {z}: {_ms(on)} ms with it (the server's default), {_ms(off)} ms without"
                    for z, (on, off) in jit.items()
                )
                + f""" (medians of 3 runs of each of up to {JIT_TILES} tiles, then over the
                tiles)."""
            )
        )
    proposals = [
        f"""**Permission** (`registry/selectors.py`, `holds_permission`): one query, prepared
        on the server ({cached.ms(permission):.2f} ms of SQL at zoom {light};
        {perm_ms:.2f} ms with its Python under cProfile). Nothing is kept between requests,
        so that a user taken out of a role is refused at once; a cache would save at most
        that.""",
        f"""**Session and user**: two queries ({cached.ms(session):.2f} and
        {cached.ms(user):.2f} ms of SQL). A session kept in a shared cache (`SESSION_ENGINE =
        "django.contrib.sessions.backends.cached_db"` with Redis or memcached) would trade
        the first for a round trip to that cache; the user's would stay.""",
        f"""**Python** ({cached.ms(PYTHON_PART):.1f} of the cached request's
        {cached.total_ms:.1f} ms in this process, against {sql_ms:.1f} ms of SQL): under
        cProfile the view took {view:.2f} of the request's {whole:.2f} ms, so the
        middleware, URL resolving and test client around it only {whole - view:.2f} ms;
        inside the view, the session and user took {user_ms:.2f} ms and the permission
        check {perm_ms:.2f} ms. Skipping middleware for `/tiles/` would win little.""",
        f"""**Cache row of a large tile** (`gis_layers/tiles.py`, `draw`): bound on the server
        as bytes and stored uncompressed, and written once the response is sent; at zoom
        {heavy}, writing it took {parts["cold"][heavy].ms(write):.1f} ms and reading it
        {parts["cached"][heavy].ms(lookup):.1f} ms (means). For the largest tile here
        ({probe["bytes"] / 2**20:.1f} MiB), bound as hex text instead, the write took
        {_ms(probe["write text"])} ms against {_ms(probe["write binary"])} ms, the read
        {_ms(probe["read text"])} against {_ms(probe["read binary"])} ms (medians of 5).""",
        f"""**Commit of the cache row**: at zoom {light} the cache write took
        {cold.ms(write):.2f} ms; it commits with `synchronous_commit = off` (a lost cache row
        is only rendered again), so it does not wait for the disk.""",
    ]
    if jit:
        z, (on, off) = next(iter(jit.items()))
        proposals.append(
            f"""**JIT**: the renderer turns it off for its own query (`SET LOCAL jit = off`,
            part of the statement (a) and (b) send); with the server's default instead, the
            query took {_ms(on)} ms at zoom {z}, against {_ms(off)} ms."""
        )
    blocks.append("What each part costs now, and what is left to win:")
    blocks.append(
        "\n".join(f"- {_prose(text).replace(chr(10), chr(10) + '  ')}" for text in proposals)
    )
    return blocks


# --- main ----------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--parcels",
        type=synthetic_city.parse_size,
        default=synthetic_city.SIZES["L"],
        help="parcels of the city: a number, or S, M, L (10,000, 100,000, 1,000,000: default)",
    )
    parser.add_argument("--tiles", type=int, default=200, help="tiles measured (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the city and the tiles")
    parser.add_argument(
        "--batch",
        type=int,
        default=synthetic_city.DEFAULT_BATCH,
        help="parcels per transaction when filling the city",
    )
    parser.add_argument(
        "--server",
        choices=("gunicorn", "runserver"),
        default="gunicorn",
        help="what serves the endpoint (default gunicorn, one sync worker)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile even when the goals are met"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=1800,
        help="longest wait, s, for older transactions in the cluster to end (default 1800)",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="never profile, even when a goal is missed"
    )
    parser.add_argument(
        "--database", default=DEFAULT_DATABASE, help=f"the database (default {DEFAULT_DATABASE})"
    )
    parser.add_argument("--summary", type=Path, help="also write the medians here, as JSON")
    parser.add_argument(
        "--no-doc", action="store_true", help="print the section instead of writing the doc"
    )
    arguments = parser.parse_args()
    if arguments.tiles < len(ZOOMS):
        parser.error(f"--tiles must be at least {len(ZOOMS)}")
    if arguments.repeats < 1:
        parser.error("--repeats must be positive")
    return arguments


def save_results(results: list[Measured], path: Path) -> None:
    """Every tile's times, s, for a later look or comparison."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "z": r.tile.z,
            "x": r.tile.x,
            "y": r.tile.y,
            "kind": r.tile.kind,
            "parcels": r.parcels,
            "bytes": r.size,
            "bare": r.bare,
            "cold": r.cold,
            "cached": r.cached,
            "different": r.different,
            "same_features": r.same_features,
        }  # fmt: skip
        for r in results
    ]
    path.write_text(json.dumps(rows, indent=0))


def write_summary(results: list[Measured], *, misses: int, path: Path) -> None:
    """The figures the harness tabulates: medians over the tiles, ms, and the ratios."""

    def medians(chosen: list[Measured]) -> dict:
        return {
            "tiles": len(chosen),
            "bare_ms": 1000 * statistics.median(statistics.median(r.bare) for r in chosen),
            "cold_ms": 1000 * statistics.median(statistics.median(r.cold) for r in chosen),
            "cached_ms": 1000 * statistics.median(statistics.median(r.cached) for r in chosen),
            "cold_over_bare": statistics.median(r.cold_over_bare for r in chosen),
            "cold_over_cached": statistics.median(r.cold_over_cached for r in chosen),
            # All tiles together: what a map page waits for, not the typical tile.
            "sum_cold_over_bare": sum(statistics.median(r.cold) for r in chosen)
            / sum(statistics.median(r.bare) for r in chosen),
            "sum_cold_over_cached": sum(statistics.median(r.cold) for r in chosen)
            / sum(statistics.median(r.cached) for r in chosen),
        }

    summary = {
        "all": medians(results),
        "by_zoom": {
            str(z): medians([r for r in results if r.tile.z == z])
            for z in ZOOMS
            if any(r.tile.z == z for r in results)
        },
        "cache_misses": misses,
        "different_bytes": sum(1 for r in results if r.different),
        "different_features": sum(1 for r in results if r.different and not r.same_features),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1))


def main() -> None:
    arguments = parse_arguments()
    # Ended by SIGTERM, still stop the server it started (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.chdir(REPOSITORY)  # the scratch directory and the doc's commands are relative to it
    load_at_start = load_average()
    command = recorded_command("bench/tile_benchmark.py", sys.argv[1:])
    global DATABASE
    DATABASE = BenchDatabase(arguments.database)
    DATABASE.setup_django()
    from django.db import connection

    from registry.roles import Role
    from registry.selectors import clearance_of
    from registry.services.users import create_user_with_role

    started = time.monotonic()
    load = prepare_city(parcels=arguments.parcels, seed=arguments.seed, batch=arguments.batch)
    print(f"city ready in {time.monotonic() - started:.1f} s", flush=True)
    fingerprint = code_fingerprint()

    bare = Bare()
    host = machine(bare)
    facts = city_facts(bare)
    if facts["parcels"] != arguments.parcels:
        raise RuntimeError(
            f"the city holds {facts['parcels']:,} parcels, not {arguments.parcels:,}"
        )
    password = secrets.token_urlsafe(16)
    user = create_user_with_role(username=USERNAME, password=password, role=Role.PLANNER)
    if not user.has_perm("registry.view_parcel"):
        raise RuntimeError(f"{USERNAME} may not view parcels")
    clearance = clearance_of(user=user)
    tiles = pick_tiles(facts["extent"], count=arguments.tiles, seed=arguments.seed)
    counts = count_parcels(bare, tiles)

    # The bare side must send what the endpoint sends: the same text, once parameters are in.
    sql, params = renderer_statement(tiles[0], clearance=clearance)
    with connection.cursor() as cursor:
        if cursor.mogrify(sql, params) != bare.text(sql, params):
            raise RuntimeError("psycopg and Django's cursor compose the statement differently")

    cookie = session_cookie(user)
    host_waited = wait_for_xmin(bare, timeout_s=arguments.wait)
    connection.close()  # this process stays off the database while measuring, but for (a)
    with running_server(arguments.server, environment=DATABASE.environment) as port:
        results, misses = measure(
            tiles,
            bare=bare,
            port=port,
            cookie=cookie,
            clearance=clearance,
            repeats=arguments.repeats,
            seed=arguments.seed,
        )
    for result in results:
        result.parcels = counts[result.tile]
    print(zoom_table(results))
    print(f"cached requests that rendered again: {misses}")
    compare_features(results)
    save_results(results, SCRATCH / f"results-{arguments.parcels}-seed{arguments.seed}.json")
    different = [r for r in results if r.different]
    print(
        f"tiles whose endpoint bytes differed from the bare query's: {len(different)}, "
        f"of which with other features: {sum(1 for r in different if not r.same_features)}"
    )

    over_bare = statistics.median(r.cold_over_bare for r in results)
    over_cached = statistics.median(r.cold_over_cached for r in results)
    missed = over_bare > COLD_OVER_BARE_GOAL or over_cached < COLD_OVER_CACHED_GOAL
    parts = tops = jit = probe = None
    profiled_zoom = None
    if arguments.summary:
        write_summary(results, misses=misses, path=arguments.summary)
    if (missed or arguments.profile) and not arguments.no_profile:
        parts = anatomy(tiles, user=user, bare=bare)
        jit = jit_effect(tiles, bare=bare, clearance=clearance)
        largest = max(results, key=lambda result: result.size).tile
        probe = binary_probe(bare, bare.run(*renderer_statement(largest, clearance=clearance))[0])
        by_zoom = {
            z: statistics.median(r.cold_over_bare for r in results if r.tile.z == z)
            for z in ZOOMS
            if any(r.tile.z == z for r in results)
        }
        profiled_zoom = max(by_zoom, key=by_zoom.get)
        tops = profiled([t for t in tiles if t.z == profiled_zoom], user=user, bare=bare)
        for path, anatomy_by_zoom in parts.items():
            print(path)
            for z, item in sorted(anatomy_by_zoom.items()):
                print(
                    z,
                    f"{item.total_ms:.2f} ms",
                    {part: round(item.ms(part), 2) for _, part in STATEMENT_PARTS},
                    round(item.ms(PYTHON_PART), 2),
                )
        for path, result in tops.items():
            print(path, result.steps)
            for row in result.top:
                print(row)
    if code_fingerprint() != fingerprint:
        raise RuntimeError(
            "the measured code changed during the run: its figures would mix two versions; "
            "run the benchmark again"
        )
    host["load"] = f"{load_at_start} at the start, {load_average()} at the end"
    host["waited"] = f"{host_waited:.0f}"
    section = render_section(
        command=command,
        arguments=arguments,
        host=host,
        facts=facts,
        load=load,
        tiles=tiles,
        results=results,
        misses=misses,
        parts=parts,
        tops=tops,
        profiled_zoom=profiled_zoom,
        jit=jit,
        probe=probe,
    )
    if arguments.no_doc:
        print(section)
    else:
        write_section(section)
        print(f"written to {DOC.relative_to(REPOSITORY)}, section {SECTION_HEADING!r}")


def write_section(section: str) -> None:
    replace_section(section, heading=SECTION_HEADING, doc=DOC)


if __name__ == "__main__":
    main()
