"""Shelter coverage on small fixtures, every figure against hand computation."""

import itertools

import numpy as np
import pytest

from gis_layers.analysis.coverage import (
    Reach,
    WalkingNetwork,
    coverage,
    decay_weight,
    maximal_covering,
    nearest_straight_line,
    straight_line_reach,
    totals,
)

# Four cells on a line and two shelters with a 200 m radius:
#   cell 0 (0 m, 100 persons), cell 1 (150 m, 50), cell 2 (300 m, 30), cell 3 (1000 m, 20)
#   shelter A at 50 m with 60 places, shelter B at 250 m with 100 places.
CELLS = np.array([[0.0, 0.0], [150.0, 0.0], [300.0, 0.0], [1000.0, 0.0]])
POPULATION = np.array([100.0, 50.0, 30.0, 20.0])
SHELTERS = np.array([[50.0, 0.0], [250.0, 0.0]])
CAPACITY = np.array([60.0, 100.0])
RADIUS = np.array([200.0, 200.0])


def pairs(reach: Reach) -> dict[tuple[int, int], float]:
    return {
        (int(c), int(s)): float(d)
        for c, s, d in zip(reach.cell, reach.shelter, reach.distance_m, strict=True)
    }


def test_straight_line_reach_lists_the_pairs_within_each_radius():
    reach = straight_line_reach(CELLS, SHELTERS, RADIUS)
    assert pairs(reach) == {(0, 0): 50.0, (1, 0): 100.0, (1, 1): 100.0, (2, 1): 50.0}


def test_nearest_distance_reaches_beyond_the_radius():
    assert nearest_straight_line(CELLS, SHELTERS).tolist() == [50.0, 100.0, 50.0, 750.0]
    assert nearest_straight_line(CELLS, np.empty((0, 2))).tolist() == [np.inf] * 4


def test_decay_weights_by_third_of_the_radius():
    distances = np.array([0.0, 66.0, 67.0, 133.0, 134.0, 200.0])
    assert decay_weight(distances, np.full(6, 200.0)).tolist() == [1, 1, 0.68, 0.68, 0.22, 0.22]


def test_coverage_against_hand_computation():
    result = coverage(POPULATION, CAPACITY, RADIUS, straight_line_reach(CELLS, SHELTERS, RADIUS))
    # E2SFCA step 1: A's weighted demand 100·1 + 50·0.68 = 134; B's 50·0.68 + 30·1 = 64.
    ratio_a, ratio_b = 60 / 134, 100 / 64
    assert result.places_per_person == pytest.approx([ratio_a, ratio_b])
    # Step 2: each cell sums the ratios of the shelters it reaches, weighted.
    assert result.access == pytest.approx([ratio_a, 0.68 * (ratio_a + ratio_b), ratio_b, 0.0])
    assert result.with_place == pytest.approx([100 * ratio_a, 50.0, 30.0, 0.0])
    assert result.covered.tolist() == [True, True, True, False]
    assert result.catchment.tolist() == [150.0, 80.0]
    assert result.load.tolist() == [2.5, 0.8]
    # Places are shared out, not created: Σ population × access equals the capacity in use.
    assert (POPULATION * result.access).sum() == pytest.approx(CAPACITY.sum())


def test_totals_by_group_and_overall():
    result = coverage(POPULATION, CAPACITY, RADIUS, straight_line_reach(CELLS, SHELTERS, RADIUS))
    table = totals(POPULATION, result, np.array(["east", "east", "west", "west"]))
    with_place_east = 100 * 60 / 134 + 50
    assert table.loc["east"].tolist() == pytest.approx([150.0, 150.0, with_place_east, 0.0])
    assert table.loc["west"].tolist() == pytest.approx([50.0, 30.0, 30.0, 20.0])
    assert table.loc["all"].tolist() == pytest.approx([200.0, 180.0, with_place_east + 30, 20.0])


def test_leaving_a_shelter_out_drops_its_cells():
    reach = straight_line_reach(CELLS, SHELTERS, RADIUS).only_shelters(np.array([False, True]))
    result = coverage(POPULATION, CAPACITY, RADIUS, reach)
    assert result.covered.tolist() == [False, True, True, False]
    assert result.catchment.tolist() == [0.0, 80.0]
    # B's places now serve only cells 1 and 2: 100 / 64 places per person, capped at one.
    assert result.with_place.sum() == pytest.approx(80.0)


def river_town() -> WalkingNetwork:
    """Two banks 150 m apart, one bridge 500 m east; a street crossing the river without
    sharing a vertex (a bridge over the south bank's path) must not connect them."""
    return WalkingNetwork(
        [
            np.array([[0.0, 0.0], [250.0, 0.0], [500.0, 0.0]]),  # south bank
            np.array([[500.0, 0.0], [500.0, 150.0]]),  # bridge
            np.array([[500.0, 150.0], [0.0, 150.0]]),  # north bank
            np.array([[100.0, -50.0], [100.0, 200.0]]),  # crosses both, joins neither
        ]
    )


def test_walking_around_a_river_is_longer_than_the_straight_line():
    network = river_town()
    cell, shelter = np.array([[0.0, 0.0]]), np.array([[0.0, 150.0]])
    assert pairs(straight_line_reach(cell, shelter, np.array([200.0]))) == {(0, 0): 150.0}
    assert pairs(network.reach(cell, shelter, np.array([200.0]))) == {}
    walk = pairs(network.reach(cell, shelter, np.array([2000.0])))
    assert walk == {(0, 0): pytest.approx(500 + 150 + 500)}
    assert network.nearest(cell, shelter, limit_m=5000).tolist() == pytest.approx([1150.0])
    assert network.nearest(cell, shelter, limit_m=1000).tolist() == [np.inf]


def test_walking_adds_the_connectors_to_the_network():
    network = river_town()
    # 30 m south of the south bank's middle vertex, to a shelter 40 m north of the north bank
    # at the bridge: 30 + 250 + 150 + 40.
    cell, shelter = np.array([[250.0, -30.0]]), np.array([[500.0, 190.0]])
    expected = 30 + 250 + 150 + 40
    assert pairs(network.reach(cell, shelter, np.array([500.0]))) == {
        (0, 0): pytest.approx(expected)
    }
    assert network.nearest(cell, shelter, limit_m=1000) == pytest.approx([expected])


def test_walking_reach_in_batches_equals_one_batch():
    rng = np.random.default_rng(7)
    # A street grid whose streets have a vertex at every crossing, so they meet there.
    lines = [
        np.column_stack([np.full(10, x), np.arange(0, 1000, 100.0)]) for x in range(0, 1000, 100)
    ] + [np.column_stack([np.arange(0, 1000, 100.0), np.full(10, y)]) for y in range(0, 1000, 100)]
    network = WalkingNetwork(lines)
    assert network.node_count == 100 and network.edge_count == 180
    cells, shelters = rng.uniform(0, 900, (300, 2)), rng.uniform(0, 900, (20, 2))
    radius = np.full(20, 300.0)
    one = pairs(network.reach(cells, shelters, radius, batch=100))
    many = pairs(network.reach(cells, shelters, radius, batch=3))
    assert one == pytest.approx(many) and len(one) > 0
    straight = pairs(straight_line_reach(cells, shelters, radius))
    # Walking is never shorter than the straight line.
    assert all(distance >= straight[key] - 1e-6 for key, distance in one.items())


def test_maximal_covering_matches_brute_force():
    rng = np.random.default_rng(11)
    population = rng.integers(0, 50, 40).astype(float)
    candidates = 9
    cell = rng.integers(0, 40, 60)
    site = rng.integers(0, candidates, 60)
    reach = Reach(cell, site, np.zeros(60))
    for k in (1, 2, 3):
        siting = maximal_covering(population, reach, candidates=candidates, k=k)
        best = max(
            population[np.unique(cell[np.isin(site, combo)])].sum()
            for combo in itertools.combinations(range(candidates), k)
        )
        assert siting.objective == pytest.approx(best)
        assert siting.gap == pytest.approx(0.0)
        assert siting.added.sum() == pytest.approx(best)
        assert list(siting.added) == sorted(siting.added, reverse=True)
        assert siting.greedy_objective <= best + 1e-9


def test_maximal_covering_skips_covered_population_and_caps_k():
    reach = Reach(np.array([0, 1, 1]), np.array([0, 0, 1]), np.zeros(3))
    siting = maximal_covering(np.array([0.0, 10.0]), reach, candidates=2, k=5)
    assert siting.objective == 10.0
    assert len(siting.chosen) == 1
