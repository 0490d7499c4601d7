"""Land use against the plan, and how intensively parcels are built on.

Pure functions on GeoDataFrames in a metric CRS (areas in m²). No Django imports.
"""

import geopandas as gpd
import numpy as np
import pandas as pd


def planned_use_shares(parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """For every parcel, each planned use that covers part of it and that part's share.

    Parameters
    ----------
    parcels
        Columns ``parcel_id``; polygons in a metric CRS.
    zones
        Column ``planned_use``; polygons in the same CRS, not overlapping each other.

    Returns
    -------
    DataFrame with ``parcel_id``, ``planned_use``, ``share`` (0-1 of the parcel's area); a
    parcel no zone touches has no rows.
    """
    pieces = gpd.overlay(
        parcels[["parcel_id", "geometry"]],
        zones[["planned_use", "geometry"]],
        how="intersection",
        keep_geom_type=True,
    )
    pieces["piece_m2"] = pieces.geometry.area
    areas = parcels.set_index("parcel_id").geometry.area
    shares = pieces.groupby(["parcel_id", "planned_use"], as_index=False)["piece_m2"].sum()
    shares["share"] = shares["piece_m2"] / shares["parcel_id"].map(areas)
    return shares[["parcel_id", "planned_use", "share"]].sort_values(
        ["parcel_id", "share"], ascending=[True, False]
    )


def conformity(
    parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, crosswalk: dict[str, str]
) -> pd.DataFrame:
    """Each parcel's main planned use (the largest share) and whether its current use conforms.

    ``parcels`` also needs ``land_use`` (GB/T 21010-2017 code); ``crosswalk`` maps those codes
    to 2023 classes. A current use conforms where its 2023 class and the planned class are
    the same or one lies under the other. Parcels no zone covers get ``conforms`` = NA
    ("no plan"), never False.
    """
    shares = planned_use_shares(parcels, zones)
    main = shares.groupby("parcel_id", as_index=False).first()
    result = parcels[["parcel_id", "land_use"]].merge(main, on="parcel_id", how="left")
    mapped = result["land_use"].map(crosswalk).fillna("")

    def agrees(row_mapped: str, planned) -> object:
        if not isinstance(planned, str):
            return pd.NA
        return bool(row_mapped) and (
            row_mapped.startswith(planned[:4]) or planned[:4].startswith(row_mapped)
        )

    result["conforms"] = pd.array(
        [agrees(m, p) for m, p in zip(mapped, result["planned_use"], strict=True)], dtype="boolean"
    )
    return result


def intensity(parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    """Floor-area ratio (容积率) and building coverage (建筑密度) of every parcel.

    A building straddling parcels counts on each for the part of its footprint inside it,
    and its gross floor area in the same proportion. Parcels with no building at all have
    ``far`` and ``coverage`` NA (no data), not zero.

    Parameters
    ----------
    parcels
        ``parcel_id`` and polygons, metric CRS.
    buildings
        ``gfa_m2`` (gross floor area, m²; may be NA) and footprint polygons, same CRS.

    Returns
    -------
    DataFrame with ``parcel_id``, ``area_m2``, ``footprint_m2``, ``gfa_m2``, ``far``,
    ``coverage``.
    """
    buildings = buildings.assign(
        _footprint_m2=buildings.geometry.area, _building=np.arange(len(buildings))
    )
    pieces = gpd.overlay(
        parcels[["parcel_id", "geometry"]],
        buildings[["_building", "gfa_m2", "_footprint_m2", "geometry"]],
        how="intersection",
        keep_geom_type=True,
    )
    pieces["inside_m2"] = pieces.geometry.area
    pieces["gfa_inside"] = pieces["gfa_m2"] * pieces["inside_m2"] / pieces["_footprint_m2"]
    totals = pieces.groupby("parcel_id").agg(
        footprint_m2=("inside_m2", "sum"), gfa_m2=("gfa_inside", "sum")
    )
    result = pd.DataFrame(
        {"parcel_id": parcels["parcel_id"].to_numpy(), "area_m2": parcels.geometry.area.to_numpy()}
    )
    result = result.merge(totals, left_on="parcel_id", right_index=True, how="left")
    result["far"] = (result["gfa_m2"] / result["area_m2"]).astype("Float64")
    result["coverage"] = (result["footprint_m2"] / result["area_m2"]).astype("Float64")
    return result


def underused(
    intensity_table: pd.DataFrame, permitted_far: pd.Series, *, below_share: float = 0.5
) -> pd.DataFrame:
    """Parcels built to less than ``below_share`` of the floor-area ratio the plan permits,
    ranked by the floor area (m²) that could be added."""
    table = intensity_table.assign(permitted_far=intensity_table["parcel_id"].map(permitted_far))
    table = table[table["permitted_far"].notna() & table["far"].notna()]
    table = table[table["far"] < below_share * table["permitted_far"]].copy()
    table["addable_gfa_m2"] = table["permitted_far"] * table["area_m2"] - table["gfa_m2"]
    return table.sort_values("addable_gfa_m2", ascending=False).reset_index(drop=True)
