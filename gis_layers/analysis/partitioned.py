"""Shelter coverage split into partitions (districts, say) that can run apart, on several
processes or machines, and give exactly the answer of one run.

Map: each partition pairs its own cells with every shelter that could reach them (those
within the largest radius of the partition's bounding box), so each (cell, shelter) pair is
found in exactly one partition: the one holding the cell. Reduce: a shelter's demand (E2SFCA
step 1) sums the partial demands of all partitions. Map again: each partition scores its
cells with the shelters' ratios (step 2). Only arrays of the size of the shelters travel
between the steps.

``map_function`` runs the per-partition work: the built-in ``map`` by default, or an
executor's ``map`` (``concurrent.futures.ProcessPoolExecutor``, a dask client) to spread it.
No Django imports.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gis_layers.analysis.coverage import (
    DECAY_WEIGHTS,
    Coverage,
    Decay,
    Reach,
    WalkingNetwork,
    cell_access,
    places_per_person,
    shelter_demand,
    straight_line_reach,
)

MapFunction = Callable  # like the built-in map: (function, iterable, ...) -> iterable


@dataclass(frozen=True)
class _Partition:
    cells: np.ndarray  # indices of the partition's cells in the whole
    cell_xy: np.ndarray
    population: np.ndarray
    shelters: np.ndarray  # indices of the shelters that may reach them
    shelter_xy: np.ndarray
    radius_m: np.ndarray


def _partitions(cell_xy, population, partition, shelter_xy, radius_m) -> list[_Partition]:
    reach_m = float(radius_m.max(initial=0.0))
    parts = []
    for label in np.unique(partition):
        cells = np.flatnonzero(partition == label)
        low = cell_xy[cells].min(axis=0) - reach_m
        high = cell_xy[cells].max(axis=0) + reach_m
        near = np.flatnonzero(np.all((shelter_xy >= low) & (shelter_xy <= high), axis=1))
        parts.append(
            _Partition(
                cells, cell_xy[cells], population[cells], near, shelter_xy[near], radius_m[near]
            )
        )
    return parts


def _local_reach(part: _Partition, network: WalkingNetwork | None) -> Reach:
    if network is None:
        local = straight_line_reach(part.cell_xy, part.shelter_xy, part.radius_m)
    else:
        local = network.reach(part.cell_xy, part.shelter_xy, part.radius_m)
    # Back to the indices of the whole.
    return Reach(part.cells[local.cell], part.shelters[local.shelter], local.distance_m)


def _partial_demand(args) -> tuple[Reach, np.ndarray]:
    part, network, shelters, radius_m, decay = args
    reach = _local_reach(part, network)
    # The partition's population is in its own order; its cells are sorted indices.
    pair_population = part.population[np.searchsorted(part.cells, reach.cell)]
    return reach, shelter_demand(reach, pair_population, radius_m, shelters=shelters, decay=decay)


def _partial_access(args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    part, reach, ratio, radius_m, decay = args
    position = np.searchsorted(part.cells, reach.cell)
    access, covered = cell_access(
        reach, position, ratio, radius_m, cells=len(part.cells), decay=decay
    )
    catchment = np.bincount(reach.shelter, weights=part.population[position], minlength=len(ratio))
    return access, covered, catchment


def partitioned_coverage(
    cell_xy: np.ndarray,
    population: np.ndarray,
    partition: np.ndarray,
    shelter_xy: np.ndarray,
    capacity: np.ndarray,
    radius_m: np.ndarray,
    *,
    network: WalkingNetwork | None = None,
    map_function: MapFunction = map,
    decay: Decay = DECAY_WEIGHTS,
) -> Coverage:
    """:func:`gis_layers.analysis.coverage.coverage` computed partition by partition.

    Parameters
    ----------
    partition
        A label per cell (for example its district); each label is one unit of work.
    network
        Walk on this network instead of measuring straight lines.
    map_function
        Runs the work of each partition (``map``, or an executor's ``map``).
    decay
        E2SFCA weights of the three bands of the radius.
    """
    parts = _partitions(cell_xy, population, partition, shelter_xy, radius_m)
    shelters = len(shelter_xy)
    first = list(
        map_function(
            _partial_demand, [(part, network, shelters, radius_m, decay) for part in parts]
        )
    )
    demand = np.sum([partial for _, partial in first], axis=0) if first else np.zeros(shelters)
    ratio = places_per_person(capacity, demand)
    second = list(
        map_function(
            _partial_access,
            [
                (part, reach, ratio, radius_m, decay)
                for part, (reach, _) in zip(parts, first, strict=True)
            ],
        )
    )
    access = np.zeros(len(cell_xy))
    covered = np.zeros(len(cell_xy), dtype=bool)
    catchment = np.zeros(shelters)
    for part, (part_access, part_covered, part_catchment) in zip(parts, second, strict=True):
        access[part.cells] = part_access
        covered[part.cells] = part_covered
        catchment += part_catchment
    return Coverage.of(population, capacity, covered, access, catchment, ratio)
