"""OGC API – Features under /ogc/: documents, items and their filters and paging, CRSs and
axis order, who may read what (roles, clearance, anonymous, HTTP Basic), audit, and every kind
of bad input answered 400/404 with a message naming what was wrong."""

import base64
import datetime
import math
import re

import pytest
from django.contrib.gis.db.models import Extent
from django.contrib.gis.geos import Polygon
from django.http import QueryDict
from django.test import Client
from django.utils import timezone

from gis_layers.models import ZoningArea
from gis_layers.ogc.collections import COLLECTIONS
from gis_layers.ogc.params import parse_items_query
from gis_layers.ogc.queries import feature_page
from gis_layers.ogc.selectors import HOLDING_KINDS, holders_of_parcels
from registry.models import AuditEvent, Parcel, ParcelLineage, SecurityLevel, Shelter
from registry.roles import Role
from registry.selectors import holders_as_of, in_force_on
from registry.services.users import create_user_with_role
from tests.registry import factories
from tests.registry.register import user

pytestmark = pytest.mark.django_db

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
JSON_ACCEPT = {"Accept": "application/json"}
BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def client_for(role: Role | None, name: str | None = None) -> Client:
    client = Client()
    if role is not None:
        client.force_login(user(role, name or f"ogc-{role.value}"))
    return client


@pytest.fixture
def auditor() -> Client:
    return client_for(Role.AUDITOR)


@pytest.fixture
def planner() -> Client:
    return client_for(Role.PLANNER)


def get_json(client: Client, path: str, status: int = 200, **params) -> dict:
    response = client.get(path, params, headers=JSON_ACCEPT)
    assert response.status_code == status, response.content[:500]
    return response.json()


def links_of(document: dict, rel: str) -> list[dict]:
    return [entry for entry in document["links"] if entry["rel"] == rel]


def today_parcels():
    return Parcel.objects.filter(in_force_on(timezone.localdate()))


def split_parcels() -> tuple[Parcel, list[Parcel]]:
    """The demo's split: a parent retired on 2025-03-03 and its children from that day."""
    lineage = ParcelLineage.objects.select_related("parent", "child").order_by("child_id")
    assert lineage, "the demo has a parcel split"
    return lineage[0].parent, [row.child for row in lineage]


def first_point(geometry: dict) -> list[float]:
    coordinates = geometry["coordinates"]
    while isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    return coordinates


# --- documents ---------------------------------------------------------------------------


def test_landing_page_links_to_definition_conformance_and_data(auditor):
    response = auditor.get("/ogc/", headers=JSON_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert document["title"]
    rels = {entry["rel"] for entry in document["links"]}
    assert {"self", "alternate", "service-desc", "conformance", "data"} <= rels
    (description,) = links_of(document, "service-desc")
    assert description["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links_of(document, "self")[0]["href"].startswith("http://testserver/ogc/")


def test_landing_page_speaks_the_readers_language(auditor):
    chinese = auditor.get("/ogc/", {"f": "html"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "以您的角色和密级许可为限" in chinese.content.decode()
    assert "Accept-Language" in chinese["Vary"]
    document = auditor.get("/ogc/", headers=JSON_ACCEPT).json()  # GIS clients: English
    assert "as far as your role and clearance allow" in document["description"]
    assert links_of(document, "data")[0]["title"] == "the collections"


def test_conformance_lists_core_geojson_html_oas30_and_crs(auditor):
    classes = get_json(auditor, "/ogc/conformance")["conformsTo"]
    prefix = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    for name in ("core", "geojson", "html", "oas30"):
        assert prefix + name in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes


def test_api_definition_is_openapi_with_the_limits_the_items_accept(auditor):
    response = auditor.get("/ogc/api")
    assert response["Content-Type"] == "application/vnd.oai.openapi+json;version=3.0"
    definition = response.json()
    assert definition["openapi"].startswith("3.0")
    assert definition["components"]["parameters"]["limit"]["schema"]["maximum"] == 10_000
    assert "/collections/{collectionId}/items" in definition["paths"]


def test_collections_list_the_four_with_their_crs_and_extent(auditor):
    document = get_json(auditor, "/ogc/collections")
    by_id = {entry["id"]: entry for entry in document["collections"]}
    assert list(by_id) == ["parcels", "buildings", "shelters", "zoning"]
    for entry in by_id.values():
        assert entry["itemType"] == "feature"
        assert {CRS84, EPSG_4326, EPSG_4490} <= set(entry["crs"])
        assert entry["storageCrs"] == EPSG_4490
        items = [link for link in entry["links"] if link["rel"] == "items"]
        assert {link["type"] for link in items} == {"application/geo+json", "text/html"}
    parcels = by_id["parcels"]
    (west, south, east, north), *_ = parcels["extent"]["spatial"]["bbox"]
    assert parcels["extent"]["spatial"]["crs"] == CRS84
    # The parcels' own extent, longitude first (other tests may have added parcels elsewhere).
    from django.contrib.gis.db.models import Extent

    expected = Parcel.objects.aggregate(extent=Extent("geom"))["extent"]
    assert (west, south, east, north) == pytest.approx(expected, abs=1e-6)
    assert west < 15 and north > 60
    (start, end), *_ = parcels["extent"]["temporal"]["interval"]
    first_day = Parcel.objects.order_by("valid_from").first().valid_from
    assert start.startswith(first_day.isoformat()) and end is None


def test_one_collection_answers_with_its_own_links(auditor):
    document = get_json(auditor, "/ogc/collections/buildings")
    assert document["id"] == "buildings"
    assert links_of(document, "self")[0]["href"].startswith(
        "http://testserver/ogc/collections/buildings"
    )


def test_the_schema_types_each_property_a_user_is_shown(auditor, planner):
    collection = get_json(auditor, "/ogc/collections/parcels")
    (described,) = links_of(collection, "describedBy")
    assert described["type"] == "application/schema+json"
    response = auditor.get(described["href"])
    assert response["Content-Type"] == "application/schema+json"
    properties = response.json()["properties"]["properties"]["properties"]
    assert properties["valid_to"]["type"] == "string"
    assert properties["valid_to"]["format"] == "date"
    assert properties["area_m2"]["type"] == "number"
    assert properties["unit_code"]["type"] == "string"
    assert properties["holders"]["type"] == "array"
    officer = client_for(Role.CIVIL_DEFENCE)
    hidden = get_json(officer, "/ogc/collections/parcels/schema")
    assert "holders" not in hidden["properties"]["properties"]["properties"]
    shelters = get_json(planner, "/ogc/collections/shelters/schema")["properties"]["properties"]
    assert "classification" not in shelters["properties"]
    assert shelters["properties"]["capacity_persons"]["type"] == "integer"
    assert shelters["properties"]["is_underground"]["type"] == "boolean"
    assert "personnel" in shelters["properties"]["shelter_type"]["enum"]


# --- items -------------------------------------------------------------------------------


def test_items_are_geojson_with_counts_links_and_a_time_stamp(auditor):
    response = auditor.get("/ogc/collections/parcels/items", headers=JSON_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    assert response["Content-Crs"] == f"<{CRS84}>"
    page = response.json()
    assert page["type"] == "FeatureCollection"
    assert page["numberMatched"] == today_parcels().count()
    assert page["numberReturned"] == len(page["features"]) == 100
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", page["timeStamp"])
    rels = {entry["rel"] for entry in page["links"]}
    assert {"self", "alternate", "next", "collection"} <= rels and "prev" not in rels
    feature = page["features"][0]
    assert feature["type"] == "Feature" and isinstance(feature["id"], int)
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert "crs" not in feature["geometry"]
    properties = feature["properties"]
    parcel = Parcel.objects.select_related("land_use", "district").get(pk=feature["id"])
    assert properties["unit_code"] == parcel.unit_code
    assert properties["land_use"] == parcel.land_use_id
    assert properties["land_use_name_en"] == parcel.land_use.name_en
    assert properties["land_use_name_zh"] == parcel.land_use.name_zh
    assert properties["district"] == parcel.district.code
    assert math.isclose(properties["area_m2"], parcel.area_m2)
    assert properties["valid_from"] == parcel.valid_from.isoformat()


def test_paging_with_next_links_reaches_every_current_parcel_once(auditor):
    seen: list[int] = []
    url = "/ogc/collections/parcels/items?limit=250"
    pages = 0
    while url:
        response = auditor.get(url, headers=JSON_ACCEPT)
        assert response.status_code == 200, response.content[:300]
        page = response.json()
        seen += [feature["id"] for feature in page["features"]]
        if pages:
            assert links_of(page, "prev"), "every page after the first links back"
        nexts = links_of(page, "next")
        url = nexts[0]["href"] if nexts else None
        pages += 1
    expected = set(today_parcels().values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == len(expected)
    assert set(seen) == expected
    assert pages == math.ceil(len(expected) / 250)
    assert seen == sorted(seen), "a stable order: by primary key"


def test_offset_past_the_end_is_an_empty_page(auditor):
    page = get_json(auditor, "/ogc/collections/parcels/items", offset=100_000)
    assert page["features"] == [] and page["numberReturned"] == 0
    assert page["numberMatched"] == today_parcels().count()
    assert not links_of(page, "next")


def test_limit_at_the_maximum_is_served(auditor):
    page = get_json(auditor, "/ogc/collections/shelters/items", limit=10_000)
    assert (
        page["numberReturned"]
        == page["numberMatched"]
        == Shelter.objects.filter(in_force_on(timezone.localdate())).count()
    )


def _bbox_around(parcel: Parcel) -> tuple[float, float, float, float]:
    west, south, east, north = parcel.geom.extent
    return west - 0.001, south - 0.001, east + 0.001, north + 0.001


def test_bbox_selects_the_parcels_it_intersects(auditor):
    parcel = today_parcels().order_by("pk")[10]
    west, south, east, north = _bbox_around(parcel)
    page = get_json(
        auditor, "/ogc/collections/parcels/items", bbox=f"{west},{south},{east},{north}"
    )
    box = Polygon.from_bbox((west, south, east, north))
    box.srid = 4326
    expected = set(today_parcels().filter(geom__intersects=box).values_list("pk", flat=True))
    assert parcel.pk in expected
    assert {feature["id"] for feature in page["features"]} == expected
    assert page["numberMatched"] == len(expected) < today_parcels().count()
    assert all(f"bbox={west}" in entry["href"] for entry in links_of(page, "self"))


def test_bbox_in_epsg_4326_is_latitude_first(auditor):
    parcel = today_parcels().order_by("pk")[10]
    west, south, east, north = _bbox_around(parcel)
    lon_lat = get_json(
        auditor, "/ogc/collections/parcels/items", bbox=f"{west},{south},{east},{north}"
    )
    lat_lon = get_json(
        auditor,
        "/ogc/collections/parcels/items",
        bbox=f"{south},{west},{north},{east}",
        **{"bbox-crs": EPSG_4326},
    )
    assert [f["id"] for f in lat_lon["features"]] == [f["id"] for f in lon_lat["features"]]


def test_a_degenerate_bbox_a_point_finds_the_parcel_under_it(auditor):
    parcel = today_parcels().order_by("pk")[5]
    point = parcel.geom.point_on_surface
    page = get_json(
        auditor, "/ogc/collections/parcels/items", bbox=f"{point.x},{point.y},{point.x},{point.y}"
    )
    assert parcel.pk in {feature["id"] for feature in page["features"]}


def test_datetime_gives_the_register_as_of_that_day(auditor):
    parent, children = split_parcels()
    assert parent.valid_to == datetime.date(2025, 3, 3)
    assert all(child.valid_from == datetime.date(2025, 3, 3) for child in children)
    parent_box = ",".join(map(str, _bbox_around(parent)))

    def ids_on(moment: str) -> set[int]:
        page = get_json(
            auditor,
            "/ogc/collections/parcels/items",
            bbox=parent_box,
            datetime=moment,
            limit=10_000,
        )
        return {feature["id"] for feature in page["features"]}

    before = ids_on("2025-03-02")
    assert parent.pk in before and not {child.pk for child in children} & before
    after = ids_on("2025-03-03")
    assert parent.pk not in after and {child.pk for child in children} <= after
    # An instant is read on the register's calendar (Asia/Shanghai): 23:00 UTC on the 2nd is
    # already the 3rd there.
    assert ids_on("2025-03-02T23:00:00Z") == after
    assert ids_on("2025-03-02T15:00:00Z") == before
    # Before any parcel existed there is nothing.
    assert ids_on("2019-12-31") == set()


def test_datetime_interval_reaches_every_parcel_ever_in_force_in_it(auditor):
    parent, children = split_parcels()
    everything = get_json(auditor, "/ogc/collections/parcels/items", datetime="../..", limit=1)
    assert everything["numberMatched"] == Parcel.objects.count()
    both = get_json(
        auditor,
        "/ogc/collections/parcels/items",
        datetime="2025-03-01/2025-03-05",
        limit=10_000,
    )
    ids = {feature["id"] for feature in both["features"]}
    assert parent.pk in ids and {child.pk for child in children} <= ids


def test_crs_epsg_4326_and_4490_put_latitude_first(auditor):
    parcel = today_parcels().filter(district__code="990101").order_by("pk").first()
    path = f"/ogc/collections/parcels/items/{parcel.pk}"
    lon_lat = auditor.get(path, headers=JSON_ACCEPT)
    assert lon_lat["Content-Crs"] == f"<{CRS84}>"
    lon, lat = first_point(lon_lat.json()["geometry"])
    assert 24 < lon < 26 and 60 < lat < 61  # Helsinki
    for uri in (EPSG_4326, EPSG_4490):
        response = auditor.get(path, {"crs": uri}, headers=JSON_ACCEPT)
        assert response.status_code == 200
        assert response["Content-Crs"] == f"<{uri}>"
        first, second = first_point(response.json()["geometry"])
        assert math.isclose(first, lat, abs_tol=1e-6) and math.isclose(second, lon, abs_tol=1e-6)
    page = get_json(auditor, "/ogc/collections/parcels/items", crs=EPSG_4326, limit=5)
    assert all(50 < first_point(f["geometry"])[0] < 61 for f in page["features"])
    assert all(f"crs={EPSG_4326}".replace(":", "%3A").replace("/", "%2F") in entry["href"]
               for entry in links_of(page, "next"))  # fmt: skip


def test_storage_crs_coordinates_are_the_stored_ones(auditor):
    parcel = today_parcels().order_by("pk").first()
    feature = get_json(auditor, f"/ogc/collections/parcels/items/{parcel.pk}", crs=EPSG_4490)
    lat, lon = first_point(feature["geometry"])
    stored_lon, stored_lat = parcel.geom[0][0][0]
    assert math.isclose(lon, stored_lon, abs_tol=1e-9) and math.isclose(
        lat, stored_lat, abs_tol=1e-9
    )


def test_a_retired_parcel_is_still_found_by_its_id(auditor):
    parent, _ = split_parcels()
    feature = get_json(auditor, f"/ogc/collections/parcels/items/{parent.pk}")
    assert feature["id"] == parent.pk
    assert feature["properties"]["valid_to"] == "2025-03-03"
    rels = {entry["rel"] for entry in feature["links"]}
    assert {"self", "alternate", "collection"} <= rels


def test_buildings_carry_their_parcel_unit_code(auditor):
    page = get_json(auditor, "/ogc/collections/buildings/items", limit=1000)
    with_parcel = [f for f in page["features"] if f["properties"]["parcel_unit_code"]]
    assert with_parcel
    properties = with_parcel[0]["properties"]
    assert {"name", "use", "floors_above", "gross_floor_area_m2"} <= set(properties)


def test_zoning_has_plan_attributes_and_ignores_datetime(auditor):
    area = ZoningArea.objects.create(
        planned_use="0801",
        plan_name="Test plan",
        plan_date=datetime.date(2023, 5, 1),
        max_far=2.5,
        geom=factories.square(),
    )
    page = get_json(auditor, "/ogc/collections/zoning/items", datetime="1990-01-01", limit=10000)
    (feature,) = [f for f in page["features"] if f["id"] == area.pk]
    assert feature["properties"]["planned_use"] == "0801"
    assert feature["properties"]["plan_date"] == "2023-05-01"
    assert feature["properties"]["max_far"] == 2.5
    document = get_json(auditor, "/ogc/collections/zoning")
    assert "temporal" not in document["extent"]
    assert document["extent"]["spatial"]["bbox"]


# --- holders -----------------------------------------------------------------------------


def test_holders_are_shown_only_to_roles_that_may_read_rights(planner):
    titled = today_parcels().filter(title__rights__isnull=False).distinct().order_by("pk")[0]
    feature = get_json(planner, f"/ogc/collections/parcels/items/{titled.pk}")
    holders = feature["properties"]["holders"]
    assert holders == holders_as_of(
        title=titled.title, on=timezone.localdate(), kinds=HOLDING_KINDS
    )
    assert holders and all({"party", "share", "kind"} <= set(row) for row in holders)
    officer = client_for(Role.CIVIL_DEFENCE)
    assert not user(Role.CIVIL_DEFENCE, "ogc-civil_defence_officer").has_perm("registry.view_right")
    hidden = get_json(officer, f"/ogc/collections/parcels/items/{titled.pk}")
    assert "holders" not in hidden["properties"]
    page = get_json(officer, "/ogc/collections/parcels/items", limit=10)
    assert all("holders" not in feature["properties"] for feature in page["features"])


def test_holders_of_a_page_match_holders_as_of_title_by_title():
    parcels = list(
        Parcel.objects.filter(title__isnull=False).select_related("title").order_by("pk")[:200]
    )
    for on in (timezone.localdate(), datetime.date(2021, 6, 1)):
        batch = holders_of_parcels(parcel_ids=[parcel.pk for parcel in parcels], on=on)
        for parcel in parcels:
            expected = holders_as_of(title=parcel.title, on=on, kinds=HOLDING_KINDS)
            assert batch.get(parcel.pk, []) == expected, parcel.unit_code


def test_a_page_takes_the_same_number_of_queries_whatever_its_size(django_assert_num_queries):
    reader = user(Role.PLANNER, "ogc-planner")
    reader.has_perm("registry.view_right")  # permissions are cached on the user after this
    parcels = COLLECTIONS["parcels"]
    for limit in (10, 500):
        query = parse_items_query(QueryDict(f"limit={limit}"))
        # clearance is not read for parcels: the page with its count, the holders
        with django_assert_num_queries(2):
            page = feature_page(collection=parcels, user=reader, query=query)
        assert len(page.features) == limit


# --- shelters and clearance --------------------------------------------------------------


@pytest.fixture
def far_secret_shelter() -> Shelter:
    """A secret shelter far outside the demo's districts, so it would widen the extent."""
    shelter = factories.shelter(name="Far secret", classification=SecurityLevel.SECRET)
    shelter.save()
    return shelter


def test_a_planner_never_sees_a_classified_shelter(planner, far_secret_shelter):
    classified = Shelter.objects.filter(classification__gt=SecurityLevel.PUBLIC)
    assert classified.count() > 1
    page = get_json(planner, "/ogc/collections/shelters/items", limit=10_000, datetime="../..")
    ids = {feature["id"] for feature in page["features"]}
    public = Shelter.objects.filter(classification=SecurityLevel.PUBLIC)
    assert ids == set(public.values_list("pk", flat=True))
    assert page["numberMatched"] == public.count()
    assert all("classification" not in feature["properties"] for feature in page["features"])
    for shelter in classified:
        refusal = get_json(planner, f"/ogc/collections/shelters/items/{shelter.pk}", status=404)
        assert refusal["code"] == "NotFound"
    # Nor by searching where it is, nor in the extent.
    point = far_secret_shelter.location
    around = f"{point.x - 0.01},{point.y - 0.01},{point.x + 0.01},{point.y + 0.01}"
    nearby = get_json(planner, "/ogc/collections/shelters/items", bbox=around)
    assert nearby["numberMatched"] == 0 and nearby["features"] == []
    (east_edge,) = [
        entry["extent"]["spatial"]["bbox"][0][2]
        for entry in get_json(planner, "/ogc/collections")["collections"]
        if entry["id"] == "shelters"
    ]
    public_box = public.aggregate(box=Extent("location"))["box"]
    assert math.isclose(east_edge, public_box[2], abs_tol=1e-6) and east_edge < 100


def test_an_auditor_sees_classified_shelters_and_their_level(auditor, far_secret_shelter):
    page = get_json(auditor, "/ogc/collections/shelters/items", limit=10_000)
    by_id = {feature["id"]: feature for feature in page["features"]}
    assert far_secret_shelter.pk in by_id
    assert by_id[far_secret_shelter.pk]["properties"]["classification"] == SecurityLevel.SECRET
    document = get_json(auditor, "/ogc/collections/shelters")
    assert document["extent"]["spatial"]["bbox"][0][2] > 116


# --- who may read ------------------------------------------------------------------------


def test_a_role_without_the_zoning_permission_neither_sees_nor_reads_it():
    registrar = client_for(Role.REGISTRAR)
    assert not user(Role.REGISTRAR, "ogc-registrar").has_perm("gis_layers.view_zoningarea")
    listed = [entry["id"] for entry in get_json(registrar, "/ogc/collections")["collections"]]
    assert "zoning" not in listed and "parcels" in listed
    for path in (
        "/ogc/collections/zoning",
        "/ogc/collections/zoning/items",
        "/ogc/collections/zoning/items/1",
    ):
        refusal = get_json(registrar, path, status=403)
        assert refusal["code"] == "Forbidden"
        assert "gis_layers.view_zoningarea" in refusal["description"]


def test_a_user_without_a_role_reads_no_collection():
    from django.contrib.auth import get_user_model

    nobody = get_user_model().objects.create_user("ogc-nobody", password="x")
    client = Client()
    client.force_login(nobody)
    assert get_json(client, "/ogc/collections")["collections"] == []
    for collection in ("parcels", "buildings", "shelters", "zoning"):
        get_json(client, f"/ogc/collections/{collection}/items", status=403)


@pytest.mark.parametrize(
    "path", ["/ogc/", "/ogc/conformance", "/ogc/collections", "/ogc/collections/parcels/items"]
)
def test_anonymous_clients_are_challenged_and_browsers_sent_to_log_in(path):
    refused = Client().get(path, headers=JSON_ACCEPT)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Basic ")
    assert refused.json()["code"] == "AuthenticationRequired"
    redirected = Client().get(path, headers=BROWSER_ACCEPT)
    assert redirected.status_code == 302
    assert redirected["Location"].startswith("/accounts/login/?next=")


def basic(username: str, password: str) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def basic_account():
    return create_user_with_role(username="ogc-basic", password="gis-client", role=Role.AUDITOR)


def test_http_basic_logs_a_gis_client_in_for_each_request(basic_account):
    client = Client()
    response = client.get("/ogc/collections", headers=basic("ogc-basic", "gis-client"))
    assert response.status_code == 200
    assert len(response.json()["collections"]) == 4
    assert "sessionid" not in response.cookies, "no session is opened"
    wrong = client.get("/ogc/collections", headers=basic("ogc-basic", "wrong"))
    assert wrong.status_code == 401 and wrong.json()["code"] == "AuthenticationFailed"
    malformed = client.get("/ogc/collections", headers={"Authorization": "Basic %%%"})
    assert malformed.status_code == 401


def test_http_basic_refuses_an_inactive_account(basic_account):
    basic_account.is_active = False
    basic_account.save()
    response = Client().get("/ogc/", headers=basic("ogc-basic", "gis-client"))
    assert response.status_code == 401


def test_http_basic_is_refused_over_plain_http_from_another_machine(basic_account):
    client = Client(REMOTE_ADDR="192.0.2.7")
    response = client.get("/ogc/", headers=basic("ogc-basic", "gis-client"))
    assert response.status_code == 401
    assert "HTTPS" in response.json()["description"]
    secure = client.get("/ogc/", headers=basic("ogc-basic", "gis-client"), secure=True)
    assert secure.status_code == 200


# --- HTML --------------------------------------------------------------------------------


def test_browsers_get_pages_with_a_table_of_linked_items(auditor):
    response = auditor.get("/ogc/collections/parcels/items", headers=BROWSER_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "LandLedger" in html and '<table id="items">' in html
    assert html.count('href="http://testserver/ogc/collections/parcels/items/') >= 100
    assert 'rel="next"' in html
    for path in ("/ogc/", "/ogc/conformance", "/ogc/collections", "/ogc/collections/parcels"):
        page = auditor.get(path, {"f": "html"})
        assert page.status_code == 200 and page["Content-Type"].startswith("text/html"), path
    item = today_parcels().order_by("pk").first()
    detail = auditor.get(f"/ogc/collections/parcels/items/{item.pk}", {"f": "html"})
    assert item.unit_code in detail.content.decode()


def test_f_json_wins_over_a_browsers_accept_header(auditor):
    response = auditor.get("/ogc/collections", {"f": "json"}, headers=BROWSER_ACCEPT)
    assert response["Content-Type"] == "application/json"


def test_a_client_that_accepts_anything_gets_json(auditor):
    response = auditor.get("/ogc/collections/parcels/items", headers={"Accept": "*/*"})
    assert response["Content-Type"] == "application/geo+json"


def test_a_browser_sees_a_refusal_as_a_page(auditor):
    response = auditor.get("/ogc/collections/parcels/items", {"limit": "0", "f": "html"})
    assert response.status_code == 400
    assert "limit" in response.content.decode()


# --- audit -------------------------------------------------------------------------------


def test_each_items_request_is_one_audit_event(auditor):
    before = AuditEvent.objects.count()
    page = get_json(auditor, "/ogc/collections/parcels/items", limit=50, datetime="2025-03-02")
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-id").first()
    assert event.user.username == "ogc-auditor"
    assert (event.action, event.object_type, event.object_id) == ("read", "ogc:parcels", "items")
    assert event.detail["numberReturned"] == page["numberReturned"] == 50
    assert event.detail["datetime"] == ["2025-03-02", "2025-03-02"]
    shelter = Shelter.objects.filter(classification=SecurityLevel.PUBLIC).first()
    get_json(auditor, f"/ogc/collections/shelters/items/{shelter.pk}")
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.object_type, event.object_id) == ("ogc:shelters", str(shelter.pk))


def test_a_refused_request_records_nothing(auditor):
    before = AuditEvent.objects.count()
    get_json(auditor, "/ogc/collections/parcels/items", status=400, limit="many")
    assert AuditEvent.objects.count() == before


# --- bad input ---------------------------------------------------------------------------

ITEMS = "/ogc/collections/parcels/items"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"bbox": "24.9,60.1,25.0"}, "bbox"),
        ({"bbox": "24.9,60.1,25.0,60.2,1"}, "bbox"),
        ({"bbox": "24.9,north,25.0,60.2"}, "bbox"),
        ({"bbox": "nan,60.1,25.0,60.2"}, "bbox"),
        ({"bbox": "24.9,60.1,inf,60.2"}, "bbox"),
        ({"bbox": "25.0,60.1,24.9,60.2"}, "bbox"),
        ({"bbox": "24.9,60.2,25.0,60.1"}, "bbox"),
        ({"bbox": "24.9,60.1,200,60.2"}, "bbox"),
        ({"bbox": "24.9,-95,25.0,60.2"}, "bbox"),
        # Longitude first where EPSG:4326 wants latitude first: 120 is no latitude.
        ({"bbox": "120,24.9,121,25.0", "bbox-crs": EPSG_4326}, "bbox"),
        ({"bbox-crs": EPSG_4326}, "bbox-crs"),
        ({"bbox": "24.9,60.1,25.0,60.2", "bbox-crs": "EPSG:4326"}, "bbox-crs"),
        ({"limit": "0"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "9" * 40}, "limit"),
        ({"offset": "-5"}, "offset"),
        ({"offset": "later"}, "offset"),
        ({"offset": "9" * 40}, "offset"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2025-02-30"}, "datetime"),
        ({"datetime": "2025-03-03T10:00:00"}, "datetime"),  # RFC 3339 needs an offset
        ({"datetime": "2025-03-03T25:00:00Z"}, "datetime"),
        ({"datetime": "2025-03-05/2025-03-01"}, "datetime"),
        ({"datetime": "2025-01-01/2025-02-01/2025-03-01"}, "datetime"),
        ({"crs": "EPSG:4326"}, "crs"),
        ({"crs": "http://www.opengis.net/def/crs/EPSG/0/3857"}, "crs"),
        ({"crs": "+proj=longlat +datum=WGS84"}, "crs"),
        ({"f": "xml"}, "f"),
        ({"filter": "land_use='0801'"}, "filter"),
    ],
)
def test_bad_items_parameters_are_refused_naming_the_parameter(auditor, params, named):
    response = auditor.get(ITEMS, params, headers=JSON_ACCEPT)
    assert response.status_code == 400, response.content[:300]
    refusal = response.json()
    assert refusal["code"] == "InvalidParameterValue"
    assert refusal["description"].startswith(named) or f" {named}" in refusal["description"]


def test_the_limit_refusal_says_the_maximum_and_how_to_page(auditor):
    refusal = get_json(auditor, ITEMS, status=400, limit=20_000)
    assert "10000" in refusal["description"] and "offset" in refusal["description"]


def test_a_parameter_given_twice_is_refused(auditor):
    response = auditor.get(f"{ITEMS}?limit=5&limit=6", headers=JSON_ACCEPT)
    assert response.status_code == 400
    assert "limit" in response.json()["description"]


def test_a_bad_crs_on_one_item_is_refused(auditor):
    refusal = get_json(auditor, f"{ITEMS}/1", status=400, crs="EPSG:3857")
    assert refusal["description"].startswith("crs")


@pytest.mark.parametrize(
    "path",
    [
        "/ogc/collections/roads",
        "/ogc/collections/roads/items",
        "/ogc/collections/roads/items/1",
        "/ogc/collections/parcels/items/999999999",
        "/ogc/collections/parcels/items/abc",
        "/ogc/collections/parcels/items/0",
        "/ogc/collections/parcels/items/99999999999999999999999",
    ],
)
def test_unknown_collections_and_features_are_404_with_a_description(auditor, path):
    refusal = get_json(auditor, path, status=404)
    assert refusal["code"] == "NotFound" and refusal["description"]


def test_unknown_collection_names_the_ones_there_are(auditor):
    refusal = get_json(auditor, "/ogc/collections/roads", status=404)
    assert "'roads'" in refusal["description"] and "parcels" in refusal["description"]


def test_writing_is_not_allowed(auditor):
    assert auditor.post(ITEMS, {}).status_code == 405


def test_unknown_parameters_on_documents_are_refused(auditor):
    refusal = get_json(auditor, "/ogc/collections", status=400, page="2")
    assert "page" in refusal["description"]


def test_a_database_that_does_not_answer_is_503(auditor, monkeypatch):
    from django.db import OperationalError

    from gis_layers.ogc import views

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "feature_page", down)
    refusal = get_json(auditor, ITEMS, status=503)
    assert refusal["code"] == "ServiceUnavailable"
