"""Derive parcels from city blocks: the faces a street network encloses, cut by land use.

Pure functions on GeoDataFrames in a metric CRS (metres). No Django imports.
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis_layers.analysis.geometry import polygonal_part


def street_blocks(
    streets: gpd.GeoDataFrame,
    *,
    half_widths_m: pd.Series,
    extent: shapely.Polygon,
    min_area_m2: float = 20.0,
) -> gpd.GeoDataFrame:
    """City blocks: the faces that street centrelines enclose, minus the street corridors.

    Parameters
    ----------
    streets
        Street centrelines in a metric CRS.
    half_widths_m
        Half the corridor width of each street (metres), aligned with ``streets``.
    extent
        Area to cut the blocks to; faces open to the outside are closed by its boundary.
    min_area_m2
        Blocks smaller than this (slivers between carriageways) are dropped.

    Returns
    -------
    GeoDataFrame with one polygon per block and column ``block_id``.
    """
    lines = list(streets.geometry.intersection(extent)) + [extent.exterior]
    noded = shapely.unary_union([line for line in lines if not line.is_empty])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    corridors = shapely.unary_union(
        shapely.buffer(
            np.asarray(streets.geometry.values), half_widths_m.to_numpy(), cap_style="flat"
        )
    )
    blocks = shapely.difference(faces, corridors)
    blocks = [polygonal_part(block) for block in blocks]
    pieces = [
        part
        for block in blocks
        if block is not None
        for part in block.geoms
        if part.area >= min_area_m2
    ]
    frame = gpd.GeoDataFrame(geometry=pieces, crs=streets.crs)
    frame["block_id"] = np.arange(len(frame))
    return frame


def flatten_overlaps(polygons: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Resolve overlapping polygons so that the smaller (more specific) one wins.

    OSM often maps a park inside a residential area; for a parcel's current use the park is
    the better answer where it lies. Returns disjoint polygons with the input's attributes.
    """
    ordered = polygons.assign(_area=polygons.geometry.area).sort_values("_area", kind="stable")
    taken = shapely.Polygon()
    kept_geometries, kept_rows = [], []
    for row_index, geometry in zip(ordered.index, ordered.geometry, strict=True):
        remainder = polygonal_part(geometry.difference(taken))
        if remainder is not None:
            kept_geometries.append(remainder)
            kept_rows.append(row_index)
        taken = taken.union(geometry)
    flat = ordered.loc[kept_rows].drop(columns="_area")
    return flat.set_geometry(gpd.GeoSeries(kept_geometries, index=flat.index, crs=polygons.crs))


def cut_blocks_by_land_use(
    blocks: gpd.GeoDataFrame,
    land_use: gpd.GeoDataFrame,
    *,
    min_area_m2: float = 20.0,
) -> gpd.GeoDataFrame:
    """Split blocks along land-use boundaries.

    ``land_use`` must be disjoint (see :func:`flatten_overlaps`) and carry a column
    ``land_use_code``. Pieces of a block outside every land-use polygon keep
    ``land_use_code`` missing. Pieces under ``min_area_m2`` are merged back into the largest
    piece of the same block so that no land is lost.
    """
    pieces = gpd.overlay(
        blocks[["block_id", "geometry"]],
        land_use[["land_use_code", "geometry"]],
        how="identity",
        keep_geom_type=True,
    )
    pieces = pieces.explode(index_parts=False).reset_index(drop=True)
    pieces["area_m2"] = pieces.geometry.area
    small = pieces["area_m2"] < min_area_m2
    largest = pieces.loc[~small].sort_values("area_m2").groupby("block_id").tail(1)
    largest_by_block = dict(zip(largest["block_id"], largest.index, strict=True))
    geometries = pieces.geometry.copy()
    for index in pieces.index[small]:
        target = largest_by_block.get(pieces.at[index, "block_id"])
        if target is not None:
            geometries[target] = geometries[target].union(geometries[index])
    pieces = pieces.set_geometry(geometries).loc[
        ~small | ~pieces["block_id"].isin(largest_by_block)
    ]
    pieces["geometry"] = [polygonal_part(geometry) for geometry in pieces.geometry]
    pieces = pieces[pieces.geometry.notna()].drop(columns="area_m2").reset_index(drop=True)
    return pieces
