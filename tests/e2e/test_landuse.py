"""/landuse/ in Chromium: the charts are drawn and the totals agree with landuse_report."""

import io
import json

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.e2e.test_login_and_admin import screenshot

pytestmark = pytest.mark.e2e


def test_landuse_page_draws_charts_and_agrees_with_the_report(page, settings):
    settings.LANDLEDGER_BASEMAP_URL = ""  # plain mode: the page needs nothing from outside
    out = io.StringIO()
    call_command("landuse_report", "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    log_in(page, "planner")
    page.goto("/landuse/")
    for district in report["districts"]:
        if district["code"] not in ("990101", "990201"):
            continue  # parcels other tests committed, with no plan
        section = page.locator(f"#district-{district['code']}")
        expect(section.locator("svg.chart")).to_have_count(4)
        expect(section.locator("td.conforming")).to_have_text(f"{district['conforming_m2']:.1f} m²")
        expect(section.locator("td.nonconforming")).to_have_text(
            f"{district['nonconforming_m2']:.1f} m²"
        )
        assert district["conforming_m2"] > 0 and district["nonconforming_m2"] > 0
        table = section.locator("table.conformity-by-class")
        expect(table.locator("tbody tr")).to_have_count(len(district["conformity_by_class"]))
        for row in district["conformity_by_class"]:
            cells = table.locator(f'tr[data-class="{row["class"]}"]')
            share = row["nonconforming_pct"]
            for selector, text in (
                ("td.parcels", str(row["parcels"])),
                ("td.area", f"{row['area_m2']:.1f} m²"),
                ("td.nonconforming-parcels", str(row["nonconforming_parcels"])),
                ("td.nonconforming-area", f"{row['nonconforming_m2']:.1f} m²"),
                ("td.nonconforming-share", "no plan" if share is None else f"{share:.1f} %"),
                ("td.no-plan-parcels", str(row["no_plan_parcels"])),
                ("td.no-plan-area", f"{row['no_plan_m2']:.1f} m²"),
            ):
                expect(cells.locator(selector)).to_have_text(text)
    page.wait_for_function(
        "() => (window.landledger.state.drawn.conformity || 0) > 20", timeout=20000
    )
    screenshot(page, "landuse")
    assert page.external_requests == [] and page.console_errors == []


def test_underused_layer_draws_with_its_legend_and_agrees_with_the_report(page, settings):
    settings.LANDLEDGER_BASEMAP_URL = ""
    out = io.StringIO()
    call_command("landuse_report", "--format", "json", stdout=out)
    helsinki = next(d for d in json.loads(out.getvalue())["districts"] if d["code"] == "990101")
    log_in(page, "planner")
    page.goto("/landuse/?map=underused")
    page.wait_for_function(
        "() => (window.landledger.state.drawn.underused || 0) > 20", timeout=20000
    )
    # Under-used parcels and parcels without building data are both drawn, as such.
    page.wait_for_function(
        "() => { const s = window.landledger.state.statuses.underused;"
        " return (s.underused || 0) > 0 && (s.no_data || 0) > 0; }",
        timeout=20000,
    )
    assert page.evaluate("() => window.landledger.state.drawn.conformity") == 0  # off at start
    legend = page.locator(".landledger-layer-legend [data-legend=underused]")
    expect(legend).to_be_visible()
    expect(legend.locator("[data-key=no_data]")).to_contain_text("no building data")
    expect(legend.locator("[data-key=underused]")).to_contain_text("50%")
    expect(page.locator(".landledger-land-use-legend")).to_be_hidden()  # parcels are off
    page.wait_for_function("() => !window.landledger.state.layers.underused.isLoading()")
    # The page's ranked list is the report's.
    first = page.locator("#district-990101 table.underused tr").nth(1).locator("td")
    expect(first.nth(0)).to_have_text(helsinki["underused"][0]["unit_code"])
    screenshot(page, "landuse-underused")

    # In the layer control of the planners' map too, with its legend when switched on.
    page.goto("/map/")
    page.wait_for_function("() => (window.landledger.state.drawn.parcels || 0) > 0", timeout=20000)
    expect(page.locator(".landledger-layer-legend")).to_be_hidden()
    page.locator(".leaflet-control-layers label", has_text="Under-used parcels").locator(
        "input"
    ).check()
    page.wait_for_function(
        "() => (window.landledger.state.drawn.underused || 0) > 20", timeout=20000
    )
    expect(page.locator(".landledger-layer-legend [data-legend=underused]")).to_be_visible()
    assert page.external_requests == [] and page.console_errors == []


def test_landuse_map_names_an_unknown_layer(page):
    log_in(page, "planner")
    response = page.goto("/landuse/?map=rivers")
    assert response.status == 400
    assert "map='rivers' is not one of conformity, underused" in page.content()
