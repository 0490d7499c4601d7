"""Checking one chunk of features, row by row and vectorised: geometry present, finite, 2-D,
of the right type, valid (or repaired), in the storage CRS; fields present and well formed.

Pure functions on GeoDataFrames (no database): what needs the register (duplicates across
the file, overlaps with current parcels, known districts) is checked in SQL on the staging
table afterwards.
"""

import datetime
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from gis_layers.analysis.geometry import polygonal_part
from gis_layers.imports.crs import SourceCrs, remove_offset, storage_transformer
from gis_layers.imports.schema import LayerKind
from registry.codes import parse_unit_code

STORAGE_SRID = 4490

SHELTER_TYPES = {
    "command": "command", "指挥": "command", "指挥工程": "command",
    "medical": "medical", "医疗救护": "medical", "医疗救护工程": "medical",
    "professional": "professional", "防空专业队": "professional", "防空专业队工程": "professional",
    "personnel": "personnel", "人员掩蔽": "personnel", "人员掩蔽工程": "personnel",
    "support": "support", "配套": "support", "配套工程": "support",
}  # fmt: skip
PROTECTION_CLASSES = {
    "n5": "n5", "核5级": "n5", "n6": "n6", "核6级": "n6", "n6b": "n6b", "核6b级": "n6b",
    "c5": "c5", "常5级": "c5", "c6": "c6", "常6级": "c6",
}  # fmt: skip
CONDITIONS = {
    "good": "good", "完好": "good", "fair": "fair", "基本完好": "fair",
    "poor": "poor", "损坏": "poor", "dangerous": "dangerous", "危险": "dangerous",
}  # fmt: skip
CLASSIFICATIONS = {
    "0": 0, "public": 0, "公开": 0, "1": 1, "internal": 1, "内部": 1,
    "2": 2, "secret": 2, "秘密": 2, "3": 3, "confidential": 3, "机密": 3,
}  # fmt: skip
AGENCY_LEVELS = {
    "central": "central", "中央": "central", "provincial": "provincial", "省级": "provincial",
    "municipal": "municipal", "市级": "municipal", "county": "county", "县级": "county", "区县级": "county",
}  # fmt: skip
STAFF_RANKS = (
    "minister", "vice_minister", "director_general", "deputy_director_general", "division", "below_division",
)  # fmt: skip
BUILDING_USES = {"office", "residential", "commercial", "public", "industrial", "other"}


@dataclass(frozen=True)
class Finding:
    """One line of the import report."""

    row: int
    field: str
    action: str  # "rejected" or "repaired"
    reason: str


class RowRejected(ValueError):
    def __init__(self, field: str, reason: str):
        self.field = field
        super().__init__(reason)


def _text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


# Units written after a number (OSM's "12.5 m", a survey's "120平方米") that say what the
# field already means.
_UNIT_SUFFIXES = ("平方米", "m²", "m2", "米", "m")


def _number(value, field: str, *, integer: bool = False, minimum: float | None = None):
    text = _text(value)
    if text == "":
        return None
    for suffix in _UNIT_SUFFIXES:
        if text.endswith(suffix) and text[: -len(suffix)].strip():
            text = text[: -len(suffix)].strip()
            break
    try:
        number = float(text)
    except ValueError as error:
        raise RowRejected(field, f"{text!r} is not a number") from error
    if not math.isfinite(number):
        raise RowRejected(field, f"{text!r} is not a finite number")
    if minimum is not None and number < minimum:
        raise RowRejected(field, f"{number:g} is below {minimum:g}")
    if integer:
        if number != int(number):
            raise RowRejected(field, f"{number:g} is not a whole number")
        return int(number)
    return number


def _choice(value, field: str, choices: dict, *, default=None):
    text = _text(value).lower()
    if text == "":
        return default
    if text not in choices:
        raise RowRejected(
            field, f"{_text(value)!r} is not one of {sorted(set(map(str, choices.values())))}"
        )
    return choices[text]


def _date(value, field: str) -> str | None:
    text = _text(value)
    if text == "":
        return None
    try:
        return datetime.date.fromisoformat(text[:10]).isoformat()
    except ValueError as error:
        raise RowRejected(field, f"{text!r} is not a date YYYY-MM-DD") from error


def attributes_of(kind: LayerKind, row: dict, *, land_use_codes: frozenset[str]) -> dict:
    """The row's target values, converted and checked; raises RowRejected naming the field."""
    for target in kind.targets:
        if target.required and _text(row.get(target.name)) == "":
            raise RowRejected(target.name, "required field is empty")
    if kind.name == "parcels":
        code = _text(row["unit_code"])
        try:
            parse_unit_code(code)
        except Exception as error:  # ValidationError: its message says which part is wrong
            raise RowRejected(
                "unit_code", " ".join(getattr(error, "messages", [str(error)]))
            ) from error
        land_use = (
            _text(row["land_use"]).zfill(4)
            if _text(row["land_use"]).isdigit()
            else _text(row["land_use"])
        )
        if land_use not in land_use_codes:
            raise RowRejected(
                "land_use", f"{land_use!r} is not a GB/T 21010-2017 second-level class"
            )
        return {
            "unit_code": code,
            "land_use": land_use,
            "name": _text(row.get("name")),
            "address": _text(row.get("address")),
            "valid_from": _date(row.get("valid_from"), "valid_from"),
        }
    if kind.name == "buildings":
        use = _text(row.get("use")).lower() or "other"
        return {
            "name": _text(row.get("name")),
            "address": _text(row.get("address")),
            "floors_above": _number(
                row.get("floors_above"), "floors_above", integer=True, minimum=0
            ),
            "floors_below": _number(
                row.get("floors_below"), "floors_below", integer=True, minimum=0
            )
            or 0,
            "height_m": _number(row.get("height_m"), "height_m", minimum=0.01),
            "gross_floor_area_m2": _number(
                row.get("gross_floor_area_m2"), "gross_floor_area_m2", minimum=0.01
            ),
            "use": use if use in BUILDING_USES else "other",
            "year_built": _number(row.get("year_built"), "year_built", integer=True, minimum=1000),
        }
    if kind.name == "shelters":
        return {
            "name": _text(row["name"]),
            "shelter_type": _choice(row["shelter_type"], "shelter_type", SHELTER_TYPES),
            "protection_class": _choice(
                row["protection_class"], "protection_class", PROTECTION_CLASSES
            ),
            "capacity_persons": _number(
                row["capacity_persons"], "capacity_persons", integer=True, minimum=0
            ),
            "usable_area_m2": _number(row["usable_area_m2"], "usable_area_m2", minimum=0.01),
            "condition": _choice(row.get("condition"), "condition", CONDITIONS, default="good"),
            "peacetime_use": _text(row.get("peacetime_use")),
            "classification": _choice(
                row.get("classification"), "classification", CLASSIFICATIONS, default=0
            ),
        }
    if kind.name == "roads":
        return {
            "name": _text(row.get("name")),
            "highway": _text(row.get("highway")) or "unclassified",
        }
    if kind.name == "population":
        return {"residents": _number(row["residents"], "residents", minimum=0)}
    if kind.name == "agencies":
        return {
            "name": _text(row["name"]),
            "parent": _text(row.get("parent")),
            "level": _choice(row.get("level"), "level", AGENCY_LEVELS, default="central"),
            "staff": {
                rank: count
                for rank in STAFF_RANKS
                if (count := _number(row.get(rank), rank, integer=True, minimum=0)) is not None
            },
        }
    if kind.name == "zoning":
        code = _text(row["planned_use"])
        if not code.isdigit() or len(code) not in (2, 4, 6):
            raise RowRejected(
                "planned_use", f"{code!r} is not a 用地用海 class code (2, 4 or 6 digits)"
            )
        return {
            "planned_use": code,
            "plan_name": _text(row.get("plan_name")),
            "plan_date": _date(row.get("plan_date"), "plan_date"),
            "max_far": _number(row.get("max_far"), "max_far", minimum=0.01),
        }
    raise ValueError(f"no attribute rules for kind {kind.name}")


def _coerce_type(geometry, wanted: tuple[str, ...]):
    """Make single/multi match what the kind stores; None when it cannot."""
    kind = geometry.geom_type
    if kind in wanted:
        return geometry
    if "MultiPolygon" in wanted and kind == "Polygon":
        return shapely.MultiPolygon([geometry])
    if "Polygon" in wanted and kind == "MultiPolygon" and len(geometry.geoms) == 1:
        return geometry.geoms[0]
    if "Point" in wanted and kind == "MultiPoint" and len(geometry.geoms) == 1:
        return geometry.geoms[0]
    if "LineString" in wanted and kind == "MultiLineString" and len(geometry.geoms) == 1:
        return geometry.geoms[0]
    return None


def check_chunk(
    chunk: gpd.GeoDataFrame,
    *,
    kind: LayerKind,
    source_crs: SourceCrs,
    repair_invalid: bool,
    land_use_codes: frozenset[str],
) -> tuple[list[dict], list[Finding]]:
    """Validate one chunk. ``chunk`` has the target columns (already mapped), ``_row`` and raw
    geometry in ``source_crs``. Returns accepted rows (``row``, ``key``, ``attrs``,
    ``geometry`` in EPSG:4490) and the findings."""
    findings: list[Finding] = []
    geometries = np.asarray(chunk.geometry.values, dtype=object)
    rows = chunk["_row"].to_numpy()
    present = ~shapely.is_missing(geometries)
    present[present] &= ~shapely.is_empty(geometries[present])
    finite = np.zeros(len(geometries), dtype=bool)
    if present.any():
        coordinates, index = shapely.get_coordinates(
            geometries[present], include_z=True, return_index=True
        )
        bad = np.zeros(present.sum(), dtype=bool)
        np.logical_or.at(bad, index, ~np.isfinite(coordinates[:, :2]).all(axis=1))
        finite[np.flatnonzero(present)] = ~bad
        has_z = shapely.has_z(geometries[present])
        flattened = np.flatnonzero(present)[has_z]
        geometries[flattened] = shapely.force_2d(geometries[flattened])
        for position in flattened:
            findings.append(
                Finding(
                    int(rows[position]), "geometry", "repaired", "3-D geometry flattened to 2-D"
                )
            )
    if source_crs.offset:
        geometries[finite] = remove_offset(geometries[finite], source_crs.offset)
    transformer = storage_transformer(source_crs.epsg)
    geometries[finite] = shapely.transform(
        geometries[finite], lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    accepted = []
    records = chunk.drop(columns=[chunk.geometry.name, "_row"]).to_dict("records")
    for position, (row, geometry, record) in enumerate(zip(rows, geometries, records, strict=True)):
        row = int(row)
        if present[position] or kind.geometry_required:
            geometry, problem = _checked_geometry(
                geometry,
                readable=bool(present[position]),
                finite=bool(finite[position]),
                kind=kind,
                source_crs=source_crs,
                repair_invalid=repair_invalid,
            )
            if problem is not None:
                findings.append(Finding(row, "geometry", *problem))
                if problem[0] == "rejected":
                    continue
        else:
            geometry = None
        try:
            attrs = attributes_of(kind, record, land_use_codes=land_use_codes)
        except RowRejected as error:
            findings.append(Finding(row, error.field, "rejected", str(error)))
            continue
        key = (
            attrs.get(kind.key)
            if kind.key in attrs
            else _text(record.get("source_id")) or f"row {row}"
        )
        accepted.append({"row": row, "key": key, "attrs": attrs, "geometry": geometry})
    return accepted, findings


def _checked_geometry(
    geometry,
    *,
    readable: bool,
    finite: bool,
    kind: LayerKind,
    source_crs: SourceCrs,
    repair_invalid: bool,
):
    """The row's geometry ready to store, and at most one (action, reason) to report; the
    geometry is None when the row must be rejected."""
    if not readable:
        return None, (
            "rejected",
            "no geometry, or one that cannot be read (a ring that does not close, too few points)",
        )
    if not finite:
        return None, ("rejected", "coordinates are NaN or infinite")
    coerced = _coerce_type(geometry, kind.geometry)
    if coerced is None:
        return None, (
            "rejected",
            f"expected {' or '.join(kind.geometry)}, got {geometry.geom_type}",
        )
    # The range first: nothing outside it is stored, and repairing coordinates as large as
    # 1e308 overflows inside GEOS (an exception, not a finding). A transformation can also
    # turn finite input into NaN or infinity, which no comparison below would catch.
    bounds = coerced.bounds
    min_x, min_y, max_x, max_y = bounds
    if not np.isfinite(bounds).all() or min_x < -180 or max_x > 180 or min_y < -90 or max_y > 90:
        return None, (
            "rejected",
            f"outside longitude/latitude after transformation from EPSG:{source_crs.epsg}: is the CRS right?",
        )
    problem = None
    if not shapely.is_valid(coerced):
        reason = shapely.is_valid_reason(coerced)
        polygonal = "Polygon" in kind.geometry[0]
        try:
            repaired = (
                polygonal_part(shapely.make_valid(coerced))
                if repair_invalid and polygonal
                else None
            )
        except shapely.errors.GEOSException as error:
            return None, (
                "rejected",
                f"invalid geometry: {reason}; it cannot be repaired ({error})",
            )
        repaired = _coerce_type(repaired, kind.geometry) if repaired is not None else None
        if repaired is None:
            return None, ("rejected", f"invalid geometry: {reason}")
        coerced, problem = repaired, ("repaired", f"invalid geometry repaired: {reason}")
    return coerced, problem
