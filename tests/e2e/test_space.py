"""/space/ in Chromium: the map with buildings, agencies and the plan's flows, the tables
and charts; a registrar lodges the plan and the expected use-allocation acts are lodged."""

import pytest
from playwright.sync_api import expect

from gis_layers.space_report import space_report
from registry.models import ActStatus, ActType, RegistrationAct
from registry.roles import Role
from registry.services.acts import examine_act, reject_act
from tests.e2e.conftest import log_in
from tests.e2e.test_login_and_admin import screenshot
from tests.registry.register import user

pytestmark = pytest.mark.e2e


def test_space_page_shows_map_flows_and_tables(page, settings):
    settings.LANDLEDGER_BASEMAP_URL = ""  # plain mode: the page needs nothing from outside
    report = space_report(user=user(Role.PLANNER, "planner"))
    plan = report["plan"]
    assert plan["status"] == "optimal" and plan["flows"]
    log_in(page, "planner")
    page.goto("/space/")
    expect(page.locator("#map-frame .leaflet-container")).to_be_visible()
    # Every flow is drawn (a line, or a ring where the space is in the agency's own building).
    expect(page.locator("#map-frame path.space-flow")).to_have_count(len(plan["flows"]))
    expect(page.locator("#map-frame path.space-building")).to_have_count(
        len([b for b in report["buildings"] if b["point"]])
    )
    assert page.locator("#map-frame div.space-agency").count() == len(
        [a for a in report["agencies"] if a["seat"]]
    )
    expect(page.locator("table.plan-flows tr")).to_have_count(len(plan["flows"]) + 1)
    expect(page.locator("table.agencies tr")).to_have_count(len(report["agencies"]) + 1)
    expect(page.locator("svg.chart")).to_have_count(3)
    expect(page.locator("#plan-status")).to_have_text("optimal")
    expect(page.locator("#total-over")).to_have_text(f"{report['totals']['over_m2']:.1f} m²")
    expect(page.locator("#lodge-plan")).to_have_count(0)  # planners do not lodge
    page.locator("#map-frame path.space-flow").first.hover()
    expect(page.locator(".leaflet-tooltip")).to_contain_text("m²")
    screenshot(page, "space")
    assert page.external_requests == [] and page.console_errors == []


def test_a_registrar_lodges_the_plan_as_use_allocation_acts(page, settings):
    settings.LANDLEDGER_BASEMAP_URL = ""
    expected = {
        act["building_id"]: {e["agency_id"]: e["blocks"] for e in act["allocations"]}
        for act in space_report(user=user(Role.REGISTRAR, "registrar"))["plan"]["acts"]
    }
    before = set(RegistrationAct.objects.values_list("pk", flat=True))
    log_in(page, "registrar")
    page.goto("/space/")
    page.fill("#id_effective_date", "2026-01-05")
    page.click("#lodge-plan button[type=submit]")
    expect(page.locator(".messages .success")).to_contain_text(
        f"Lodged {len(expected)} use-allocation acts"
    )
    lodged = RegistrationAct.objects.exclude(pk__in=before)
    assert lodged.count() == len(expected)
    for act in lodged:
        assert act.act_type == ActType.ALLOCATION and act.status == ActStatus.LODGED
        assert act.lodged_by.username == "registrar"
        building = act.titles.get().building_id
        assert {e["party"]: e["blocks"] for e in act.payload["allocations"]} == expected[building]
    # A second press while they are pending is refused, and says why.
    page.click("#lodge-plan button[type=submit]")
    expect(page.locator(".messages .error")).to_contain_text("already pending")
    assert RegistrationAct.objects.exclude(pk__in=before).count() == len(expected)
    screenshot(page, "space_lodged")
    # Leave the register as it was for the other browser tests: a supervisor rejects them.
    supervisor = user(Role.SUPERVISOR, "e2e-space-supervisor")
    for act in lodged:
        examine_act(act=act, examiner=user(Role.REGISTRAR, "e2e-space-registrar"))
        reject_act(act=act, decider=supervisor, reason="browser test of lodging")
    assert page.console_errors == []
