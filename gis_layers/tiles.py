"""Mapbox Vector Tiles from PostGIS (``ST_AsMVT``), with a cache that a change to any
feature in a tile invalidates.

The envelope filter is in the storage CRS so that the GiST index is used; geometries are
transformed to Web Mercator and simplified to the tile's pixel size only for the rows that
pass it. A cached tile is served while no TileChange of its layer that the rendering may not
have seen (from a transaction its rendering's snapshot did not see) intersects the tile.
"""

import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from gis_layers.analysis.landuse import NO_DATA, NO_LIMIT, UNDERUSED, UNDERUSED_SHARE, USED
from gis_layers.planning import MAIN_PLAN, SLIVER_M2
from registry.db import server_bound_cursor
from registry.selectors import clearance_of

EXTENT = 4096
BUFFER = 64
MAX_ZOOM = 22
WEB_MERCATOR_WIDTH_M = 40_075_016.686
WITHOUT_JIT = "SET LOCAL jit = off;"
# The rows of an INSERT ... SELECT that turns synchronous_commit off for its own transaction.
ASYNCHRONOUS_COMMIT = "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous"


@dataclass(frozen=True)
class TileLayer:
    name: str
    table: str
    geometry: str
    columns: str  # SQL select list over alias t (no geometry)
    min_zoom: int
    permission: str
    temporal: bool = True  # has a legal interval: filter by the date shown
    joins: str = ""  # SQL joined to the table (alias t) for the columns
    # Aliases in ``joins`` of tables with a legal interval; ``joins`` says where their rows
    # must be in force on the date shown as ``{in_force:ALIAS}``.
    dated_joins: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()  # other layers whose changes change this one's tiles
    per_run: bool = False  # results of one coverage run (?run=N); a run never changes

    @property
    def invalidated_by(self) -> list[str]:
        return [self.name, *self.depends_on]


LAYERS: dict[str, TileLayer] = {
    "parcels": TileLayer(
        "parcels", "registry_parcel", "geom",
        # Nothing of the parcel's title: the popup asks the server for it, with the role's
        # permissions, and a cached tile would keep a title from before its registration.
        "t.id, t.id AS fid, t.unit_code, t.land_use_id AS land_use, round(t.area_m2::numeric, 1)::float8 AS area_m2",
        12, "registry.view_parcel",
    ),
    "buildings": TileLayer(
        "buildings", "registry_building", "footprint",
        "t.id, t.id AS fid, t.name, t.use, t.floors_above AS floors, round(t.gross_floor_area_m2::numeric)::float8 AS gfa_m2",
        13, "registry.view_building",
    ),
    "shelters": TileLayer(
        "shelters", "registry_shelter", "location",
        "t.id, t.id AS fid, t.name, t.shelter_type, t.condition, t.capacity_persons AS capacity",
        10, "registry.view_shelter",
    ),
    "zoning": TileLayer(
        "zoning", "gis_layers_zoningarea", "geom",
        "t.id, t.id AS fid, t.planned_use, t.plan_name, t.max_far", 10, "gis_layers.view_zoningarea", temporal=False,
    ),
    # Parcels against the plan: the planned use over most of each parcel, and whether its
    # current use (through the crosswalk) conforms; conforms is null where no plan covers it.
    "conformity": TileLayer(
        "conformity", "registry_parcel", "geom",
        "t.id, t.id AS fid, t.unit_code, t.land_use_id AS land_use, plan.planned_use, "
        "CASE WHEN plan.planned_use IS NULL THEN NULL "
        "ELSE starts_with(cw.planned_id, left(plan.planned_use, 4)) "
        "OR starts_with(left(plan.planned_use, 4), cw.planned_id) END AS conforms",
        12, "gis_layers.view_zoningarea",
        joins=MAIN_PLAN + " LEFT JOIN gis_layers_landusecrosswalk cw ON cw.current_id = t.land_use_id",
        depends_on=("parcels", "parcels_by_zoning"),
    ),
    # How much of the floor area the plan permits each parcel uses (as
    # analysis.landuse.use_of_permitted): FAR over the registered area, the permitted FAR,
    # the floor area that could be added, and the status. A parcel with no building data
    # has no far (not 0) and the status no_data.
    "underused": TileLayer(
        "underused", "registry_parcel", "geom",
        "t.id, t.id AS fid, t.unit_code, plan.planned_use, "
        "round((built.gfa_m2 / t.area_m2)::numeric, 3)::float8 AS far, "
        "round(plan.permitted_far::numeric, 3)::float8 AS permitted_far, "
        "round((plan.permitted_far * t.area_m2 - built.gfa_m2)::numeric, 1)::float8 AS addable_gfa_m2, "
        f"CASE WHEN built.gfa_m2 IS NULL THEN '{NO_DATA}' WHEN plan.permitted_far IS NULL THEN '{NO_LIMIT}' "
        f"WHEN built.gfa_m2 / t.area_m2 < {UNDERUSED_SHARE!r} * plan.permitted_far THEN '{UNDERUSED}' "
        f"ELSE '{USED}' END AS status",
        12, "gis_layers.view_zoningarea",
        # A building straddling parcels counts on each for the share of its footprint there
        # (geodesic areas; all of it where it lies wholly inside: no intersection to
        # compute). The floor area is unknown (null) where the parcel has no building, or
        # one without a floor area.
        joins=MAIN_PLAN + " LEFT JOIN LATERAL (SELECT CASE WHEN bool_and(inside.gfa IS NOT NULL) "
        "THEN sum(inside.gfa * inside.m2 / inside.footprint_m2) END AS gfa_m2 FROM ("
        "SELECT b.gross_floor_area_m2 AS gfa, b.footprint_area_m2 AS footprint_m2, "
        "CASE WHEN ST_CoveredBy(b.footprint, t.geom) THEN b.footprint_area_m2 "
        "ELSE ST_Area(ST_Intersection(b.footprint, t.geom)::geography) END AS m2 "
        "FROM registry_building b WHERE b.footprint && t.geom AND ST_Intersects(b.footprint, t.geom) "
        f"AND {{in_force:b}}) inside WHERE inside.m2 >= {SLIVER_M2!r}) built ON true",
        dated_joins=("b",),
        depends_on=("parcels", "parcels_by_zoning", "parcels_by_building"),
    ),
    # A coverage run's cells (persons uncovered and places per person) and its shelters'
    # catchments (the cells each serves) with their load.
    "coverage": TileLayer(
        "coverage", "gis_layers_coveragecell", "geom",
        "t.id, t.id AS fid, round(t.night::numeric, 1)::float8 AS night, round(t.day::numeric, 1)::float8 AS day, "
        "t.covered, round(t.nearest_m::numeric)::float8 AS nearest_m, "
        "round(t.access_night::numeric, 3)::float8 AS access_night, round(t.access_day::numeric, 3)::float8 AS access_day",
        10, "gis_layers.view_coveragerun", temporal=False, per_run=True,
    ),
    "catchments": TileLayer(
        "catchments", "gis_layers_coverageshelter", "catchment_area",
        "t.id, t.id AS fid, t.shelter_id AS shelter, t.places, round(t.catchment_night::numeric)::float8 AS catchment_night, "
        "round((t.catchment_night / t.places)::numeric, 2)::float8 AS load_night, "
        "round((t.catchment_day / t.places)::numeric, 2)::float8 AS load_day",
        10, "gis_layers.view_coveragerun", temporal=False, per_run=True,
    ),
}  # fmt: skip


class TileRequestError(ValueError):
    """The tile address or a parameter is out of range or malformed (HTTP 400)."""


def parse_address(z: str, x: str, y: str) -> tuple[int, int, int]:
    """The zoom, column and row of a tile's URL, which takes any run of digits. Python reads
    at most 4,300 digits (``sys.get_int_max_str_digits``); a longer number is far out of any
    tile's range, and is refused as such rather than failing the request."""
    numbers = []
    for name, text in (("zoom", z), ("x", x), ("y", y)):
        try:
            numbers.append(int(text))
        except ValueError:
            raise TileRequestError(
                f"tile {name} of {len(text)} digits is out of range (zoom 0–{MAX_ZOOM}, "
                f"x and y below 2^zoom)"
            ) from None
    return numbers[0], numbers[1], numbers[2]


def check_address(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise TileRequestError(f"zoom {z} is outside 0–{MAX_ZOOM}")
    side = 1 << z
    if not (0 <= x < side and 0 <= y < side):
        raise TileRequestError(f"tile {x}/{y} does not exist at zoom {z} (0–{side - 1})")


def _in_force(alias: str, as_of: datetime.date | None) -> tuple[str, list]:
    """Rows of ``alias`` in force on ``as_of`` (current ones where it is None)."""
    if as_of is None:
        return f"{alias}.valid_to IS NULL", []
    return f"{alias}.valid_from <= %s AND ({alias}.valid_to IS NULL OR {alias}.valid_to > %s)", [
        as_of,
        as_of,
    ]


def _filters(
    layer: TileLayer, *, as_of: datetime.date | None, clearance: int, run: int | None
) -> tuple[str, list]:
    conditions, params = [], []
    if layer.per_run:
        # The view has checked that the user is cleared for the run's shelters.
        conditions.append("t.run_id = %s")
        params.append(run)
    if layer.temporal:
        condition, dates = _in_force("t", as_of)
        conditions.append(condition)
        params += dates
    if layer.name == "shelters":
        # Classified shelters are not in the tile at all for users without clearance.
        conditions.append("t.classification <= %s")
        params.append(clearance)
    return "".join(f" AND {condition}" for condition in conditions), params


def _joins(layer: TileLayer, *, as_of: datetime.date | None) -> tuple[str, list]:
    joins, params = layer.joins, []
    for alias in layer.dated_joins:
        condition, dates = _in_force(alias, as_of)
        joins = joins.replace(f"{{in_force:{alias}}}", condition)
        params += dates
    return joins, params


def render(
    layer: TileLayer, *, z: int, x: int, y: int, as_of=None, clearance: int = 0, run=None
) -> bytes:
    """The tile's MVT bytes (empty below the layer's minimum zoom or where it has nothing)."""
    if z < layer.min_zoom:
        return b""
    where, params = _filters(layer, as_of=as_of, clearance=clearance, run=run)
    joins, join_params = _joins(layer, as_of=as_of)
    pixel_m = WEB_MERCATOR_WIDTH_M / ((1 << z) * EXTENT)
    sql = (
        "WITH bounds AS (SELECT ST_TileEnvelope(%s, %s, %s) AS mercator), "
        "search AS (SELECT mercator, ST_Transform(mercator, 4490) AS storage FROM bounds), "
        f"features AS (SELECT {layer.columns}, ST_AsMVTGeom("
        f"ST_Simplify(ST_Transform(t.{layer.geometry}, 3857), %s), search.mercator, {EXTENT}, {BUFFER}, true) AS geom "
        f"FROM {layer.table} t {joins}, search WHERE t.{layer.geometry} && search.storage{where}) "
        # No "WHERE geom IS NOT NULL": ST_AsMVT skips the rows whose geometry is null (clipped
        # away), and that filter made PostgreSQL compute ST_AsMVTGeom twice for every row.
        f"SELECT ST_AsMVT(features.*, %s, {EXTENT}, 'geom', 'id') FROM features"
    )
    with connection.cursor() as cursor:
        # Without JIT compilation: for a heavy tile PostgreSQL judged it worth compiling, and
        # the compiling took longer than it saved (at zoom 12, 189 ms with it, 93 ms without:
        # docs/benchmarks.md). SET LOCAL in the same query string, whose statements run as one
        # transaction: no round trip more, and the connection's own setting stays.
        cursor.execute(
            f"{WITHOUT_JIT} {sql}", [z, x, y, pixel_m / 2, *join_params, *params, layer.name]
        )
        cursor.nextset()  # past the SET
        return bytes(cursor.fetchone()[0] or b"")


def _cache_key(layer: TileLayer, z, x, y, as_of, clearance, run) -> str:
    if layer.per_run:
        scope = f"run{run}"
    else:
        scope = f"c{clearance}" if layer.name == "shelters" else "all"
    return f"{layer.name}/{z}/{x}/{y}/{as_of.isoformat() if as_of else 'current'}/{scope}"


@dataclass(frozen=True)
class DrawnTile:
    data: bytes
    etag: str
    # Stores a tile just rendered in the cache (None for one that came from it): the caller
    # runs it, after answering if it may, since the client need not wait for it.
    keep: Callable[[], None] | None = None


def draw(
    *,
    layer: TileLayer,
    z: int,
    x: int,
    y: int,
    as_of: datetime.date | None,
    user,
    run: int | None = None,
    held_etag: str | None = None,
) -> DrawnTile:
    """The tile and its ETag, from the cache while nothing in it has changed, else rendered
    (with its ``keep``). A cached tile whose ETag is ``held_etag`` (the copy the client holds)
    is not read: its bytes come back empty, for the client is told to keep its own (304)."""
    check_address(z, x, y)
    # Only the shelters layer depends on the clearance (its filter and its cache key): the
    # other layers spare the query.
    clearance = clearance_of(user=user) if layer.name == "shelters" else 0
    key = _cache_key(layer, z, x, y, as_of, clearance, run)
    # Bound on the server: the tile comes back as its bytes. Planned anew every time, never
    # prepared: a generic plan, blind to the tile's size, searched the change notes by their
    # boxes, all 30,686 of a tile at zoom 12, where a plan for the tile reads only those since
    # the cached tile's snapshot, by layer and transaction.
    with server_bound_cursor(prepared=False) as cursor:
        # The lookup and a snapshot in one round trip. The snapshot is taken before rendering:
        # a change from a transaction it does not see as committed may be missing from the
        # tile, so such a change invalidates it; one it sees never does, however long other
        # transactions (in any database of the cluster) keep running. A change of this very
        # transaction counts as unseen: a snapshot never lists its own transaction as running,
        # so it would pass for seen by a rendering that came before it (one transaction that
        # draws, changes, draws again: the tests).
        cursor.execute(
            "SELECT CASE WHEN c.etag = %s THEN NULL ELSE c.tile END, c.etag, pg_current_snapshot()::text "
            "FROM (SELECT) AS one LEFT JOIN gis_layers_cachedtile c ON c.key = %s AND NOT EXISTS ("
            "SELECT 1 FROM gis_layers_tilechange ch WHERE ch.layer = ANY(%s) "
            "AND (ch.transaction_id = txid_current_if_assigned() OR ("
            "ch.transaction_id >= pg_snapshot_xmin(c.snapshot::pg_snapshot)::text::bigint "
            "AND NOT pg_visible_in_snapshot(ch.transaction_id::text::xid8, c.snapshot::pg_snapshot))) "
            "AND ch.bbox && ST_Transform(ST_TileEnvelope(%s, %s, %s), 4490))",
            [held_etag, key, layer.invalidated_by, z, x, y],
        )
        cached, etag, snapshot = cursor.fetchone()
    if etag is not None:
        return DrawnTile(bytes(cached or b""), etag)
    data = render(layer, z=z, x=x, y=y, as_of=as_of, clearance=clearance, run=run)
    etag = hashlib.sha256(data).hexdigest()[:32]

    def keep() -> None:
        # A cache row lost in a crash is only rendered again: on its own (autocommit), its
        # commit need not wait for the disk. Inside a larger transaction the setting would
        # cover the commit of all of it, so there it stays.
        rows = "" if connection.in_atomic_block else ASYNCHRONOUS_COMMIT
        with server_bound_cursor() as cursor:  # the tile sent as its bytes, not as hex text
            cursor.execute(
                "INSERT INTO gis_layers_cachedtile (key, layer, tile, etag, snapshot) "
                f"SELECT %s, %s, %s, %s, %s {rows} "
                "ON CONFLICT (key) DO UPDATE SET tile = EXCLUDED.tile, etag = EXCLUDED.etag, snapshot = EXCLUDED.snapshot",
                [key, layer.name, data, etag, snapshot],
            )

    return DrawnTile(data, etag, keep)


# Parcels whose title a registered transfer moved on to a new holder between the dates. A
# transfer is a registration act: only users who may read the acts learn of it.
TRANSFERS_PERMISSION = "registry.view_registrationact"
TRANSFERRED = (
    "EXISTS (SELECT 1 FROM registry_title ti JOIN registry_acttitle at ON at.title_id = ti.id "
    "  JOIN registry_registrationact a ON a.id = at.act_id "
    "  WHERE ti.parcel_id = t.id AND a.act_type = 'transfer' AND a.status = 'registered' "
    "    AND a.effective_date > %s AND a.effective_date <= %s)"
)


def changes_tile(
    *,
    z: int,
    x: int,
    y: int,
    since: datetime.date,
    until: datetime.date,
    with_transfers: bool,
) -> bytes:
    """Parcels new, retired or transferred between two dates (exclusive, inclusive), with
    ``change`` saying which. Transfers are registration acts: only ``with_transfers`` (for
    users who may read the acts) does the tile hold them. Not cached: it depends on the
    register's acts, not only geometry."""
    check_address(z, x, y)
    if until < since:
        raise TileRequestError("'to' is before 'from'")
    if z < LAYERS["parcels"].min_zoom:
        return b""
    pixel_m = WEB_MERCATOR_WIDTH_M / ((1 << z) * EXTENT)
    transferred = f" OR {TRANSFERRED}" if with_transfers else ""
    sql = (
        "WITH search AS (SELECT ST_TileEnvelope(%s, %s, %s) AS mercator), "
        "bounds AS (SELECT mercator, ST_Transform(mercator, 4490) AS storage FROM search), "
        "changed AS (SELECT t.id, t.id AS fid, t.unit_code, CASE "
        "  WHEN t.valid_from > %s AND t.valid_from <= %s THEN 'new' "
        "  WHEN t.valid_to > %s AND t.valid_to <= %s THEN 'retired' "
        "  ELSE 'transferred' END AS change, t.geom "
        "FROM registry_parcel t, bounds WHERE t.geom && bounds.storage AND ("
        f"  (t.valid_from > %s AND t.valid_from <= %s) OR (t.valid_to > %s AND t.valid_to <= %s){transferred})), "
        f"features AS (SELECT changed.id, changed.fid, changed.unit_code, changed.change, ST_AsMVTGeom(ST_Simplify("
        f"ST_Transform(changed.geom, 3857), %s), bounds.mercator, {EXTENT}, {BUFFER}, true) AS geom "
        "FROM changed, bounds) "
        f"SELECT ST_AsMVT(features.*, 'changes', {EXTENT}, 'geom', 'id') FROM features"
    )
    date_pairs = 5 if with_transfers else 4
    with connection.cursor() as cursor:
        cursor.execute(sql, [z, x, y, *([since, until] * date_pairs), pixel_m / 2])
        return bytes(cursor.fetchone()[0] or b"")
