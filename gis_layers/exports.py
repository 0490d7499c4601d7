"""``export_layer``: write one layer of the register to a GeoPackage, GeoJSON, FlatGeobuf, CSV
or zipped Shapefile, with the column names the importer recognises, so that the file imports
again without a mapping.

Rows stream from a server-side cursor in chunks: a million parcels are never held in memory.
GeoPackage, FlatGeobuf, CSV and Shapefile are written by pyogrio from a stream of Arrow record
batches in a single pass (FlatGeobuf included, which GDAL cannot append to); GeoJSON is
written as text here, because GDAL's writer shortens some numbers. Coordinates keep full
double precision in every format, so a re-imported geometry is equal to the stored one, not
merely close to it. Shapefile's own limits remain: DBF numbers carry 15 decimals and DBF text
254 bytes (values cut are counted in the result's notes).
"""

import datetime
import json
import math
import operator
import pathlib
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyogrio
from django.contrib.gis.db.models.functions import AsWKB, PointOnSurface
from django.contrib.gis.geos import Polygon
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Case, Count, F, Func, OuterRef, Subquery, Value, When, Window
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gis_layers.models import PopulationCell, RoadSegment, ZoningArea
from registry.models import (
    Agency,
    Building,
    Parcel,
    SecurityLevel,
    Shelter,
    StaffEstablishment,
    StaffRank,
)
from registry.selectors import clearance_of, in_force_on, shelters_visible_to
from registry.services.acts import record_audit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

STORAGE_CRS = "EPSG:4490"
DEFAULT_CHUNK = 10_000
# PostGIS prints the shortest decimal that reads back as the same double, up to this many
# digits after the point; 30 covers every coordinate from 1e-8 degrees up (smaller ones are
# printed with an exponent), so WKT and GeoJSON coordinates lose nothing.
TEXT_DECIMALS = 30
# A DBF text field holds at most 254 bytes; GDAL cuts longer values.
DBF_TEXT_BYTES = 254
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
# The most features the map's selection exports: the map opens the export form with them in
# its address, and 500 numbers of up to 7 digits stay within the request line a server
# accepts (config/gunicorn.conf.py).
MAX_SELECTED = 500


class ExportRefusal(ValueError):
    """The export was not started: unknown kind or format, or a path that cannot be written.
    The message says what was wrong and what is accepted."""


@dataclass(frozen=True)
class Format:
    key: str  # as chosen on the web form, e.g. "shp.zip"
    suffix: str  # the file name ends with it (any case)
    driver: str  # GDAL driver
    label: str | Promise  # as the export form names it, in the reader's language
    content_type: str
    layer_options: dict[str, str] = field(default_factory=dict)

    @property
    def has_crs(self) -> bool:
        return self.key != "csv"


FORMATS: dict[str, Format] = {
    fmt.key: fmt
    for fmt in (
        Format("gpkg", ".gpkg", "GPKG", "GeoPackage", "application/geopackage+sqlite3"),
        Format("geojson", ".geojson", "GeoJSON", "GeoJSON", "application/geo+json"),
        Format("fgb", ".fgb", "FlatGeobuf", "FlatGeobuf", "application/octet-stream"),
        Format(
            "csv", ".csv", "CSV", gettext_lazy("CSV (geometry as WKT)"), "text/csv; charset=utf-8"
        ),
        Format(
            "shp.zip",
            ".shp.zip",
            "ESRI Shapefile",
            gettext_lazy("zipped ESRI Shapefile"),
            "application/zip",
            {"ENCODING": "UTF-8"},
        ),
    )
}
ACCEPTED_SUFFIXES = ", ".join(fmt.suffix for fmt in FORMATS.values())


def format_of(path: pathlib.Path) -> Format:
    """The format a file name asks for; :class:`ExportRefusal` naming the accepted suffixes."""
    name = path.name.lower()
    for fmt in sorted(FORMATS.values(), key=lambda fmt: -len(fmt.suffix)):
        if name.endswith(fmt.suffix) and len(name) > len(fmt.suffix):
            return fmt
    raise ExportRefusal(
        _("%(name)s: the format is taken from the file name's suffix; use one of %(suffixes)s")
        % {"name": path.name, "suffixes": ACCEPTED_SUFFIXES}
    )


@dataclass(frozen=True)
class Column:
    """One attribute column: its name (one the importer recognises for the kind, see
    ``gis_layers.imports.schema.KINDS``), its Arrow type and how to read it from a row."""

    name: str
    type: pa.DataType
    # Any: what a row holds follows the column's Arrow type (text for pa.string()...).
    value: Callable[[dict], Any]
    shapefile_name: str = ""  # when ``name`` is longer than a DBF field name (10 characters)

    def name_in(self, fmt: Format) -> str:
        return self.shapefile_name if fmt.key == "shp.zip" and self.shapefile_name else self.name


def _field(key: str) -> Callable[[dict], Any]:
    return operator.itemgetter(key)


def _source_id(row: dict) -> str:
    # The row's own source when it names this row alone, else its id: a source shared by
    # many rows (a whole dataset, "synthetic: ...") would make the importer refuse the
    # repeats as duplicates.
    if row["source"] and row["same_source"] == 1:
        return row["source"]
    return f"id:{row['id']}"


SOURCE_ID = Column("source_id", pa.string(), _source_id)
SOURCE_VALUES = {
    "id": "id",
    "source": "source",
    "same_source": Window(Count("id"), partition_by=[F("source")]),
}


@dataclass(frozen=True)
class Layer:
    """What one kind exports: rows, columns, geometry, and who may export it."""

    kind: str
    model: type[models.Model]
    permission: str
    geometry_field: str
    geometry_type: str  # as GDAL names it for the layer
    columns: tuple[Column, ...]
    values: dict  # key in a row → field path or expression (see :func:`_values`)
    order_by: str
    temporal: bool  # has a legal interval [valid_from, valid_to)
    # The geometry is a polygon exported as a point on its surface: the agencies' seat
    # building, which the importer finds again as the building under the point.
    point_on_surface: bool = False
    # Some rows have no geometry (an agency without a seat).
    geometry_optional: bool = False


# DBF field names hold 10 characters; the importer knows these short names too.
AGENCY_RANK_SHAPEFILE_NAMES = {
    "vice_minister": "vice_min",
    "director_general": "dir_gen",
    "deputy_director_general": "depdir_gen",
    "below_division": "below_div",
}


# Buildings' and shelters' place in the vertical, as the importer reads it back.
STRATUM_COLUMNS = (
    Column("is_underground", pa.bool_(), _field("is_underground"), "undergrnd"),
    Column("elevation_bottom_m", pa.float64(), _field("elevation_bottom_m"), "elev_bot"),
    Column("elevation_top_m", pa.float64(), _field("elevation_top_m"), "elev_top"),
)
STRATUM_VALUES = {column.name: column.name for column in STRATUM_COLUMNS}


def _headcount(rank: str) -> Subquery:
    return Subquery(
        StaffEstablishment.objects.filter(agency=OuterRef("pk"), rank=rank).values("headcount")
    )


LAYERS: dict[str, Layer] = {
    "parcels": Layer(
        kind="parcels",
        model=Parcel,
        permission="registry.view_parcel",
        geometry_field="geom",
        geometry_type="MultiPolygon",
        columns=(
            Column("unit_code", pa.string(), _field("unit_code")),
            Column("land_use", pa.string(), _field("land_use")),
            Column("name", pa.string(), _field("name")),
            Column("address", pa.string(), _field("address")),
            Column("valid_from", pa.date32(), _field("valid_from")),
            # Informational: the importer does not read these back.
            Column("valid_to", pa.date32(), _field("valid_to")),
            Column("area_m2", pa.float64(), _field("area_m2")),
            Column("district", pa.string(), _field("district_code")),
        ),
        values={
            "unit_code": "unit_code",
            "land_use": "land_use",  # a foreign key reads as its key: the code
            "name": "name",
            "address": "address",
            "valid_from": "valid_from",
            "valid_to": "valid_to",
            "area_m2": "area_m2",
            "district_code": "district__code",
        },
        order_by="unit_code",
        temporal=True,
    ),
    "buildings": Layer(
        kind="buildings",
        model=Building,
        permission="registry.view_building",
        geometry_field="footprint",
        geometry_type="MultiPolygon",
        columns=(
            SOURCE_ID,
            Column("name", pa.string(), _field("name")),
            Column("address", pa.string(), _field("address")),
            Column("floors", pa.int32(), _field("floors_above")),
            # Without it a re-import would set every building's basement floors to 0.
            Column("floors_below", pa.int32(), _field("floors_below"), "basements"),
            Column("gfa", pa.float64(), _field("gross_floor_area_m2")),
            Column("height", pa.float64(), _field("height_m")),
            Column("use", pa.string(), _field("use")),
            Column("year", pa.int32(), _field("year_built")),
            *STRATUM_COLUMNS,
            # Without it a re-import elsewhere would date every building on the day of import.
            Column("valid_from", pa.date32(), _field("valid_from")),
        ),
        values={
            **SOURCE_VALUES,
            "name": "name",
            "address": "address",
            "floors_above": "floors_above",
            "floors_below": "floors_below",
            "gross_floor_area_m2": "gross_floor_area_m2",
            "height_m": "height_m",
            "use": "use",
            "year_built": "year_built",
            **STRATUM_VALUES,
            "valid_from": "valid_from",
        },
        order_by="id",
        temporal=True,
    ),
    "shelters": Layer(
        kind="shelters",
        model=Shelter,
        permission="registry.view_shelter",
        geometry_field="location",
        geometry_type="Point",
        columns=(
            SOURCE_ID,
            Column("name", pa.string(), _field("name")),
            Column("shelter_type", pa.string(), _field("shelter_type"), "type"),
            Column("protection_class", pa.string(), _field("protection_class"), "prot_class"),
            Column("capacity_persons", pa.int64(), _field("capacity_persons"), "capacity"),
            Column("usable_area_m2", pa.float64(), _field("usable_area_m2"), "usable_m2"),
            Column("condition", pa.string(), _field("condition")),
            Column("peacetime_use", pa.string(), _field("peacetime_use"), "peace_use"),
            Column("classification", pa.int32(), _field("classification"), "sec_class"),
            *STRATUM_COLUMNS,
            Column("valid_from", pa.date32(), _field("valid_from")),
        ),
        values={
            **SOURCE_VALUES,
            "name": "name",
            "shelter_type": "shelter_type",
            "protection_class": "protection_class",
            "capacity_persons": "capacity_persons",
            "usable_area_m2": "usable_area_m2",
            "condition": "condition",
            "peacetime_use": "peacetime_use",
            "classification": "classification",
            **STRATUM_VALUES,
            "valid_from": "valid_from",
        },
        order_by="id",
        temporal=True,
    ),
    "zoning": Layer(
        kind="zoning",
        model=ZoningArea,
        permission="gis_layers.view_zoningarea",
        geometry_field="geom",
        geometry_type="MultiPolygon",
        columns=(
            SOURCE_ID,
            Column("planned_use", pa.string(), _field("planned_use"), "plan_use"),
            Column("plan_name", pa.string(), _field("plan_name")),
            Column("plan_date", pa.date32(), _field("plan_date")),
            Column("max_far", pa.float64(), _field("max_far")),
        ),
        values={
            **SOURCE_VALUES,
            "planned_use": "planned_use",
            "plan_name": "plan_name",
            "plan_date": "plan_date",
            "max_far": "max_far",
        },
        order_by="id",
        temporal=False,
    ),
    "roads": Layer(
        kind="roads",
        model=RoadSegment,
        permission="gis_layers.view_roadsegment",
        geometry_field="geom",
        geometry_type="LineString",
        columns=(
            SOURCE_ID,
            Column("name", pa.string(), _field("name")),
            Column("highway", pa.string(), _field("highway")),
        ),
        values={**SOURCE_VALUES, "name": "name", "highway": "highway"},
        order_by="id",
        temporal=False,
    ),
    "population": Layer(
        kind="population",
        model=PopulationCell,
        permission="gis_layers.view_populationcell",
        geometry_field="geom",
        geometry_type="Polygon",
        columns=(SOURCE_ID, Column("residents", pa.float64(), _field("residents"))),
        values={**SOURCE_VALUES, "residents": "residents"},
        order_by="id",
        temporal=False,
    ),
    "agencies": Layer(
        kind="agencies",
        model=Agency,
        # The staff establishment is what an agency export is mostly about: exporting it needs
        # the permission to read it, which every role that reads agencies and their space has.
        permission="registry.view_staffestablishment",
        geometry_field="seat_building__footprint",
        geometry_type="Point",
        columns=(
            Column("name", pa.string(), _field("name")),
            Column("parent", pa.string(), _field("parent_name")),
            Column("level", pa.string(), _field("level")),
            Column("clearance", pa.int32(), _field("stated_clearance")),
            *(
                Column(rank, pa.int64(), _field(rank), AGENCY_RANK_SHAPEFILE_NAMES.get(rank, ""))
                for rank in StaffRank.values
            ),
        ),
        values={
            "name": "party__name",
            "parent_name": "parent__party__name",
            "level": "level",
            "stated_clearance": "stated_clearance",  # annotated by rows_to_export
            **{rank: _headcount(rank) for rank in StaffRank.values},
        },
        order_by="party__name",
        temporal=False,
        point_on_surface=True,
        geometry_optional=True,
    ),
}
KIND_NAMES = tuple(LAYERS)


@dataclass(frozen=True)
class ExportResult:
    """What was written: ``rows`` features of ``kind`` to ``path``; ``as_of`` is the date the
    rows were in force on, None for kinds without a legal interval."""

    path: pathlib.Path
    kind: str
    format: Format
    rows: int
    as_of: datetime.date | None
    columns: tuple[str, ...]
    crs: str = STORAGE_CRS
    notes: tuple[str, ...] = ()


def layer_of(kind: str) -> Layer:
    try:
        return LAYERS[kind]
    except KeyError:
        raise ExportRefusal(
            _("unknown kind %(kind)s; export one of %(kinds)s")
            % {"kind": repr(kind), "kinds": ", ".join(KIND_NAMES)}
        ) from None


# (west, south, east, north) in degrees of longitude and latitude, EPSG:4490.
Bbox = tuple[float, float, float, float]
STORAGE_SRID = 4490


def in_force_date(layer: Layer, as_of: datetime.date | None) -> datetime.date | None:
    """The day an export of ``layer`` takes its rows in force on: ``as_of``, else today; None
    for kinds without a legal interval."""
    return (as_of or timezone.localdate()) if layer.temporal else None


def rows_to_export(
    *,
    layer: Layer,
    as_of: datetime.date | None,
    user: "User | None",
    bbox: Bbox | None = None,
    ids: Collection[int] | None = None,
) -> models.QuerySet:
    """The rows of ``layer`` in force on ``as_of`` (for kinds with a legal interval) that
    ``user`` may see, within ``bbox`` and among ``ids`` (a selection) where given. Shelters
    go through :func:`shelters_visible_to`; with no user (the command run without
    ``--user``) only public shelters are exported."""
    if layer.kind == "shelters":
        if user is None:
            rows: models.QuerySet = Shelter.objects.filter(classification=SecurityLevel.PUBLIC)
        else:
            rows = shelters_visible_to(user=user)
    else:
        rows = layer.model._default_manager.all()
    if layer.kind == "agencies":
        # An agency's clearance is stated up to the user's own (public without a user, as
        # for shelters); above it the cell is empty, which an import reads as "keep it".
        seen = SecurityLevel.PUBLIC if user is None else clearance_of(user=user)
        rows = rows.annotate(
            stated_clearance=Case(
                When(clearance__lte=seen, then=F("clearance")),
                default=None,
                output_field=models.IntegerField(),
            )
        )
    if layer.temporal:
        # in_force_date() gives every layer with a legal interval its day.
        assert as_of is not None
        rows = rows.filter(in_force_on(as_of))
    if bbox is not None:
        envelope = Polygon.from_bbox(bbox)
        envelope.srid = STORAGE_SRID
        rows = rows.filter(**{f"{layer.geometry_field}__intersects": envelope})
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows


def _values(queryset: models.QuerySet, layer: Layer, fmt: Format) -> models.QuerySet:
    """``queryset`` as dicts keyed as ``layer.values`` says, plus ``geometry``."""
    fields = [key for key, value in layer.values.items() if key == value]
    expressions = {
        key: F(value) if isinstance(value, str) else value
        for key, value in layer.values.items()
        if key != value
    }
    return queryset.values(*fields, **expressions, geometry=_geometry_value(layer, fmt))


def _geometry_value(layer: Layer, fmt: Format):
    """WKB for the binary formats; exact text printed by PostGIS for CSV and GeoJSON. None
    where a row has no geometry (an agency without a seat)."""
    geometry: F | PointOnSurface = F(layer.geometry_field)
    if layer.point_on_surface:
        geometry = PointOnSurface(geometry)
    function = {"csv": "ST_AsText", "geojson": "ST_AsGeoJSON"}.get(fmt.key)
    if function is None:
        return AsWKB(geometry)
    return Func(
        geometry,
        Value(TEXT_DECIMALS),
        function=function,
        output_field=models.TextField(),
    )


def _schema(layer: Layer, fmt: Format) -> pa.Schema:
    if fmt.key == "csv":
        # GDAL's CSV writer prints dates as YYYY/MM/DD and doubles with 15 digits; as text
        # formatted here they stay ISO dates and exact numbers.
        return pa.schema(
            [("wkt", pa.string())] + [(column.name, pa.string()) for column in layer.columns]
        )
    geometry = pa.field("geometry", pa.binary(), metadata={b"ARROW:extension:name": b"ogc.wkb"})
    return pa.schema([(column.name_in(fmt), column.type) for column in layer.columns] + [geometry])


def _as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same double
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _as_json(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


@dataclass
class _Tally:
    rows: int = 0
    cut_values: int = 0


def _chunks(
    rows: Iterator[dict], *, chunk_size: int, tally: _Tally, on_progress: Callable[[int], None]
) -> Iterator[list[dict]]:
    while chunk := list(islice(rows, chunk_size)):
        yield chunk
        tally.rows += len(chunk)
        on_progress(len(chunk))


def _record_batches(
    chunks: Iterator[list[dict]], *, layer: Layer, fmt: Format, schema: pa.Schema, tally: _Tally
) -> Iterator[pa.RecordBatch]:
    text = fmt.key == "csv"
    for chunk in chunks:
        arrays = [[row["geometry"] for row in chunk]] if text else []
        for column in layer.columns:
            values = [column.value(row) for row in chunk]
            if text:
                values = [_as_text(value) for value in values]
            elif fmt.key == "shp.zip" and column.type == pa.string():
                tally.cut_values += sum(
                    1 for value in values if value and len(value.encode()) > DBF_TEXT_BYTES
                )
            arrays.append(values)
        if not text:
            arrays.append(
                [None if row["geometry"] is None else bytes(row["geometry"]) for row in chunk]
            )
        yield pa.record_batch(
            [
                pa.array(values, type=schema_field.type)
                for values, schema_field in zip(arrays, schema, strict=True)
            ],
            schema=schema,
        )


def _write_geojson(chunks: Iterator[list[dict]], *, target: pathlib.Path, layer: Layer) -> None:
    """A FeatureCollection declaring EPSG:4490 in a "crs" member (GeoJSON 2008, as GDAL writes
    it), one feature a line.

    Written here rather than by GDAL, whose GeoJSON writer shortens any number that prints
    with a run of 0s or 9s (60.178913400000006 becomes 60.1789134) whatever the precision
    options say. PostGIS prints each geometry and Python each attribute as the shortest text
    that reads back as the same double.
    """
    head = {
        "type": "FeatureCollection",
        "name": layer.kind,
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
    }
    with target.open("w", encoding="utf-8") as out:
        out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "features": [\n')
        separator = ""
        for chunk in chunks:
            for row in chunk:
                properties = json.dumps(
                    {column.name: _as_json(column.value(row)) for column in layer.columns},
                    ensure_ascii=False,
                    allow_nan=False,
                )
                out.write(
                    f'{separator}{{"type": "Feature", "properties": {properties}, '
                    f'"geometry": {row["geometry"] or "null"}}}'
                )
                separator = ",\n"
        out.write("\n]}\n")


def _write(
    chunks: Iterator[list[dict]],
    *,
    target: pathlib.Path,
    layer: Layer,
    fmt: Format,
    tally: _Tally,
) -> tuple[str, ...]:
    """Write the rows to ``target`` (a scratch file named as the final one); returns the
    attribute columns as named in the file."""
    if fmt.key == "geojson":
        _write_geojson(chunks, target=target, layer=layer)
        return tuple(column.name for column in layer.columns)
    schema = _schema(layer, fmt)
    stream = pa.RecordBatchReader.from_batches(
        schema, _record_batches(chunks, layer=layer, fmt=fmt, schema=schema, tally=tally)
    )
    columns = tuple(name for name in schema.names if name not in ("wkt", "geometry"))
    if fmt.key == "csv":
        pyogrio.write_arrow(stream, target, layer=target.stem, driver=fmt.driver)
        return columns
    layer_options = dict(fmt.layer_options)
    if fmt.key == "fgb" and layer.geometry_optional:
        # GDAL's FlatGeobuf writer refuses a feature without geometry into a spatial index.
        layer_options["SPATIAL_INDEX"] = "NO"
    dataset = target
    if fmt.key == "shp.zip":
        dataset = target.with_name(target.name[: -len(fmt.suffix)] + ".shp")
    with warnings.catch_warnings():
        # GDAL warns once per field when it cuts a text value to 254 bytes; the result's
        # notes count every such value instead.
        warnings.filterwarnings("ignore", message=r"Value .* truncated", category=RuntimeWarning)
        pyogrio.write_arrow(
            stream,
            dataset,
            layer=layer.kind if fmt.key == "gpkg" else dataset.stem,
            driver=fmt.driver,
            geometry_name="geometry",
            geometry_type=layer.geometry_type,
            crs=STORAGE_CRS,
            layer_options=layer_options,
        )
    if fmt.key == "shp.zip":
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for suffix in SHAPEFILE_PARTS:
                part = dataset.with_suffix(suffix)
                if part.exists():
                    archive.write(part, arcname=part.name)
    return columns


def export_layer(
    *,
    kind: str,
    path: pathlib.Path,
    as_of: datetime.date | None = None,
    user: "User | None",
    bbox: Bbox | None = None,
    ids: Collection[int] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    on_total: Callable[[int], None] = lambda total: None,
    on_progress: Callable[[int], None] = lambda rows: None,
) -> ExportResult:
    """Write the rows of ``kind`` in force on ``as_of`` (default: today) that ``user`` may
    see to ``path``, in the format its suffix names, with geometry in EPSG:4490; only those
    within ``bbox`` and among ``ids`` (the map's view and selection) where given.

    ``user`` None means the operator at the command line: every row, but only public
    shelters. A given user needs the kind's view permission (else ``PermissionDenied``) and
    sees shelters up to their clearance. The file appears at ``path`` only when complete (an
    existing file is replaced), and an audit event ``export`` records who exported how many
    rows of what. Raises :class:`ExportRefusal` for an unknown kind or suffix, or a path that
    cannot be written; nothing is written then.
    """
    layer = layer_of(kind)
    path = pathlib.Path(path)
    fmt = format_of(path)
    if not path.parent.is_dir():
        raise ExportRefusal(
            _("%(path)s: the directory %(directory)s does not exist")
            % {"path": path, "directory": path.parent}
        )
    if chunk_size < 1:
        raise ExportRefusal(
            _("the chunk size must be at least 1, not %(size)s") % {"size": chunk_size}
        )
    if user is not None and not user.has_perm(layer.permission):
        raise PermissionDenied(
            _("%(user)s may not export %(kind)s") % {"user": user.get_username(), "kind": kind}
        )
    notes = []
    if not layer.temporal and as_of is not None:
        notes.append(f"{kind} have no legal interval: exported as they are now, not as of {as_of}")
    as_of = in_force_date(layer, as_of)
    if kind == "shelters" and user is None:
        notes.append("shelters: only public ones (no --user given, so no clearance applies)")
    if not fmt.has_crs:
        notes.append(
            f"CSV holds no CRS: the wkt column is in {STORAGE_CRS} (CGCS2000); "
            f"re-import it with --crs {STORAGE_CRS}"
        )
    queryset = rows_to_export(layer=layer, as_of=as_of, user=user, bbox=bbox, ids=ids)
    tally = _Tally()
    try:
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as scratch:
            target = pathlib.Path(scratch) / path.name
            # One transaction: the count and the rows come from the same snapshot, the
            # server-side cursor needs no WITH HOLD, and the audit event commits with them.
            with transaction.atomic():
                on_total(queryset.count())
                rows = _values(queryset.order_by(layer.order_by), layer, fmt).iterator(
                    chunk_size=chunk_size
                )
                chunks = _chunks(rows, chunk_size=chunk_size, tally=tally, on_progress=on_progress)
                columns = _write(chunks, target=target, layer=layer, fmt=fmt, tally=tally)
                record_audit(
                    user=user,
                    action="export",
                    object_type=kind,
                    object_id=path.name[:64],
                    detail={
                        "rows": tally.rows,
                        "as_of": as_of.isoformat() if as_of else None,
                        "format": fmt.key,
                        **({"bbox": list(bbox)} if bbox else {}),
                        **({"selected": sorted(ids)} if ids is not None else {}),
                    },
                )
                target.replace(path)
    except OSError as error:
        raise ExportRefusal(
            _("%(path)s: cannot be written (%(error)s)")
            % {"path": path, "error": error.strerror or error}
        ) from error
    if tally.cut_values:
        notes.append(
            f"{tally.cut_values} text value(s) longer than {DBF_TEXT_BYTES} bytes were cut "
            "(the Shapefile limit); export to .gpkg to keep them whole"
        )
    return ExportResult(
        path=path,
        kind=kind,
        format=fmt,
        rows=tally.rows,
        as_of=as_of,
        columns=columns,
        notes=tuple(notes),
    )


def download_name(*, kind: str, fmt: Format, as_of: datetime.date | None) -> str:
    """The file name a download is offered under, e.g. ``parcels-2026-01-15.gpkg``: the day
    the rows were in force on (today for kinds without a legal interval)."""
    day = (as_of if layer_of(kind).temporal else None) or timezone.localdate()
    return f"{kind}-{day.isoformat()}{fmt.suffix}"


__all__ = [
    "ACCEPTED_SUFFIXES",
    "FORMATS",
    "KIND_NAMES",
    "LAYERS",
    "MAX_SELECTED",
    "ExportRefusal",
    "ExportResult",
    "Format",
    "download_name",
    "export_layer",
    "format_of",
    "in_force_date",
    "rows_to_export",
]
