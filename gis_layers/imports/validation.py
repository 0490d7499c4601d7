"""Checking one chunk of features, row by row and vectorised: geometry present, finite, 2-D,
of the right type, valid (or repaired), in the storage CRS; fields present and well formed.

Pure functions on GeoDataFrames (no database): what needs the register (duplicates across
the file, overlaps with current parcels, known districts) is checked in SQL on the staging
table afterwards.
"""

import datetime
import hashlib
import math
from dataclasses import dataclass
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from django.utils.translation import gettext as _

from gis_layers.analysis.geometry import polygonal_part
from gis_layers.imports.crs import SourceCrs, remove_offset, storage_transformer
from gis_layers.imports.schema import KINDS, SOURCE_ID, LayerKind
from registry.codes import WELL_FORMED_UNIT_CODE, parse_unit_code

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
# The codes of registry.models.BuildingUse, and the Chinese names surveys write them as.
BUILDING_USES = {
    "office": "office", "办公": "office", "写字楼": "office",
    "residential": "residential", "住宅": "residential", "居住": "residential",
    "commercial": "commercial", "商业": "commercial", "商服": "commercial", "商业服务": "commercial",
    "public": "public", "公共服务": "public", "公共建筑": "public", "公共管理与公共服务": "public",
    "industrial": "industrial", "工业": "industrial", "厂房": "industrial",
    "other": "other", "其他": "other", "其它": "other",
}  # fmt: skip

# Whether a building or shelter is underground: as files write a yes or no.
YES_OR_NO = {
    "true": True, "t": True, "yes": True, "y": True, "1": True, "是": True,
    "false": False, "f": False, "no": False, "n": False, "0": False, "否": False,
}  # fmt: skip


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


def _is_empty(value) -> bool:
    """An empty cell as the readers give it: None, NaN, pandas' NA, or NaT (pandas' or
    numpy's, from an empty date or time in a GeoPackage or FlatGeobuf)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, np.datetime64 | np.timedelta64):
        return bool(np.isnat(value))
    return False


def _text(value) -> str:
    return "" if _is_empty(value) else str(value).strip()


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
        raise RowRejected(field, _("%(value)s is not a number") % {"value": repr(text)}) from error
    if not math.isfinite(number):
        raise RowRejected(field, _("%(value)s is not a finite number") % {"value": repr(text)})
    if minimum is not None and number < minimum:
        raise RowRejected(
            field,
            _("%(number)s is below %(minimum)s")
            % {"number": f"{number:g}", "minimum": f"{minimum:g}"},
        )
    if integer:
        if number != int(number):
            raise RowRejected(
                field, _("%(number)s is not a whole number") % {"number": f"{number:g}"}
            )
        return int(number)
    return number


def _choice(value, field: str, choices: dict, *, default=None):
    # A numeric column with empty cells is read as floats: 2.0 is the code 2.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = _text(value).lower()
    if text == "":
        return default
    if text not in choices:
        raise RowRejected(
            field,
            _("%(value)s is not one of %(choices)s")
            % {
                "value": repr(_text(value)),
                "choices": str(sorted(set(map(str, choices.values())))),
            },
        )
    return choices[text]


def _date(value, field: str) -> str | None:
    text = _text(value)
    if text == "":
        return None
    try:
        return datetime.date.fromisoformat(text[:10]).isoformat()
    except ValueError as error:
        raise RowRejected(
            field, _("%(value)s is not a date YYYY-MM-DD") % {"value": repr(text)}
        ) from error


def _start_date(value) -> str | None:
    """A record's ``valid_from``: a date, not after today. The register's current state is
    what is in force today; a record dated ahead would show before it begins."""
    start = _date(value, "valid_from")
    if start is not None and start > datetime.date.today().isoformat():
        raise RowRejected(
            "valid_from",
            _("%(date)s is after today: the register holds what is in force") % {"date": start},
        )
    return start


def _stratum(row: dict) -> dict:
    """Whether the unit is underground (None when the file does not say: a new unit gets its
    kind's default, a stored one keeps its own) and, for a stratified unit, the elevations of
    its layer: both or neither, the top above the bottom. A file without elevation columns
    says nothing of them (a stored unit keeps its layer); with them, empty cells say the
    unit is not stratified."""
    stratum = {"is_underground": _choice(row.get("is_underground"), "is_underground", YES_OR_NO)}
    if "elevation_bottom_m" not in row and "elevation_top_m" not in row:
        return stratum
    bottom = _number(row.get("elevation_bottom_m"), "elevation_bottom_m")
    top = _number(row.get("elevation_top_m"), "elevation_top_m")
    if (bottom is None) != (top is None):
        missing = "elevation_top_m" if top is None else "elevation_bottom_m"
        raise RowRejected(
            missing, _("a stratified unit gives both elevations of its layer, bottom and top")
        )
    if bottom is not None and top <= bottom:
        raise RowRejected(
            "elevation_top_m",
            _("%(top)s m is not above the bottom of the layer, %(bottom)s m")
            % {"top": f"{top:g}", "bottom": f"{bottom:g}"},
        )
    return {**stratum, "elevation_bottom_m": bottom, "elevation_top_m": top}


def attributes_of(
    kind: LayerKind, row: dict, *, repaired: list[tuple[str, str]] | None = None
) -> dict:
    """The row's target values, converted and checked; raises RowRejected naming the field.
    A value recorded other than the file gives it is appended to ``repaired`` as (field,
    reason). (Parcels, the bulk of what is imported, are checked a column at a time instead:
    :func:`parcel_attributes`.)"""
    for target in kind.targets:
        if target.required and _text(row.get(target.name)) == "":
            raise RowRejected(target.name, _("required field is empty"))
    if kind.name == "buildings":
        try:
            use = _choice(row.get("use"), "use", BUILDING_USES, default="other")
        except RowRejected as unknown:
            # A use is not worth refusing the building for, but nothing changes silently.
            use = "other"
            if repaired is not None:
                repaired.append(
                    ("use", _("use %(problem)s: recorded as other") % {"problem": str(unknown)})
                )
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
            "use": use,
            "year_built": _number(row.get("year_built"), "year_built", integer=True, minimum=1000),
            **_stratum(row),
            "valid_from": _start_date(row.get("valid_from")),
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
            # None (no column, or an empty cell): an update keeps the stored classification
            # and a new shelter is public; declassifying takes an explicit 0.
            "classification": _choice(row.get("classification"), "classification", CLASSIFICATIONS),
            **_stratum(row),
            "valid_from": _start_date(row.get("valid_from")),
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
            # As a shelter's classification: None keeps the stored clearance (a new agency's
            # is public); lowering it takes an explicit 0.
            "clearance": _choice(row.get("clearance"), "clearance", CLASSIFICATIONS),
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
                "planned_use",
                _("%(code)s is not a 用地用海 class code (2, 4 or 6 digits)")
                % {"code": repr(code)},
            )
        return {
            "planned_use": code,
            "plan_name": _text(row.get("plan_name")),
            "plan_date": _date(row.get("plan_date"), "plan_date"),
            "max_far": _number(row.get("max_far"), "max_far", minimum=0.01),
        }
    raise ValueError(f"no attribute rules for kind {kind.name}")


def _unit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a unit code, or None. The regular expression accepts exactly the
    codes :func:`parse_unit_code` accepts, at a fraction of its cost; the parser says what
    is wrong with the others."""
    if WELL_FORMED_UNIT_CODE.fullmatch(code):
        return None
    try:
        parse_unit_code(code)
    except Exception as error:  # ValidationError: its message says which part is wrong
        return " ".join(getattr(error, "messages", [str(error)]))
    return None


def parcel_attributes(
    columns: dict[str, list], count: int, *, land_use_codes: frozenset[str]
) -> list[dict | RowRejected]:
    """Each parcel's target values, converted and checked a column at a time; a row's
    first problem in the order of the kind's fields, as a RowRejected naming the field.
    ``columns``: target name → the values of the chunk's rows (absent: all empty)."""
    texts = {
        target.name: [_text(value) for value in columns[target.name]]
        if target.name in columns
        else [""] * count
        for target in KINDS["parcels"].targets
    }
    required = [target.name for target in KINDS["parcels"].targets if target.required]
    code_problems = [_unit_code_problem(code) if code else None for code in texts["unit_code"]]
    land_uses = [code.zfill(4) if code.isdigit() else code for code in texts["land_use"]]
    results: list[dict | RowRejected] = []
    for position in range(count):
        empty = next((name for name in required if texts[name][position] == ""), None)
        if empty is not None:
            results.append(RowRejected(empty, _("required field is empty")))
            continue
        code_problem = code_problems[position]
        if code_problem is not None:
            results.append(RowRejected("unit_code", code_problem))
            continue
        land_use = land_uses[position]
        if land_use not in land_use_codes:
            results.append(
                RowRejected(
                    "land_use",
                    _("%(code)s is not a GB/T 21010-2017 second-level class")
                    % {"code": repr(land_use)},
                )
            )
            continue
        try:
            valid_from = (
                _start_date(columns["valid_from"][position])
                if texts["valid_from"][position]
                else None
            )
        except RowRejected as error:
            results.append(error)
            continue
        results.append(
            {
                "unit_code": texts["unit_code"][position],
                "land_use": land_use,
                "name": texts["name"][position],
                "address": texts["address"][position],
                "valid_from": valid_from,
            }
        )
    return results


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


class CheckedChunk(NamedTuple):
    accepted: list[dict]  # ``row``, ``key``, ``attrs``, ``geometry`` in EPSG:4490
    findings: list[Finding]
    # Each rejected row with its geometry in EPSG:4490, or None where it has none to draw:
    # the geometry itself was refused (missing, not finite, out of range, invalid, of the
    # wrong type), or the row gave none where its kind needs none.
    rejected: list[tuple[int, shapely.Geometry | None]]


def check_chunk(
    chunk: gpd.GeoDataFrame,
    *,
    kind: LayerKind,
    source_crs: SourceCrs,
    repair_invalid: bool,
    land_use_codes: frozenset[str],
) -> CheckedChunk:
    """Validate one chunk. ``chunk`` has the target columns (already mapped), ``_row`` and raw
    geometry in ``source_crs``."""
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
        if flattened.size:
            reason = _("3-D geometry flattened to 2-D")
            for position in flattened:
                findings.append(Finding(int(rows[position]), "geometry", "repaired", reason))
        emptied = _empty_holes_dropped(geometries, np.flatnonzero(present))
        if emptied:
            reason = _("interior ring without points dropped")
            for position in emptied:
                findings.append(Finding(int(rows[position]), "geometry", "repaired", reason))
    if source_crs.offset:
        geometries[finite] = remove_offset(geometries[finite], source_crs.offset)
    transformer = storage_transformer(source_crs.epsg)
    geometries[finite] = shapely.transform(
        geometries[finite], lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    checked = present | kind.geometry_required
    geometries, geometry_problems = _checked_geometries(
        geometries,
        checked=checked,
        present=present,
        finite=finite,
        kind=kind,
        source_crs=source_crs,
        repair_invalid=repair_invalid,
    )
    # The values as a row's record would hold them (Python scalars, NA as None), a column
    # at a time.
    columns = chunk.drop(columns=[chunk.geometry.name, "_row"]).to_dict("list")
    attributes = _attributes(kind, columns, len(chunk), land_use_codes=land_use_codes)
    # Rows of kinds whose key is no attribute are keyed on the file's source_id, else on
    # their geometry.
    source_ids = (
        [_text(value) for value in columns["source_id"]] if "source_id" in columns else None
    )
    keyed_by_source = kind.key == SOURCE_ID.name
    geometry_keys = (
        geometry_key(geometries) if keyed_by_source and not all(source_ids or [""]) else None
    )
    accepted = []
    rejected: list[tuple[int, shapely.Geometry | None]] = []
    for position, (row, geometry, (attrs, repaired)) in enumerate(
        zip(rows.tolist(), geometries, attributes, strict=True)
    ):
        problem = geometry_problems.get(position)
        if problem is not None:
            findings.append(Finding(row, "geometry", *problem))
            if problem[0] == "rejected":
                rejected.append((row, None))
                continue
        if isinstance(attrs, RowRejected):
            findings.append(Finding(row, attrs.field, "rejected", str(attrs)))
            rejected.append((row, geometry))
            continue
        findings += [Finding(row, field, "repaired", reason) for field, reason in repaired]
        if kind.key in attrs:
            key = attrs[kind.key]
        else:
            key = source_ids[position] if source_ids is not None else ""
            if not key:
                # Made whenever a row of a kind keyed on source_id lacks one, as this one does.
                assert geometry_keys is not None
                key = geometry_keys[position]
        accepted.append({"row": row, "key": key, "attrs": attrs, "geometry": geometry})
    return CheckedChunk(accepted, findings, rejected)


def geometry_key(geometries: np.ndarray) -> list[str | None]:
    """What a row without a source id is known by: a digest of its geometry as stored, the
    same however the file's rows are ordered. A row's place in the file would not do: with
    "row N", a file imported again with one row deleted would move every later row's values
    onto its neighbour's record. Two rows of one geometry are duplicates (staging's check);
    a row whose geometry changed is a new feature, and its earlier record stays as it was."""
    keys: list[str | None] = [None] * len(geometries)
    present = np.flatnonzero(~shapely.is_missing(geometries))
    # normalize: the same shape however its rings start or turn.
    for position, wkb in zip(
        present, shapely.to_wkb(shapely.normalize(geometries[present])), strict=True
    ):
        keys[position] = "geometry " + hashlib.sha256(wkb).hexdigest()[:24]
    return keys


def _attributes(
    kind: LayerKind, columns: dict[str, list], count: int, *, land_use_codes: frozenset[str]
) -> list[tuple[dict | RowRejected, list[tuple[str, str]]]]:
    """Each row's target values, or the RowRejected that says why the row is refused, with
    the (field, reason) of each value recorded other than given."""
    if kind.name == "parcels":
        return [
            (attributes, [])
            for attributes in parcel_attributes(columns, count, land_use_codes=land_use_codes)
        ]
    results: list[tuple[dict | RowRejected, list[tuple[str, str]]]] = []
    for values in zip(*columns.values(), strict=True) if columns else [()] * count:
        repaired: list[tuple[str, str]] = []
        try:
            row = dict(zip(columns, values, strict=True))
            results.append((attributes_of(kind, row, repaired=repaired), repaired))
        except RowRejected as error:
            results.append((error, []))
    return results


def _empty_holes_dropped(geometries: np.ndarray, positions: np.ndarray) -> list[int]:
    """Of ``positions``, those whose polygons had an interior ring without points; each is
    replaced in ``geometries`` by the same shape without it. GEOS calls such a ring valid,
    PostGIS refuses it (a ring needs four points), and a hole without points takes nothing
    away, so dropping it changes no shape."""
    parts, owner = shapely.get_parts(geometries[positions], return_index=True)
    holed = np.flatnonzero(shapely.get_num_interior_rings(parts) > 0)
    if not holed.size:
        return []
    rings, ring_part = shapely.get_rings(parts[holed], return_index=True)
    emptied = positions[np.unique(owner[holed[np.unique(ring_part[shapely.is_empty(rings)])]])]
    for position in emptied.tolist():
        geometries[position] = _without_empty_holes(geometries[position])
    return emptied.tolist()


def _without_empty_holes(geometry):
    if isinstance(geometry, shapely.Polygon):
        return shapely.Polygon(geometry.exterior, [r for r in geometry.interiors if not r.is_empty])
    if not hasattr(geometry, "geoms"):
        return geometry  # no polygon, no hole
    return type(geometry)([_without_empty_holes(part) for part in geometry.geoms])


def _checked_geometries(
    geometries: np.ndarray,
    *,
    checked: np.ndarray,
    present: np.ndarray,
    finite: np.ndarray,
    kind: LayerKind,
    source_crs: SourceCrs,
    repair_invalid: bool,
) -> tuple[np.ndarray, dict[int, tuple[str, str]]]:
    """The chunk's geometries ready to store, a whole array at a time, and for each position
    with a problem its (action, reason): at most one, the first of these checks it fails.
    Rejected positions, and those not ``checked``, get None."""
    problems: dict[int, tuple[str, str]] = {}
    for position in np.flatnonzero(checked & ~present).tolist():
        problems[position] = (
            "rejected",
            _(
                "no geometry, or one that cannot be read (a ring that does not close, "
                "too few points)"
            ),
        )
    for position in np.flatnonzero(checked & present & ~finite).tolist():
        problems[position] = ("rejected", _("coordinates are NaN or infinite"))
    ready = np.full(len(geometries), None, dtype=object)
    candidates = np.flatnonzero(checked & present & finite)
    wanted = np.isin(
        shapely.get_type_id(geometries[candidates]),
        [shapely.GeometryType[name.upper()] for name in kind.geometry],
    )
    ready[candidates[wanted]] = geometries[candidates[wanted]]
    for position in candidates[~wanted].tolist():
        coerced = _coerce_type(geometries[position], kind.geometry)
        if coerced is None:
            problems[position] = (
                "rejected",
                _("expected %(expected)s, got %(got)s")
                % {
                    "expected": " or ".join(kind.geometry),
                    "got": geometries[position].geom_type,
                },
            )
        ready[position] = coerced
    candidates = candidates[shapely.is_geometry(ready[candidates])]
    # The range first: nothing outside it is stored, and repairing coordinates as large as
    # 1e308 overflows inside GEOS (an exception, not a finding). A transformation can also
    # turn finite input into NaN or infinity, which no comparison below would catch.
    min_x, min_y, max_x, max_y = shapely.bounds(ready[candidates]).T
    with np.errstate(invalid="ignore"):
        in_range = (
            np.isfinite(min_x) & np.isfinite(min_y) & np.isfinite(max_x) & np.isfinite(max_y)
            & (min_x >= -180) & (max_x <= 180) & (min_y >= -90) & (max_y <= 90)
        )  # fmt: skip
    for position in candidates[~in_range].tolist():
        problems[position] = (
            "rejected",
            _(
                "outside longitude/latitude after transformation from EPSG:%(epsg)s: "
                "is the CRS right?"
            )
            % {"epsg": source_crs.epsg},
        )
        ready[position] = None
    candidates = candidates[in_range]
    invalid = candidates[~shapely.is_valid(ready[candidates])]
    for position in invalid.tolist():
        ready[position], problems[position] = _repaired(
            ready[position], kind=kind, repair_invalid=repair_invalid
        )
    return ready, problems


def _repaired(geometry, *, kind: LayerKind, repair_invalid: bool):
    """An invalid geometry made valid, or None, and the (action, reason) to report."""
    reason = shapely.is_valid_reason(geometry)
    polygonal = "Polygon" in kind.geometry[0]
    try:
        repaired = (
            polygonal_part(shapely.make_valid(geometry)) if repair_invalid and polygonal else None
        )
    except shapely.errors.GEOSException as error:
        return None, (
            "rejected",
            _("invalid geometry: %(reason)s; it cannot be repaired (%(error)s)")
            % {"reason": reason, "error": str(error)},
        )
    repaired = _coerce_type(repaired, kind.geometry) if repaired is not None else None
    if repaired is None:
        return None, ("rejected", _("invalid geometry: %(reason)s") % {"reason": reason})
    return repaired, ("repaired", _("invalid geometry repaired: %(reason)s") % {"reason": reason})
