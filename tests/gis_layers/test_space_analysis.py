"""Entitlement, over-standard use, vacancy, roll-ups and reconciliation against figures
worked out by hand on small frames."""

import pandas as pd
import pytest

from gis_layers.analysis.space import (
    Standard,
    StandardMismatch,
    agency_balance,
    building_vacancy,
    entitlements,
    input_problems,
    reconcile,
    rollup,
)

STANDARD_2014 = Standard(
    name="2014",
    year=2014,
    caps={
        "minister": 54,
        "vice_minister": 42,
        "director_general": 24,
        "deputy_director_general": 18,
        "division": 12,
        "below_division": 9,
    },
    use_coefficient=0.65,
)
STANDARD_1999 = Standard(
    name="1999",
    year=1999,
    caps={**STANDARD_2014.caps, "division": 9, "below_division": 6},
    use_coefficient=0.65,
)


def agencies_frame(rows):
    return pd.DataFrame(
        rows, columns=["agency_id", "name", "parent_id", "clearance", "seat_building_id"]
    ).astype({"parent_id": "Int64", "seat_building_id": "Int64"})


def blocks_frame(rows):
    frame = pd.DataFrame(
        rows, columns=["block_id", "building_id", "label", "floor", "kind", "area_m2", "area_basis"]
    )
    return frame.assign(area_m2=frame["area_m2"].astype(float), valid=True)


@pytest.fixture
def office():
    """Agency 1 (parent) and its two units 2 and 3; 4 has no staff figures. Building 10."""
    agencies = agencies_frame(
        [
            (1, "Ministry", None, 0, 10),
            (2, "Unit A", 1, 0, 10),
            (3, "Unit B", 1, 0, 10),
            (4, "Unit without figures", 1, 0, 10),
        ]
    )
    staff = pd.DataFrame(
        [
            (1, "minister", 1),  # 54
            (1, "division", 2),  # 24 -> ministry 78
            (2, "below_division", 10),  # 90
            (3, "deputy_director_general", 1),  # 18
            (3, "below_division", 2),  # 18 -> unit B 36
        ],
        columns=["agency_id", "rank", "headcount"],
    )
    blocks = blocks_frame(
        [
            (100, 10, "1F-101", 1, "office", 60.0, "use"),
            (101, 10, "1F-102", 1, "office", 40.0, "use"),
            (102, 10, "2F", 2, "office", 100.0, "gross"),  # 65 m² use
            (103, 10, "2F-201", 2, "office", 30.0, "use"),
            (104, 10, "B1", -1, "civil_defence", 200.0, "use"),
            (105, 10, "1F-103", 1, "service", 20.0, "use"),
            (106, 10, "3F-301", 3, "office", 25.0, "use"),  # vacant
            (107, 10, "3F-302", 3, "office", None, "use"),  # not surveyed
        ]
    )
    allocations = pd.DataFrame(
        [
            (1, 100, 1),
            (1, 101, 1),  # ministry: 100 m² office vs 78 -> 22 over
            (2, 102, 2),  # unit A: 65 vs 90 -> 25 short
            (3, 103, 3),
            (3, 105, 3),  # unit B: office 30 vs 36 -> 6 short; 20 service
            (4, 104, 4),  # no staff figures; 200 civil defence
        ],
        columns=["right_id", "block_id", "agency_id"],
    )
    buildings = pd.DataFrame(
        [(10, "Main building", 0, 0.0, 0.0, 600.0)],
        columns=["building_id", "name", "premises_classification", "x", "y", "gross_floor_area_m2"],
    )
    return agencies, staff, blocks, allocations, buildings


def test_entitlement_is_staff_times_caps_of_one_standard(office):
    _, staff, *_ = office
    assert entitlements(staff, STANDARD_2014).to_dict() == {1: 78.0, 2: 90.0, 3: 36.0}
    # The 1999 rows give other figures; only the standard passed is used.
    assert entitlements(staff, STANDARD_1999).to_dict() == {1: 72.0, 2: 60.0, 3: 30.0}


def test_a_rank_missing_from_the_standard_is_refused_not_taken_from_another():
    staff = pd.DataFrame([(1, "division", 3)], columns=["agency_id", "rank", "headcount"])
    partial = Standard("partial", 2030, {"minister": 54}, 0.65)
    with pytest.raises(StandardMismatch, match="no cap for the rank\\(s\\) division"):
        entitlements(staff, partial)


def test_over_standard_and_deficit_per_agency(office):
    agencies, staff, blocks, allocations, _ = office
    table = agency_balance(agencies, staff, blocks, allocations, STANDARD_2014)
    ministry, unit_a, unit_b, without = (table.loc[i] for i in (1, 2, 3, 4))
    assert ministry["office_m2"] == pytest.approx(100.0)
    assert ministry["over_m2"] == pytest.approx(22.0)
    assert ministry["over_share"] == pytest.approx(0.22)
    assert ministry["deficit_m2"] == 0
    assert unit_a["office_m2"] == pytest.approx(65.0)  # 100 m² gross × 0.65
    assert unit_a["deficit_m2"] == pytest.approx(25.0)
    assert unit_a["over_m2"] == 0 and unit_a["over_share"] == 0
    assert unit_b["deficit_m2"] == pytest.approx(6.0)
    assert unit_b["other_m2"] == pytest.approx(20.0)
    # No staff figures: unknown, not zero.
    assert not without["has_staff_figures"]
    assert pd.isna(without["entitlement_m2"]) and pd.isna(without["over_share"])
    assert without["other_m2"] == pytest.approx(200.0)


def test_vacancy_per_building(office):
    agencies, staff, blocks, allocations, buildings = office
    table = building_vacancy(buildings, blocks, allocations, use_coefficient=0.65)
    row = table.loc[10]
    total = 60 + 40 + 65 + 30 + 200 + 20 + 25
    assert row["total_m2"] == pytest.approx(total)
    assert row["vacant_m2"] == pytest.approx(25.0)
    assert row["vacant_office_m2"] == pytest.approx(25.0)
    assert row["vacant_share"] == pytest.approx(25.0 / total)
    assert row["blocks"] == 8 and row["blocks_without_area"] == 1


def test_bad_input_is_named(office):
    agencies, staff, blocks, _, buildings = office
    problems = input_problems(agencies, staff, blocks, buildings)
    assert [(p.subject, p.where) for p in problems] == [
        ("agency", "Unit without figures"),
        ("block", "Main building 3F-302"),
    ]
    assert "no staff figures" in str(problems[0].message)
    assert "no area" in str(problems[1].message)


def test_rollup_sums_the_subtree_without_netting(office):
    agencies, staff, blocks, allocations, _ = office
    table = rollup(agency_balance(agencies, staff, blocks, allocations, STANDARD_2014))
    head = table.loc[1]
    assert head["agencies"] == 4
    assert head["entitlement_m2"] == pytest.approx(78 + 90 + 36)
    assert head["office_m2"] == pytest.approx(100 + 65 + 30)
    assert head["over_m2"] == pytest.approx(22.0)
    assert head["deficit_m2"] == pytest.approx(31.0)
    assert head["net_m2"] == pytest.approx(195 - 204)
    assert head["without_staff_figures"] == 1


def test_reconciliation_lists_every_mismatch(office):
    agencies, _, blocks, allocations, buildings = office
    blocks = pd.concat(
        [
            blocks,
            blocks_frame([(108, 11, "X-1", 1, "office", 10.0, "use")]).assign(valid=False),
        ],
        ignore_index=True,
    )
    buildings = pd.concat(
        [
            buildings,
            pd.DataFrame(
                [(11, "Annex", 0, 0.0, 0.0, 5.0)],
                columns=buildings.columns,
            ),
        ],
        ignore_index=True,
    )
    rights = pd.DataFrame(
        [
            (1, 10, 1, "Ministry", True),
            (2, 10, 2, "Unit A", True),
            (3, 10, 3, "Unit B", True),
            (4, 10, 4, "Unit without figures", True),
            (5, 10, 99, "A shop", False),  # not an agency, no blocks
            (6, 10, 2, "Unit A", True),  # lists block 100 again and a block of the annex
        ],
        columns=["right_id", "building_id", "holder_id", "holder_name", "holder_is_agency"],
    )
    allocated = pd.concat(
        [
            allocations[["right_id", "block_id"]],
            pd.DataFrame([(6, 100), (6, 108)], columns=["right_id", "block_id"]),
        ]
    )
    records = pd.DataFrame(
        [
            (1, 10, 100.0),  # agrees
            (2, 10, 50.0),  # register: 65 + 60 + 10 = 135
            (3, 10, 50.5),  # register 50: within tolerance
            (3, 11, 12.0),  # no allocation there
        ],
        columns=["agency_id", "building_id", "area_m2"],
    )
    found = reconcile(
        rights=rights,
        allocated=allocated,
        blocks=blocks,
        buildings=buildings,
        agencies=agencies,
        records=records,
        use_coefficient=0.65,
    )
    kinds = sorted((m.kind, str(m.where)) for m in found)
    assert kinds == sorted(
        [
            ("holder_not_agency", "right 5"),
            ("allocation_without_blocks", "right 5 (party 99, Main building)"),
            ("block_in_other_building", "Annex X-1"),
            ("retired_block_allocated", "Annex X-1"),
            ("block_allocated_twice", "Main building 1F-101"),
            ("block_without_area", "Main building 3F-302"),
            ("inventory_exceeds_building", "Main building"),
            ("area_differs", "Unit A in Main building"),
            ("allocation_without_record", "Unit without figures in Main building"),
            ("record_without_allocation", "Unit B in Annex"),
        ]
    )
    differs = next(m for m in found if m.kind == "area_differs")
    assert "135.0 m²" in str(differs.detail) and "50.0 m²" in str(differs.detail)
