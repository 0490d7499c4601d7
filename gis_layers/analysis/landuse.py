"""Land use against the plan, and how intensively parcels are built on.

Pure functions on GeoDataFrames in a metric CRS (areas in m²). No Django imports.
"""

import geopandas as gpd
import numpy as np
import pandas as pd

# Under-used: built to less than this share of the floor-area ratio the plan permits.
UNDERUSED_SHARE = 0.5


def planned_use_shares(
    parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *, min_piece_m2: float = 0.0
) -> pd.DataFrame:
    """For every parcel, each planned use that covers part of it and that part's share.

    Parameters
    ----------
    parcels
        Columns ``parcel_id``; polygons in a metric CRS.
    zones
        Column ``planned_use`` and, optionally, ``max_far`` (the floor-area ratio the plan
        permits; NA where it gives none); polygons in the same CRS, not overlapping each other.

    Returns
    -------
    DataFrame with ``parcel_id``, ``planned_use``, ``share`` (0-1 of the parcel's area) and
    ``permitted_far``: the area-weighted mean of ``max_far`` over the parts of the parcel in
    zones of that use that give one (NA where none does). A parcel no zone touches has no
    rows. Rows of a parcel are ordered by share, largest first, ties by planned use.
    """
    columns = ["planned_use", "geometry"] + (["max_far"] if "max_far" in zones else [])
    pieces = gpd.overlay(
        parcels[["parcel_id", "geometry"]], zones[columns], how="intersection", keep_geom_type=True
    )
    pieces["piece_m2"] = pieces.geometry.area
    pieces = pieces[pieces["piece_m2"] >= min_piece_m2]
    far = pieces["max_far"] if "max_far" in pieces else pd.Series(np.nan, index=pieces.index)
    far = pd.to_numeric(far, errors="coerce")
    pieces["far_m2"] = (far * pieces["piece_m2"]).where(far.notna())
    pieces["limited_m2"] = pieces["piece_m2"].where(far.notna())
    areas = parcels.set_index("parcel_id").geometry.area
    shares = pieces.groupby(["parcel_id", "planned_use"], as_index=False)[
        ["piece_m2", "far_m2", "limited_m2"]
    ].sum(min_count=1)
    shares["share"] = shares["piece_m2"] / shares["parcel_id"].map(areas)
    shares["permitted_far"] = (shares["far_m2"] / shares["limited_m2"]).astype("Float64")
    return shares[["parcel_id", "planned_use", "share", "permitted_far"]].sort_values(
        ["parcel_id", "share", "planned_use"], ascending=[True, False, True], kind="stable"
    )


def conformity(
    parcels: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    crosswalk: dict[str, str],
    *,
    min_piece_m2: float = 0.0,
) -> pd.DataFrame:
    """Each parcel's main planned use (the largest share) and whether its current use conforms.

    ``parcels`` also needs ``land_use`` (GB/T 21010-2017 code); ``crosswalk`` maps those codes
    to 2023 classes. A current use conforms where its 2023 class and the planned class are
    the same or one lies under the other. Parcels no zone covers get ``conforms`` = NA
    ("no plan"), never False. ``permitted_far`` is that of the main planned use (see
    :func:`planned_use_shares`, as is ``min_piece_m2``).
    """
    shares = planned_use_shares(parcels, zones, min_piece_m2=min_piece_m2)
    # The first row of each parcel (largest share); not groupby().first(), which would take
    # each column's first non-missing value, a permitted FAR of another use among them.
    main = shares.drop_duplicates("parcel_id", keep="first")
    result = parcels[["parcel_id", "land_use"]].merge(main, on="parcel_id", how="left")
    mapped = result["land_use"].map(lambda code: crosswalk.get(code, ""))

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


def intensity(
    parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *, min_piece_m2: float = 0.0
) -> pd.DataFrame:
    """Floor-area ratio (容积率) and building coverage (建筑密度) of every parcel.

    A building straddling parcels counts on each for the part of its footprint inside it,
    and its gross floor area in the same proportion. Parcels with no building at all have
    ``far`` and ``coverage`` NA (no data), not zero; so has ``far`` where a building on the
    parcel has no floor area.

    Parameters
    ----------
    parcels
        ``parcel_id`` and polygons, metric CRS; optionally ``area_m2``, the parcel's area as
        registered (geodesic), which the floor-area ratio is then taken over: floor area is
        in true m², and a projection's scale would otherwise enter the ratio. Coverage is a
        ratio of two areas of the same projection, where that scale cancels out.
    buildings
        ``gfa_m2`` (gross floor area, m²; may be NA) and footprint polygons, same CRS.
    min_piece_m2
        A part of a footprint on a parcel smaller than this (m²) does not count: a sliver
        where the building's outline and the parcel's differ by a drawing's precision does
        not make a building of that parcel.

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
    pieces = pieces[pieces["inside_m2"] >= min_piece_m2].copy()
    pieces["gfa_inside"] = (
        pd.to_numeric(pieces["gfa_m2"], errors="coerce")
        * pieces["inside_m2"]
        / pieces["_footprint_m2"]
    )
    pieces["_unknown"] = pieces["gfa_inside"].isna()
    totals = pieces.groupby("parcel_id").agg(
        footprint_m2=("inside_m2", "sum"),
        gfa_m2=("gfa_inside", "sum"),
        _unknown=("_unknown", "any"),
    )
    # A building without a floor area leaves its parcels' floor area unknown, not smaller.
    totals.loc[totals.pop("_unknown").astype(bool), "gfa_m2"] = np.nan
    projected_m2 = parcels.geometry.area.to_numpy()
    registered = parcels["area_m2"].to_numpy(dtype=float) if "area_m2" in parcels else projected_m2
    result = pd.DataFrame(
        {
            "parcel_id": parcels["parcel_id"].to_numpy(),
            "area_m2": registered,
            "_projected_m2": projected_m2,
        }
    )
    result = result.merge(totals, left_on="parcel_id", right_index=True, how="left")
    result["far"] = (result["gfa_m2"] / result["area_m2"]).astype("Float64")
    result["coverage"] = (result["footprint_m2"] / result.pop("_projected_m2")).astype("Float64")
    return result


# What each parcel's use of the floor area the plan permits is called, in tables and tiles.
UNDERUSED, USED, NO_DATA, NO_LIMIT = "underused", "used", "no_data", "no_limit"


def use_of_permitted(
    intensity_table: pd.DataFrame,
    permitted_far: pd.Series,
    *,
    below_share: float = UNDERUSED_SHARE,
) -> pd.DataFrame:
    """How much of the floor area the plan permits each parcel uses.

    Parameters
    ----------
    intensity_table
        From :func:`intensity`.
    permitted_far
        The permitted floor-area ratio by ``parcel_id``; parcels missing from it (or NA) have
        no limit in the plan.
    below_share
        A parcel is under-used where its FAR is below this share of the permitted one.

    Returns
    -------
    ``intensity_table`` with ``permitted_far``, ``addable_gfa_m2`` (permitted floor area less
    the floor area there, m²; negative where the parcel is built beyond the limit; NA where
    either is unknown) and ``status``: ``"no_data"`` where the parcel has no building data
    (whatever the plan says: its FAR is unknown, not zero), else ``"no_limit"`` where the plan
    gives no FAR, else ``"underused"`` or ``"used"``.
    """
    table = intensity_table.assign(
        permitted_far=intensity_table["parcel_id"].map(permitted_far).astype("Float64")
    )
    table["addable_gfa_m2"] = table["permitted_far"] * table["area_m2"] - table["gfa_m2"]
    status = np.where(
        table["far"].isna(),
        NO_DATA,
        np.where(
            table["permitted_far"].isna(),
            NO_LIMIT,
            np.where(
                (table["far"] < below_share * table["permitted_far"]).fillna(False),
                UNDERUSED,
                USED,
            ),
        ),
    )
    table["status"] = status
    return table


def underused(
    intensity_table: pd.DataFrame,
    permitted_far: pd.Series,
    *,
    below_share: float = UNDERUSED_SHARE,
) -> pd.DataFrame:
    """Parcels built to less than ``below_share`` of the floor-area ratio the plan permits,
    ranked by the floor area (m²) that could be added (see :func:`use_of_permitted`)."""
    table = use_of_permitted(intensity_table, permitted_far, below_share=below_share)
    table = table[table["status"] == UNDERUSED]
    return table.sort_values("addable_gfa_m2", ascending=False).reset_index(drop=True)


def conformity_by_class(table: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """Conformity to the plan summed per class: how many parcels and how much land conform,
    do not, or lie where there is no plan.

    Parameters
    ----------
    table
        One row per parcel: ``area_m2``, ``conforms`` (nullable boolean; NA where no plan
        covers the parcel) and the column ``by``.
    by
        The column holding each parcel's class.

    Returns
    -------
    DataFrame indexed by class (sorted): ``parcels``, ``area_m2``, and for each of
    ``conforming``, ``nonconforming`` and ``no_plan`` the parcels (``*_parcels``) and their
    area (``*_m2``); ``nonconforming_share``, the non-conforming area over the area the plan
    covers (conforming plus non-conforming), NA where the plan covers none of the class.
    Parcels with no plan are never counted as conforming, nor in the share's denominator.
    """
    conforms = table["conforms"].astype("boolean")
    groups = {
        "conforming": conforms.eq(True).fillna(False).astype(bool),
        "nonconforming": conforms.eq(False).fillna(False).astype(bool),
        "no_plan": conforms.isna().to_numpy(),
    }
    parts = {"parcels": np.ones(len(table), dtype=int), "area_m2": table["area_m2"].to_numpy()}
    for name, mask in groups.items():
        mask = np.asarray(mask)
        parts[f"{name}_parcels"] = mask.astype(int)
        parts[f"{name}_m2"] = np.where(mask, table["area_m2"].to_numpy(dtype=float), 0.0)
    frame = pd.DataFrame(parts, index=table.index)
    frame[by] = table[by].to_numpy()
    summed = frame.groupby(by).sum().sort_index()
    planned_m2 = summed["conforming_m2"] + summed["nonconforming_m2"]
    summed["nonconforming_share"] = (
        summed["nonconforming_m2"] / planned_m2.where(planned_m2 > 0)
    ).astype("Float64")
    return summed
