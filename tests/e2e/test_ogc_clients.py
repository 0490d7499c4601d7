"""Real OGC API clients against the live server: GDAL's OAPIF driver (``ogrinfo``) and OWSLib,
each logging in with HTTP Basic as a demo account (password "demo")."""

import os
import re
import shutil
import subprocess

import pytest
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Polygon
from django.utils import timezone
from owslib.ogcapi.features import Features
from owslib.util import Authentication

from gis_layers.models import ZoningArea
from gis_layers.ogc.collections import readable_collections
from registry.models import Building, Parcel
from registry.selectors import in_force_on, shelters_visible_to

pytestmark = pytest.mark.e2e

COLLECTIONS = ["parcels", "buildings", "shelters", "zoning"]
EPSG_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"


@pytest.fixture(scope="module")
def ogc_url(app_server) -> str:
    return f"{app_server}/ogc/"


def account(username: str):
    return get_user_model().objects.get(username=username)


def expected_counts(username: str) -> dict[str, int]:
    """What each collection holds today for this account, read from the database."""
    today = in_force_on(timezone.localdate())
    return {
        "parcels": Parcel.objects.filter(today).count(),
        "buildings": Building.objects.filter(today).count(),
        "shelters": shelters_visible_to(user=account(username)).filter(today).count(),
        "zoning": ZoningArea.objects.count(),
    }


def ogrinfo(url: str, *options: str, layer: str = "", username: str = "auditor") -> str:
    """``ogrinfo -ro [options] OAPIF:url [layer]`` logged in as ``username``; its output."""
    program = shutil.which("ogrinfo")
    if program is None:
        pytest.fail("ogrinfo is missing: `make test` installs Debian's gdal-bin package")
    command = [program, "-ro", *options, f"OAPIF:{url}", *([layer] if layer else [])]
    environment = {
        **os.environ,
        "GDAL_HTTP_USERPWD": f"{username}:demo",
        "GDAL_HTTP_TIMEOUT": "120",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "ERROR" not in result.stderr, result.stderr
    return result.stdout


def layer_names(output: str) -> list[str]:
    return re.findall(r"^\d+: (\w+)", output, flags=re.MULTILINE)


def feature_count(output: str) -> int:
    (count,) = re.findall(r"^Feature Count: (\d+)$", output, flags=re.MULTILINE)
    return int(count)


# --- GDAL --------------------------------------------------------------------------------


def test_ogrinfo_lists_the_four_collections(db, ogc_url):
    assert [c.id for c in readable_collections(account("auditor"))] == COLLECTIONS
    assert layer_names(ogrinfo(ogc_url, "-so")) == COLLECTIONS


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_ogrinfo_reports_each_collections_feature_count(db, ogc_url, collection):
    output = ogrinfo(ogc_url, "-so", layer=collection)
    assert feature_count(output) == expected_counts("auditor")[collection]


def test_ogrinfo_types_the_fields_from_the_schema(db, ogc_url):
    # valid_to is empty on the first page; without the schema GDAL would call it a string.
    output = ogrinfo(ogc_url, "-so", layer="parcels")
    assert re.search(r"^valid_to: Date", output, flags=re.MULTILINE), output
    assert re.search(r"^area_m2: Real", output, flags=re.MULTILINE), output


def test_ogrinfo_counts_only_the_shelters_a_planner_is_cleared_for(db, ogc_url):
    output = ogrinfo(ogc_url, "-so", layer="shelters", username="planner")
    expected = expected_counts("planner")["shelters"]
    assert feature_count(output) == expected < expected_counts("auditor")["shelters"]


def test_ogrinfo_reads_every_shelter_through_the_next_links(db, ogc_url):
    # A page size of 7 makes GDAL follow the next links through several pages.
    output = ogrinfo(ogc_url, "-al", "-oo", "PAGE_SIZE=7", layer="shelters")
    ids = re.findall(r"^OGRFeature\(shelters\):(\d+)$", output, flags=re.MULTILINE)
    assert len(ids) == len(set(ids)) == expected_counts("auditor")["shelters"]
    assert "POINT (" in output


def test_ogrinfo_spatial_filter_is_sent_as_bbox(db, ogc_url):
    parcel = Parcel.objects.filter(in_force_on(timezone.localdate())).order_by("pk")[20]
    west, south, east, north = parcel.geom.extent
    box = Polygon.from_bbox((west, south, east, north))
    box.srid = 4490
    expected = (
        Parcel.objects.filter(in_force_on(timezone.localdate()))
        .filter(geom__intersects=box)
        .count()
    )
    extent = [str(value) for value in (west, south, east, north)]
    output = ogrinfo(ogc_url, "-so", "-spat", *extent, layer="parcels")
    assert feature_count(output) == expected >= 1


# --- OWSLib ------------------------------------------------------------------------------


def features_as(ogc_url: str, username: str) -> Features:
    return Features(ogc_url, auth=Authentication(username, "demo"))


def all_items(api: Features, collection: str, limit: int) -> tuple[list[int], int]:
    """Every item id, page by page as the next links say, and the pages read."""
    ids: list[int] = []
    offset, pages = 0, 0
    while True:
        page = api.collection_items(collection, limit=limit, offset=offset)
        pages += 1
        ids += [feature["id"] for feature in page["features"]]
        assert page["numberReturned"] == len(page["features"])
        if not [link for link in page["links"] if link["rel"] == "next"]:
            return ids, pages
        offset += limit


def test_owslib_sees_the_landing_page_conformance_and_collections(db, ogc_url):
    api = features_as(ogc_url, "auditor")
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    assert api.feature_collections() == COLLECTIONS
    assert api.api()["openapi"].startswith("3.0")
    assert api.collection("parcels")["storageCrs"].endswith("/EPSG/0/4490")


def test_owslib_pages_through_every_parcel(db, ogc_url):
    api = features_as(ogc_url, "auditor")
    ids, pages = all_items(api, "parcels", limit=200)
    expected = set(
        Parcel.objects.filter(in_force_on(timezone.localdate())).values_list("pk", flat=True)
    )
    assert len(ids) == len(set(ids)) == len(expected) and set(ids) == expected
    assert pages == -(-len(expected) // 200)


def test_owslib_pages_through_the_shelters_a_planner_may_see(db, ogc_url):
    api = features_as(ogc_url, "planner")
    ids, _ = all_items(api, "shelters", limit=10)
    assert len(set(ids)) == len(ids) == expected_counts("planner")["shelters"]
    visible = set(shelters_visible_to(user=account("planner")).values_list("pk", flat=True))
    assert set(ids) <= visible


def test_owslib_reads_one_item_and_asks_for_latitude_first(db, ogc_url):
    api = features_as(ogc_url, "auditor")
    parcel = Parcel.objects.filter(district__code="990101").order_by("pk").first()
    item = api.collection_item("parcels", str(parcel.pk))
    assert item["properties"]["unit_code"] == parcel.unit_code
    page = api.collection_items("parcels", limit=1, crs=EPSG_4326, bbox=list(parcel.geom.extent))
    assert api.response_headers["Content-Crs"] == f"<{EPSG_4326}>"
    latitude, longitude = page["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 60 < latitude < 61 and 24 < longitude < 26


def test_owslib_without_an_account_is_refused(ogc_url):
    with pytest.raises(RuntimeError, match="AuthenticationRequired"):
        Features(ogc_url).collections()
