"""Vector tiles decoded: features, attributes, clipping; clearance; the cache and its
invalidation when a feature in the tile changes; bad addresses."""

import math

import mapbox_vector_tile
import pandas as pd
import pytest
from django.contrib.gis.geos import Point

from registry.models import Parcel, SecurityLevel, Shelter
from registry.roles import Role
from tests.registry.register import user

pytestmark = pytest.mark.django_db


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def get_tile(client, layer, z, x, y, headers=None, **params):
    return client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf", params, headers=headers)


def decode(response) -> dict:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(response.content)


@pytest.fixture
def planner_client(client):
    client.force_login(user(Role.PLANNER, "tiles-planner"))
    return client


def test_parcel_tile_holds_the_parcels_there_with_their_attributes(planner_client):
    parcel = Parcel.objects.get(unit_code="990101001001GB00001W00000000")
    centre = parcel.geom.point_on_surface
    x, y = tile_of(centre.x, centre.y, 16)
    layer = decode(get_tile(planner_client, "parcels", 16, x, y))["parcels"]
    codes = {feature["properties"]["unit_code"] for feature in layer["features"]}
    assert parcel.unit_code in codes
    feature = next(f for f in layer["features"] if f["properties"]["unit_code"] == parcel.unit_code)
    assert feature["id"] == parcel.pk
    assert feature["properties"]["land_use"] == parcel.land_use_id
    assert feature["properties"]["area_m2"] == pytest.approx(parcel.area_m2, abs=0.1)
    # Clipped to the tile plus its buffer: no coordinate far outside 0–4096.
    for feature in layer["features"]:
        for ring in (
            feature["geometry"]["coordinates"] if feature["geometry"]["type"] == "Polygon" else []
        ):
            assert all(-64 - 1 <= c <= 4096 + 64 + 1 for point in ring for c in point)
    assert layer["extent"] == 4096


def test_below_the_minimum_zoom_a_tile_is_empty(planner_client):
    response = get_tile(planner_client, "parcels", 5, *tile_of(24.94, 60.17, 5))
    assert response.status_code == 200 and response.content == b""


def test_classified_shelters_are_not_in_tiles_for_users_without_clearance(client):
    secret = Shelter.objects.filter(classification=SecurityLevel.SECRET).first()
    x, y = tile_of(secret.location.x, secret.location.y, 15)
    client.force_login(user(Role.PLANNER, "tiles-planner"))
    public = {
        f["id"]
        for f in decode(get_tile(client, "shelters", 15, x, y)).get("shelters", {"features": []})[
            "features"
        ]
    }
    client.force_login(user(Role.CIVIL_DEFENCE, "tiles-officer"))
    cleared = {
        f["id"] for f in decode(get_tile(client, "shelters", 15, x, y))["shelters"]["features"]
    }
    assert secret.pk in cleared and secret.pk not in public
    assert public == set(
        Shelter.objects.filter(pk__in=cleared, classification=SecurityLevel.PUBLIC).values_list(
            "pk", flat=True
        )
    )


def test_cached_tile_is_served_until_a_feature_in_it_changes(planner_client):
    parcel = Parcel.objects.filter(
        title__isnull=True, valid_to__isnull=True, district__code="990201"
    ).first()
    centre = parcel.geom.point_on_surface
    x, y = tile_of(centre.x, centre.y, 17)
    first = get_tile(planner_client, "parcels", 17, x, y)
    etag = first["ETag"]
    assert (
        get_tile(planner_client, "parcels", 17, x, y, headers={"If-None-Match": etag}).status_code
        == 304
    )
    from gis_layers.models import CachedTile

    assert CachedTile.objects.filter(key__startswith=f"parcels/17/{x}/{y}/").exists()
    Parcel.objects.filter(pk=parcel.pk).update(land_use_id="0810")
    changed = decode(get_tile(planner_client, "parcels", 17, x, y))["parcels"]["features"]
    assert next(f for f in changed if f["id"] == parcel.pk)["properties"]["land_use"] == "0810"
    far_x, far_y = tile_of(24.94, 60.17, 17)
    assert (far_x, far_y) != (x, y)


def test_a_change_after_the_rendering_in_the_same_transaction_invalidates_the_tile(
    planner_client,
):
    """Other transactions committing after this one began put its own id below the
    snapshot's xmax, where a snapshot would call it committed: its own later change must
    still count as unseen."""
    from django.db import connection

    from tests.registry.committed import in_own_connection

    parcel = Parcel.objects.filter(
        title__isnull=True, valid_to__isnull=True, district__code="990201"
    ).last()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")  # this transaction now has its id

    def commit_elsewhere():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")  # a later id, committed

    in_own_connection(commit_elsewhere)
    centre = parcel.geom.point_on_surface
    x, y = tile_of(centre.x, centre.y, 17)
    get_tile(planner_client, "parcels", 17, x, y)
    Parcel.objects.filter(pk=parcel.pk).update(land_use_id="0810")
    changed = decode(get_tile(planner_client, "parcels", 17, x, y))["parcels"]["features"]
    assert next(f for f in changed if f["id"] == parcel.pk)["properties"]["land_use"] == "0810"


def test_as_of_tiles_show_the_parcels_of_that_day(planner_client):
    retired = Parcel.objects.filter(valid_to__isnull=False).first()
    centre = retired.geom.point_on_surface
    x, y = tile_of(centre.x, centre.y, 16)
    before = decode(get_tile(planner_client, "parcels", 16, x, y, as_of="2024-01-01"))["parcels"][
        "features"
    ]
    now = decode(get_tile(planner_client, "parcels", 16, x, y))["parcels"]["features"]
    assert retired.pk in {f["id"] for f in before}
    assert retired.pk not in {f["id"] for f in now}


def test_changes_tile_marks_new_and_retired_parcels(planner_client):
    retired = Parcel.objects.filter(valid_to__isnull=False).first()
    centre = retired.geom.point_on_surface
    x, y = tile_of(centre.x, centre.y, 16)
    response = planner_client.get(
        f"/tiles/changes/16/{x}/{y}.pbf", {"from": "2025-01-01", "to": "2025-12-31"}
    )
    changes = {f["id"]: f["properties"]["change"] for f in decode(response)["changes"]["features"]}
    assert changes[retired.pk] == "retired"
    assert "new" in changes.values()


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/tiles/parcels/23/0/0.pbf", 400, "zoom 23 is outside"),
        ("/tiles/parcels/3/8/0.pbf", 400, "does not exist at zoom 3"),
        ("/tiles/parcels/3/-1/0.pbf", 400, "does not exist"),
        ("/tiles/rivers/3/0/0.pbf", 404, "no layer 'rivers'"),
        ("/tiles/parcels/14/0/0.pbf?as_of=2024-13-01", 400, "is not a date"),
        ("/tiles/changes/14/0/0.pbf?from=2024-01-01", 400, "give both from= and to="),
    ],
)
def test_bad_tile_requests_get_a_clear_answer(planner_client, path, status, message):
    response = planner_client.get(path)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_roles_and_anonymous_users(client):
    assert client.get("/tiles/parcels/14/0/0.pbf").status_code == 401
    client.force_login(user(Role.REGISTRAR, "tiles-registrar"))
    assert client.get("/tiles/zoning/14/0/0.pbf").status_code == 403
    client.force_login(user(Role.PLANNER, "tiles-planner"))
    assert client.get("/tiles/zoning/14/0/0.pbf").status_code == 200


def test_a_point_helper_agrees_with_postgis(planner_client):
    from django.db import connection

    x, y = tile_of(24.94, 60.17, 14)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_Contains(ST_TileEnvelope(14, %s, %s), ST_Transform(%s::geometry, 3857))",
            [x, y, Point(24.94, 60.17, srid=4326).ewkt],
        )
        assert cursor.fetchone()[0]


def test_conformity_tile_says_which_parcels_fit_the_plan(planner_client):
    from gis_layers.planning import conforms, planned_use_of

    parcel = Parcel.objects.get(unit_code="990101001001GB00001W00000000")
    centre = parcel.geom.point_on_surface
    x, y = tile_of(centre.x, centre.y, 16)
    features = decode(get_tile(planner_client, "conformity", 16, x, y))["conformity"]["features"]
    feature = next(f for f in features if f["properties"]["unit_code"] == parcel.unit_code)
    planned, _share = planned_use_of(parcel)
    assert feature["properties"]["planned_use"] == planned
    assert feature["properties"]["conforms"] == conforms(parcel.land_use_id, planned)


def analysis_of(district_code: str):
    """The land-use report's per-parcel table of a district (its analysis, in Python)."""
    from gis_layers.landuse_report import district_inputs, parcel_table
    from registry.models import District

    return parcel_table(district_inputs(District.objects.get(code=district_code))).set_index(
        "parcel_id"
    )


def underused_features(client, z: int, x: int, y: int, **params) -> list[dict]:
    tile = decode(get_tile(client, "underused", z, x, y, **params))
    return tile.get("underused", {"features": []})["features"]


def test_underused_tile_agrees_with_the_analysis(planner_client):
    """Every parcel's status, FAR, permitted FAR and addable floor area in the tiles around
    the demo's biggest parcel, against the analysis of the land-use report (GeoPandas in the
    district's UTM zone): the same figures, whichever way they were computed."""
    table = analysis_of("990101")
    parcel = Parcel.objects.get(pk=table["area_m2"].idxmax())
    centre = parcel.geom.point_on_surface
    x, y = tile_of(centre.x, centre.y, 15)
    compared, statuses = 0, set()
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for feature in underused_features(planner_client, 15, x + dx, y + dy):
                properties = feature["properties"]
                if feature["id"] not in table.index:
                    continue  # a parcel of another district
                row = table.loc[feature["id"]]
                assert properties["unit_code"] == row["unit_code"]
                assert properties["status"] == row["status"], row["unit_code"]
                statuses.add(properties["status"])
                for name, tolerance in (("far", 6e-4), ("permitted_far", 6e-4)):
                    if pd.isna(row[name]):
                        assert name not in properties, (row["unit_code"], name)
                    else:
                        assert properties[name] == pytest.approx(row[name], abs=tolerance)
                if pd.isna(row["addable_gfa_m2"]):
                    assert "addable_gfa_m2" not in properties
                else:
                    # Rounded to 0.1 m²; a straddling building's share differs by some 1e-6
                    # between geodesic areas (PostGIS) and UTM ones (the analysis).
                    assert properties["addable_gfa_m2"] == pytest.approx(
                        row["addable_gfa_m2"], abs=0.06 + 1e-5 * row["gfa_m2"]
                    )
                compared += 1
    assert compared > 50
    # Under-used, used, no building data and no limit in the plan: all four were compared.
    assert statuses == {"underused", "used", "no_data", "no_limit"}


def test_a_parcel_without_building_data_has_no_far_in_the_tile(planner_client):
    table = analysis_of("990101")
    no_data = table[table["status"] == "no_data"]
    parcel = Parcel.objects.get(pk=no_data.index[0])
    centre = parcel.geom.point_on_surface
    features = underused_features(planner_client, 17, *tile_of(centre.x, centre.y, 17))
    properties = next(f for f in features if f["id"] == parcel.pk)["properties"]
    assert properties["status"] == "no_data"
    assert "far" not in properties and "addable_gfa_m2" not in properties  # not 0


def _tile_apart_from(parcel, building, z: int) -> tuple[int, int]:
    """A tile of zoom z that holds part of the parcel but not the building's box."""
    from django.db import connection

    west, south, east, north = parcel.geom.extent
    x0, y0 = tile_of(west, north, z)
    x1, y1 = tile_of(east, south, z)
    with connection.cursor() as cursor:
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                cursor.execute(
                    "SELECT ST_Intersects(p.geom, e.box) AND NOT ST_Envelope(b.footprint) && e.box "
                    "FROM registry_parcel p, registry_building b, "
                    "(SELECT ST_Transform(ST_TileEnvelope(%s, %s, %s, margin => 64.0 / 4096), 4490) AS box) e "
                    "WHERE p.id = %s AND b.id = %s",
                    [z, x, y, parcel.pk, building.pk],
                )
                if cursor.fetchone()[0]:
                    return x, y
    raise AssertionError("no such tile")


def test_a_building_change_renews_the_cached_tiles_of_its_parcel_elsewhere(planner_client):
    """The parcel's FAR changes in every tile it is drawn in, also where the changed building
    is not: the building's parcels are noted as changed, not only its own box."""
    from django.db import connections

    from registry.models import Building

    table = analysis_of("990101")
    built = table[table["status"].isin(["used", "underused"])]
    parcel = Parcel.objects.get(pk=built["area_m2"].idxmax())
    building = Building.objects.filter(parcel=parcel, valid_to__isnull=True).order_by("pk")[0]
    x, y = _tile_apart_from(parcel, building, 18)

    def far() -> float:
        features = underused_features(planner_client, 18, x, y)
        return next(f for f in features if f["id"] == parcel.pk)["properties"]["far"]

    # A transaction of another connection begins and commits after this test's, before the
    # tile is drawn: the drawing's snapshot then reaches past this test's transaction, as it
    # does whenever other work runs on the cluster.
    other = connections.create_connection("default")
    with other.cursor() as cursor:
        cursor.execute("SELECT txid_current()")
    other.close()
    before = far()
    assert far() == before  # from the cache
    Building.objects.filter(pk=building.pk).update(
        gross_floor_area_m2=building.gross_floor_area_m2 + 10 * parcel.area_m2
    )
    assert far() == pytest.approx(before + 10, abs=2e-3)


def test_underused_tiles_of_a_past_date_leave_out_later_buildings(planner_client):
    import datetime

    from registry.models import Building

    table = analysis_of("990101")
    single = [
        parcel_id
        for parcel_id in table.index[table["status"].isin(["used", "underused"])]
        if Building.objects.filter(parcel_id=parcel_id, valid_to__isnull=True).count() == 1
        and Parcel.objects.get(pk=parcel_id).valid_from <= datetime.date(2020, 1, 1)
    ]
    parcel = Parcel.objects.get(pk=single[0])
    Building.objects.filter(parcel=parcel).update(valid_from=datetime.date(2023, 6, 1))
    centre = parcel.geom.point_on_surface
    x, y = tile_of(centre.x, centre.y, 17)

    def properties(**params) -> dict:
        features = underused_features(planner_client, 17, x, y, **params)
        return next(f for f in features if f["id"] == parcel.pk)["properties"]

    assert properties()["status"] in ("used", "underused")
    assert properties(as_of="2022-01-01")["status"] == "no_data"  # its building came later


# --- the endpoint's own work: role check, cache row, rendering ------------------------------


def test_a_user_removed_from_the_planner_role_is_refused_the_next_tile_at_once(client):
    """Taken out of the role by a plain SQL statement (as another process or a script would:
    no signal reaches this one), the user loses the layer on the very next request."""
    from django.db import connection

    planner = user(Role.PLANNER, "tiles-demoted")
    client.force_login(planner)
    x, y = tile_of(24.94, 60.17, 14)
    assert get_tile(client, "parcels", 14, x, y).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM auth_user_groups ug USING auth_group g "
            "WHERE g.id = ug.group_id AND ug.user_id = %s AND g.name = %s",
            [planner.pk, Role.PLANNER.value],
        )
        assert cursor.rowcount == 1
    refused = get_tile(client, "parcels", 14, x, y)
    assert refused.status_code == 403
    assert "may not see the parcels layer" in refused.json()["error"]
    changes = {"from": "2024-01-01", "to": "2025-01-01"}
    assert client.get(f"/tiles/changes/14/{x}/{y}.pbf", changes).status_code == 403


def test_a_user_given_the_planner_role_sees_the_layer_at_once(client):
    from django.contrib.auth.models import Group

    registrar = user(Role.REGISTRAR, "tiles-promoted")
    client.force_login(registrar)
    assert client.get("/tiles/zoning/14/0/0.pbf").status_code == 403
    registrar.groups.add(Group.objects.get(name=Role.PLANNER.value))
    assert client.get("/tiles/zoning/14/0/0.pbf").status_code == 200


def test_the_tile_permission_check_agrees_with_djangos(client):
    """For every role and every layer's permission, and for a permission held directly, by
    an inactive user and by a superuser: the one-query check says what ``has_perm`` says."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from gis_layers.tiles import LAYERS
    from registry.selectors import holds_permission

    permissions = sorted({layer.permission for layer in LAYERS.values()} | {"registry.view_parcel"})
    users = [user(role, f"tiles-check-{role.value}") for role in Role]
    direct = get_user_model().objects.create_user("tiles-direct", password="x")
    direct.user_permissions.add(Permission.objects.get(codename="view_zoningarea"))
    inactive = user(Role.PLANNER, "tiles-inactive")
    inactive.is_active = False
    inactive.save()
    superuser = get_user_model().objects.create_superuser("tiles-super", password="x")
    answers = set()
    for someone in [*users, direct, inactive, superuser]:
        someone = get_user_model().objects.get(pk=someone.pk)  # no permission cache
        for permission in permissions:
            expected = someone.has_perm(permission)
            assert holds_permission(user=someone, permission=permission) == expected, (
                someone.username,
                permission,
            )
            answers.add(expected)
    assert answers == {True, False}
    assert holds_permission(user=direct, permission="gis_layers.view_zoningarea")
    assert not holds_permission(user=inactive, permission="registry.view_parcel")


def test_the_tile_permission_check_is_one_query(planner_client, django_assert_num_queries):
    from django.contrib.auth import get_user_model

    from registry.selectors import holds_permission

    planner = get_user_model().objects.get(username="tiles-planner")
    with django_assert_num_queries(1):
        assert holds_permission(user=planner, permission="registry.view_parcel")


def test_the_permission_check_is_planned_once_per_connection(planner_client):
    """After a few runs on a connection its statement is prepared: PostgreSQL no longer
    plans it on every tile request."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from registry.selectors import holds_permission

    planner = get_user_model().objects.get(username="tiles-planner")

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                ["%auth_group_permissions%"],
            )
            return cursor.fetchone()[0]

    before = prepared()
    for _ in range(6):
        assert holds_permission(user=planner, permission="registry.view_parcel")
    assert prepared() == before + 1


def test_the_tile_cache_lookup_is_never_prepared(planner_client):
    """Its plan depends on the tile's size: a generic plan would search all the change notes
    in a large tile by their boxes."""
    from django.db import connection

    x, y = _densest_parcel_tile(15)
    for _ in range(8):
        assert get_tile(planner_client, "parcels", 15, x, y).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
    assert any("auth_group_permissions" in statement for statement in statements)
    assert not any("gis_layers_tilechange" in statement for statement in statements)


def _densest_parcel_tile(z: int) -> tuple[int, int]:
    """The tile of zoom z holding the most current parcels of the demo."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) AS c FROM registry_parcel "
            "WHERE valid_to IS NULL) p"
        )
        counts: dict[tuple[int, int], int] = {}
        for lon, lat in cursor.fetchall():
            address = tile_of(lon, lat, z)
            counts[address] = counts.get(address, 0) + 1
    return max(counts, key=counts.get)


def test_the_cached_tile_is_byte_for_byte_the_rendered_one(planner_client):
    """A tile large enough to be stored out of line: the row, the cold answer and the cached
    answer are the bytes the renderer makes, and the row is stored uncompressed."""
    from django.db import connection

    from gis_layers.models import CachedTile
    from gis_layers.tiles import LAYERS, render

    x, y = _densest_parcel_tile(13)
    rendered = render(LAYERS["parcels"], z=13, x=x, y=y)
    assert len(rendered) > 8_000  # past the size PostgreSQL moves out of the row
    cold = get_tile(planner_client, "parcels", 13, x, y)
    row = CachedTile.objects.get(key=f"parcels/13/{x}/{y}/current/all")
    cached = get_tile(planner_client, "parcels", 13, x, y)
    assert cold.content == rendered
    assert bytes(row.tile) == rendered
    assert cached.content == rendered
    assert cold["ETag"] == cached["ETag"] == f'"{row.etag}"'
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_size(tile), octet_length(tile) FROM gis_layers_cachedtile "
            "WHERE key = %s",
            [row.key],
        )
        stored, length = cursor.fetchone()
    assert stored >= length  # not compressed: STORAGE EXTERNAL


def test_the_cache_row_is_read_and_written_as_bytes_not_hex(planner_client):
    """The two statements of the tile cache carry the tile as a binary parameter and read it
    as a binary result: no hex text of twice its size on the wire."""
    import psycopg
    from django.db import connection

    x, y = _densest_parcel_tile(14)
    statements = []

    def watch(execute, sql, params, many, context):
        if "gis_layers_cachedtile" in sql:
            statements.append((sql, context["cursor"]))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        get_tile(planner_client, "parcels", 14, x, y)
        get_tile(planner_client, "parcels", 14, x, y)
    assert [("INSERT" in sql) for sql, _ in statements] == [False, True, False]
    for sql, wrapper in statements:
        cursor = wrapper.cursor  # psycopg's, inside Django's wrapper
        # Bound on the server (a ClientCursor writes the parameters into the text) ...
        assert isinstance(cursor, psycopg.Cursor) and not isinstance(cursor, psycopg.ClientCursor)
        assert cursor.format == psycopg.pq.Format.BINARY, sql  # ... and answered in binary


def test_tiles_are_rendered_without_jit_compilation():
    """JIT compiling the renderer's query cost more than it saved (docs/benchmarks.md): the
    rendering turns it off for its own statement, and the connection keeps its setting."""
    from django.db import connection

    from gis_layers.tiles import LAYERS, render
    from tests.registry.committed import in_own_connection

    x, y = _densest_parcel_tile(14)

    def only_without_jit(execute, sql, params, many, context):
        # The tile keeps its features only where the statement ran with JIT off.
        sql = sql.replace("FROM features", "FROM features WHERE current_setting('jit') = 'off'")
        return execute(sql, params, many, context)

    def render_then_show_jit() -> tuple[bytes, str]:
        with connection.cursor() as cursor:
            cursor.execute("SET jit = on")
        with connection.execute_wrapper(only_without_jit):
            data = render(LAYERS["parcels"], z=14, x=x, y=y)
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            return data, cursor.fetchone()[0]

    data, afterwards = in_own_connection(render_then_show_jit)
    assert len(mapbox_vector_tile.decode(data)["parcels"]["features"]) > 10
    assert afterwards == "on"


def _synchronous_commit_of_the_cache_write(z: int, x: int, y: int) -> tuple[str, str]:
    """Draws a parcel tile cold: synchronous_commit as the cache row's INSERT ran with it, and
    as the connection has it afterwards."""
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection

    from gis_layers.tiles import LAYERS, draw

    seen = []

    def report_setting(execute, sql, params, many, context):
        if not sql.startswith("INSERT INTO gis_layers_cachedtile"):
            return execute(sql, params, many, context)
        sql += " RETURNING current_setting('synchronous_commit')"
        result = execute(sql, params, many, context)
        seen.append(context["cursor"].fetchone()[0])
        return result

    # The user counts only for the shelters' clearance.
    drawn = draw(layer=LAYERS["parcels"], z=z, x=x, y=y, as_of=None, user=AnonymousUser())
    with connection.execute_wrapper(report_setting):
        drawn.keep()
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return seen[0], cursor.fetchone()[0]


def test_a_cache_row_written_on_its_own_does_not_wait_for_the_disk(planner_client):
    """Autocommit, as a tile request runs: the row's own transaction commits asynchronously
    (a row lost in a crash is only drawn again); the connection keeps its setting."""
    from gis_layers.models import CachedTile
    from tests.registry.committed import in_own_connection

    x, y = _densest_parcel_tile(16)
    key = f"parcels/16/{x}/{y}/current/all"
    try:
        assert in_own_connection(_synchronous_commit_of_the_cache_write, 16, x, y) == ("off", "on")
        assert CachedTile.objects.filter(key=key).exists()  # committed: seen from here
    finally:
        in_own_connection(lambda: CachedTile.objects.filter(key=key).delete())


def test_a_cache_row_written_inside_a_transaction_leaves_its_commit_alone(planner_client):
    """Inside a larger transaction (as this test runs) the setting would cover all of it."""
    x, y = _densest_parcel_tile(16)
    assert _synchronous_commit_of_the_cache_write(16, x, y) == ("on", "on")


def test_a_tile_the_client_holds_is_not_read_again_until_it_changes(planner_client):
    """Revalidation (If-None-Match, as browsers send for every tile: no-cache) answers 304
    without reading the tile's bytes; once a feature in it changes, the new tile comes."""
    from django.contrib.auth import get_user_model

    from gis_layers.tiles import LAYERS, draw

    x, y = _densest_parcel_tile(16)
    first = get_tile(planner_client, "parcels", 16, x, y)
    assert first.status_code == 200 and len(first.content) > 1000
    held = first["ETag"].strip('"')
    planner = get_user_model().objects.get(username="tiles-planner")

    def cached(held_etag):
        drawn = draw(
            layer=LAYERS["parcels"], z=16, x=x, y=y, as_of=None, user=planner, held_etag=held_etag
        )
        assert drawn.keep is None  # from the cache: nothing to keep
        return drawn.data, drawn.etag

    assert cached(held) == (b"", held)
    assert cached("0" * 32) == (first.content, held)
    assert cached(None) == (first.content, held)
    revalidated = get_tile(
        planner_client, "parcels", 16, x, y, headers={"If-None-Match": f'"{held}"'}
    )
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert revalidated["ETag"] == first["ETag"]
    parcel_id = decode(first)["parcels"]["features"][0]["id"]
    Parcel.objects.filter(pk=parcel_id).update(land_use_id="0810")
    renewed = get_tile(planner_client, "parcels", 16, x, y, headers={"If-None-Match": f'"{held}"'})
    assert renewed.status_code == 200 and renewed["ETag"] != first["ETag"]
    changed = decode(renewed)["parcels"]["features"]
    assert next(f for f in changed if f["id"] == parcel_id)["properties"]["land_use"] == "0810"


@pytest.fixture
def closing_keeps_the_connection():
    """Closing a response sends ``request_finished``, on which Django closes the database
    connection, the test's own; the test client spares it the same way."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    yield
    request_finished.connect(close_old_connections)


def test_a_tile_just_rendered_is_kept_once_it_is_sent(rf, caplog, closing_keeps_the_connection):
    """The cache write waits until the server closes the response, after its last byte: the
    client has the tile without waiting for it. A write that fails is logged, and the tile
    is only rendered again."""
    from django.db import DatabaseError, connection

    from gis_layers.models import CachedTile
    from gis_layers.views import vector_tile

    x, y = _densest_parcel_tile(16)
    cached = CachedTile.objects.filter(key=f"parcels/16/{x}/{y}/current/all")
    request = rf.get(f"/tiles/parcels/16/{x}/{y}.pbf")
    request.user = user(Role.PLANNER, "tiles-planner")
    sent = vector_tile(request, "parcels", "16", str(x), str(y))
    assert sent.status_code == 200 and not cached.exists()
    sent.close()
    kept = cached.get()
    assert bytes(kept.tile) == sent.content and f'"{kept.etag}"' == sent["ETag"]

    def refuse_the_write(execute, sql, params, many, context):
        if sql.startswith("INSERT INTO gis_layers_cachedtile"):
            raise DatabaseError("disk full")
        return execute(sql, params, many, context)

    kept.delete()
    with connection.execute_wrapper(refuse_the_write):
        again = vector_tile(request, "parcels", "16", str(x), str(y))
        again.close()
    assert again.content == sent.content and not cached.exists()
    assert "could not be kept in the cache" in caplog.text
