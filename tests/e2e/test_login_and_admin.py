"""A person logs in, reads the landing page and finds the demo data in the admin's maps."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from registry.models import Building, Parcel, SecurityLevel, Shelter
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_wrong_password_is_refused_and_the_right_one_opens_the_landing_page(page):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    log_in(page, "registrar", password="wrong")
    expect(page.locator(".error")).to_contain_text("did not match")
    log_in(page, "registrar")
    expect(page.locator("h1")).to_have_text("Welcome, registrar")
    expect(page.locator("#roles tr.held")).to_contain_text("registrar")
    expect(page.locator("#roles")).to_contain_text("registration_supervisor")
    expect(page.locator("footer")).to_contain_text("OpenStreetMap contributors")
    screenshot(page, "landing")
    assert page.external_requests == []


@pytest.mark.parametrize(
    ("model", "map_id"),
    [("parcel", "id_geom_map"), ("building", "id_footprint_map"), ("shelter", "id_location_map")],
)
def test_admin_lists_the_demo_and_shows_each_on_a_map(page, settings, model, map_id):
    settings.LANDLEDGER_BASEMAP_URL = ""  # plain mode: the page must need nothing from outside
    count = {"parcel": Parcel, "building": Building, "shelter": Shelter}[model].objects.count()
    log_in(page, "administrator")
    page.goto(f"/admin/registry/{model}/")
    expect(page.locator("#result_list")).to_be_visible()
    expect(page.locator(".paginator")).to_contain_text(f"{count} ")
    if model == "parcel":
        # Parcels with registered rights are read-only here; open one without.
        editable = Parcel.objects.filter(title__rights__isnull=True).order_by("unit_code").first()
        page.goto(f"/admin/registry/parcel/{editable.pk}/change/")
    else:
        page.locator("#result_list tbody tr th a").first.click()
    map_canvas = page.locator(f"#{map_id} canvas")
    expect(map_canvas.first).to_be_visible()
    # The geometry is drawn: OpenLayers (served from our static files) holds one feature.
    features = page.evaluate(
        f"""() => {{
            const widget = window.geodjango_{map_id.removeprefix("id_").removesuffix("_map")};
            return widget.featureOverlay.getSource().getFeatures().length;
        }}"""
    )
    assert features == 1
    expect(page.locator("#footer")).to_contain_text("OpenStreetMap contributors")
    expect(page.locator("#footer")).to_contain_text("synthetic")
    screenshot(page, f"admin-{model}")
    assert page.console_errors == []
    assert page.external_requests == []


def test_planner_never_sees_a_classified_shelter(page):
    public = Shelter.objects.filter(classification=SecurityLevel.PUBLIC).count()
    classified = Shelter.objects.exclude(classification=SecurityLevel.PUBLIC)
    assert classified.exists()
    log_in(page, "planner")
    page.goto("/admin/registry/shelter/?all=")
    expect(page.locator(".paginator")).to_contain_text(f"{public} shelter")
    listing = page.content()
    for shelter in classified:
        assert f"/shelter/{shelter.pk}/change/" not in listing
    page.goto("/")
    current = Shelter.objects.filter(classification=SecurityLevel.PUBLIC, valid_to__isnull=True)
    expect(page.locator("#inventory")).to_contain_text(
        f"{current.count()} current shelters you are cleared to see"
    )


def test_parcel_with_registered_rights_is_shown_read_only_with_its_outline(page):
    titled = Parcel.objects.filter(title__rights__isnull=False).first()
    log_in(page, "administrator")
    page.goto(f"/admin/registry/parcel/{titled.pk}/change/")
    expect(page.locator("svg.parcel-outline")).to_be_visible()
    expect(page.locator("input[type=submit][name=_save]")).to_have_count(0)
