"""The database side of an import: COPY accepted rows into a temporary staging table, check
in SQL what needs the whole file or the register (duplicates, districts, overlaps, titles),
then insert or update in a few set-based statements. All inside the caller's transaction."""

import json

import numpy as np
import shapely
from django.conf import settings
from django.db import connection
from django.utils.translation import gettext as _

from gis_layers.imports.schema import LayerKind
from gis_layers.imports.validation import Finding
from gis_layers.metric import metric_epsg

STAGING = "landledger_import_staging"
# The stored source of an imported row: the file's name, '#', and the row's key in it.
SOURCE_KEY = "(%s || '#' || s.key)"
# A staged row ``s`` is the stored row ``t`` whose ``source`` is its key (a file exported from
# the register carries those), whose id is its key as ``id:N``, or that an earlier import of
# a file of the same name stored as ``name#key`` (one parameter: the file's name).
MATCHES_STORED_ROW = f"(t.source = s.key OR s.key = 'id:' || t.id OR t.source = {SOURCE_KEY})"
# A staged parcel ``s`` differs from the stored parcel ``p`` of its unit code.
PARCEL_CHANGED = (
    "(NOT ST_Equals(p.geom, s.geom) OR p.land_use_id <> s.attrs->>'land_use' "
    "OR p.name <> s.attrs->>'name' OR p.address <> s.attrs->>'address')"
)


def create_staging() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {STAGING} (row integer PRIMARY KEY, key text NOT NULL, "
            "attrs jsonb NOT NULL, geom geometry(Geometry, 4490)) ON COMMIT DROP"
        )


def copy_rows(rows: list[dict]) -> None:
    """COPY accepted rows (from :func:`check_chunk`) into the staging table."""
    geometries = np.empty(len(rows), dtype=object)
    geometries[:] = [row["geometry"] for row in rows]
    # The whole chunk's EWKB in one call (None stays None: NULL).
    wkb = shapely.to_wkb(shapely.set_srid(geometries, 4490), hex=True, include_srid=True)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {STAGING} (row, key, attrs, geom) FROM STDIN") as copy:
            for row, geometry in zip(rows, wkb.tolist(), strict=True):
                copy.write_row(
                    (row["row"], row["key"], json.dumps(row["attrs"], ensure_ascii=False), geometry)
                )


def _findings(sql: str, params=(), *, field: str, reason) -> list[Finding]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            Finding(int(row[0]), field, "rejected", reason(*row[1:])) for row in cursor.fetchall()
        ]


def check_staged(
    kind: LayerKind, *, source_prefix: str, clearance: int | None = None
) -> list[Finding]:
    """Set-based checks; returns findings for the rows that must be rejected.
    ``source_prefix``: the file's name, as rows are matched to stored ones by it;
    ``clearance``: the highest classification the importing user may see and set (None: no
    user, as on the command line, and no limit)."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX ON {STAGING} USING gist (geom); ANALYZE {STAGING}")
    findings = _findings(
        f"SELECT row, key, first_row FROM (SELECT row, key, min(row) OVER (PARTITION BY key) AS first_row "
        f"FROM {STAGING}) s WHERE row <> first_row ORDER BY row",
        field=kind.key,
        reason=lambda key, first: (
            _("duplicate of row %(first)s (%(field)s %(key)s)")
            % {"first": first, "field": kind.key, "key": repr(key)}
        ),
    )
    if kind.name == "parcels":
        findings += _parcel_findings()
    if kind.name == "shelters" and clearance is not None:
        findings += _shelters_above_clearance(source_prefix, clearance)
    if kind.name == "agencies" and clearance is not None:
        findings += _agencies_above_clearance(clearance)
    if kind.name == "agencies":
        findings += _findings(
            f"SELECT s.row, s.attrs->>'parent' FROM {STAGING} s WHERE s.attrs->>'parent' <> '' "
            f"AND NOT EXISTS (SELECT 1 FROM {STAGING} o WHERE o.key = s.attrs->>'parent') "
            "AND NOT EXISTS (SELECT 1 FROM registry_party p JOIN registry_agency a ON a.party_id = p.id "
            "WHERE p.name = s.attrs->>'parent') ORDER BY s.row",
            field="parent",
            reason=lambda parent: (
                _("no agency named %(parent)s in the file or the register")
                % {"parent": repr(parent)}
            ),
        )
    if kind.name == "zoning":
        # A place under two planned uses at once is a mistake in the plan data.
        findings += _overlaps_within_the_file()
        findings += _findings(
            f"SELECT s.row, s.attrs->>'planned_use' FROM {STAGING} s WHERE NOT EXISTS ("
            "SELECT 1 FROM gis_layers_planneduseclass c WHERE c.code = left(s.attrs->>'planned_use', 4)) "
            "ORDER BY s.row",
            field="planned_use",
            reason=lambda code: (
                _("%(code)s is not a class of the 2023 用地用海 classification")
                % {"code": repr(code)}
            ),
        )
    return findings


def _overlaps_within_the_file() -> list[Finding]:
    return _findings(
        f"SELECT b.row, a.row, ST_Area(ST_Intersection(a.geom, b.geom)::geography) FROM {STAGING} a "
        f"JOIN {STAGING} b ON a.row < b.row AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom) "
        "WHERE ST_Area(ST_Intersection(a.geom, b.geom)::geography) > %s ORDER BY b.row",
        [settings.LANDLEDGER_OVERLAP_TOLERANCE_M2],
        field="geometry",
        reason=lambda other, shared: (
            _("overlaps row %(other)s of the same file by %(shared)s m²")
            % {"other": other, "shared": f"{shared:.1f}"}
        ),
    )


def _parcel_findings() -> list[Finding]:
    tolerance = settings.LANDLEDGER_OVERLAP_TOLERANCE_M2
    findings = _findings(
        f"SELECT s.row, left(s.key, 6) FROM {STAGING} s "
        "LEFT JOIN registry_district d ON d.code = left(s.key, 6) WHERE d.id IS NULL ORDER BY s.row",
        field="unit_code",
        reason=lambda code: (
            _("no district with division code %(code)s in the register") % {"code": code}
        ),
    )
    findings += _findings(
        f"SELECT s.row, p.unit_code FROM {STAGING} s JOIN registry_parcel p ON p.unit_code = s.key "
        "JOIN registry_title t ON t.parcel_id = p.id "
        "WHERE EXISTS (SELECT 1 FROM registry_right r WHERE r.title_id = t.id) "
        "AND (NOT ST_Equals(p.geom, s.geom) OR p.land_use_id <> s.attrs->>'land_use') ORDER BY s.row",
        field="geometry",
        reason=lambda code: (
            _("parcel %(code)s has registered rights: change it through a registration act")
            % {"code": code}
        ),
    )
    findings += _findings(
        f"SELECT s.row, p.unit_code, p.valid_to FROM {STAGING} s "
        "JOIN registry_parcel p ON p.unit_code = s.key "
        f"WHERE p.valid_to IS NOT NULL AND {PARCEL_CHANGED} ORDER BY s.row",
        field="unit_code",
        reason=lambda code, retired: (
            _("parcel %(code)s was retired on %(date)s; an import does not change retired parcels")
            % {"code": code, "date": retired.isoformat()}
        ),
    )
    findings += _findings(
        f"SELECT s.row, p.unit_code, ST_Area(ST_Intersection(s.geom, p.geom)::geography) FROM {STAGING} s "
        "JOIN registry_parcel p ON p.valid_to IS NULL AND p.unit_code <> s.key "
        "AND p.geom && s.geom AND ST_Intersects(p.geom, s.geom) "
        f"WHERE NOT EXISTS (SELECT 1 FROM {STAGING} o WHERE o.key = p.unit_code) "
        "AND ST_Area(ST_Intersection(s.geom, p.geom)::geography) > %s ORDER BY s.row",
        [tolerance],
        field="geometry",
        reason=lambda code, shared: (
            _("overlaps current parcel %(code)s by %(shared)s m²")
            % {"code": code, "shared": f"{shared:.1f}"}
        ),
    )
    findings += _overlaps_within_the_file()
    return findings


def _agencies_above_clearance(clearance: int) -> list[Finding]:
    """Rows that would give an agency a clearance above the importing user's own, or change
    the clearance of one cleared above it: a user clears no one further than themselves. A
    row that gives the stored clearance again changes nothing (an exported file re-imported)."""
    # Agencies are matched on their party's name, as the write matches them; of two of one
    # name, the one cleared highest decides.
    return _findings(
        f"SELECT DISTINCT ON (s.row) s.row, (s.attrs->>'clearance')::int, a.clearance "
        f"FROM {STAGING} s LEFT JOIN (registry_party p JOIN registry_agency a "
        "ON a.party_id = p.id) ON p.name = s.key "
        "WHERE (s.attrs->>'clearance')::int IS DISTINCT FROM a.clearance "
        "AND s.attrs->>'clearance' IS NOT NULL "
        "AND ((s.attrs->>'clearance')::int > %s OR a.clearance > %s) "
        "ORDER BY s.row, a.clearance DESC NULLS LAST",
        [clearance, clearance],
        field="clearance",
        reason=lambda given, stored: (
            _("clearance %(given)s is above your own") % {"given": given}
            if given > clearance
            else _("the agency's clearance is above your own: you may not change it")
        ),
    )


def _shelters_above_clearance(source_prefix: str, clearance: int) -> list[Finding]:
    """Rows a user may not write: those that would change a shelter classified above their
    clearance, and those that would classify one above it. The reasons say nothing of the
    hidden shelter; an ``id:N`` that names no shelter the user may see is refused alike,
    so that trying ids does not tell hidden shelters from missing ones."""
    findings = _findings(
        f"SELECT s.row, s.key FROM {STAGING} s WHERE EXISTS (SELECT 1 FROM registry_shelter t "
        f"WHERE {MATCHES_STORED_ROW} AND t.classification > %s) "
        "OR (s.key LIKE 'id:%%' AND NOT EXISTS (SELECT 1 FROM registry_shelter t "
        "WHERE s.key = 'id:' || t.id AND t.classification <= %s)) ORDER BY s.row",
        [source_prefix, clearance, clearance],
        field="source_id",
        reason=lambda key: _("no shelter %(key)s you are cleared to change") % {"key": key},
    )
    findings += _findings(
        f"SELECT s.row, (s.attrs->>'classification')::int FROM {STAGING} s "
        "WHERE (s.attrs->>'classification')::int > %s ORDER BY s.row",
        [clearance],
        field="classification",
        reason=lambda level: (
            _("classification %(level)s is above your clearance") % {"level": level}
        ),
    )
    return findings


def _execute(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def regrid_population(*, cell_m: float) -> int:
    """Replace the staged population polygons by square cells of ``cell_m`` metres, each
    holding the persons of every polygon in proportion to the share of the polygon's area it
    covers (areal weighting). Cells are aligned to multiples of ``cell_m`` in the UTM zone of
    the data, so that importing the file again gives the same cells (keys ``grid:…``).
    Returns the number of cells."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)::geometry) c FROM {STAGING}) e"
        )
        lon, lat = cursor.fetchone()
        if lon is None:
            return 0
        srid = metric_epsg(lon, lat)
        cursor.execute("DROP TABLE IF EXISTS landledger_import_grid")
        cursor.execute(
            "CREATE TEMP TABLE landledger_import_grid ON COMMIT DROP AS "
            f"WITH projected AS (SELECT (attrs->>'residents')::float8 AS residents, "
            f"  ST_Transform(geom, %s) AS g FROM {STAGING} WHERE ST_Dimension(geom) = 2) "
            "SELECT cell.i, cell.j, cell.geom AS cell, "
            "  sum(p.residents * ST_Area(ST_Intersection(p.g, cell.geom)) / ST_Area(p.g)) AS residents "
            "FROM projected p CROSS JOIN LATERAL ST_SquareGrid(%s, p.g) AS cell "
            "WHERE ST_Intersects(p.g, cell.geom) AND ST_Area(p.g) > 0 GROUP BY cell.i, cell.j, cell.geom "
            # Cells that only touch a polygon's edge hold nothing of it; slivers below 1 cm²
            # are rounding from the reprojection, not population.
            "HAVING sum(ST_Area(ST_Intersection(p.g, cell.geom))) > 0.0001",
            [srid, cell_m],
        )
        cursor.execute(f"TRUNCATE {STAGING}")
        cursor.execute(
            f"INSERT INTO {STAGING} (row, key, attrs, geom) "
            "SELECT row_number() OVER (ORDER BY j, i), format('grid:%%s:%%s:%%s,%%s', %s, %s, i, j), "
            "jsonb_build_object('residents', residents), ST_Transform(cell, 4490) "
            "FROM landledger_import_grid",
            [srid, cell_m],
        )
        return cursor.rowcount


def write_staged(kind: LayerKind, *, source_prefix: str) -> dict[str, int]:
    """Insert new rows and update changed ones; rows already as in the file are left alone,
    so importing the same file again changes nothing. Returns inserted/updated counts."""
    writer = {
        "parcels": _write_parcels,
        "buildings": _write_buildings,
        "shelters": _write_shelters,
        "roads": _write_roads,
        "population": _write_population,
        "zoning": _write_zoning,
        "agencies": _write_agencies,
    }[kind.name]
    return writer(source_prefix)


# A new record's valid_from: the file's, else today. Only on insert: an import changes a
# record's values, not since when it has been in force (its history keeps the change).
START_DATE = "COALESCE((s.attrs->>'valid_from')::date, current_date)"


def _write_parcels(source_prefix: str) -> dict[str, int]:
    # Retired parcels are history: check_staged rejects a row that would change one.
    updated = _execute(
        f"UPDATE registry_parcel p SET geom = s.geom, land_use_id = s.attrs->>'land_use', "
        "name = s.attrs->>'name', address = s.attrs->>'address' "
        f"FROM {STAGING} s WHERE p.unit_code = s.key AND p.valid_to IS NULL AND {PARCEL_CHANGED}"
    )
    inserted = _execute(
        "INSERT INTO registry_parcel (unit_code, district_id, land_use_id, name, address, geom, "
        "valid_from, source, is_synthetic) "
        "SELECT s.key, d.id, s.attrs->>'land_use', s.attrs->>'name', s.attrs->>'address', s.geom, "
        f"{START_DATE}, %s || '#' || s.row, false "
        f"FROM {STAGING} s JOIN registry_district d ON d.code = left(s.key, 6) "
        "WHERE NOT EXISTS (SELECT 1 FROM registry_parcel p WHERE p.unit_code = s.key)",
        [source_prefix],
    )
    return {"inserted": inserted, "updated": updated}


# gis_layers.imports.validation._stratum's values, as the staging row's attributes hold them;
# the elevations are there only where the file has their columns.
STRATUM_COLUMNS = {
    "is_underground": "(s.attrs->>'is_underground')::boolean",
    "elevation_bottom_m": "(s.attrs->>'elevation_bottom_m')::float8",
    "elevation_top_m": "(s.attrs->>'elevation_top_m')::float8",
}


STRATUM_ELEVATIONS = ("elevation_bottom_m", "elevation_top_m")


def _write_buildings(source_prefix: str) -> dict[str, int]:
    columns = {
        "name": "s.attrs->>'name'", "address": "s.attrs->>'address'",
        "floors_above": "(s.attrs->>'floors_above')::int", "floors_below": "(s.attrs->>'floors_below')::int",
        "height_m": "(s.attrs->>'height_m')::float8",
        "gross_floor_area_m2": "(s.attrs->>'gross_floor_area_m2')::float8", "use": "s.attrs->>'use'",
        "year_built": "(s.attrs->>'year_built')::int", **STRATUM_COLUMNS, "footprint": "s.geom",
    }  # fmt: skip
    return _upsert_by_source(
        "registry_building",
        columns,
        source_prefix,
        default_when_empty={"is_underground": "false"},
        kept_when_absent=STRATUM_ELEVATIONS,
        extra_insert={
            "parcel_id": "(SELECT p.id FROM registry_parcel p WHERE p.valid_to IS NULL AND p.geom && s.geom "
            "AND ST_Intersects(p.geom, s.geom) ORDER BY ST_Area(ST_Intersection(p.geom, s.geom)) DESC "
            "LIMIT 1)",
            "valid_from": START_DATE,
            "floors_estimated": "false",
            "condition": "'good'",
            "is_synthetic": "false",
        },
    )


def _write_shelters(source_prefix: str) -> dict[str, int]:
    columns = {
        "name": "s.attrs->>'name'", "shelter_type": "s.attrs->>'shelter_type'",
        "protection_class": "s.attrs->>'protection_class'",
        "capacity_persons": "(s.attrs->>'capacity_persons')::int",
        "usable_area_m2": "(s.attrs->>'usable_area_m2')::float8", "condition": "s.attrs->>'condition'",
        "peacetime_use": "s.attrs->>'peacetime_use'", "classification": "(s.attrs->>'classification')::int",
        **STRATUM_COLUMNS, "location": "s.geom",
    }  # fmt: skip
    return _upsert_by_source(
        "registry_shelter",
        columns,
        source_prefix,
        # A file that does not give a shelter's classification must not declassify it; one
        # that does not say whether it is underground leaves that as it was (a new one is).
        default_when_empty={"classification": "0", "is_underground": "true"},
        kept_when_absent=STRATUM_ELEVATIONS,
        extra_insert={
            "building_id": "(SELECT b.id FROM registry_building b WHERE b.valid_to IS NULL "
            "AND b.footprint && s.geom AND ST_Intersects(b.footprint, s.geom) ORDER BY b.id LIMIT 1)",
            "valid_from": START_DATE,
            "is_synthetic": "false",
        },
    )


def _district_of(geometry: str) -> str:
    return (
        "(SELECT d.id FROM registry_district d WHERE d.boundary && "
        + geometry
        + " AND ST_Intersects(d.boundary, ST_PointOnSurface("
        + geometry
        + ")) ORDER BY d.id LIMIT 1)"
    )


def _write_roads(source_prefix: str) -> dict[str, int]:
    columns = {"name": "s.attrs->>'name'", "highway": "s.attrs->>'highway'", "geom": "s.geom"}
    return _upsert_by_source(
        "gis_layers_roadsegment",
        columns,
        source_prefix,
        extra_insert={
            "district_id": _district_of("s.geom"),
            "walkable": "s.attrs->>'highway' NOT IN ('motorway', 'motorway_link', 'trunk', 'trunk_link')",
        },
    )


def _write_population(source_prefix: str) -> dict[str, int]:
    columns = {"residents": "(s.attrs->>'residents')::float8", "geom": "s.geom"}
    return _upsert_by_source(
        "gis_layers_populationcell",
        columns,
        source_prefix,
        extra_insert={
            "district_id": _district_of("s.geom"),
            "is_synthetic": "false",
        },
    )


def _upsert_by_source(
    table: str,
    columns: dict[str, str],
    source_prefix: str,
    *,
    extra_insert: dict,
    default_when_empty: dict[str, str] | None = None,
    kept_when_absent: tuple[str, ...] = (),
) -> dict:
    """A row matches as :data:`MATCHES_STORED_ROW` says. Only changed rows are updated. A
    column of ``default_when_empty`` that a row leaves empty (NULL) keeps its stored value
    on update and gets the given SQL default on insert. A column of ``kept_when_absent``
    keeps its stored value where the row's attributes lack its key (the file has no such
    column), and is set, null included, where they have it."""
    defaults = default_when_empty or {}
    geometry_column = next(name for name, expression in columns.items() if expression == "s.geom")

    def update(name: str, expression: str) -> str:
        if name in defaults:
            return f"COALESCE({expression}, t.{name})"
        if name in kept_when_absent:
            return f"CASE WHEN s.attrs ? '{name}' THEN {expression} ELSE t.{name} END"
        return expression

    updates = {name: update(name, expression) for name, expression in columns.items()}
    assignments = ", ".join(f"{name} = {expression}" for name, expression in updates.items())
    changed = " OR ".join(
        f"NOT ST_Equals(t.{name}, s.geom)"
        if name == geometry_column
        else f"t.{name} IS DISTINCT FROM {expression}"
        for name, expression in updates.items()
    )
    updated = _execute(
        f"UPDATE {table} t SET {assignments} FROM {STAGING} s "
        f"WHERE {MATCHES_STORED_ROW} AND ({changed})",
        [source_prefix],
    )
    inserts = {
        name: f"COALESCE({expression}, {defaults[name]})" if name in defaults else expression
        for name, expression in columns.items()
    }
    insert_columns = {**inserts, **extra_insert, "source": SOURCE_KEY}
    inserted = _execute(
        f"INSERT INTO {table} ({', '.join(insert_columns)}) "
        f"SELECT {', '.join(insert_columns.values())} FROM {STAGING} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {MATCHES_STORED_ROW})",
        [source_prefix, source_prefix],
    )
    return {"inserted": inserted, "updated": updated}


def _write_zoning(source_prefix: str) -> dict[str, int]:
    columns = {
        "planned_use": "s.attrs->>'planned_use'",
        "plan_name": "s.attrs->>'plan_name'",
        "plan_date": "(s.attrs->>'plan_date')::date",
        "max_far": "(s.attrs->>'max_far')::float8",
        "geom": "s.geom",
    }
    return _upsert_by_source("gis_layers_zoningarea", columns, source_prefix, extra_insert={})


# The current building under the row's point; where footprints overlap there, the agency's
# present seat if it is one of them (so that re-importing an exported file keeps it), else
# the oldest.
SEAT_BUILDING = (
    "(SELECT b.id FROM registry_building b WHERE s.geom IS NOT NULL AND b.valid_to IS NULL "
    "AND b.footprint && s.geom AND ST_Intersects(b.footprint, s.geom) "
    "ORDER BY b.id = {present} DESC, b.id LIMIT 1)"
)


def _returned_ids(sql: str, params=()) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


PARENT_OF_ROW = (
    "(SELECT pa.party_id FROM registry_agency pa JOIN registry_party pp ON pp.id = pa.party_id "
    "WHERE pp.name = NULLIF(s.attrs->>'parent', '') ORDER BY pa.party_id LIMIT 1)"
)


# The clearance the row gives, else the stored one: a file without it declassifies no one.
CLEARANCE_OF_ROW = "COALESCE((s.attrs->>'clearance')::smallint, {stored})"


def _write_agencies(source_prefix: str) -> dict[str, int]:
    """Agencies are matched on their name; each gets its party, its place in the hierarchy,
    the building at its point as its seat, and its staff establishment by rank."""
    new_parties = _returned_ids(
        "INSERT INTO registry_party (kind, name, identifier, source, is_synthetic) "
        f"SELECT 'agency', s.key, '', {SOURCE_KEY}, false FROM {STAGING} s "
        "WHERE NOT EXISTS (SELECT 1 FROM registry_party p JOIN registry_agency a ON a.party_id = p.id "
        "WHERE p.name = s.key) RETURNING id",
        [source_prefix],
    )
    _execute(
        "INSERT INTO registry_agency (party_id, level, clearance, seat_building_id) "
        f"SELECT p.id, s.attrs->>'level', {CLEARANCE_OF_ROW.format(stored='0')}, "
        f"{SEAT_BUILDING.format(present='NULL')} "
        f"FROM {STAGING} s "
        "JOIN registry_party p ON p.id = ANY(%s) AND p.name = s.key",
        [list(new_parties)],
    )
    # Parents after every agency of the file exists, so that a parent may come later in it.
    seat = SEAT_BUILDING.format(present="a.seat_building_id")
    clearance = CLEARANCE_OF_ROW.format(stored="a.clearance")
    changed = _returned_ids(
        f"UPDATE registry_agency a SET level = s.attrs->>'level', parent_id = {PARENT_OF_ROW}, "
        f"clearance = {clearance}, seat_building_id = COALESCE({seat}, a.seat_building_id) "
        f"FROM {STAGING} s JOIN registry_party p ON p.name = s.key "
        f"WHERE a.party_id = p.id AND (a.level <> s.attrs->>'level' "
        f"OR a.parent_id IS DISTINCT FROM {PARENT_OF_ROW} OR a.clearance <> {clearance} "
        f"OR COALESCE({seat}, a.seat_building_id) IS DISTINCT FROM a.seat_building_id) "
        "RETURNING a.party_id"
    )
    changed |= _returned_ids(
        "INSERT INTO registry_staffestablishment (agency_id, rank, headcount, source, is_synthetic) "
        f"SELECT a.party_id, staff.key, staff.value::int, {SOURCE_KEY}, false FROM {STAGING} s "
        "JOIN registry_party p ON p.name = s.key JOIN registry_agency a ON a.party_id = p.id "
        "CROSS JOIN LATERAL jsonb_each_text(s.attrs->'staff') AS staff "
        "ON CONFLICT (agency_id, rank) DO UPDATE SET headcount = EXCLUDED.headcount "
        "WHERE registry_staffestablishment.headcount <> EXCLUDED.headcount RETURNING agency_id",
        [source_prefix],
    )
    return {"inserted": len(new_parties), "updated": len(changed - new_parties)}
