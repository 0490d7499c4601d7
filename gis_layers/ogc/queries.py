"""The database reads behind the OGC API: a page of features, one feature, a collection's
extent.

PostGIS transforms each geometry to the asked CRS, flips it to latitude/longitude where that
CRS's axis order says so, and writes the GeoJSON text (``ST_AsGeoJSON``); Python only joins
the texts. A page is one ``LIMIT``/``OFFSET`` query ordered by primary key (a stable order
for paging) that also counts every match (``count(*) OVER ()``: the matching rows are found
once, for the page and its count), so no layer is ever read whole into memory.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.db.models import Extent, GeometryField
from django.contrib.gis.db.models.functions import AsGeoJSON, Transform
from django.contrib.gis.geos import GEOSGeometry, LineString, Point, Polygon
from django.db.models import Aggregate, Count, F, Func, Max, Min, Q, QuerySet, Window
from django.utils import timezone

from gis_layers.ogc.collections import Collection
from gis_layers.ogc.crs import CRS84, Crs
from gis_layers.ogc.params import Envelope, ItemsQuery, Period
from gis_layers.ogc.selectors import holders_of_parcels
from registry.selectors import in_force_on

STORAGE_SRID = settings.LANDLEDGER_STORAGE_SRID
# Decimal places of coordinates: every served CRS is in degrees, and 1e-9° is about 0.1 mm.
DECIMALS = 9
GEOMETRY = "ogc_geometry"
MATCHED = "ogc_matched"


@dataclass(frozen=True)
class Feature:
    id: int
    properties: dict
    geometry: str | None  # GeoJSON text from PostGIS; None when not asked for (HTML)


@dataclass(frozen=True)
class FeaturePage:
    features: list[Feature]
    number_matched: int


@dataclass(frozen=True)
class CollectionExtent:
    bbox: list[float] | None  # CRS84 (west, south, east, north); None when empty
    start: datetime.date | None  # first day any feature is in force (temporal collections)
    end: datetime.date | None  # first day none is any more; None while some are current


def _geometry_json(field: str, crs: Crs) -> Func:
    geometry: F | Func = F(field)
    if crs.srid != STORAGE_SRID:
        geometry = Transform(geometry, crs.srid)
    if crs.lat_lon:
        geometry = Func(
            geometry, function="ST_FlipCoordinates", output_field=GeometryField(srid=crs.srid)
        )
    return AsGeoJSON(geometry, precision=DECIMALS)


def _envelope_geometry(envelope: Envelope, srid: int) -> GEOSGeometry:
    """The box as a geometry PostGIS can intersect: a point or a line when it has no area."""
    west, south, east, north = envelope.as_list()
    if west == east and south == north:
        return Point(west, south, srid=srid)
    if west == east or south == north:
        return LineString((west, south), (east, north), srid=srid)
    box = Polygon.from_bbox((west, south, east, north))
    box.srid = srid
    return box


def _in_period(period: Period | None) -> Q:
    """Features in force on some day of the period; on today when there is none."""
    if period is None:
        return in_force_on(timezone.localdate())
    condition = Q()
    if period.end is not None:
        condition &= Q(valid_from__lte=period.end)
    if period.start is not None:
        condition &= Q(valid_to__isnull=True) | Q(valid_to__gt=period.start)
    return condition


def holders_date(period: Period | None) -> datetime.date:
    """The day a parcel's holders are read for: the last day asked for; today when the
    request names none or leaves the end open."""
    if period is not None and period.end is not None:
        return period.end
    return timezone.localdate()


def _rows(collection: Collection, *, user, crs: Crs, with_geometry: bool) -> tuple[QuerySet, dict]:
    fields = collection.fields_for(user=user)
    rows = collection.rows(user=user)
    columns = ["pk", *fields.values()]
    if with_geometry:
        rows = rows.annotate(**{GEOMETRY: _geometry_json(collection.geometry_field, crs)})
        columns.append(GEOMETRY)
    return rows.values(*columns), fields


def _features(
    rows: list[dict], collection: Collection, fields: dict, *, user, holders_on: datetime.date
) -> list[Feature]:
    holders = (
        holders_of_parcels(parcel_ids=[row["pk"] for row in rows], on=holders_on)
        if collection.shows_holders(user=user)
        else None
    )
    features = []
    for row in rows:
        properties = {name: _json_value(row[path]) for name, path in fields.items()}
        if holders is not None:
            properties["holders"] = holders.get(row["pk"], [])
        features.append(Feature(row["pk"], properties, row.get(GEOMETRY)))
    return features


def _json_value(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def feature_page(
    *, collection: Collection, user, query: ItemsQuery, with_geometry: bool = True
) -> FeaturePage:
    """The features of ``query``'s page that the user may see, in primary-key order, and how
    many match in all. The caller has checked the user's permission on the collection."""
    rows, fields = _rows(collection, user=user, crs=query.crs, with_geometry=with_geometry)
    if collection.temporal:
        rows = rows.filter(_in_period(query.period))
    if query.bbox is not None:
        srid = (query.bbox_crs or CRS84).srid
        rows = rows.filter(
            **{f"{collection.geometry_field}__intersects": _envelope_geometry(query.bbox, srid)}
        )
    counted = rows.annotate(**{MATCHED: Window(Count("pk"))})
    page = list(counted.order_by("pk")[query.offset : query.offset + query.limit])
    if page:
        matched = page[0][MATCHED]
    elif query.offset == 0:
        matched = 0
    else:
        # Past the last page no row carries the count.
        matched = rows.count()
    features = _features(page, collection, fields, user=user, holders_on=holders_date(query.period))
    return FeaturePage(features, matched)


def feature(*, collection: Collection, user, fid: int, crs: Crs, with_geometry: bool = True):
    """The feature with this id if the user may see it (at any time: a retired parcel keeps
    its id and shows its ``valid_to``); None otherwise. Holders are today's."""
    rows, fields = _rows(collection, user=user, crs=crs, with_geometry=with_geometry)
    row = rows.filter(pk=fid).first()
    if row is None:
        return None
    return _features([row], collection, fields, user=user, holders_on=timezone.localdate())[0]


def collection_extent(*, collection: Collection, user) -> CollectionExtent:
    """The bounding box (CRS84) and legal time span of every feature the user may see, at
    any time. One aggregate query."""
    aggregates: dict[str, Aggregate] = {"box": Extent(collection.geometry_field)}
    if collection.temporal:
        aggregates.update(
            start=Min("valid_from"),
            end=Max("valid_to"),
            current=Count("pk", filter=Q(valid_to__isnull=True)),
        )
    found = collection.rows(user=user).aggregate(**aggregates)
    bbox = None
    if found["box"] is not None:
        # The box's corners, transformed: between the two geographic datums the shift is
        # far below the box's own precision.
        corners = Polygon.from_bbox(found["box"])
        corners.srid = STORAGE_SRID
        corners.transform(CRS84.srid)
        bbox = list(corners.extent)
    if not collection.temporal:
        return CollectionExtent(bbox, None, None)
    end = None if found["current"] else found["end"]
    return CollectionExtent(bbox, found["start"], end)
