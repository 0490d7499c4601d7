"""Vector tiles decoded: features, attributes, clipping; clearance; the cache and its
invalidation when a feature in the tile changes; bad addresses."""

import math

import mapbox_vector_tile
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
