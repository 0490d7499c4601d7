"""The redistribution plan against brute force on small cases, the security rule, and the
reasons given when no plan exists."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from gis_layers.analysis.redistribution import (
    NewBuilding,
    PlanSettings,
    allocation_changes,
    new_building_scenario,
    reclaim_rooms,
    redistribution_plan,
    rooms_for_flows,
)
from tests.gis_layers.test_space_analysis import STANDARD_2014, agencies_frame, blocks_frame

BUILDING_COLUMNS = [
    "building_id",
    "name",
    "premises_classification",
    "x",
    "y",
    "gross_floor_area_m2",
]


def buildings_frame(rows):
    return pd.DataFrame(rows, columns=BUILDING_COLUMNS)


def below_division(counts: dict[int, int]) -> pd.DataFrame:
    """Staff of 9 m² each: an agency of n people is entitled to 9n m²."""
    return pd.DataFrame(
        [(agency, "below_division", n) for agency, n in counts.items()],
        columns=["agency_id", "rank", "headcount"],
    )


def no_allocations() -> pd.DataFrame:
    return pd.DataFrame({"right_id": [], "block_id": [], "agency_id": []}, dtype=int)


def random_case(seed: int):
    """Three or four buildings with vacant rooms and three agencies seated in buildings of
    their own with nothing allocated yet, all within a few kilometres."""
    rng = np.random.default_rng(seed)
    n_buildings = int(rng.integers(3, 5))
    buildings = [
        (
            10 + i,
            f"B{i}",
            int(rng.integers(0, 2)),
            float(rng.uniform(0, 3000)),
            float(rng.uniform(0, 3000)),
            5000.0,
        )
        for i in range(n_buildings)
    ]
    seats = [(90 + k, f"Seat {k}", 0, float(rng.uniform(0, 3000)), float(rng.uniform(0, 3000)), 1e4)
             for k in range(3)]  # fmt: skip
    rooms, block_id = [], 100
    for building in buildings:
        for _ in range(int(rng.integers(1, 4))):
            rooms.append((block_id, building[0], f"R{block_id}", 1, "office", float(rng.choice([9, 18, 27, 36])), "use"))  # fmt: skip
            block_id += 1
    agencies = agencies_frame(
        [(k + 1, f"Agency {k + 1}", None, int(rng.integers(0, 2)), 90 + k) for k in range(3)]
    )
    staff = below_division({k + 1: int(rng.integers(1, 5)) for k in range(3)})
    return (
        agencies,
        staff,
        blocks_frame(rooms),
        no_allocations(),
        buildings_frame(buildings + seats),
    )


def brute_force_flows(agencies, staff, blocks, buildings, settings: PlanSettings):
    """Every choice of which (building, agency) links are open, each with the best flows by
    linear programming: the optimum of the flow step, found without the MILP."""
    supply = blocks.groupby("building_id")["area_m2"].sum()
    demand = (staff.set_index("agency_id")["headcount"] * 9.0).sort_index()
    where = buildings.set_index("building_id")
    agency = agencies.set_index("agency_id")
    pairs = []
    for b in supply.index:
        for a in demand.index:
            seat = where.loc[agency.at[a, "seat_building_id"]]
            distance = float(np.hypot(where.at[b, "x"] - seat["x"], where.at[b, "y"] - seat["y"]))
            allowed = where.at[b, "premises_classification"] <= agency.at[a, "clearance"]
            if distance <= settings.max_distance_m and allowed:
                pairs.append((b, a, distance))
    best = np.inf
    for open_links in itertools.product([0, 1], repeat=len(pairs)):
        chosen = [p for p, o in zip(pairs, open_links, strict=True) if o]
        if not chosen:
            continue
        cost = [d / demand[a] for _, a, d in chosen]
        a_ub = [[1.0 if p[0] == b else 0.0 for p in chosen] for b in supply.index]
        a_eq = [[1.0 if p[1] == a else 0.0 for p in chosen] for a in demand.index]
        result = linprog(
            cost,
            A_ub=a_ub,
            b_ub=supply.to_numpy(),
            A_eq=a_eq,
            b_eq=demand.to_numpy(),
            bounds=[(0, None)] * len(chosen),
            method="highs",
        )
        if result.status == 0:
            best = min(best, result.fun + settings.split_penalty_m * len(chosen))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_the_plan_matches_the_brute_force_optimum(seed):
    agencies, staff, blocks, allocations, buildings = random_case(seed)
    settings = PlanSettings(max_distance_m=2500.0, split_penalty_m=300.0)
    plan = redistribution_plan(
        agencies=agencies,
        staff=staff,
        blocks=blocks,
        allocations=allocations,
        buildings=buildings,
        standard=STANDARD_2014,
        settings=settings,
    )
    expected = brute_force_flows(agencies, staff, blocks, buildings, settings)
    if np.isinf(expected):
        assert plan.status == "infeasible" and plan.reasons
        return
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert plan.bound == pytest.approx(plan.objective, rel=1e-6, abs=1e-6)
    assert plan.gap == pytest.approx(0.0, abs=1e-6)
    # Every deficit met in full, no building gives more than it has.
    received = plan.flows.groupby("agency_id")["area_m2"].sum()
    assert received.to_dict() == pytest.approx(
        (staff.set_index("agency_id")["headcount"] * 9.0).to_dict()
    )
    given = plan.flows.groupby("building_id")["area_m2"].sum()
    supply = blocks.groupby("building_id")["area_m2"].sum()
    assert all(given[b] <= supply[b] + 1e-6 for b in given.index)


def test_some_random_cases_are_feasible_and_some_split():
    """The brute-force comparison above is not vacuous: most cases have a plan, and some
    plans spread an agency over more than one building."""
    outcomes = []
    for seed in range(8):
        agencies, staff, blocks, allocations, buildings = random_case(seed)
        plan = redistribution_plan(
            agencies=agencies,
            staff=staff,
            blocks=blocks,
            allocations=allocations,
            buildings=buildings,
            standard=STANDARD_2014,
            settings=PlanSettings(max_distance_m=2500.0, split_penalty_m=300.0),
        )
        outcomes.append(
            (plan.status, plan.flows.groupby("agency_id").size().max() if len(plan.flows) else 0)
        )
    assert sum(status == "optimal" for status, _ in outcomes) >= 4
    assert any(most > 1 for _, most in outcomes)


def test_reclaiming_gives_back_the_largest_total_within_the_excess_by_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(20):
        areas = rng.choice([9.0, 12.0, 18.0, 24.0, 30.0], size=6)
        over = float(rng.uniform(10, 80))
        held = pd.DataFrame(
            {
                "block_id": np.arange(6),
                "building_id": [1, 1, 1, 2, 2, 2],
                "agency_id": 5,
                "use_m2": areas,
            }
        )
        released = reclaim_rooms(held, pd.Series({5: over}), pd.Series({5: 1}))
        best = max(
            sum(combo)
            for size in range(7)
            for combo in itertools.combinations(areas, size)
            if sum(combo) <= over + 1e-9
        )
        assert released["use_m2"].sum() == pytest.approx(best)
        assert released["use_m2"].sum() <= over + 1e-6


def test_reclaiming_prefers_rooms_outside_the_seat_on_a_tie():
    held = pd.DataFrame(
        {"block_id": [1, 2], "building_id": [1, 2], "agency_id": 5, "use_m2": [20.0, 20.0]}
    )
    released = reclaim_rooms(held, pd.Series({5: 25.0}), pd.Series({5: 1}))
    assert released["block_id"].tolist() == [2]


def test_rooms_match_the_flows_as_closely_as_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(10):
        areas = rng.choice([9.0, 12.0, 18.0, 30.0], size=5)
        targets = rng.uniform(5, 50, size=2)
        pool = pd.DataFrame({"block_id": range(5), "building_id": 1, "use_m2": areas})
        flows = pd.DataFrame({"building_id": 1, "agency_id": [7, 8], "area_m2": targets})
        given = rooms_for_flows(flows, pool)
        got = given.groupby("agency_id")["use_m2"].sum().reindex([7, 8], fill_value=0.0)
        deviation = float(np.abs(got.to_numpy() - targets).sum())
        best = min(
            abs(sum(a for a, o in zip(areas, owner, strict=True) if o == 1) - targets[0])
            + abs(sum(a for a, o in zip(areas, owner, strict=True) if o == 2) - targets[1])
            for owner in itertools.product([0, 1, 2], repeat=5)
        )
        assert deviation == pytest.approx(best, abs=1e-6)
        assert given["block_id"].is_unique


def two_buildings(classified_near: int):
    """Agency 1 (10 people: 90 m² short, public clearance) seated at (0, 0); a near building
    with a 100 m² room (classified as given) and a far public one with another."""
    agencies = agencies_frame([(1, "Tax office", None, 0, 90)])
    buildings = buildings_frame(
        [
            (90, "Seat", 0, 0.0, 0.0, 1e4),
            (10, "Near", classified_near, 200.0, 0.0, 1e4),
            (11, "Far", 0, 1500.0, 0.0, 1e4),
        ]
    )
    blocks = blocks_frame(
        [(100, 10, "N-1", 1, "office", 100.0, "use"), (101, 11, "F-1", 1, "office", 100.0, "use")]
    )
    return agencies, below_division({1: 10}), blocks, no_allocations(), buildings


def plan_for(case, **settings):
    agencies, staff, blocks, allocations, buildings = case
    return redistribution_plan(
        agencies=agencies,
        staff=staff,
        blocks=blocks,
        allocations=allocations,
        buildings=buildings,
        standard=STANDARD_2014,
        settings=PlanSettings(**settings),
    )


def test_the_nearest_building_is_chosen_when_its_premises_are_public():
    plan = plan_for(two_buildings(classified_near=0))
    assert plan.flows[["building_id", "area_m2"]].values.tolist() == [[10, 90.0]]
    assert plan.assigned["block_id"].tolist() == [100]


def test_an_agency_is_never_housed_in_premises_above_its_clearance():
    plan = plan_for(two_buildings(classified_near=2))
    assert plan.status == "optimal"
    assert plan.flows["building_id"].tolist() == [11]


def test_no_building_in_reach_names_the_agency_and_why():
    plan = plan_for(two_buildings(classified_near=2), max_distance_m=1000.0)
    assert plan.status == "infeasible" and plan.flows.empty
    (reason,) = map(str, plan.reasons)
    assert "Tax office needs 90.0 m²" in reason
    assert "no building with idle space lies within 1,000 m" in reason
    assert "classified 2, above the agency's clearance 0" in reason


def test_too_little_space_in_reach_is_stated_with_the_figures():
    agencies, _, blocks, allocations, buildings = two_buildings(classified_near=0)
    plan = plan_for((agencies, below_division({1: 30}), blocks, allocations, buildings),
                    max_distance_m=1000.0)  # fmt: skip
    assert plan.status == "infeasible"
    assert any(
        "Tax office needs 270.0 m², but the buildings within 1,000 m cleared for it have only "
        "100.0 m² idle" in str(reason)
        for reason in plan.reasons
    )
    assert str(plan.reasons[0]).startswith("The agencies in deficit need 270.0 m² in all")


def test_agencies_competing_for_the_same_space_are_named_together():
    agencies = agencies_frame(
        [(1, "Tax office", None, 0, 90), (2, "Statistics office", None, 0, 90)]
    )
    buildings = buildings_frame(
        [(90, "Seat", 0, 0.0, 0.0, 1e4), (10, "Near", 0, 200.0, 0.0, 1e4),
         (11, "Far", 0, 5000.0, 0.0, 1e4)]
    )  # fmt: skip
    blocks = blocks_frame(
        [(100, 10, "N-1", 1, "office", 100.0, "use"), (101, 11, "F-1", 1, "office", 500.0, "use")]
    )
    plan = plan_for(
        (agencies, below_division({1: 8, 2: 8}), blocks, no_allocations(), buildings),
        max_distance_m=1000.0,
    )
    assert plan.status == "infeasible"
    assert str(plan.reasons[-1]) == (
        "Tax office, Statistics office compete for the idle space of Near: together they stay "
        "44.0 m² short of the standard, however the space is shared."
    )


def test_over_standard_rooms_are_reclaimed_for_an_agency_in_deficit():
    agencies = agencies_frame([(1, "Big", None, 0, 10), (2, "Small", None, 0, 10)])
    buildings = buildings_frame([(10, "Main", 0, 0.0, 0.0, 1e4)])
    blocks = blocks_frame(
        [
            (100, 10, "101", 1, "office", 18.0, "use"),
            (101, 10, "102", 1, "office", 18.0, "use"),
            (102, 10, "103", 1, "office", 9.0, "use"),
        ]
    )
    allocations = pd.DataFrame(
        [(1, 100, 1), (1, 101, 1), (1, 102, 1)], columns=["right_id", "block_id", "agency_id"]
    )
    case = (agencies, below_division({1: 2, 2: 2}), blocks, allocations, buildings)
    plan = plan_for(case)
    # Big: 45 m² for 18 m² of entitlement: 27 over, so 18 + 9 come back; Small needs 18.
    assert sorted(plan.released["block_id"]) == [101, 102] or sorted(plan.released["block_id"]) == [
        100,
        102,
    ]
    assert plan.assigned["use_m2"].sum() == pytest.approx(18.0)
    changes = allocation_changes(allocations.assign(building_id=10), plan.released, plan.assigned)
    ((building, entries),) = changes.items()
    assert building == 10
    after = dict(entries)
    assert len(after[1]) == 1  # Big keeps one 18 m² room
    assert sum(blocks.set_index("block_id").loc[after[2], "area_m2"]) == pytest.approx(18.0)
    assert not set(after[1]) & set(after[2])


def test_without_any_deficit_there_is_nothing_to_do():
    agencies, _, blocks, allocations, buildings = two_buildings(classified_near=0)
    allocations = pd.DataFrame([(1, 100, 1)], columns=["right_id", "block_id", "agency_id"])
    plan = plan_for((agencies, below_division({1: 5}), blocks, allocations, buildings))
    assert plan.status == "nothing_to_do" and plan.flows.empty


def test_a_new_building_lets_an_old_one_be_handed_back():
    """Two old buildings; the agency in the small far one moves into the new building next to
    its seat, and the old building is handed back."""
    agencies = agencies_frame([(1, "Customs", None, 0, 10), (2, "Archive", None, 0, 11)])
    buildings = buildings_frame(
        [(10, "Old main", 0, 0.0, 0.0, 1e4), (11, "Old annex", 0, 2000.0, 0.0, 1e4)]
    )
    blocks = blocks_frame(
        [
            (100, 10, "M-1", 1, "office", 90.0, "use"),
            (101, 11, "A-1", 1, "office", 45.0, "use"),
            (102, 11, "A-2", 1, "service", 30.0, "use"),
        ]
    )
    allocations = pd.DataFrame(
        [(1, 100, 1), (2, 101, 2), (2, 102, 2)], columns=["right_id", "block_id", "agency_id"]
    )
    new = NewBuilding(name="New centre", x=2100.0, y=0.0, use_area_m2=60.0, building_id=-1)
    plan = new_building_scenario(
        agencies=agencies,
        staff=below_division({1: 10, 2: 5}),
        blocks=blocks,
        allocations=allocations,
        buildings=buildings,
        standard=STANDARD_2014,
        new_building=new,
        settings=PlanSettings(max_distance_m=3000.0),
    )
    assert plan.status == "optimal"
    assert plan.handed_back == [11]
    assert plan.flows[["building_id", "agency_id", "area_m2"]].values.tolist() == [[-1, 2, 45.0]]
    # Too small a new building: nothing can be handed back, and that is still a plan.
    small = NewBuilding(name="Kiosk", x=2100.0, y=0.0, use_area_m2=10.0)
    plan = new_building_scenario(
        agencies=agencies,
        staff=below_division({1: 10, 2: 5}),
        blocks=blocks,
        allocations=allocations,
        buildings=buildings,
        standard=STANDARD_2014,
        new_building=small,
    )
    assert plan.status == "optimal" and plan.handed_back == []
