"""Geometry clean-up shared by loaders and analyses. No Django imports."""

import geopandas as gpd
import numpy as np
import shapely


def polygonal_part(geometry):
    """The polygons of a geometry as one MultiPolygon, or None if it has no area.

    ``make_valid`` can return a GeometryCollection of polygons and stray lines; a parcel or
    footprint keeps only its areal part.
    """
    if geometry is None or geometry.is_empty:
        return None
    parts = shapely.get_parts(geometry)
    polygons = []
    for part in parts:
        if isinstance(part, shapely.Polygon) and not part.is_empty:
            polygons.append(part)
        elif isinstance(part, (shapely.MultiPolygon, shapely.GeometryCollection)):
            inner = polygonal_part(part)
            if inner is not None:
                polygons.extend(inner.geoms)
    if not polygons:
        return None
    return shapely.MultiPolygon(polygons)


def repair_polygons(geometries: gpd.GeoSeries) -> tuple[gpd.GeoSeries, int]:
    """Make polygonal geometries valid and multipart.

    Returns
    -------
    (repaired, count)
        ``repaired`` has the same index; a geometry with no area left is None.
        ``count`` is how many input geometries were invalid and had to be repaired.
    """
    values = np.asarray(geometries.values, dtype=object)
    present = ~shapely.is_missing(values)
    invalid = present & ~shapely.is_valid(values)
    fixed = values.copy()
    fixed[invalid] = shapely.make_valid(values[invalid])
    result = [polygonal_part(geometry) if geometry is not None else None for geometry in fixed]
    return gpd.GeoSeries(result, index=geometries.index, crs=geometries.crs), int(invalid.sum())


def utm_epsg(longitude: float, latitude: float) -> int:
    """EPSG code of the WGS 84 UTM zone holding a point: where analyses measure in metres."""
    zone = min(int((longitude + 180) // 6) + 1, 60)
    return (32600 if latitude >= 0 else 32700) + zone
