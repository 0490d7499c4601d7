"""The planners' map in Chromium: tiles drawn from our own server only, a popup, a search
that flies to the parcel, the as-of slider and the change view."""

import json

import pytest
from django.contrib.gis.geos import Point
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from registry.models import Building, Condition, Parcel, Shelter, ShelterType, Title
from tests.e2e.conftest import log_in
from tests.e2e.test_login_and_admin import screenshot

pytestmark = pytest.mark.e2e


def drawn(page, layer: str) -> int:
    return page.evaluate(f"() => window.landledger.state.drawn['{layer}'] || 0")


def open_map(page, settings, role="planner"):
    settings.LANDLEDGER_BASEMAP_URL = ""  # plain mode: nothing but our own server
    log_in(page, role)
    page.goto("/map/")
    page.wait_for_function(
        "() => window.landledger && window.landledger.state.drawn.parcels > 0", timeout=20000
    )


def tiles_drawn(page):
    """Waits until every layer on the map has drawn all its tiles for the view. (The page's
    "networkidle" state, reached once after it loaded, does not wait for later requests.)"""
    page.wait_for_function(
        "() => Object.values(window.landledger.state.layers).every((layer) => "
        "!window.landledger.map.hasLayer(layer) || !layer.isLoading())",
        timeout=20000,
    )


def without_buildings_and_shelters(page):
    """Buildings and shelters lie over parcels: take them off, once their tiles are in (a
    tile arriving after its layer is gone would still catch a click)."""
    tiles_drawn(page)
    page.evaluate(
        "() => ['buildings', 'shelters'].forEach((name) => "
        "window.landledger.map.removeLayer(window.landledger.state.layers[name]))"
    )


def show_at_zoom_18(page, point):
    page.evaluate(
        f"() => window.landledger.map.setView([{point.y}, {point.x}], 18, {{animate: false}})"
    )
    tiles_drawn(page)


def on_screen(page, point) -> tuple[float, float]:
    """Where on the page the map shows ``point``."""
    return page.evaluate(
        f"() => {{ const p = window.landledger.map.latLngToContainerPoint([{point.y}, {point.x}]);"
        " const box = window.landledger.map.getContainer().getBoundingClientRect();"
        " return [p.x + box.left, p.y + box.top]; }"
    )


def click_for_popup(page, point, attempts: int = 3):
    """Clicks the map at ``point`` until a popup opens, as a user clicks again when the first
    click landed before the feature under it was drawn; the popup's locator."""
    popup = page.locator(".leaflet-popup-content")
    for _ in range(attempts):
        x, y = on_screen(page, point)
        page.mouse.move(x - 10, y - 10)
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        try:
            popup.wait_for(timeout=4000)
            break
        except PlaywrightTimeout:
            continue
    return popup  # the expectations on it say what is missing


def clear_of_buildings_and_shelters(parcel: Parcel):
    """A point of ``parcel`` with no building on it and no shelter's marker over it at zoom
    18 (a marker's 22 pixels are about 13 m there)."""
    covered = [
        building.footprint.buffer(0.00002)
        for building in Building.objects.filter(footprint__intersects=parcel.geom)
    ] + [
        shelter.location.buffer(0.0003)
        for shelter in Shelter.objects.filter(location__dwithin=(parcel.geom, 0.0003))
    ]
    free = parcel.geom
    for area in covered:
        free = free.difference(area)
    return free.point_on_surface


def titled_parcel_at_zoom_18(page, settings):
    """The map at zoom 18, every layer on as it opens, over a point of a parcel with a title
    and a current right; the parcel and the point."""
    titled = Title.objects.filter(
        parcel__isnull=False, rights__valid_to__isnull=True, parcel__district__code="990101"
    ).first()
    point = clear_of_buildings_and_shelters(titled.parcel)
    open_map(page, settings)
    show_at_zoom_18(page, point)
    return titled.parcel, point


def test_map_draws_tiles_and_needs_no_other_host(page, settings):
    open_map(page, settings)
    page.wait_for_function("() => window.landledger.state.drawn.parcels > 50", timeout=20000)
    page.wait_for_function("() => window.landledger.state.drawn.buildings > 0", timeout=20000)
    expect(page.locator(".leaflet-control-scale")).to_be_visible()
    expect(page.locator(".landledger-legend")).to_contain_text("08 ")
    # Shelters by type (the marker's shape) and condition (its colour), both in the legend.
    page.wait_for_function("() => window.landledger.state.drawn.shelters > 0", timeout=20000)
    shelters = page.locator(".landledger-shelter-legend [data-legend=shelters]")
    expect(shelters).to_be_visible()
    for shelter_type, label in ShelterType.choices:
        expect(shelters.locator(f"[data-shape={shelter_type}] img")).to_be_visible()
        expect(shelters.locator(f"[data-shape={shelter_type}]")).to_contain_text(label)
    for condition, label in Condition.choices:
        expect(shelters.locator(f"[data-key={condition}]")).to_contain_text(label)
    screenshot(page, "map")
    assert page.external_requests == []
    assert page.console_errors == []


def test_click_opens_a_popup_with_the_parcel_and_its_holders(page, settings):
    """With the buildings' and shelters' layers on, drawn over the parcels' (their canvases
    cover the parcels' where they have no feature)."""
    parcel, point = titled_parcel_at_zoom_18(page, settings)
    assert all(name in page.evaluate("() => Object.keys(window.landledger.state.layers)")
               for name in ("buildings", "shelters"))  # fmt: skip
    assert page.evaluate(
        "() => ['buildings', 'shelters'].every((name) => "
        "window.landledger.map.hasLayer(window.landledger.state.layers[name]))"
    )
    popup = click_for_popup(page, point)
    expect(popup).to_contain_text(parcel.unit_code, timeout=10000)
    expect(popup).to_contain_text("Holders")
    screenshot(page, "map-popup")
    assert page.console_errors == []


def hovered(page):
    return page.evaluate("() => window.landledger.state.hovered")


def highlighted_in(page, layer: str) -> list[str]:
    """The features ``layer`` draws in a style of its own (highlighted or selected)."""
    return page.evaluate(
        f"() => Object.keys(window.landledger.state.layers['{layer}']._overriddenStyles || {{}})"
    )


def test_hover_reaches_parcels_under_the_other_layers_and_lets_go(page, settings):
    """With every layer on: a parcel under the buildings' and shelters' canvases lights up, a
    building on it takes the highlight and gives it back, and leaving the map leaves nothing
    lit."""
    shelters = Shelter.objects.filter(valid_to__isnull=True)
    building, point = next(  # a building with no shelter's marker over it, and in the
        # same view a point of its parcel clear of buildings and shelters
        (building, point)
        for building in Building.objects.filter(
            valid_to__isnull=True, parcel__valid_to__isnull=True
        ).order_by("id")
        if not shelters.filter(location__dwithin=(building.footprint, 0.0003)).exists()
        and (point := clear_of_buildings_and_shelters(building.parcel)).distance(
            building.footprint.point_on_surface
        )
        < 0.0006
    )
    inside = building.footprint.point_on_surface
    open_map(page, settings)
    show_at_zoom_18(page, Point((point.x + inside.x) / 2, (point.y + inside.y) / 2))

    def lit(layer: str, fid: int) -> None:
        page.wait_for_function(
            "() => { const h = window.landledger.state.hovered; "
            f"return h !== null && h.name === '{layer}' && h.fid === {fid}; }}",
            timeout=5000,
        )
        assert highlighted_in(page, layer) == [str(fid)]

    x, y = on_screen(page, point)
    page.mouse.move(x - 12, y - 12)
    page.mouse.move(x, y, steps=4)
    lit("parcels", building.parcel_id)
    page.mouse.move(*on_screen(page, inside), steps=6)
    lit("buildings", building.pk)
    assert highlighted_in(page, "parcels") == []
    page.mouse.move(x, y, steps=6)
    lit("parcels", building.parcel_id)
    assert highlighted_in(page, "buildings") == []
    # Zoomed out under a still pointer: the highlighted tile is gone, and its highlight too.
    page.evaluate("() => window.landledger.map.setZoom(17, {animate: false})")
    page.wait_for_function("() => window.landledger.state.hovered === null", timeout=5000)
    assert highlighted_in(page, "parcels") == []
    x, y = on_screen(page, point)
    page.mouse.move(x, y, steps=4)
    lit("parcels", building.parcel_id)
    top = page.evaluate("() => window.landledger.map.getContainer().getBoundingClientRect().top")
    page.mouse.move(x, top - 5, steps=8)  # above the map: out of it
    page.wait_for_function("() => window.landledger.state.hovered === null", timeout=5000)
    assert highlighted_in(page, "parcels") == [] and highlighted_in(page, "buildings") == []
    assert page.console_errors == []


def test_a_shelter_and_a_building_open_their_own_popups(page, settings):
    shelter = Shelter.objects.filter(classification=0, valid_to__isnull=True).first()
    open_map(page, settings)
    show_at_zoom_18(page, shelter.location)
    popup = click_for_popup(page, shelter.location)
    expect(popup).to_contain_text(shelter.name, timeout=10000)
    page.keyboard.press("Escape")
    page.evaluate("() => window.landledger.map.closePopup()")
    shelters = Shelter.objects.filter(valid_to__isnull=True)
    building = next(
        building
        for building in Building.objects.filter(valid_to__isnull=True).order_by(
            "-footprint_area_m2"
        )
        if not shelters.filter(location__dwithin=(building.footprint, 0.0005)).exists()
    )
    inside = building.footprint.point_on_surface
    show_at_zoom_18(page, inside)
    popup = click_for_popup(page, inside)
    expect(popup).to_contain_text(building.name or "Building", timeout=10000)
    assert page.console_errors == []


def test_a_popup_that_cannot_be_loaded_says_so(page, settings):
    _, point = titled_parcel_at_zoom_18(page, settings)
    page.route("**/map/popup/**", lambda route: route.abort())
    popup = click_for_popup(page, point)
    expect(popup).to_have_text("The details could not be loaded; click again to retry.")
    screenshot(page, "map-popup-failed")


def test_parcels_selected_on_the_map_are_exported_and_nothing_else(page, settings, tmp_path):
    first = Parcel.objects.filter(district__code="990101", valid_to__isnull=True).first()
    centre = first.geom.point_on_surface
    near = (
        Parcel.objects.filter(valid_to__isnull=True, geom__dwithin=(centre, 0.0004))
        .exclude(pk=first.pk)
        .exclude(geom__intersects=centre)
        .first()
    )
    open_map(page, settings)
    without_buildings_and_shelters(page)
    show_at_zoom_18(page, first.geom.union(near.geom).centroid)
    expect(page.locator("#selection-summary")).to_contain_text("Shift-click features")
    expect(page.locator("#selection-actions")).to_be_hidden()  # its links, and the dot between
    for parcel in (first, near):
        x, y = on_screen(page, parcel.geom.point_on_surface)
        page.mouse.move(x, y)
        page.keyboard.down("Shift")
        page.mouse.click(x, y)
        page.keyboard.up("Shift")
    expect(page.locator("#selection-summary")).to_contain_text("2 selected: Parcels")
    assert sorted(page.evaluate("() => window.landledger.state.selection.ids")) == sorted(
        [first.pk, near.pk]
    )
    # A selecting click opens no popup.
    assert page.locator(".leaflet-popup-content").count() == 0
    screenshot(page, "map-selection")
    page.click("#export-selection")
    expect(page.locator("#export-selection")).to_contain_text(
        "Only the 2 features selected on the map."
    )
    page.select_option("#id_format", "geojson")
    screenshot(page, "export-selection")
    with page.expect_download() as download:
        page.click("#export-form button[type=submit]")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    assert sorted(feature["properties"]["unit_code"] for feature in features) == sorted(
        [first.unit_code, near.unit_code]
    )
    assert page.external_requests == []


def test_search_flies_to_the_parcel(page, settings):
    target = (
        Parcel.objects.filter(district__code="990201", valid_to__isnull=True)
        .order_by("unit_code")
        .last()
    )
    open_map(page, settings)
    page.fill("#map-search", target.unit_code)
    page.press("#map-search", "Enter")
    expect(page.locator("#map-search-results li").first).to_contain_text(target.unit_code)
    page.wait_for_function(
        f"() => window.landledger.map.getBounds().contains([{target.geom.point_on_surface.y}, {target.geom.point_on_surface.x}])",
        timeout=10000,
    )
    screenshot(page, "map-search")


def test_as_of_slider_and_change_view_reload_the_tiles(page, settings):
    open_map(page, settings)
    page.evaluate(
        "() => { const s = document.querySelector('#as-of'); s.value = 10; s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); }"
    )
    page.wait_for_function(
        "() => window.landledger.state.asOf !== null && window.landledger.state.drawn.parcels > 0",
        timeout=20000,
    )
    assert page.evaluate("() => window.landledger.state.asOf") < "2021-01-01"
    page.check("#changes-on")
    page.wait_for_function(
        "() => (window.landledger.state.drawn.changes || 0) >= 0 && window.landledger.state.layers.changes",
        timeout=20000,
    )
    screenshot(page, "map-as-of")
    # Dates the wrong way round: said once in the panel, and no tile asked for them.
    refused = []
    page.on("response", lambda response: response.status == 400 and refused.append(response.url))
    page.fill("#changes-from", "2100-01-01")
    page.dispatch_event("#changes-from", "change")
    expect(page.locator("#changes-problem")).to_have_text(
        "Give two dates, the first not after the second."
    )
    assert page.evaluate("() => 'changes' in window.landledger.state.layers") is False
    page.fill("#changes-from", "2020-01-01")
    page.dispatch_event("#changes-from", "change")
    expect(page.locator("#changes-problem")).to_be_hidden()
    page.wait_for_function("() => 'changes' in window.landledger.state.layers", timeout=10000)
    tiles_drawn(page)
    assert refused == []
    assert page.external_requests == []


def test_role_without_shelter_clearance_gets_no_classified_shelter_popup(page, settings):
    from registry.models import SecurityLevel, Shelter

    secret = Shelter.objects.filter(classification=SecurityLevel.SECRET).first()
    open_map(page, settings)
    response = page.request.get(f"/map/popup/shelters/{secret.pk}/")
    assert response.status == 404
