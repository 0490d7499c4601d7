"""/shelters/coverage/ in Chromium: a run started from the page finishes in the background,
its map draws the coverage and catchment tiles, and a user without clearance gets totals
without the classified shelters."""

import pytest
from django.db.models import Sum
from playwright.sync_api import expect

from gis_layers.models import CoverageRun
from registry.models import SecurityLevel, Shelter
from tests.e2e.conftest import log_in
from tests.e2e.test_login_and_admin import screenshot

pytestmark = pytest.mark.e2e


def start_run(page, *, sites: int) -> CoverageRun:
    if "/shelters/coverage/" not in page.url:
        page.goto("/shelters/coverage/")
    page.fill("#id_sites", str(sites))
    page.click("#coverage-form button[type=submit]")
    page.wait_for_url("**/shelters/coverage/*/")
    # The page refreshes itself until the run is done.
    expect(page.locator("#run-status")).to_have_attribute("data-status", "done", timeout=60000)
    return CoverageRun.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))


def shown_total(page, period: str, district: str, column: int) -> float:
    cell = page.locator(f"table.totals[data-period={period}] tr[data-district='{district}'] td")
    return float(cell.nth(column).inner_text().replace(",", ""))


def test_officer_runs_coverage_and_sees_map_and_totals(page, settings):
    settings.LANDLEDGER_BASEMAP_URL = ""
    log_in(page, "civil_defence_officer")
    run = start_run(page, sites=3)
    totals = {row["district"]: row for row in run.summary["totals"]["night"]}
    assert shown_total(page, "night", "all", 1) == round(totals["all"]["population"])
    assert shown_total(page, "night", "all", 2) == round(totals["all"]["within_reach"])
    expect(page.locator("#siting tr")).to_have_count(1 + 3)
    expect(page.locator("#totals svg.chart")).to_have_count(2)
    page.wait_for_function(
        "() => (window.landledger.state.drawn.coverage || 0) > 20"
        " && (window.landledger.state.drawn.catchments || 0) > 3",
        timeout=20000,
    )
    screenshot(page, "shelter-coverage")
    assert page.external_requests == [] and page.console_errors == []


def test_totals_for_a_user_without_clearance_leave_classified_shelters_out(page, settings):
    settings.LANDLEDGER_BASEMAP_URL = ""
    log_in(page, "planner")
    run = start_run(page, sites=0)
    assert run.clearance == SecurityLevel.PUBLIC
    public_places = Shelter.objects.filter(
        valid_to__isnull=True, shelter_type="personnel", classification=SecurityLevel.PUBLIC
    ).exclude(condition="dangerous")
    classified = Shelter.objects.filter(shelter_type="personnel", classification__gt=0)
    assert classified.exists()  # the demo has classified personnel shelters
    assert run.summary["counts"]["shelters"] == public_places.count()
    assert run.summary["places"] <= public_places.aggregate(total=Sum("capacity_persons"))["total"]
    names = page.content()
    assert not any(shelter.name in names for shelter in classified)
    # The officer's runs (cleared further) are not listed for the planner.
    page.goto("/shelters/coverage/")
    listed = {int(link.inner_text()) for link in page.locator("#runs a").all()}
    hidden = set(CoverageRun.objects.filter(clearance__gt=0).values_list("pk", flat=True))
    assert run.pk in listed and not listed & hidden
    assert page.external_requests == [] and page.console_errors == []


def test_candidate_sites_drawn_on_the_map(page, settings):
    settings.LANDLEDGER_BASEMAP_URL = ""
    log_in(page, "civil_defence_officer")
    page.goto("/shelters/coverage/")
    page.wait_for_function("() => window.landledger !== undefined")
    assert page.locator(".landledger-time").count() == 0  # sites are picked on today's map
    frame = page.locator("#map-frame")
    box = frame.bounding_box()
    # Points in the middle of the map, clear of the controls along its edges. Clicked through
    # the locator: Playwright waits until the map stands still and aims where it is then
    # (the page may still move while it loads).
    for picked, (dx, dy) in enumerate(((0.35, 0.45), (0.5, 0.35)), start=1):
        frame.click(position={"x": box["width"] * dx, "y": box["height"] * dy})
        page.wait_for_function(
            f"() => document.getElementById('id_candidate_points').value.trim().split('\\n').length === {picked}"
        )
    lines = page.input_value("#id_candidate_points").splitlines()
    assert len(lines) == 2 and all(line.count(",") == 1 for line in lines)
    run = start_run(page, sites=1)
    assert run.parameters["candidate_points"] == [
        [float(value) for value in line.split(",")] for line in lines
    ]
    assert run.summary["siting"]["candidates"] == 2
    assert run.summary["siting"]["source"] == "user's points"
