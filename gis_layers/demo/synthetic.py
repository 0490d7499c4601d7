"""What no open dataset gives, generated from a fixed seed: floors where OSM has none,
shelters in basements, agencies with staff by rank, and a modelled population.

Every value made here is marked synthetic where it is stored. Pure functions on
GeoDataFrames in a metric CRS; no Django imports.
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

SEED = 20261121
METRES_PER_FLOOR = 3.2
# Residential floor area per resident; the order of magnitude of European city centres.
RESIDENTIAL_M2_PER_PERSON = 35.0
# Share of floor area lived in, by building use; OSM's plain "building=yes" in a city centre
# is partly flats over shops and offices, so it counts for a third.
RESIDENTIAL_SHARE_BY_USE = {"residential": 1.0, "other": 0.3}
SHELTER_MIN_FOOTPRINT_M2 = 400.0
SHELTER_AREA_PER_PERSON_M2 = 1.0

_TYPICAL_FLOORS = {"residential": (4, 7), "office": (4, 8), "commercial": (2, 6), "public": (2, 5)}


def estimate_floors(
    uses: pd.Series, levels: pd.Series, heights_m: pd.Series, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Floors above ground: OSM levels, else height / 3.2 m, else a draw typical of the use.

    Returns the floors and a mask of which were estimated (not read from the source).
    """
    floors = levels.to_numpy(dtype=float, na_value=np.nan)
    from_height = np.round(heights_m.to_numpy(dtype=float, na_value=np.nan) / METRES_PER_FLOOR)
    floors = np.where(np.isnan(floors), from_height, floors)
    estimated = np.isnan(floors)
    for index in np.flatnonzero(estimated):
        low, high = _TYPICAL_FLOORS.get(uses.iloc[index], (1, 3))
        floors[index] = rng.integers(low, high + 1)
    return np.maximum(floors, 1).astype(int), estimated


def basement_shelters(buildings: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Shelters in the basements of large buildings.

    ``buildings`` needs columns ``building_key``, ``footprint_m2``, ``use`` and a metric
    geometry. Capacity is the usable area at 1.0 m² per person (DESIGN.md §6).
    """
    large = buildings[
        (buildings["footprint_m2"] >= SHELTER_MIN_FOOTPRINT_M2)
        & buildings["use"].isin(["residential", "office", "commercial", "public"])
    ]
    large = large[rng.random(len(large)) < 0.6]
    count = len(large)
    usable = np.round(large["footprint_m2"].to_numpy() * rng.uniform(0.35, 0.75, count), 1)
    types = rng.choice(
        [
            "personnel",
            "personnel",
            "personnel",
            "personnel",
            "medical",
            "professional",
            "support",
            "command",
        ],
        count,
    )
    # Command posts are secret; some others are internal.
    classification = np.where(types == "command", 2, np.where(rng.random(count) < 0.15, 1, 0))
    points = large.geometry.representative_point()
    entrances = [
        shapely.MultiPoint(
            [
                shapely.line_interpolate_point(
                    footprint.geoms[0].exterior, fraction, normalized=True
                )
                if isinstance(footprint, shapely.MultiPolygon)
                else shapely.line_interpolate_point(footprint.exterior, fraction, normalized=True)
                for fraction in rng.uniform(0, 1, int(rng.integers(1, 4)))
            ]
        )
        for footprint in large.geometry
    ]
    frame = gpd.GeoDataFrame(
        {
            "building_key": large["building_key"].to_numpy(),
            "shelter_type": types,
            "protection_class": rng.choice(["n5", "n6", "n6b", "c5", "c6"], count),
            "usable_area_m2": usable,
            "capacity_persons": np.floor(usable / SHELTER_AREA_PER_PERSON_M2).astype(int),
            "condition": rng.choice(["good", "good", "good", "fair", "poor"], count),
            "peacetime_use": rng.choice(["car park", "storage", "bicycle park", "gym", ""], count),
            "classification": classification,
            "entrances": gpd.GeoSeries(entrances, crs=buildings.crs).to_numpy(),
        },
        geometry=points.to_numpy(),
        crs=buildings.crs,
    )
    return frame.reset_index(drop=True)


RANKS = [
    "minister",
    "vice_minister",
    "director_general",
    "deputy_director_general",
    "division",
    "below_division",
]


def staff_establishment(rng: np.random.Generator, *, ministerial: bool) -> dict[str, int]:
    """Headcount by rank: a pyramid, with minister ranks only in ministerial agencies."""
    base = int(rng.integers(40, 220))
    pyramid = {
        "minister": 1 if ministerial else 0,
        "vice_minister": int(rng.integers(2, 5)) if ministerial else 0,
        "director_general": int(rng.integers(3, 9)),
        "deputy_director_general": int(rng.integers(5, 15)),
        "division": int(base * rng.uniform(0.2, 0.3)),
        "below_division": base,
    }
    return {rank: count for rank, count in pyramid.items() if count > 0}


def population_grid(
    buildings: gpd.GeoDataFrame, extent: shapely.Polygon, *, cell_m: float = 100.0
) -> gpd.GeoDataFrame:
    """Residents per square cell, modelled from residential floor area.

    Each building's lived-in floor area (``gfa_m2`` times its use's residential share)
    divided by 35 m² per person is placed in the cell holding its representative point.
    Cells are aligned to a ``cell_m`` lattice in the metric CRS; empty cells are kept with
    zero residents so that gaps show.
    """
    min_x, min_y, max_x, max_y = extent.bounds
    xs = np.arange(np.floor(min_x / cell_m) * cell_m, max_x, cell_m)
    ys = np.arange(np.floor(min_y / cell_m) * cell_m, max_y, cell_m)
    cells = [shapely.box(x, y, x + cell_m, y + cell_m) for y in ys for x in xs]
    grid = gpd.GeoDataFrame(geometry=cells, crs=buildings.crs)
    grid = grid[grid.intersects(extent)].reset_index(drop=True)
    share = buildings["use"].map(RESIDENTIAL_SHARE_BY_USE).fillna(0.0)
    residential = buildings[share > 0]
    lived_in_m2 = residential["gfa_m2"] * share[share > 0]
    points = gpd.GeoDataFrame(
        {"residents": lived_in_m2.to_numpy() / RESIDENTIAL_M2_PER_PERSON},
        geometry=residential.geometry.representative_point().to_numpy(),
        crs=buildings.crs,
    )
    joined = gpd.sjoin(points, grid, predicate="within", how="inner")
    totals = joined.groupby("index_right")["residents"].sum()
    grid["residents"] = np.round(totals.reindex(grid.index, fill_value=0.0).to_numpy(), 1)
    return grid


# Share of a floor's use area in office rooms; the rest is corridors, stairs and toilets
# (not space blocks) and the service rooms of the ground floor.
OFFICE_SHARE_OF_FLOOR = 0.55
USE_COEFFICIENT = 0.65


def space_blocks(
    gross_floor_area_m2: float, floors: int, rng: np.random.Generator, *, civil_defence: bool
) -> list[dict]:
    """Space blocks of an office building, floor by floor: on each floor one or two suites
    and a handful of single rooms, service rooms on the ground floor, equipment and ancillary
    space in the basement, and a civil-defence block where ``civil_defence``.

    Areas are use areas in m² (one suite in ten is recorded by its gross area instead, as a
    floor plate would be); floors above the eighth are left out to keep the demo small.
    """
    floors = max(1, min(int(floors), 8))
    per_floor_use = gross_floor_area_m2 / max(floors, 1) * USE_COEFFICIENT
    blocks = []
    for floor in range(1, floors + 1):
        office = per_floor_use * OFFICE_SHARE_OF_FLOOR
        rooms = int(rng.integers(3, 7))
        room_areas = rng.choice([12.0, 18.0, 24.0, 30.0, 36.0], rooms)
        suite_total = max(office - room_areas.sum(), 0.0)
        suites = 2 if suite_total > 240 else 1 if suite_total > 40 else 0
        for number in range(suites):
            area = round(suite_total / suites, 1)
            gross = rng.random() < 0.1
            blocks.append(
                {
                    "label": f"{floor}F-S{number + 1}",
                    "floor": floor,
                    "kind": "office",
                    "area_m2": round(area / USE_COEFFICIENT, 1) if gross else area,
                    "area_basis": "gross" if gross else "use",
                }
            )
        for number, area in enumerate(room_areas, start=1):
            blocks.append(
                {
                    "label": f"{floor}F-{number:02d}",
                    "floor": floor,
                    "kind": "office",
                    "area_m2": float(area),
                    "area_basis": "use",
                }
            )
    blocks.append(
        {"label": "1F-SV", "floor": 1, "kind": "service", "area_m2": round(per_floor_use * 0.15, 1),
         "area_basis": "use"}
    )  # fmt: skip
    blocks.append(
        {"label": "B1-EQ", "floor": -1, "kind": "equipment", "area_m2": 60.0, "area_basis": "use"}
    )
    blocks.append(
        {"label": "B1-AN", "floor": -1, "kind": "ancillary", "area_m2": 80.0, "area_basis": "use"}
    )
    if civil_defence:
        blocks.append(
            {"label": "B1-CD", "floor": -1, "kind": "civil_defence",
             "area_m2": round(per_floor_use * 0.4, 1), "area_basis": "use"}
        )  # fmt: skip
    return blocks
