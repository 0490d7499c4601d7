"""Coverage run partition by partition, in several processes, equals one run."""

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from gis_layers.analysis.coverage import WalkingNetwork, coverage, straight_line_reach
from gis_layers.analysis.partitioned import partitioned_coverage


def town(seed: int = 3):
    rng = np.random.default_rng(seed)
    cell_xy = rng.uniform(0, 2000, (3000, 2))
    population = rng.integers(0, 80, 3000).astype(float)
    # Shelters gather near the partition borders (x = 1000, y = 1000), where a partition
    # that forgot its neighbours' shelters or cells would go wrong.
    shelter_xy = np.concatenate([rng.normal(1000, 60, (40, 2)), rng.uniform(0, 2000, (40, 2))])
    capacity = rng.integers(50, 400, 80).astype(float)
    radius = np.where(np.arange(80) % 3 == 0, 500.0, 200.0)
    # Four quadrants, as four districts.
    partition = (cell_xy[:, 0] >= 1000).astype(int) * 2 + (cell_xy[:, 1] >= 1000).astype(int)
    return cell_xy, population, partition, shelter_xy, capacity, radius


def assert_same(split, whole):
    assert split.covered.tolist() == whole.covered.tolist()
    np.testing.assert_allclose(split.access, whole.access, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(split.catchment, whole.catchment, rtol=1e-12)
    np.testing.assert_allclose(split.places_per_person, whole.places_per_person, rtol=1e-12)
    np.testing.assert_allclose(split.with_place, whole.with_place, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("processes", [1, 2])
def test_partitions_in_separate_processes_give_the_answer_of_one_run(processes):
    cell_xy, population, partition, shelter_xy, capacity, radius = town()
    whole = coverage(population, capacity, radius, straight_line_reach(cell_xy, shelter_xy, radius))
    assert 0 < whole.covered.mean() < 1
    with ProcessPoolExecutor(max_workers=processes) as pool:
        split = partitioned_coverage(
            cell_xy, population, partition, shelter_xy, capacity, radius, map_function=pool.map
        )
    assert_same(split, whole)


def test_partitioned_walking_gives_the_answer_of_one_run():
    cell_xy, population, partition, shelter_xy, capacity, radius = town(5)
    ticks = np.arange(0, 2001, 50.0)
    lines = [np.column_stack([np.full(len(ticks), x), ticks]) for x in ticks]
    lines += [np.column_stack([ticks, np.full(len(ticks), y)]) for y in ticks]
    network = WalkingNetwork(lines)
    whole = coverage(population, capacity, radius, network.reach(cell_xy, shelter_xy, radius))
    split = partitioned_coverage(
        cell_xy, population, partition, shelter_xy, capacity, radius, network=network
    )
    assert_same(split, whole)
