"""Shelter coverage: ``gis_layers.analysis.coverage`` against naive approaches, side by side.

Usage (from the repository root)::

    .venv/bin/python bench/coverage_benchmark.py --cells 1000000 --shelters 10000 --repeats 3

Distance mode: a seeded population raster of ``--cells`` cells (100 m, square) and
``--shelters`` personnel shelters (200 m radius, 50-2,000 places) placed where people live.

(a) ours: cell centres → ``straight_line_reach`` → ``coverage`` (catchments, loads, E2SFCA)
    → ``totals``, plus ``nearest_straight_line`` for every cell;
(b) naive: each shelter's 200 m circle as a polygon, ``rasterstats.zonal_stats`` summing the
    raster under it (a cell counts when its centre is inside, as in (a)) for the catchments, and
    the population under the union of all circles (``rasterio.features.geometry_mask``) for the
    total within reach. (b) computes less than (a) (no capacity, no nearest distance).

Both must give the same total within reach and the same catchment for every shelter; the
figures say how many differ (a cell centre on a circle's edge can fall either side of the
polygon's chords).

Walking mode: a street grid of about ``--edges`` edges (50 m blocks) and a 100 m population
grid over it, ``--walk-shelters`` shelters: (a) ``WalkingNetwork.reach`` against (b) one
networkx ``single_source_dijkstra_path_length`` per shelter with a 200 m cut-off, the same
pairs expected.

Medians of ``--repeats`` runs are written to the section "Shelter coverage" of
``docs/benchmarks.md``.
"""

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import rasterio.features
import shapely
from rasterio.transform import from_origin
from rasterstats import zonal_stats
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.doc_sections import (  # noqa: E402
    load_average,
    memory_gib,
    operating_system,
    recorded_command,
    replace_section,
)
from gis_layers.analysis import coverage as analysis  # noqa: E402

HEADING = "## Shelter coverage: analysis against naive buffers and per-shelter searches"
CELL_M = 100.0
RADIUS_M = 200.0


def population_raster(cells: int, rng: np.random.Generator) -> np.ndarray:
    """A square raster of persons per cell: a few dense centres over a thin background."""
    side = int(round(cells**0.5))
    yy, xx = np.mgrid[0:side, 0:side].astype(float)
    density = np.full((side, side), 2.0)
    for _ in range(12):
        cx, cy, spread = (
            rng.uniform(0, side),
            rng.uniform(0, side),
            rng.uniform(side / 40, side / 10),
        )
        density += 300 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * spread**2))
    return np.round(rng.poisson(density).astype(float), 0)


def place_shelters(raster: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Shelter positions in metres, in cells drawn by population, anywhere inside the cell."""
    weights = raster.ravel() / raster.sum()
    chosen = rng.choice(raster.size, size=count, p=weights)
    rows, cols = np.divmod(chosen, raster.shape[1])
    x = (cols + rng.uniform(0, 1, count)) * CELL_M
    y = (raster.shape[0] - rows - rng.uniform(0, 1, count)) * CELL_M
    return np.column_stack([x, y])


def ours(raster, shelter_xy, places):
    side = raster.shape[0]
    cols, rows = np.meshgrid(np.arange(side), np.arange(side))
    cell_xy = np.column_stack([(cols.ravel() + 0.5) * CELL_M, (side - rows.ravel() - 0.5) * CELL_M])
    population = raster.ravel()
    radius = np.full(len(shelter_xy), RADIUS_M)
    reach = analysis.straight_line_reach(cell_xy, shelter_xy, radius)
    result = analysis.coverage(population, places, radius, reach)
    table = analysis.totals(population, result, np.zeros(len(population), dtype=int))
    nearest = analysis.nearest_straight_line(cell_xy, shelter_xy)
    return float(table.loc["all", "within_reach"]), result.catchment, nearest


def naive(raster, shelter_xy):
    side = raster.shape[0]
    transform = from_origin(0, side * CELL_M, CELL_M, CELL_M)
    circles = shapely.buffer(shapely.points(shelter_xy), RADIUS_M, quad_segs=64)
    stats = zonal_stats(list(circles), raster, affine=transform, stats=["sum"], nodata=-1)
    catchment = np.array([row["sum"] or 0.0 for row in stats])
    outside = rasterio.features.geometry_mask(
        list(circles), out_shape=raster.shape, transform=transform
    )
    return float(raster[~outside].sum()), catchment


def street_grid(edges: int) -> tuple[list[np.ndarray], int]:
    """Lines of a square street grid with a vertex at every crossing (about ``edges`` edges)."""
    side = int(round((edges / 2) ** 0.5)) + 1
    ticks = np.arange(side) * 50.0
    lines = [np.column_stack([np.full(side, x), ticks]) for x in ticks]
    lines += [np.column_stack([ticks, np.full(side, y)]) for y in ticks]
    return lines, side


def walking(edges: int, shelters: int, rng: np.random.Generator):
    lines, side = street_grid(edges)
    extent = (side - 1) * 50.0
    ticks = np.arange(CELL_M / 2, extent, CELL_M)
    cell_xy = np.array([(x, y) for y in ticks for x in ticks])
    shelter_xy = rng.uniform(0, extent, (shelters, 2))
    radius = np.full(shelters, RADIUS_M)
    start = time.perf_counter()
    network = analysis.WalkingNetwork(lines)
    reach = network.reach(cell_xy, shelter_xy, radius)
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    graph = nx.Graph()
    for line in lines:
        for a, b in zip(line[:-1], line[1:], strict=True):
            graph.add_edge(tuple(a), tuple(b), weight=float(np.hypot(*(b - a))))
    node_keys = list(graph.nodes)
    node_index = {key: index for index, key in enumerate(node_keys)}
    tree = cKDTree(np.array(node_keys))
    cell_link, cell_node = tree.query(cell_xy)
    shelter_link, shelter_node = tree.query(shelter_xy)
    cells_at = {}
    for index, node in enumerate(cell_node):
        cells_at.setdefault(int(node), []).append(index)
    pairs = 0
    for s in range(shelters):
        budget = RADIUS_M - shelter_link[s]
        if budget < 0:
            continue
        walks = nx.single_source_dijkstra_path_length(
            graph, node_keys[shelter_node[s]], cutoff=budget, weight="weight"
        )
        for key, walk in walks.items():
            index = node_index[key]
            for cell in cells_at.get(index, []):
                if walk + cell_link[cell] + shelter_link[s] <= RADIUS_M:
                    pairs += 1
    naive_s = time.perf_counter() - start
    return {
        "edges": network.edge_count,
        "cells": len(cell_xy),
        "shelters": shelters,
        "pairs_ours": len(reach.cell),
        "pairs_naive": pairs,
        "ours_s": ours_s,
        "naive_s": naive_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--shelters", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--walk-shelters", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print, do not write the doc")
    parser.add_argument("--summary", type=Path, help="also write the medians here, as JSON")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    raster = population_raster(args.cells, rng)
    shelter_xy = place_shelters(raster, args.shelters, rng)
    places = rng.integers(50, 2000, args.shelters).astype(float)

    timings = {"ours": [], "naive": []}
    for repeat in range(args.repeats):
        for side in ("ours", "naive") if repeat % 2 == 0 else ("naive", "ours"):
            start = time.perf_counter()
            if side == "ours":
                within_ours, catchment_ours, nearest = ours(raster, shelter_xy, places)
            else:
                within_naive, catchment_naive = naive(raster, shelter_xy)
            timings[side].append(time.perf_counter() - start)
            print(f"repeat {repeat + 1}: {side} {timings[side][-1]:.2f} s", flush=True)
    differing = int((np.abs(catchment_ours - catchment_naive) > 1e-6).sum())
    median = {side: statistics.median(values) for side, values in timings.items()}

    walk_runs = []
    for repeat in range(args.repeats):
        walk_runs.append(walking(args.edges, args.walk_shelters, np.random.default_rng(args.seed)))
        print(f"walking repeat {repeat + 1}: ours {walk_runs[-1]['ours_s']:.2f} s, "
              f"naive {walk_runs[-1]['naive_s']:.2f} s", flush=True)  # fmt: skip
    walk = walk_runs[-1]
    walk_ours = statistics.median(run["ours_s"] for run in walk_runs)
    walk_naive = statistics.median(run["naive_s"] for run in walk_runs)

    command = recorded_command("bench/coverage_benchmark.py", sys.argv[1:])
    section = f"""{HEADING}

Command: `{command}` (seed {args.seed}; {args.repeats} repeats, medians; the two sides
alternate which goes first). Machine: {operating_system()}, Python {platform.python_version()},
{memory_gib()} memory, load average {load_average()} at the end.

### Distance mode: {raster.size:,} population cells (100 m), {args.shelters:,} shelters (200 m)

| | median | per cell | ratio |
|---|---|---|---|
| ours: reach, catchments, loads, E2SFCA, totals, nearest distance for every cell | {median["ours"]:.2f} s | {median["ours"] / raster.size * 1e6:.2f} µs | 1 |
| naive: rasterstats zonal sum per shelter circle + union mask | {median["naive"]:.2f} s | {median["naive"] / raster.size * 1e6:.2f} µs | {median["naive"] / median["ours"]:.1f} × slower |

Same answers: population within reach {within_ours:,.0f} (ours) and {within_naive:,.0f}
(naive); catchments differ for {differing} of {args.shelters:,} shelters (cell centres on the
edge of a circle, which the naive side draws with 256 chords). Goal: ours at least 10 × faster
than naive; measured {median["naive"] / median["ours"]:.1f} ×.

### Walking mode: street grid of {walk["edges"]:,} edges, {walk["cells"]:,} cells, {walk["shelters"]:,} shelters

| | median | ratio |
|---|---|---|
| ours: `WalkingNetwork` (scipy Dijkstra in batches, vectorised expansion to cells) | {walk_ours:.2f} s | 1 |
| naive: networkx Dijkstra per shelter, cut off at 200 m, pairs checked in Python | {walk_naive:.2f} s | {walk_naive / walk_ours:.1f} × slower |

Pairs within 200 m on foot: {walk["pairs_ours"]:,} (ours), {walk["pairs_naive"]:,} (naive).
"""
    print(section)
    if args.summary:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(
            json.dumps(
                {
                    "cells": int(raster.size),
                    "shelters": args.shelters,
                    "ours_s": median["ours"],
                    "naive_s": median["naive"],
                    "within_ours": float(within_ours),
                    "within_naive": float(within_naive),
                    "catchments_differing": differing,
                    "walk_edges": walk["edges"],
                    "walk_shelters": walk["shelters"],
                    "walk_ours_s": walk_ours,
                    "walk_naive_s": walk_naive,
                    "walk_pairs_ours": walk["pairs_ours"],
                    "walk_pairs_naive": walk["pairs_naive"],
                },
                indent=1,
            )
        )
    if not args.no_write:
        replace_section(section, heading=HEADING)


if __name__ == "__main__":
    main()
