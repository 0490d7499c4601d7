"""Conformity shares, FAR and coverage against values worked out by hand on small fixtures."""

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from gis_layers.analysis.landuse import (
    conformity,
    conformity_by_class,
    intensity,
    planned_use_shares,
    underused,
    use_of_permitted,
)

CRS = 32650  # metres


def frame(rows, columns, geometries):
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry=geometries, crs=CRS)


@pytest.fixture
def parcels():
    # A: 100 m x 100 m; B: 100 m x 50 m beside it; C: far away, no zone, no building.
    return frame(
        [(1, "0801"), (2, "0505"), (3, "0701")],
        ["parcel_id", "land_use"],
        [box(0, 0, 100, 100), box(100, 0, 200, 50), box(1000, 1000, 1010, 1010)],
    )


@pytest.fixture
def zones():
    # Zone 0801 covers x < 70; zone 09 (commercial, first level) covers x >= 70.
    return frame(
        [("0801",), ("09",)], ["planned_use"], [box(-50, -50, 70, 150), box(70, -50, 300, 150)]
    )


def test_a_parcel_split_by_two_zones_gets_both_shares(parcels, zones):
    shares = planned_use_shares(parcels, zones).set_index(["parcel_id", "planned_use"])["share"]
    assert shares[(1, "0801")] == pytest.approx(0.70)
    assert shares[(1, "09")] == pytest.approx(0.30)
    assert shares[(2, "09")] == pytest.approx(1.0)
    assert 3 not in shares.index.get_level_values(0)


def test_conformity_by_the_main_planned_use(parcels, zones):
    crosswalk = {"0801": "0801", "0505": "0902", "0701": "0701"}
    table = conformity(parcels, zones, crosswalk).set_index("parcel_id")
    assert table.loc[1, "planned_use"] == "0801" and bool(table.loc[1, "conforms"])
    assert table.loc[2, "planned_use"] == "09" and bool(
        table.loc[2, "conforms"]
    )  # 0902 lies under 09
    assert pd.isna(table.loc[3, "conforms"])  # no plan: not counted as non-conforming


def test_far_and_coverage_with_a_building_straddling_two_parcels(parcels):
    buildings = frame(
        [(4000.0,), (3000.0,)],
        ["gfa_m2"],
        [
            box(10, 10, 30, 60),  # 20 x 50 = 1000 m² inside A, 4 floors: 4000 m²
            box(80, 10, 120, 40),
        ],  # 40 x 30 = 1200 m², half in A, half in B; 3000 m² in all
    )
    table = intensity(parcels, buildings).set_index("parcel_id")
    # A: footprint 1000 + 600; floor area 4000 + 1500; area 10,000 m².
    assert table.loc[1, "coverage"] == pytest.approx(0.16)
    assert table.loc[1, "far"] == pytest.approx(0.55)
    # B: footprint 600, floor area 1500; area 5,000 m².
    assert table.loc[2, "coverage"] == pytest.approx(0.12)
    assert table.loc[2, "far"] == pytest.approx(0.30)
    # C has no building: no data, not zero.
    assert pd.isna(table.loc[3, "far"]) and pd.isna(table.loc[3, "coverage"])


def test_underused_parcels_are_ranked_by_floor_area_that_could_be_added(parcels):
    buildings = frame(
        [(1000.0,), (2000.0,)], ["gfa_m2"], [box(10, 10, 20, 20), box(110, 10, 120, 20)]
    )
    table = intensity(parcels, buildings)
    ranked = underused(table, pd.Series({1: 2.0, 2: 1.0}), below_share=0.5)
    # A: far 0.1 < 1.0 -> 20,000 - 1,000 = 19,000 m²; B: far 0.4 < 0.5 -> 5,000 - 2,000 = 3,000 m².
    assert list(ranked["parcel_id"]) == [1, 2]
    assert list(ranked["addable_gfa_m2"]) == pytest.approx([19_000, 3_000])


def test_permitted_far_is_the_area_weighted_one_of_the_main_planned_use(parcels):
    # A lies 30 % in a 07 zone of FAR 2, 30 % in a 07 zone of FAR 3 and 40 % in a 09 zone
    # of FAR 5: its main planned use is 07 (60 %), permitted (0.3·2 + 0.3·3) / 0.6 = 2.5 —
    # not the 09 zone's 5, although that is the largest single zone.
    zones = frame(
        [("07", 2.0), ("07", 3.0), ("09", 5.0)],
        ["planned_use", "max_far"],
        [box(-10, -10, 30, 110), box(30, -10, 60, 110), box(60, -10, 150, 110)],
    )
    table = conformity(parcels, zones, {"0801": "0801"}).set_index("parcel_id")
    assert table.loc[1, "planned_use"] == "07"
    assert table.loc[1, "share"] == pytest.approx(0.6)
    assert table.loc[1, "permitted_far"] == pytest.approx(2.5)
    assert not table.loc[1, "conforms"]
    # Half of B lies in the 09 zone and half outside any: 09 and its FAR. C: no plan at all.
    assert table.loc[2, "planned_use"] == "09" and table.loc[2, "share"] == pytest.approx(0.5)
    assert table.loc[2, "permitted_far"] == pytest.approx(5)
    assert pd.isna(table.loc[3, "planned_use"]) and pd.isna(table.loc[3, "permitted_far"])


def test_a_zone_without_a_limit_gives_no_permitted_far(parcels, zones):
    limited = zones.assign(max_far=[None, 4.0])
    table = conformity(parcels, limited, {}).set_index("parcel_id")
    # A's main use is 0801 (70 %), whose zone sets no FAR; the 09 zone's 4 is not A's limit.
    assert table.loc[1, "planned_use"] == "0801" and pd.isna(table.loc[1, "permitted_far"])
    assert table.loc[2, "permitted_far"] == pytest.approx(4.0)


def test_floor_area_ratio_is_over_the_registered_area_when_given(parcels):
    buildings = frame([(4000.0,)], ["gfa_m2"], [box(10, 10, 30, 60)])
    # The register says A is 10,010 m² (a projection's scale differs): FAR over that area,
    # coverage still a ratio of the projected areas.
    registered = parcels.assign(area_m2=[10_010.0, 5_000.0, 100.0])
    table = intensity(registered, buildings).set_index("parcel_id")
    assert table.loc[1, "far"] == pytest.approx(4000 / 10_010)
    assert table.loc[1, "coverage"] == pytest.approx(0.1)
    assert table.loc[1, "area_m2"] == 10_010.0


def test_use_of_permitted_says_no_data_never_far_zero(parcels):
    buildings = frame(
        [(1000.0,), (4000.0,)], ["gfa_m2"], [box(10, 10, 20, 20), box(110, 10, 120, 20)]
    )
    table = use_of_permitted(
        intensity(parcels, buildings), pd.Series({1: 2.0, 3: 1.0}), below_share=0.5
    ).set_index("parcel_id")
    # A: FAR 0.1 < 0.5 x 2: under-used, 20,000 - 1,000 m² could be added.
    assert table.loc[1, "status"] == "underused"
    assert table.loc[1, "addable_gfa_m2"] == pytest.approx(19_000)
    # B: FAR 0.8, but the plan gives it no limit.
    assert table.loc[2, "status"] == "no_limit" and pd.isna(table.loc[2, "addable_gfa_m2"])
    # C: a limit, but no building data: "no data", its FAR unknown rather than 0.
    assert table.loc[3, "status"] == "no_data"
    assert pd.isna(table.loc[3, "far"]) and pd.isna(table.loc[3, "addable_gfa_m2"])
    assert table.loc[3, "permitted_far"] == pytest.approx(1.0)


def test_a_parcel_at_half_its_permitted_far_is_not_underused(parcels):
    buildings = frame([(10_000.0,)], ["gfa_m2"], [box(10, 10, 20, 20)])
    table = use_of_permitted(intensity(parcels, buildings), pd.Series({1: 2.0}), below_share=0.5)
    assert table.set_index("parcel_id").loc[1, "status"] == "used"  # FAR 1.0 = 0.5 x 2
    assert underused(intensity(parcels, buildings), pd.Series({1: 2.0})).empty


def test_conformity_by_class_counts_parcels_without_a_plan_apart():
    table = pd.DataFrame(
        {
            "land_use": ["0701", "0701", "0701", "0801", "0801", "1201"],
            "area_m2": [100.0, 300.0, 50.0, 1000.0, 20.0, 7.0],
            "conforms": pd.array([True, False, None, True, True, None], dtype="boolean"),
        }
    )
    by_class = conformity_by_class(table, by="land_use")
    assert list(by_class.index) == ["0701", "0801", "1201"]
    housing = by_class.loc["0701"]
    assert housing["parcels"] == 3 and housing["area_m2"] == pytest.approx(450)
    assert (housing["conforming_parcels"], housing["conforming_m2"]) == (1, 100)
    assert (housing["nonconforming_parcels"], housing["nonconforming_m2"]) == (1, 300)
    assert (housing["no_plan_parcels"], housing["no_plan_m2"]) == (1, 50)
    # 300 of the 400 m² the plan covers; the 50 m² without a plan are in neither part.
    assert housing["nonconforming_share"] == pytest.approx(0.75)
    assert by_class.loc["0801", "nonconforming_share"] == 0
    # No plan over any of it: no share at all, rather than 0 % non-conforming.
    assert pd.isna(by_class.loc["1201", "nonconforming_share"])
    assert by_class.loc["1201", "conforming_m2"] == 0 and by_class.loc["1201", "no_plan_m2"] == 7


def test_a_building_without_floor_area_leaves_the_far_unknown(parcels):
    buildings = frame(
        [(4000.0,), (None,)], ["gfa_m2"], [box(10, 10, 30, 60), box(110, 10, 120, 20)]
    )
    table = intensity(parcels, buildings).set_index("parcel_id")
    assert table.loc[1, "far"] == pytest.approx(0.4)
    # B's building has no floor area: its FAR is no data, not 0; its coverage is known.
    assert pd.isna(table.loc[2, "far"]) and table.loc[2, "coverage"] == pytest.approx(0.02)
    statuses = use_of_permitted(intensity(parcels, buildings), pd.Series({1: 1.0, 2: 1.0}))
    assert statuses.set_index("parcel_id").loc[2, "status"] == "no_data"
