"""Conformity shares, FAR and coverage against values worked out by hand on small fixtures."""

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from gis_layers.analysis.landuse import conformity, intensity, planned_use_shares, underused

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
