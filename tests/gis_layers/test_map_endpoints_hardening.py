"""The map's endpoints at their edges: who learns of transfers in the change view, what a
parcel tile carries, popups of unknown layers and bad dates, numbers too long to read,
revalidation with weak, listed and wildcard ETags, HEAD, shelters by type and condition,
and the basemap's subdomains."""

import datetime
import html
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from gis_layers.map_views import map_config
from gis_layers.models import ZoningArea
from registry.models import Condition, Parcel, RegistrationAct, ShelterType, Title
from registry.roles import Role
from tests.gis_layers.test_tiles import decode, get_tile, tile_of
from tests.registry.register import user

pytestmark = pytest.mark.django_db

FIVE_THOUSAND_DIGITS = "9" * 5000


@pytest.fixture
def planner_client(client):
    client.force_login(user(Role.PLANNER, "hardening-planner"))
    return client


def _tile_of_parcel(parcel: Parcel, z: int) -> tuple[int, int]:
    centre = parcel.geom.point_on_surface
    return tile_of(centre.x, centre.y, z)


# --- 1. transfers in the change view only for roles that may read registration acts ----


@pytest.fixture
def transferred_parcel() -> tuple[Parcel, dict]:
    """A parcel of the demo whose title a registered transfer moved on, and the dates around
    that transfer (the parcel itself neither new nor retired between them)."""
    act = (
        RegistrationAct.objects.filter(act_type="transfer", status="registered")
        .order_by("effective_date", "pk")
        .first()
    )
    parcel = act.act_titles.first().title.parcel
    since = act.effective_date - datetime.timedelta(days=1)
    assert not since < parcel.valid_from <= act.effective_date
    assert parcel.valid_to is None or not since < parcel.valid_to <= act.effective_date
    return parcel, {"from": since.isoformat(), "to": act.effective_date.isoformat()}


def _changes_of(client, parcel: Parcel, dates: dict) -> dict[int, str]:
    x, y = _tile_of_parcel(parcel, 16)
    response = client.get(f"/tiles/changes/16/{x}/{y}.pbf", dates)
    layer = decode(response).get("changes", {"features": []})
    return {feature["id"]: feature["properties"]["change"] for feature in layer["features"]}


@pytest.mark.parametrize(
    ("role", "sees_the_transfer"),
    [
        (Role.AUDITOR, True),
        (Role.REGISTRAR, True),
        (Role.CIVIL_DEFENCE, False),  # view_parcel, but no registration acts
        (Role.PLANNER, False),  # titles and rights, but no registration acts
    ],
)
def test_the_changes_tile_shows_transfers_only_to_roles_that_may_read_acts(
    client, transferred_parcel, role, sees_the_transfer
):
    parcel, dates = transferred_parcel
    client.force_login(user(role, f"hardening-{role.value}"))
    changes = _changes_of(client, parcel, dates)
    if sees_the_transfer:
        assert changes[parcel.pk] == "transferred"
    else:
        assert "transferred" not in changes.values()
        assert parcel.pk not in changes


def test_the_changes_tile_keeps_new_and_retired_parcels_for_roles_without_acts(client):
    retired = Parcel.objects.filter(valid_to__isnull=False).order_by("pk").first()
    client.force_login(user(Role.CIVIL_DEFENCE, "hardening-officer"))
    dates = {"from": "2025-01-01", "to": "2025-12-31"}
    assert retired.valid_to.year == 2025
    assert _changes_of(client, retired, dates)[retired.pk] == "retired"


def _changes_legend(role: Role | None) -> list[str] | None:
    """The change kinds the map's legend names for a role (None: the map offers no change
    view). Without a role: a logged-in user in no group, who may see no parcels."""
    if role is None:
        someone = get_user_model().objects.create_user("hardening-nobody", password="x")
    else:
        someone = user(role, f"hardening-{role.value}")
    legend = map_config(someone)["legends"].get("changes")
    return None if legend is None else [key for key, _label in legend["items"]]


def test_the_map_offers_the_change_view_with_transfers_only_to_roles_that_may_read_acts():
    assert _changes_legend(Role.AUDITOR) == ["new", "retired", "transferred"]
    assert _changes_legend(Role.CIVIL_DEFENCE) == ["new", "retired"]
    assert _changes_legend(Role.PLANNER) == ["new", "retired"]
    assert _changes_legend(None) is None  # map.js leaves the change view's controls out


def test_the_change_view_legend_speaks_chinese_where_the_page_does():
    with translation.override("zh-hans"):
        legend = map_config(user(Role.AUDITOR, "hardening-auditor-zh"))["legends"]["changes"]
    assert legend["title"] == "两个日期之间的变化"
    assert [label for _key, label in legend["items"]] == ["新增宗地", "注销宗地", "已转移"]


@pytest.mark.parametrize(
    ("language", "zoom_in", "measure_build"),
    [("zh-hans", "放大", "leaflet-measure.cn.js"), ("en", "Zoom in", "leaflet-measure.js")],
)
def test_the_maps_own_controls_speak_the_pages_language(
    planner_client, language, zoom_in, measure_build
):
    page = planner_client.get("/map/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    titles = json.loads(re.search(r"L\.control\.zoom\((\{.*?\})\)", page).group(1))
    assert titles["zoomInTitle"] == zoom_in
    assert f"leaflet-measure-3.1.0/{measure_build}" in page
    # Metres alone: no feet or miles on the scale bar or the measure tool.
    assert "L.control.scale({imperial: false})" in page
    assert '"secondaryLengthUnit": "kilometers"' in page


# --- 2. no title_id in parcel tiles --------------------------------------------------------


def test_parcel_tiles_carry_no_title_and_the_popup_links_the_title(planner_client):
    title = Title.objects.filter(parcel__valid_to__isnull=True).order_by("pk").first()
    x, y = _tile_of_parcel(title.parcel, 16)
    features = decode(get_tile(planner_client, "parcels", 16, x, y))["parcels"]["features"]
    assert title.parcel_id in {feature["id"] for feature in features}
    for feature in features:
        assert set(feature["properties"]) <= {"fid", "unit_code", "land_use", "area_m2"}
    # The title comes from the popup, which asks the register with the user's role.
    popup = planner_client.get(f"/map/popup/parcels/{title.parcel_id}/").content.decode()
    assert f"/registry/titles/{title.pk}/" in popup


# --- 3. popups: unknown layers 404, zoning only for "zoning", bad dates 400 ---------------


@pytest.mark.parametrize("layer", ["coverage", "catchments", "conformity", "rivers"])
def test_a_popup_of_a_layer_without_popups_is_404_naming_those_that_have(planner_client, layer):
    zone = ZoningArea.objects.order_by("pk").first()
    response = planner_client.get(f"/map/popup/{layer}/{zone.pk}/")
    assert response.status_code == 404
    text = html.unescape(response.content.decode())
    assert f"no popup for the layer '{layer}'" in text
    assert "layers with popups: parcels, buildings, shelters, zoning" in text
    assert zone.plan_name not in text  # not the zoning area of that number


def test_the_zoning_popup_shows_the_zoning_area(planner_client):
    zone = ZoningArea.objects.order_by("pk").first()
    response = planner_client.get(f"/map/popup/zoning/{zone.pk}/")
    assert response.status_code == 200
    assert zone.plan_name in response.content.decode()


@pytest.mark.parametrize("as_of", ["2024-13-01", "yesterday", "<b>2024</b>"])
def test_a_popup_with_a_malformed_date_is_400_saying_so(planner_client, as_of):
    parcel = Parcel.objects.filter(valid_to__isnull=True).order_by("pk").first()
    response = planner_client.get(f"/map/popup/parcels/{parcel.pk}/", {"as_of": as_of})
    assert response.status_code == 400
    text = response.content.decode()
    assert "<b>" not in text  # the date given comes back escaped
    assert f"as_of={as_of!r} is not a date; give it as YYYY-MM-DD" in html.unescape(text)


def test_a_popup_with_a_good_date_still_answers(planner_client):
    parcel = Parcel.objects.filter(valid_to__isnull=True).order_by("pk").first()
    response = planner_client.get(f"/map/popup/parcels/{parcel.pk}/", {"as_of": "2025-06-01"})
    assert response.status_code == 200 and parcel.unit_code in response.content.decode()


# --- 4. numbers too long for Python to read ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (f"/tiles/parcels/14/{FIVE_THOUSAND_DIGITS}/0.pbf", "x"),
        (f"/tiles/parcels/14/0/{FIVE_THOUSAND_DIGITS}.pbf", "y"),
        (f"/tiles/parcels/{FIVE_THOUSAND_DIGITS}/0/0.pbf", "zoom"),
        (f"/tiles/parcels/14/-{FIVE_THOUSAND_DIGITS}/0.pbf", "x"),
        (f"/tiles/changes/14/{FIVE_THOUSAND_DIGITS}/0.pbf?from=2024-01-01&to=2025-01-01", "x"),
    ],
)
def test_a_tile_address_of_five_thousand_digits_is_400_out_of_range(planner_client, path, name):
    response = planner_client.get(path)
    assert response.status_code == 400
    error = response.json()["error"]
    assert f"tile {name} of " in error and "digits is out of range" in error


@pytest.mark.parametrize("parameter", ["limit", "offset"])
def test_an_ogc_limit_or_offset_of_five_thousand_digits_is_the_parameters_error(
    planner_client, parameter
):
    response = planner_client.get(
        "/ogc/collections/parcels/items", {parameter: FIVE_THOUSAND_DIGITS, "f": "json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidParameterValue"
    assert body["description"].startswith(f"{parameter}: ")
    assert "a number of 5000 digits" in body["description"]


def test_an_ogc_limit_with_leading_zeros_is_still_read(planner_client):
    response = planner_client.get(
        "/ogc/collections/parcels/items", {"limit": "0" * 5000 + "2", "f": "json"}
    )
    assert response.status_code == 200
    assert len(response.json()["features"]) == 2


# --- 5. revalidation (If-None-Match) and HEAD --------------------------------------------


@pytest.fixture
def parcel_tile(planner_client):
    """A parcel tile's path and its first answer."""
    title = Title.objects.filter(parcel__valid_to__isnull=True).order_by("pk").first()
    x, y = _tile_of_parcel(title.parcel, 16)
    path = f"/tiles/parcels/16/{x}/{y}.pbf"
    first = planner_client.get(path)
    assert first.status_code == 200 and first.content
    return path, first


@pytest.mark.parametrize(
    "held",
    [
        "W/{etag}",  # weak, as a proxy that compressed the tile marks it
        '"not-this-one", {etag}',
        '"not-this-one", W/{etag}',
        "*",
    ],
)
def test_a_tile_the_client_holds_by_a_weak_or_listed_etag_or_any_is_304(
    planner_client, parcel_tile, held
):
    path, first = parcel_tile
    response = planner_client.get(path, headers={"If-None-Match": held.format(etag=first["ETag"])})
    assert response.status_code == 304 and response.content == b""
    assert response["ETag"] == first["ETag"]
    assert response["Cache-Control"] == "private, no-cache"
    assert response.get("Vary") == first.get("Vary")


@pytest.mark.parametrize("held", ['"not-this-one"', 'W/"not-this-one", "nor-this"', "garbage"])
def test_a_tile_the_client_does_not_hold_comes_whole(planner_client, parcel_tile, held):
    path, first = parcel_tile
    response = planner_client.get(path, headers={"If-None-Match": held})
    assert response.status_code == 200 and response.content == first.content


def test_a_weak_etag_revalidates_the_changes_tile_too(planner_client, transferred_parcel):
    parcel, dates = transferred_parcel
    x, y = _tile_of_parcel(parcel, 16)
    path = f"/tiles/changes/16/{x}/{y}.pbf"
    first = planner_client.get(path, dates)
    again = planner_client.get(path, dates, headers={"If-None-Match": f"W/{first['ETag']}"})
    assert again.status_code == 304 and again["ETag"] == first["ETag"]


def test_head_of_a_tile_answers_its_headers_without_a_body(planner_client, parcel_tile):
    path, first = parcel_tile
    response = planner_client.head(path)
    assert response.status_code == 200
    assert response.content == b""
    for header in ("ETag", "Content-Type", "Cache-Control"):
        assert response[header] == first[header], header
    held = planner_client.head(path, headers={"If-None-Match": first["ETag"]})
    assert held.status_code == 304


def test_head_of_a_changes_tile_answers_too(planner_client):
    x, y = tile_of(24.94, 60.17, 16)
    dates = {"from": "2024-01-01", "to": "2025-01-01"}
    response = planner_client.head(f"/tiles/changes/16/{x}/{y}.pbf", dates)
    assert response.status_code == 200 and response.content == b""
    assert response["Cache-Control"] == "private, no-cache"


def test_other_methods_on_a_tile_are_still_refused(planner_client, parcel_tile):
    path, _first = parcel_tile
    assert planner_client.post(path).status_code == 405


# --- 6. shelters by type and condition ------------------------------------------------------


def test_the_shelter_legend_names_every_type_and_every_condition(planner_client):
    legend = map_config(user(Role.PLANNER, "hardening-planner"))["legends"]["shelters"]
    assert [key for key, _label in legend["shapes"]] == list(ShelterType.values)
    assert [key for key, _label in legend["items"]] == list(Condition.values)


def test_shelter_tiles_carry_the_type_and_the_condition_the_map_draws(client):
    from registry.models import Shelter

    client.force_login(user(Role.CIVIL_DEFENCE, "hardening-officer"))
    shelter = Shelter.objects.filter(valid_to__isnull=True).order_by("pk").first()
    x, y = tile_of(shelter.location.x, shelter.location.y, 15)
    features = decode(get_tile(client, "shelters", 15, x, y))["shelters"]["features"]
    properties = next(f for f in features if f["id"] == shelter.pk)["properties"]
    assert properties["shelter_type"] == shelter.shelter_type
    assert properties["condition"] == shelter.condition


# --- 7. the basemap's subdomains and the Tianditu key --------------------------------------


def _basemap_of_page(client) -> tuple[str, dict]:
    """The URL and the options of the basemap's ``L.tileLayer`` in the map page's script."""
    page = client.get("/map/").content.decode()
    found = re.search(r"L\.tileLayer\(\s*(\"(?:[^\"\\]|\\.)*\"),\s*(\{.*?\})\s*\)", page, re.DOTALL)
    assert found, "no basemap in the page"
    # An object literal of JavaScript: its last member may end with a comma.
    return json.loads(found[1]), json.loads(re.sub(r",\s*}$", "}", found[2]))


def test_a_tianditu_key_makes_the_basemap_tianditus_with_hosts_t0_to_t7(planner_client, settings):
    from config.settings import basemap_settings

    basemap = basemap_settings({"LANDLEDGER_TIANDITU_KEY": "0123abcd"})
    assert basemap["url"] == (
        "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=0123abcd"
    )
    assert basemap["subdomains"] == "01234567"
    assert "Tianditu" in basemap["attribution"]
    settings.LANDLEDGER_BASEMAP_URL = basemap["url"]
    settings.LANDLEDGER_BASEMAP_SUBDOMAINS = basemap["subdomains"]
    settings.LANDLEDGER_BASEMAP_ATTRIBUTION = basemap["attribution"]
    url, options = _basemap_of_page(planner_client)
    assert url == basemap["url"]
    assert options["subdomains"] == "01234567"
    assert "Tianditu" in options["attribution"]


def test_the_basemap_subdomains_follow_the_url_unless_given(planner_client, settings):
    from config.settings import DEFAULT_BASEMAP_URL, basemap_settings

    assert basemap_settings({}) == {
        "url": DEFAULT_BASEMAP_URL,
        "subdomains": "abc",
        "max_native_zoom": 19,
        "attribution": "© OpenStreetMap contributors",
    }
    # A Tianditu URL given whole, without the key setting: still Tianditu's hosts.
    given = "https://t{s}.tianditu.gov.cn/DataServer?T=img_w&x={x}&y={y}&l={z}&tk=k"
    assert basemap_settings({"LANDLEDGER_BASEMAP_URL": given})["subdomains"] == "01234567"
    # The URL given wins over the key; subdomains given win over either.
    both = {"LANDLEDGER_BASEMAP_URL": "https://{s}.tiles.example/{z}/{x}/{y}.png"}
    both.update(LANDLEDGER_TIANDITU_KEY="k", LANDLEDGER_BASEMAP_SUBDOMAINS="xy")
    assert basemap_settings(both)["url"] == both["LANDLEDGER_BASEMAP_URL"]
    assert basemap_settings(both)["subdomains"] == "xy"
    settings.LANDLEDGER_BASEMAP_URL = both["LANDLEDGER_BASEMAP_URL"]
    settings.LANDLEDGER_BASEMAP_SUBDOMAINS = "xy"
    url, options = _basemap_of_page(planner_client)
    assert url == both["LANDLEDGER_BASEMAP_URL"] and options["subdomains"] == "xy"


def test_the_basemap_is_scaled_up_beyond_the_deepest_zoom_its_host_has_tiles_for(
    planner_client, settings
):
    """Tianditu has tiles to zoom 18 and OpenStreetMap to 19, the map goes to 20: beyond
    those Leaflet must scale the deepest tiles up, or the basemap is blank."""
    from config.settings import basemap_settings

    for environ, deepest in [({"LANDLEDGER_TIANDITU_KEY": "0123abcd"}, 18), ({}, 19)]:
        basemap = basemap_settings(environ)
        settings.LANDLEDGER_BASEMAP_URL = basemap["url"]
        settings.LANDLEDGER_BASEMAP_SUBDOMAINS = basemap["subdomains"]
        settings.LANDLEDGER_BASEMAP_MAX_NATIVE_ZOOM = basemap["max_native_zoom"]
        _, options = _basemap_of_page(planner_client)
        assert options["maxNativeZoom"] == deepest and options["maxZoom"] == 20
    given = {"LANDLEDGER_TIANDITU_KEY": "k", "LANDLEDGER_BASEMAP_MAX_NATIVE_ZOOM": "16"}
    assert basemap_settings(given)["max_native_zoom"] == 16


def test_the_map_page_is_refused_to_a_user_whose_role_sees_none_of_its_layers(client):
    client.force_login(get_user_model().objects.create_user("hardening-no-role", password="x"))
    assert client.get("/map/").status_code == 403
    client.force_login(user(Role.CIVIL_DEFENCE, "hardening-officer-map"))
    assert client.get("/map/").status_code == 200
