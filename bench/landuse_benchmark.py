"""Conformity and intensity of a synthetic city of 1,000,000 parcels and 1,000,000 buildings:
the land-use report's computation beside the same computation written naively, parcel by
parcel in Python.

Usage (from the repository root, as root or a user who may ``sudo -u postgres``)::

    .venv/bin/python bench/landuse_benchmark.py --parcels 1000000 --buildings 1000000 \\
        --repeats 3 --sample 5000

Works only in its own database (``--database``, default ``landledger_bench_landuse``): cloned
from ``landledger_template`` when missing, migrated, and filled by ``bench/synthetic_city.py``
with the city of ``--seed``, its land-use plan and buildings up to ``--buildings`` in all,
unless it holds them already.

(a) The report's way (``gis_layers.landuse_report``): ``district_inputs`` loads the district's
    current parcels, buildings and zoning (three queries) into GeoDataFrames in the district's
    UTM zone; ``parcel_table`` runs ``analysis.landuse.conformity`` and ``intensity`` on them
    (overlays over the whole district) and the use of the permitted FAR. Timed from the first
    query to the per-parcel table, as loading and computing.
(b) Naively: the parcels in one query; for each, one query for the zones that meet it and one
    for the buildings that meet it (``&&`` and ``ST_Intersects``, on the same GiST indexes),
    and the same arithmetic in plain Python with shapely, in the same CRS. Run on a sample of
    ``--sample`` parcels drawn from ``--seed`` (1,000,000 parcels at a few ms each would take
    an hour); the time for all parcels is the sample's time per parcel times their number: an
    extrapolation, said so in the doc.

Each repeat runs (a) and (b), alternating which goes first; figures are medians over the
repeats. The results of (b) are compared with those of (a) for every sampled parcel. The
figures go to the section "Land use: conformity and intensity" of ``docs/benchmarks.md``.
"""

import argparse
import dataclasses
import json
import math
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a file, the script's own folder is on the path, not the repository root.
    sys.path.insert(0, str(REPOSITORY))

from doc_sections import load_average, memory_gib, operating_system, replace_section  # noqa: E402  (a module beside this script)
from tile_benchmark import _prose, _table  # noqa: E402

from bench import synthetic_city  # noqa: E402  (after the path is set)
from bench.benchdb import BenchDatabase  # noqa: E402

DEFAULT_DATABASE = "landledger_bench_landuse"
DOC = REPOSITORY / "docs" / "benchmarks.md"
SECTION_HEADING = "## Land use: conformity and intensity"
SCRATCH = Path("var") / "bench-landuse"  # the city's load report, kept for later runs
# Numbers compared between (a) and (b); the rest (planned use, conformity, status) must be equal.
NUMBERS = ("share", "permitted_far", "far", "coverage", "addable_gfa_m2")


# --- the database ------------------------------------------------------------------------


def setup(name: str) -> str:
    """Create (when missing) and migrate the bench database; point Django at it."""
    database = BenchDatabase(name)
    database.ensure()
    database.setup_django()
    return database.url


def prepare_city(*, parcels: int, buildings: int, seed: int) -> dict:
    """The city, its plan and its buildings; what filling them took (read back from the run
    that did, when that was an earlier one)."""
    path = SCRATCH / f"city-seed{seed}-{parcels}-{buildings}.json"
    done = synthetic_city.city_state(parcels=parcels, seed=seed)
    filled = synthetic_city.fill(parcels=parcels, seed=seed)
    added = synthetic_city.fill_plan_and_buildings(parcels=parcels, seed=seed, buildings=buildings)
    if done == 0 or added.buildings or added.zones:
        loaded = {
            "city": dataclasses.asdict(filled) if done == 0 else None,
            "plan": dataclasses.asdict(added),
        }
        if path.exists():
            loaded = {**json.loads(path.read_text()), **{k: v for k, v in loaded.items() if v}}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(loaded, indent=1))
    return json.loads(path.read_text()) if path.exists() else {}


def city_facts(seed: int) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:

        def one(sql: str, params=()):
            cursor.execute(sql, params)
            return cursor.fetchone()

        district = one(
            "SELECT id FROM registry_district WHERE code = %s", [synthetic_city.DIVISION]
        )[0]
        facts = {
            "parcels": one("SELECT count(*) FROM registry_parcel WHERE district_id = %s AND valid_to IS NULL", [district])[0],
            "buildings": one("SELECT count(*) FROM registry_building b JOIN registry_parcel p ON p.id = b.parcel_id "
                             "WHERE p.district_id = %s AND b.valid_to IS NULL", [district])[0],
            "straddling": one("SELECT count(*) FROM registry_building WHERE source LIKE %s",
                              [f"synthetic city seed {seed} added building % (straddling)"])[0],
            "second": one("SELECT count(*) FROM registry_building WHERE source LIKE %s",
                          [f"synthetic city seed {seed} added building % (second)"])[0],
            "zones": one("SELECT count(*), count(max_far) FROM gis_layers_zoningarea WHERE plan_name = %s",
                         [synthetic_city.plan_name(seed=seed)]),
            "size": one("SELECT pg_size_pretty(pg_database_size(current_database()))")[0],
        }  # fmt: skip
    return facts


def machine() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), postgis_lib_version(), postgis_geos_version()")
        version, postgis, geos = cursor.fetchone()
        settings = {}
        for name in ("shared_buffers", "work_mem", "effective_cache_size", "jit"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    import geopandas
    import pandas
    import shapely

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPOSITORY, capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "gis_layers", "bench"],
        cwd=REPOSITORY, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return {
        "cpus": str(os.cpu_count()),
        "memory": memory_gib(),
        "system": operating_system(),
        "postgresql": version.split()[1],
        "postgis": postgis,
        "geos": geos.split("-")[0],
        "server_settings": ", ".join(f"{k} {v}" for k, v in settings.items()),
        "python": platform.python_version(),
        "libraries": f"GeoPandas {geopandas.__version__}, pandas {pandas.__version__}, "
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string})",
        "code": f"commit {commit}" + (", with uncommitted changes" if changed.strip() else ""),
    }


# --- (a) the report's way -------------------------------------------------------------------


@dataclasses.dataclass
class Fast:
    load_s: float
    conformity_s: float
    intensity_s: float
    total_s: float

    @property
    def rest_s(self) -> float:
        return self.total_s - self.load_s - self.conformity_s - self.intensity_s


def run_fast(district):
    """The report's own functions, with the two analysis steps timed where parcel_table calls
    them (wrapped in its module for the run)."""
    from gis_layers import landuse_report

    spent = {"conformity": 0.0, "intensity": 0.0}
    originals = {name: getattr(landuse_report, name) for name in spent}

    def timed(name):
        def call(*args, **kwargs):
            started = time.perf_counter()
            try:
                return originals[name](*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return call

    for name in spent:
        setattr(landuse_report, name, timed(name))
    try:
        started = time.perf_counter()
        inputs = landuse_report.district_inputs(district)
        loaded = time.perf_counter()
        table = landuse_report.parcel_table(inputs)
        finished = time.perf_counter()
    finally:
        for name, original in originals.items():
            setattr(landuse_report, name, original)
    timing = Fast(loaded - started, spent["conformity"], spent["intensity"], finished - started)
    return table, inputs, timing


# --- (b) naively, parcel by parcel ----------------------------------------------------------

# As a loop over the ORM would send them (``ZoningArea.objects.filter(geom__intersects=
# parcel.geom)``): the parcels in one query, then the parcel's geometry as a parameter.
PARCELS_SQL = (
    "SELECT id, land_use_id, area_m2, ST_AsEWKB(geom) FROM registry_parcel "
    "WHERE id = ANY(%s) ORDER BY id"
)
ZONES_SQL = (
    "SELECT planned_use, max_far, ST_AsBinary(geom) FROM gis_layers_zoningarea "
    "WHERE geom && ST_GeomFromEWKB(%(g)s) AND ST_Intersects(geom, ST_GeomFromEWKB(%(g)s)) "
    "ORDER BY id"
)
BUILDINGS_SQL = (
    "SELECT gross_floor_area_m2, ST_AsBinary(footprint) FROM registry_building "
    "WHERE footprint && ST_GeomFromEWKB(%(g)s) AND ST_Intersects(footprint, ST_GeomFromEWKB(%(g)s)) "
    "AND valid_to IS NULL ORDER BY id"
)


@dataclasses.dataclass
class Naive:
    total_s: float
    query_s: float
    parcels: int

    @property
    def per_parcel_s(self) -> float:
        return self.total_s / self.parcels


def naive_parcel(cursor, row, *, project, crosswalk, sliver_m2, below_share, clock):
    """One parcel's plan and intensity, as the report gives them, from two queries and plain
    Python: the zones that meet it, the buildings that meet it."""
    import shapely

    _, land_use, area_m2, parcel_wkb = row
    started = time.perf_counter()
    cursor.execute(ZONES_SQL, {"g": parcel_wkb})
    zones = cursor.fetchall()
    cursor.execute(BUILDINGS_SQL, {"g": parcel_wkb})
    buildings = cursor.fetchall()
    clock["query"] += time.perf_counter() - started

    parcel = project(shapely.from_wkb(bytes(parcel_wkb)))
    parcel_m2 = parcel.area
    by_use: dict[str, list[float]] = {}  # planned use: [m², FAR x m², m² with a FAR]
    for planned_use, max_far, zone_wkb in zones:
        piece_m2 = shapely.intersection(parcel, project(shapely.from_wkb(bytes(zone_wkb)))).area
        if piece_m2 <= 0 or piece_m2 < sliver_m2:
            continue  # touches only, or a sliver
        sums = by_use.setdefault(planned_use, [0.0, 0.0, 0.0])
        sums[0] += piece_m2
        if max_far is not None:
            sums[1] += max_far * piece_m2
            sums[2] += piece_m2
    result = {"planned_use": None, "share": math.nan, "permitted_far": math.nan, "conforms": None}
    if by_use:
        planned = min(by_use, key=lambda use: (-by_use[use][0], use))
        m2, far_m2, limited_m2 = by_use[planned]
        mapped = crosswalk.get(land_use, "")
        result = {
            "planned_use": planned,
            "share": m2 / parcel_m2,
            "permitted_far": far_m2 / limited_m2 if limited_m2 else math.nan,
            "conforms": bool(mapped)
            and (mapped.startswith(planned[:4]) or planned[:4].startswith(mapped)),
        }
    footprint_m2 = gfa_m2 = 0.0
    pieces = unknown = 0
    for gfa, footprint_wkb in buildings:
        footprint = project(shapely.from_wkb(bytes(footprint_wkb)))
        inside_m2 = shapely.intersection(parcel, footprint).area
        if inside_m2 <= 0 or inside_m2 < sliver_m2:
            continue
        pieces += 1
        footprint_m2 += inside_m2
        if gfa is None:
            unknown += 1
        else:
            gfa_m2 += gfa * inside_m2 / footprint.area
    far = gfa_m2 / area_m2 if pieces and not unknown else math.nan
    result["far"] = far
    result["coverage"] = footprint_m2 / parcel_m2 if pieces else math.nan
    permitted = result["permitted_far"]
    result["addable_gfa_m2"] = (
        permitted * area_m2 - gfa_m2 if not (math.isnan(far) or math.isnan(permitted)) else math.nan
    )
    if math.isnan(far):
        result["status"] = "no_data"
    elif math.isnan(permitted):
        result["status"] = "no_limit"
    else:
        result["status"] = "underused" if far < below_share * permitted else "used"
    return result


def run_naive(sample: list[int], *, crs, crosswalk: dict[str, str]) -> tuple[dict, Naive]:
    import pyproj
    import shapely
    from django.conf import settings
    from django.db import connection

    from gis_layers.analysis.landuse import UNDERUSED_SHARE

    transformer = pyproj.Transformer.from_crs(4490, crs, always_xy=True)

    def project(geometry):
        return shapely.transform(
            geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )

    clock = {"query": 0.0}
    results = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(PARCELS_SQL, [sample])
        rows = cursor.fetchall()
        clock["query"] += time.perf_counter() - started
        for row in rows:
            results[row[0]] = naive_parcel(
                cursor, row, project=project, crosswalk=crosswalk,
                sliver_m2=settings.LANDLEDGER_OVERLAP_TOLERANCE_M2,
                below_share=UNDERUSED_SHARE, clock=clock,
            )  # fmt: skip
    return results, Naive(time.perf_counter() - started, clock["query"], len(sample))


def compare(table, results: dict) -> dict:
    """How (b) agrees with (a) on the parcels (b) ran on: classifications equal, numbers equal
    bit for bit or within what summing in another order gives."""
    import pandas as pd

    fast = table.set_index("parcel_id").loc[list(results)]
    naive = pd.DataFrame.from_dict(results, orient="index").loc[fast.index]

    def label(values: pd.Series) -> pd.Series:
        return values.astype(object).where(values.notna(), "-").astype(str)

    same_class = (
        (label(fast["planned_use"]) == label(naive["planned_use"]))
        & (label(fast["conforms"]) == label(naive["conforms"]))
        & (fast["status"].astype(str) == naive["status"].astype(str))
    )
    identical = same_class.copy()
    worst = 0.0
    for name in NUMBERS:
        a = pd.to_numeric(fast[name], errors="coerce").astype(float).to_numpy()
        b = pd.to_numeric(naive[name], errors="coerce").astype(float).to_numpy()
        both_missing = np.isnan(a) & np.isnan(b)
        one_missing = np.isnan(a) ^ np.isnan(b)
        same_class &= ~one_missing
        equal = both_missing | (a == b)
        identical &= equal
        differing = ~equal & ~one_missing
        if differing.any():
            relative = np.abs(a - b)[differing] / np.maximum(np.abs(a), np.abs(b))[differing]
            worst = max(worst, float(relative.max()))
    statuses = fast["status"].value_counts().to_dict()
    conforms = fast["conforms"].astype("boolean")
    shares = pd.to_numeric(naive["share"], errors="coerce")
    return {
        "parcels": len(results),
        "mismatched": [int(i) for i in fast.index[~same_class.to_numpy()]],
        "identical": int(identical.sum()),
        "worst_relative": worst,
        "statuses": {str(k): int(v) for k, v in statuses.items()},
        "conforming": int(conforms.eq(True).fillna(False).sum()),
        "nonconforming": int(conforms.eq(False).fillna(False).sum()),
        "no_plan": int(conforms.isna().sum()),
        "split": int((shares < 0.999).sum()),
    }


# --- the doc -----------------------------------------------------------------------------


def _s(seconds: float) -> str:
    return f"{seconds:,.1f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return _s(seconds)
    return f"{seconds / 60:,.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _runs(values: list[float], unit=_s) -> str:
    return f"{unit(statistics.median(values))} ({', '.join(unit(v) for v in values)})"


def render_section(*, arguments, database: str, facts: dict, load: dict, host: dict,
                   fast: list[Fast], naive: list[Naive], agreement: dict,
                   peak_rss_gib: float, loads: tuple[str, str]) -> str:  # fmt: skip
    parcels = facts["parcels"]
    fast_total = statistics.median(f.total_s for f in fast)
    per_parcel = statistics.median(n.per_parcel_s for n in naive)
    naive_all = per_parcel * parcels
    query_share = statistics.median(n.query_s / n.total_s for n in naive)
    ran_on = naive[0].parcels
    extrapolated = ran_on < parcels
    command = shlex.join(
        [".venv/bin/python", "bench/landuse_benchmark.py", "--parcels", str(arguments.parcels),
         "--buildings", str(arguments.buildings), "--repeats", str(arguments.repeats),
         "--sample", str(arguments.sample or "all"), "--seed", str(arguments.seed),
         "--database", database]
    )  # fmt: skip
    plan = (load or {}).get("plan") or {}
    city = (load or {}).get("city") or {}
    zones, limited = facts["zones"]
    rows = [
        [
            "(a) report: load + `conformity` + `intensity`, whole district",
            _runs([f.total_s for f in fast]),
            f"{fast_total / parcels * 1e6:.0f} µs",
            _s(fast_total),
            "1",
        ],
        [
            f"(b) naive, parcel by parcel: {ran_on:,} sampled parcels"
            if extrapolated
            else "(b) naive, parcel by parcel: every parcel",
            _runs([n.total_s for n in naive]),
            f"{per_parcel * 1e6:,.0f} µs",
            f"{_duration(naive_all)} (extrapolated)"
            if extrapolated
            else _duration(statistics.median(n.total_s for n in naive)),
            f"{naive_all / fast_total:.1f}",
        ],
    ]
    parts = [
        [
            "load: three queries, WKB to shapely",
            _runs([f.load_s for f in fast]),
        ],
        ["`conformity` (overlay with the zones, main use, crosswalk)", _runs([f.conformity_s for f in fast])],
        ["`intensity` (overlay with the buildings, apportioned)", _runs([f.intensity_s for f in fast])],
        ["the rest (projecting to the UTM zone, use of the permitted FAR, merging)", _runs([f.rest_s for f in fast])],
    ]  # fmt: skip
    statuses = agreement["statuses"]
    text = [
        SECTION_HEADING,
        "",
        _prose(
            "Command, from the repository root, as root or as a user who may `sudo -u postgres` "
            f"(it works only in the database `{database}`, which it clones from "
            "`landledger_template` when missing and migrates, and fills with the synthetic "
            "city, its plan and its added buildings unless it holds them already):"
        ),
        "",
        "```sh",
        command,
        "```",
        "",
        _prose(
            f"The city (`bench/synthetic_city.py`, seed {arguments.seed}): {parcels:,} current "
            f"parcels in the made-up district 990301 and {facts['buildings']:,} buildings on "
            f"them: the city's own (one on most built-up parcels) and {facts['straddling'] + facts['second']:,} "
            f"added to reach {arguments.buildings:,}, of which {facts['straddling']:,} straddle "
            f"the edge of two neighbouring parcels (their floor area is apportioned by the "
            f"share of the footprint on each) and {facts['second']:,} are second buildings on "
            f"a parcel. The plan: {zones:,} zones (one per block of the street grid, a fifth "
            "of the blocks cut into a western and an eastern zone across some parcels, 3% "
            "left unplanned, 12% of the zones planned for another use than their parcels "
            f"hold), {limited:,} of them with a permitted FAR, higher towards the centre. The "
            f"database then holds {facts['size']}."
        ),
        "",
    ]
    if plan:
        filled = (
            f"Filling the city took {city['total_s'] / 60:.1f} min (as for the tile benchmark "
            "above, with the register's constraints and triggers on); "
            if city
            else ""
        )
        text += [
            _prose(
                f"{filled}adding the plan and the buildings {plan['total_s'] / 60:.1f} min: "
                f"drawing them (the city's parcels are drawn again to place them) "
                f"{plan['generate_s']:.0f} s, the zones {plan['zones_s']:.0f} s, the buildings "
                f"{plan['buildings_s']:.0f} s (their rows, indexes, history and tile-change "
                f"notes, in transactions of 50,000), VACUUM ANALYZE {plan['vacuum_s']:.0f} s. "
                "Alone, that is:"
            ),
            "",
            "```sh",
            f".venv/bin/python bench/synthetic_city.py --parcels {arguments.parcels} --seed "
            f"{arguments.seed} --plan --buildings {arguments.buildings} \\",
            f"    --database-url postgis://landledger:landledger@127.0.0.1:5432/{database}",
            "```",
            "",
        ]
    text += [
        _prose(
            f"Machine: {host['cpus']} CPUs, {host['memory']} of memory, {host['system']}, "
            f"PostgreSQL {host['postgresql']} with PostGIS {host['postgis']} (GEOS "
            f"{host['geos']}; {host['server_settings']}); Python {host['python']}, "
            f"{host['libraries']}; client and server on the same machine, which other work "
            f"shares: 1-minute load average {loads[0]} at the start, {loads[1]} at the end "
            f"(`/proc/loadavg`). Code measured: {host['code']}."
        ),
        "",
        _prose(
            "(a) The land-use report's computation for one district "
            "(`gis_layers.landuse_report`): `district_inputs` loads the current parcels (with "
            "their holder type), their buildings and the zoning over them in three queries and "
            "decodes the WKB; `parcel_table` projects them to the district's UTM zone, runs "
            "`analysis.landuse.conformity` (an overlay of the parcels with the zones: each "
            "parcel's shares by planned use, the main one, its permitted FAR, and conformity "
            "through the crosswalk) and `intensity` (an overlay with the buildings: footprint "
            "and floor area apportioned to each parcel, FAR and coverage), then the use of the "
            "permitted FAR (status and floor area that could be added). Timed from the first "
            "query to the table of all parcels, in the benchmark's process, DEBUG off."
        ),
        "",
        _prose(
            "(b) The same computation written naively, as a loop over the ORM would run it: "
            "the parcels in one query, then for each parcel a query for the zones that meet it "
            "and one for the buildings that meet it, with the parcel's geometry as a parameter "
            "(`&&` and `ST_Intersects` on the same GiST indexes), and the arithmetic in plain "
            "Python with shapely, on the geometries projected one by one to the same UTM zone. "
            + (
                f"Run on {ran_on:,} parcels drawn at random from seed {arguments.seed}, in the "
                f"order of their ids: over all {parcels:,} parcels it would take about "
                f"{_duration(naive_all)} a repeat. **Its figure for all {parcels:,} parcels is "
                "extrapolated**: the sample's time per parcel times the number of parcels (its "
                "work per parcel does not depend on how many there are). "
                if extrapolated
                else f"Run on every one of the {parcels:,} parcels, in the order of their ids: "
                "its figures are measured, not extrapolated. "
            )
            + "Of its time, "
            f"{query_share:.0%} went to the queries (sending, planning and running them, "
            "fetching), the rest to Python."
        ),
        "",
        _prose(
            f"Each of {arguments.repeats} repeats ran (a) and (b), alternating which went "
            "first; medians, with the repeats in brackets. Ratio: (b)'s time for all parcels "
            f"over (a)'s. Peak memory of the process (ru_maxrss), (a) included: "
            f"{peak_rss_gib:.1f} GiB."
        ),
        "",
        _table(
            [
                "computation",
                "time for the parcels it ran on, median (repeats)",
                "per parcel",
                f"for all {parcels:,} parcels",
                "ratio to (a)",
            ],
            rows,
        ),  # fmt: skip
        "",
        _prose(
            "Between repeats, the slowest was "
            f"{max(f.total_s for f in fast) / min(f.total_s for f in fast):.2f} times the "
            f"fastest for (a) and {max(n.total_s for n in naive) / min(n.total_s for n in naive):.2f} "
            "times for (b): the machine is shared, so compare the medians, taken side by side."
        ),
        "",
        "Where (a)'s time goes:",
        "",
        _table(["step of (a)", "median (repeats)"], parts),
        "",
    ]
    mismatched = agreement["mismatched"]
    if mismatched:
        agree = (
            f"**{len(mismatched)} of the {agreement['parcels']:,} parcels (b) ran on differ** "
            f"between (a) and (b) (ids {', '.join(map(str, mismatched[:10]))})."
        )
    else:
        others = agreement["parcels"] - agreement["identical"]
        agree = (
            f"Agreement: for every one of the {agreement['parcels']:,} parcels it ran on, (b) "
            "gave the same main planned use, conformity and status as (a), and the same "
            "share, permitted FAR, FAR, coverage and floor area that could be added, "
            + (
                "bit for bit."
                if not others
                else f"bit for bit for {agreement['identical']:,} of them; for the other "
                f"{others:,}, within a relative {agreement['worst_relative']:.1e} at most (the "
                "same areas summed in another order: pandas adds up a group with compensated "
                "summation, the loop one by one)."
            )
        )
    text += [
        _prose(
            f"{agree} They held {statuses.get('underused', 0):,} under-used parcels, "
            f"{statuses.get('used', 0):,} built to at least half their permitted FAR, "
            f"{statuses.get('no_data', 0):,} without building data and "
            f"{statuses.get('no_limit', 0):,} where the plan sets no FAR; "
            f"{agreement['conforming']:,} conforming, {agreement['nonconforming']:,} not, "
            f"{agreement['no_plan']:,} without a plan; {agreement['split']:,} lay in more than "
            "one zone."
        ),
        "",
        _prose(
            f"In short: the whole district's conformity and intensity take {_s(fast_total)} "
            f"the report's way, against {'about ' if extrapolated else ''}{_duration(naive_all)} parcel by parcel "
            f"({naive_all / fast_total:.0f} times as long). The naive loop pays two queries "
            "(each planned anew) and a projection per parcel; the report reads each table once and lets "
            "GEOS intersect the pairs the overlays' spatial index finds, in bulk."
        ),
        "",
    ]
    return "\n".join(text)


# --- main --------------------------------------------------------------------------------


def _sample(text: str) -> int:
    """A number of parcels, or 0 for all of them."""
    return 0 if text == "all" else synthetic_city.parse_size(text)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--parcels", type=synthetic_city.parse_size, default=synthetic_city.SIZES["L"]
    )
    parser.add_argument(
        "--buildings",
        type=synthetic_city.parse_size,
        default=1_000_000,
        help="buildings in all (the city's own, plus added ones)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sample",
        type=_sample,
        default=5_000,
        help="parcels the naive way runs on: a number, or 'all'",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--no-doc", action="store_true", help="print the section, do not write it")
    return parser.parse_args()  # fmt: skip


def main() -> None:
    arguments = parse_arguments()
    setup(arguments.database)
    load = prepare_city(
        parcels=arguments.parcels, buildings=arguments.buildings, seed=arguments.seed
    )

    from gis_layers.landuse_report import metric_groups
    from registry.models import District, Parcel

    district = District.objects.get(code=synthetic_city.DIVISION)
    facts = city_facts(arguments.seed)
    host = machine()
    start_load = load_average()
    rng = np.random.default_rng(arguments.seed)
    ids = np.array(
        sorted(
            Parcel.objects.filter(district=district, valid_to__isnull=True).values_list(
                "pk", flat=True
            )
        )
    )
    if arguments.sample and arguments.sample < len(ids):
        sample = sorted(int(i) for i in rng.choice(ids, size=arguments.sample, replace=False))
    else:
        sample = [int(i) for i in ids]

    fast: list[Fast] = []
    naive: list[Naive] = []
    table = results = crs = crosswalk = None
    for repeat in range(arguments.repeats):
        # (b) needs (a)'s CRS and crosswalk, so the first repeat starts with (a).
        for which in ("fast", "naive") if repeat % 2 == 0 else ("naive", "fast"):
            if which == "fast":
                table = None  # one table in memory at a time: the peak is one run's
                table, inputs, timing = run_fast(district)
                ((crs, _),) = metric_groups(inputs.parcels)  # the city lies in one UTM zone
                crosswalk = inputs.crosswalk
                del inputs
                fast.append(timing)
            else:
                results, timing = run_naive(sample, crs=crs, crosswalk=crosswalk)
                naive.append(timing)
            print(f"repeat {repeat + 1}: {timing}", flush=True)
    agreement = compare(table, results)
    print(f"agreement: {json.dumps({k: v for k, v in agreement.items() if k != 'mismatched'})}; "
          f"mismatched: {agreement['mismatched'][:20]}", flush=True)  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    section = render_section(
        arguments=arguments, database=arguments.database, facts=facts, load=load, host=host,
        fast=fast, naive=naive, agreement=agreement,
        peak_rss_gib=peak, loads=(start_load, load_average()),
    )  # fmt: skip
    print(section)
    # The measurements themselves, beside the city's load report.
    (SCRATCH / "results.json").write_text(
        json.dumps(
            {
                "command": sys.argv,
                "fast": [dataclasses.asdict(f) for f in fast],
                "naive": [dataclasses.asdict(n) for n in naive],
                "agreement": agreement,
                "peak_rss_gib": peak,
            },
            indent=1,
        )
    )
    if not arguments.no_doc:
        replace_section(section, heading=SECTION_HEADING, doc=DOC)
        print(f"written: {DOC.relative_to(REPOSITORY)}")


if __name__ == "__main__":
    main()
