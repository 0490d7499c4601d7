"""/space/, its exports and lodging the plan: roles, figures that agree with the report, bad
input stated clearly, and the plan lodged as use-allocation acts that register what it says."""

import csv
import io
import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gis_layers.space_report import SpaceInputError, lodge_plan, space_report
from gis_layers.wording import in_reader_language
from registry.errors import RegisterError
from registry.models import (
    ActStatus,
    ActType,
    AllocatedBlock,
    AuditEvent,
    OfficeSpaceStandard,
    RegistrationAct,
    RightKind,
    SecurityLevel,
    SpaceBlock,
)
from registry.roles import Role
from registry.services.acts import approve_act, examine_act
from registry.services.journal import verify_journal
from tests.registry.register import day, user

pytestmark = pytest.mark.django_db
ANONYMOUS = "anonymous"
MAY_SEE = {Role.PLANNER, Role.REGISTRAR, Role.AUDITOR, Role.ADMINISTRATOR}


def as_role(client, role):
    if role != ANONYMOUS:
        client.force_login(user(role, f"space-{role.value}"))
    return client


@pytest.mark.parametrize("role", [*Role, ANONYMOUS], ids=str)
@pytest.mark.parametrize("url", ["/space/", "/space/export.csv", "/space/export.json"])
def test_the_page_and_exports_are_refused_to_roles_that_must_not_see_them(demo, client, role, url):
    response = as_role(client, role).get(url)
    if role in MAY_SEE:
        assert response.status_code == 200
    elif role == ANONYMOUS:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", [*Role, ANONYMOUS], ids=str)
def test_only_registrars_may_lodge_the_plan(demo, client, role):
    response = as_role(client, role).post("/space/lodge/", {"effective_date": "2026-01-05"})
    if role == Role.REGISTRAR:
        assert response.status_code == 302 and response["Location"] == "/space/"
        assert RegistrationAct.objects.filter(act_type=ActType.ALLOCATION, status="lodged").exists()
    elif role == ANONYMOUS:
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 403
        assert not RegistrationAct.objects.filter(
            act_type=ActType.ALLOCATION, status=ActStatus.LODGED
        ).exists()


def test_the_page_shows_the_reports_figures_map_and_plan(demo, client):
    report = space_report(user=user(Role.PLANNER))
    response = as_role(client, Role.PLANNER).get("/space/")
    page = response.content.decode()
    assert f"{report['totals']['entitlement_m2']:.1f} m²" in page
    assert f"{report['totals']['vacant_m2']:.1f} m²" in page
    assert report["plan"]["status"] == "optimal" and report["plan"]["flows"]
    assert page.count("space-flow") >= len(report["plan"]["flows"])
    for flow in report["plan"]["flows"]:
        assert flow["agency"] in page
    assert page.count('class="chart"') == 3
    # A classified building's premises by the level's name, not its number.
    classified = [b for b in report["buildings"] if b["premises_classification"]]
    assert classified
    for building in classified:
        row = re.search(rf'<tr data-building="{building["building_id"]}">.*?</tr>', page).group(0)
        assert SecurityLevel(building["premises_classification"]).label in row
    # No lodging button for a planner; the registrar has one.
    assert 'id="lodge-plan"' not in page
    registrar = as_role(client, Role.REGISTRAR).get("/space/").content.decode()
    assert 'id="lodge-plan"' in registrar


def test_demo_figures_show_over_standard_deficit_vacancy_and_mismatches(demo):
    report = space_report(user=user(Role.PLANNER))
    assert report["totals"]["over_m2"] > 0 and report["totals"]["deficit_m2"] > 0
    assert any(b["premises_classification"] > 0 for b in report["buildings"])
    kinds = {m["kind"] for m in report["mismatches"]}
    assert {"area_differs", "allocation_without_record", "record_without_allocation"} <= kinds
    subjects = {p["subject"] for p in report["problems"]}
    assert subjects == {"agency", "block"}
    assert report["plan"]["skipped"]  # the administration itself has no seat building


def test_bad_parameters_are_answered_400_with_the_reason(demo, client):
    as_role(client, Role.PLANNER)
    response = client.get("/space/", {"max_distance_m": "-5"})
    assert response.status_code == 400
    assert "greater than or equal to 0" in response.content.decode()
    response = client.get("/space/", {"new_lon": "24.94"})
    assert response.status_code == 400
    assert "longitude, latitude and office use area together" in response.content.decode()
    response = client.get("/space/export.xlsx")
    assert response.status_code == 400 and "choose csv, json or html" in response.content.decode()


def test_only_the_standard_in_force_is_used_the_1999_one_is_refused_everywhere(demo, client):
    """DESIGN.md §6: the 1999 standard's lower caps (9/6) must not be used."""
    superseded = OfficeSpaceStandard.objects.get(year=1999)
    in_force = OfficeSpaceStandard.objects.get(in_force=True)
    refusal = "is not in force and is kept for history only"
    with pytest.raises(SpaceInputError, match=refusal):
        space_report(user=None, clearance=0, standard_id=superseded.pk)
    with pytest.raises(CommandError, match=refusal):
        call_command("space_redistribution", "--standard", str(superseded.pk), stdout=io.StringIO())
    as_role(client, Role.PLANNER)
    page = client.get("/space/").content.decode()
    assert in_force.name in page and superseded.name not in page
    response = client.get("/space/", {"standard": superseded.pk})
    assert response.status_code == 400
    assert client.get("/space/export.json", {"standard": superseded.pk}).status_code == 400
    chosen = client.get("/space/export.json", {"standard": in_force.pk})
    assert chosen.json()["standard"]["id"] == in_force.pk


def test_an_unreachable_plan_is_stated_not_drawn(demo, client):
    response = as_role(client, Role.PLANNER).get("/space/", {"max_distance_m": "10"})
    page = response.content.decode()
    assert response.status_code == 200
    assert '<span class="plan-status" id="plan-status">infeasible</span>' in page
    assert "no building with idle space lies within 10 m of its seat" in page
    assert "space-flow" not in page


def test_exports_agree_with_the_report_and_are_audited(demo, client):
    report = space_report(user=user(Role.AUDITOR))
    as_role(client, Role.AUDITOR)
    data = json.loads(client.get("/space/export.json").content)
    assert data["plan"]["flows"] == json.loads(json.dumps(report["plan"]["flows"]))
    rows = list(csv.reader(io.StringIO(client.get("/space/export.csv").content.decode())))
    assert rows[0][0] == "action"
    gives = [row for row in rows[1:] if row[0] == "give"]
    assert len(gives) == len(report["plan"]["flows"])
    html = client.get("/space/export.html").content.decode()
    assert "Redistribution plan" in html and "Reconciliation" in html
    exports = AuditEvent.objects.filter(action="export", object_type="space_plan")
    assert exports.count() == 3


def test_the_scenario_hands_back_a_building(demo, client):
    report = space_report(user=user(Role.PLANNER))
    vacant = max(report["buildings"], key=lambda b: b["total_m2"] - b["vacant_m2"])
    lon, lat = vacant["point"]
    response = as_role(client, Role.PLANNER).get(
        "/space/", {"new_lon": lon, "new_lat": lat + 0.001, "new_area_m2": 20000}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert 'class="handed-back"' in page


def test_the_command_writes_each_format_and_states_infeasibility(demo, tmp_path):
    for fmt in ("json", "csv", "html"):
        path = tmp_path / f"plan.{fmt}"
        call_command("space_redistribution", "--format", fmt, "--output", str(path),
                     stdout=io.StringIO())  # fmt: skip
        assert path.stat().st_size > 0
    report = json.loads((tmp_path / "plan.json").read_text())
    assert report["plan"]["status"] == "optimal"
    with pytest.raises(CommandError, match="no feasible plan: .* needs"):
        call_command("space_redistribution", "--max-distance", "10", stdout=io.StringIO())
    with pytest.raises(CommandError, match="LON,LAT,AREA_M2"):
        call_command("space_redistribution", "--new-building", "24.9,x", stdout=io.StringIO())


def test_lodging_the_plan_creates_the_expected_acts_and_registers_it(demo):
    registrar, supervisor = user(Role.REGISTRAR), user(Role.SUPERVISOR)
    report = space_report(user=registrar)
    expected = {
        act["building_id"]: {e["agency_id"]: e["blocks"] for e in act["allocations"]}
        for act in report["plan"]["acts"]
    }
    acts = lodge_plan(user=registrar, effective_date=day("2026-01-05"))
    assert len(acts) == len(expected)
    for act in acts:
        assert act.act_type == ActType.ALLOCATION and act.status == ActStatus.LODGED
        building = act.titles.get().building_id
        assert {e["party"]: e["blocks"] for e in act.payload["allocations"]} == expected[building]
    # A second lodging while these are pending is refused before anything is lodged.
    with pytest.raises(ValueError, match="already pending"):
        lodge_plan(user=registrar, effective_date=day("2026-01-05"))
    for act in acts:
        examine_act(act=act, examiner=registrar)
        approve_act(act=act, approver=supervisor)
    for building, entries in expected.items():
        for agency, blocks in entries.items():
            held = set(
                AllocatedBlock.objects.filter(
                    right__title__building_id=building,
                    right__valid_to__isnull=True,
                    right__kind=RightKind.USE_ALLOCATION,
                    right__shares__party_id=agency,
                ).values_list("block_id", flat=True)
            )
            assert held == set(blocks)
    assert verify_journal().intact
    # Once registered, the plan's deficits are met (up to whole rooms) and rooms moved.
    after = space_report(user=registrar)
    given = {f["agency_id"]: f["rooms_m2"] for f in report["plan"]["flows"]}
    before = {a["agency_id"]: a for a in report["agencies"]}
    for agency in after["agencies"]:
        if agency["agency_id"] in given:
            gained = agency["office_m2"] - before[agency["agency_id"]]["office_m2"]
            assert gained == pytest.approx(
                sum(f["rooms_m2"] for f in report["plan"]["flows"]
                    if f["agency_id"] == agency["agency_id"]), abs=0.2
            )  # fmt: skip
    released = {r["room"] for r in report["plan"]["released"]}
    assert released and after["totals"]["over_m2"] < report["totals"]["over_m2"]


def test_a_planner_cannot_lodge_through_the_service(demo):
    with pytest.raises(RegisterError, match="may not lodge"):
        lodge_plan(user=user(Role.PLANNER), effective_date=day("2026-01-05"))


def test_rooms_without_area_and_agencies_without_staff_are_named(demo):
    block = SpaceBlock.objects.filter(area_m2__isnull=False, kind="office").first()
    block.area_m2 = None
    block.save()
    report = space_report(user=user(Role.PLANNER))
    named = [p for p in report["problems"] if p["subject"] == "block" and p["id"] == block.pk]
    assert named and block.label in named[0]["where"]
    assert "no area surveyed" in in_reader_language(named[0]["message"])
    agency = next(p for p in report["problems"] if p["subject"] == "agency")
    row = next(a for a in report["agencies"] if a["agency_id"] == agency["id"])
    assert row["entitlement_m2"] is None and row["deficit_m2"] is None


def test_the_analysis_speaks_the_readers_language_on_the_page_and_in_exports(demo, client):
    block = SpaceBlock.objects.filter(area_m2__isnull=False, kind="office").first()
    block.area_m2 = None
    block.save()
    as_role(client, Role.PLANNER)
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    page = client.get("/space/", {"max_distance_m": "10"}, **chinese).content.decode()
    assert "米范围内没有密级许可允许的、有空置用房的房屋" in page
    assert '<td data-kind="block_without_area">用房单元无面积</td>' in page
    assert '<li data-subject="block">用房单元 <strong>' in page
    assert f"{block.label}</strong>: 未测量面积：不计入任何面积统计，也不纳入方案" in page
    exported = client.get("/space/export.json", {"max_distance_m": "10"}, **chinese).json()
    assert any("米范围内" in reason for reason in exported["plan"]["reasons"])
    # The kept report is the same for both: it holds the sentences, not their words.
    english = client.get("/space/export.json", {"max_distance_m": "10"}).json()
    assert any(
        "no building with idle space lies within 10 m" in r for r in english["plan"]["reasons"]
    )
