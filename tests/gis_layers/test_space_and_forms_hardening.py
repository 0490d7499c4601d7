"""Civil-defence space of a classified shelter stays out of the office-space figures, plan,
exports and admin for users not cleared to see the shelter; and forms sent back with their
errors (coverage runs, inspections, lodging the plan) answer 400, an unknown coverage
report format a 404 that says which formats there are."""

import datetime
import io
import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gis_layers.coverage import CoverageOptions, start_run
from gis_layers.models import CoverageRun
from gis_layers.space_report import lodge_plan, space_report
from registry.errors import InvalidApplication
from registry.models import (
    ActStatus,
    ActType,
    AllocatedBlock,
    Building,
    Clearance,
    RegistrationAct,
    Right,
    RightKind,
    SecurityLevel,
    Shelter,
    ShelterInspection,
    SpaceBlock,
    SpaceKind,
    Title,
)
from registry.roles import Role
from registry.services.acts import approve_act, examine_act, lodge_act
from tests.registry import factories
from tests.registry.register import day, user

pytestmark = pytest.mark.django_db
LABEL = "B2-CD-7"
AREA_M2 = 321.5


def shelter_under(building: Building, level: int = SecurityLevel.INTERNAL) -> Shelter:
    shelter = factories.shelter(
        name=f"Shelter under {building}",
        building=building,
        classification=level,
        location=building.footprint.point_on_surface,
    )
    shelter.save()
    return shelter


def add_civil_defence_block(building: Building) -> SpaceBlock:
    """The shelter's space, as an administrator enters it in the block inventory."""
    return SpaceBlock.objects.create(
        building=building,
        label=LABEL,
        floor=-2,
        kind=SpaceKind.CIVIL_DEFENCE,
        area_m2=AREA_M2,
        valid_from=building.valid_from,
    )


@pytest.fixture
def office(demo) -> Building:
    """An office building with space blocks, over a shelter classified internal."""
    building = (
        Building.objects.filter(
            valid_to__isnull=True, space_blocks__isnull=False, shelters__isnull=True
        )
        .distinct()
        .order_by("pk")
        .first()
    )
    shelter_under(building)
    return building


def building_row(report: dict, building: Building) -> dict:
    return next(row for row in report["buildings"] if row["building_id"] == building.pk)


def shown_total(page: str, building: Building) -> str:
    """The use area the page's buildings table gives the building."""
    row = re.search(
        rf'<tr data-building="{building.pk}"><td>[^<]*</td><td class="n">([^<]*)</td>', page
    )
    return row.group(1)


def test_a_planners_figures_and_plan_are_as_if_the_block_did_not_exist(office):
    planner, auditor = user(Role.PLANNER), user(Role.AUDITOR)
    before = space_report(user=planner)
    add_civil_defence_block(office)
    after = space_report(user=planner)
    for part in ("totals", "buildings", "agencies", "mismatches", "problems"):
        assert after[part] == before[part], part
    for part in ("status", "flows", "released", "acts"):
        assert after["plan"][part] == before["plan"][part], part
    # An auditor is cleared to 'confidential': the block is counted, vacant.
    cleared = space_report(user=auditor)
    hidden, counted = building_row(after, office), building_row(cleared, office)
    assert counted["total_m2"] == pytest.approx(hidden["total_m2"] + AREA_M2, abs=0.1)
    assert counted["vacant_m2"] == pytest.approx(hidden["vacant_m2"] + AREA_M2, abs=0.1)
    assert counted["blocks"] == hidden["blocks"] + 1
    assert cleared["totals"]["vacant_m2"] == pytest.approx(
        after["totals"]["vacant_m2"] + AREA_M2, abs=0.1
    )


def test_the_page_exports_and_admin_leave_it_out_for_users_not_cleared(office, client):
    block = add_civil_defence_block(office)
    hidden = building_row(space_report(user=user(Role.PLANNER)), office)["total_m2"]
    counted = building_row(space_report(user=user(Role.AUDITOR)), office)["total_m2"]
    assert counted == pytest.approx(hidden + AREA_M2, abs=0.1)

    client.force_login(user(Role.PLANNER))
    exported = json.loads(client.get("/space/export.json").content)
    assert building_row(exported, office)["total_m2"] == hidden
    client.force_login(user(Role.REGISTRAR))
    for url in ("/space/", "/space/export.html"):
        assert shown_total(client.get(url).content.decode(), office) == f"{hidden:.1f}", url
    client.force_login(user(Role.AUDITOR))
    exported = json.loads(client.get("/space/export.json").content)
    assert building_row(exported, office)["total_m2"] == counted

    client.force_login(user(Role.PLANNER))
    listed = client.get("/admin/registry/spaceblock/", {"q": LABEL})
    assert listed.status_code == 200 and listed.context["cl"].result_count == 0
    # Its change page answers as for a block that does not exist.
    change = client.get(f"/admin/registry/spaceblock/{block.pk}/change/")
    assert change.status_code == 302 and change["Location"] == "/admin/"
    client.force_login(user(Role.ADMINISTRATOR))
    listed = client.get("/admin/registry/spaceblock/", {"q": LABEL})
    assert [found.pk for found in listed.context["cl"].result_list] == [block.pk]


def test_only_a_current_classified_shelter_hides_the_space(office):
    planner = user(Role.PLANNER)
    before = building_row(space_report(user=planner), office)["total_m2"]
    add_civil_defence_block(office)
    assert building_row(space_report(user=planner), office)["total_m2"] == before
    # Once the shelter is retired there is nothing classified left for the block to reveal.
    office.shelters.update(valid_to=datetime.date(2026, 1, 1))
    after = building_row(space_report(user=planner), office)["total_m2"]
    assert after == pytest.approx(before + AREA_M2, abs=0.1)


def test_the_command_counts_it_only_at_the_clearance_it_is_given(office, tmp_path):
    add_civil_defence_block(office)
    totals = {}
    for clearance in ("public", "internal"):
        path = tmp_path / f"plan-{clearance}.json"
        call_command("space_redistribution", "--format", "json", "--output", str(path),
                     "--clearance", clearance, stdout=io.StringIO())  # fmt: skip
        totals[clearance] = building_row(json.loads(path.read_text()), office)["total_m2"]
    assert totals["internal"] == pytest.approx(totals["public"] + AREA_M2, abs=0.1)
    # Without --clearance the command sees what a user without clearance sees.
    path = tmp_path / "plan.json"
    call_command("space_redistribution", "--format", "json", "--output", str(path),
                 stdout=io.StringIO())  # fmt: skip
    assert building_row(json.loads(path.read_text()), office)["total_m2"] == totals["public"]
    with pytest.raises(CommandError, match="lodged at the user's clearance"):
        call_command("space_redistribution", "--clearance", "secret", "--lodge-as", "x",
                     stdout=io.StringIO())  # fmt: skip


def test_lodging_keeps_the_rooms_the_registrar_cannot_see(demo):
    """The act states an agency's whole allocation in a building: a room hidden from the
    registrar stays allocated instead of being dropped from it."""
    registrar, supervisor = user(Role.REGISTRAR), user(Role.SUPERVISOR)
    plan = space_report(user=registrar)["plan"]
    reclaimed = plan["released"][0]
    building = Building.objects.get(pk=reclaimed["building_id"])
    agency = reclaimed["agency_id"]
    shelter_under(building)
    block = add_civil_defence_block(building)
    right = Right.objects.get(
        title__building=building,
        kind=RightKind.USE_ALLOCATION,
        valid_to__isnull=True,
        shares__party_id=agency,
    )
    AllocatedBlock.objects.create(right=right, block=block)
    assert space_report(user=registrar)["plan"]["acts"] == plan["acts"]

    acts = lodge_plan(user=registrar, effective_date=day("2026-01-05"))
    act = next(act for act in acts if act.titles.get().building_id == building.pk)
    # The act lists only what the registrar sees; lodging notes the room hidden from them.
    assert block.pk not in {b for entry in act.payload["allocations"] for b in entry["blocks"]}
    assert block.pk in act.payload["hidden_from_lodger"]
    examine_act(act=act, examiner=registrar)
    approve_act(act=act, approver=supervisor)
    held = AllocatedBlock.objects.filter(
        right__title__building=building,
        right__kind=RightKind.USE_ALLOCATION,
        right__valid_to__isnull=True,
        right__shares__party_id=agency,
    ).values_list("block_id", flat=True)
    assert block.pk in held
    assert reclaimed["room"] not in set(
        SpaceBlock.objects.filter(pk__in=held).values_list("label", flat=True)
    )


def hidden_room_allocated(building: Building) -> tuple[SpaceBlock, Right]:
    """The building's civil-defence room, under an internal shelter, in a current use
    allocation of one of the building's agencies."""
    shelter_under(building)
    block = add_civil_defence_block(building)
    right = Right.objects.filter(
        title__building=building, kind=RightKind.USE_ALLOCATION, valid_to__isnull=True
    ).first()
    AllocatedBlock.objects.create(right=right, block=block)
    return block, right


def allocation_act(*, building: Building, agency: int, blocks: list[int], lodger):
    act = lodge_act(
        act_type=ActType.ALLOCATION,
        titles=[Title.objects.get(building=building)],
        payload={"allocations": [{"party": agency, "blocks": blocks}]},
        effective_date=day("2026-01-05"),
        lodged_by=lodger,
    )
    examine_act(act=act, examiner=lodger)
    return act


def test_an_uncleared_lodger_can_neither_name_nor_end_a_hidden_room(office):
    block, right = hidden_room_allocated(office)
    agency = right.shares.get().party_id
    registrar, supervisor = user(Role.REGISTRAR), user(Role.SUPERVISOR)
    visible = [
        b for b in right.allocated_blocks.values_list("block_id", flat=True) if b != block.pk
    ]
    acts = RegistrationAct.objects.count()
    with pytest.raises(InvalidApplication) as refused:
        allocation_act(building=office, agency=agency, blocks=[block.pk], lodger=registrar)
    assert f"block {block.pk} is not a space block of this building" in str(refused.value)
    assert RegistrationAct.objects.count() == acts
    # Ending the agency's whole allocation, as the registrar sees it, leaves the room with it,
    # even when the shelter is declassified before the act is approved.
    ending = allocation_act(building=office, agency=agency, blocks=visible[:1], lodger=registrar)
    Shelter.objects.filter(building=office).update(classification=SecurityLevel.PUBLIC)
    approve_act(act=ending, approver=supervisor)
    held = AllocatedBlock.objects.filter(
        right__title__building=office,
        right__valid_to__isnull=True,
        right__shares__party_id=agency,
    ).values_list("block_id", flat=True)
    assert sorted(held) == sorted(visible[:1] + [block.pk])


def test_an_allocation_acts_page_and_api_leave_out_the_rooms_hidden_from_the_reader(office, client):
    block, right = hidden_room_allocated(office)
    agency = right.shares.get().party_id
    cleared = user(Role.REGISTRAR, "cleared-registrar")
    Clearance.objects.update_or_create(user=cleared, defaults={"level": SecurityLevel.INTERNAL})
    act = allocation_act(building=office, agency=agency, blocks=[block.pk], lodger=cleared)
    assert act.payload["allocations"][0]["blocks"] == [block.pk]
    for reader, sees in [(user(Role.SUPERVISOR), False), (cleared, True)]:
        client.force_login(reader)
        page = client.get(f"/registry/acts/{act.pk}/")
        assert page.status_code == 200
        lodged = json.loads(page.context["payload_json"])
        assert (lodged["allocations"][0]["blocks"] == [block.pk]) is sees
        rooms = dict((label, value) for _, label, value in page.context["application"])
        assert (rooms["Rooms (space blocks)"] == str(block.pk)) is sees
        shown = client.get(f"/api/acts/{act.pk}/").json()["payload"]
        assert (shown["allocations"][0]["blocks"] == [block.pk]) is sees, reader
        assert shown["allocations"][0]["blocks"] in ([], [block.pk])


def test_a_cleared_lodger_may_end_the_allocation_of_a_hidden_room(office):
    block, right = hidden_room_allocated(office)
    agency = right.shares.get().party_id
    registrar = user(Role.REGISTRAR, "cleared-registrar")
    Clearance.objects.update_or_create(user=registrar, defaults={"level": SecurityLevel.INTERNAL})
    act = allocation_act(building=office, agency=agency, blocks=[], lodger=registrar)
    approve_act(act=act, approver=user(Role.SUPERVISOR))
    assert not AllocatedBlock.objects.filter(block=block, right__valid_to__isnull=True).exists()


def test_the_allocated_rooms_admin_leaves_out_the_hidden_rooms(office, client):
    block = add_civil_defence_block(office)
    right = (
        Right.objects.filter(
            title__building=office, kind=RightKind.USE_ALLOCATION, valid_to__isnull=True
        ).first()
        or Right.objects.filter(kind=RightKind.USE_ALLOCATION, valid_to__isnull=True).first()
    )
    allocated = AllocatedBlock.objects.create(right=right, block=block)
    for role, sees in [(Role.PLANNER, False), (Role.AUDITOR, True)]:
        client.force_login(user(role))
        listed = client.get("/admin/registry/allocatedblock/")
        assert listed.status_code == 200, role
        # The whole list, not its first page.
        shown = listed.context["cl"].queryset.filter(pk=allocated.pk).exists()
        assert shown is sees, role


def test_a_coverage_run_with_too_many_sites_is_refused_400(demo, client):
    client.force_login(user(Role.PLANNER))
    runs = CoverageRun.objects.count()
    response = client.post(
        "/shelters/coverage/", {"mode": "straight", "shelter_types": ["personnel"], "sites": 51}
    )
    assert response.status_code == 400
    assert "less than or equal to 50" in response.content.decode()
    assert CoverageRun.objects.count() == runs


@pytest.mark.parametrize(
    "data, message",
    [
        ({"inspected_on": "2999-01-01", "inspector": "Li Lei", "condition": "fair"},
         "is in the future"),
        ({}, "This field is required."),
    ],
    ids=["future", "empty"],
)  # fmt: skip
def test_a_refused_inspection_answers_400_with_the_reason(demo, client, data, message):
    shelter = Shelter.objects.filter(classification=SecurityLevel.PUBLIC).order_by("pk").first()
    client.force_login(user(Role.CIVIL_DEFENCE))
    response = client.post(f"/shelters/{shelter.pk}/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ShelterInspection.objects.filter(shelter=shelter, inspector="Li Lei").exists()


def test_lodging_on_an_impossible_date_answers_400_with_the_page(demo, client):
    client.force_login(user(Role.REGISTRAR))
    response = client.post("/space/lodge/", {"effective_date": "2026-02-30"})
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="lodge-plan"' in page and 'value="2026-02-30"' in page
    assert "Enter the date as YYYY-MM-DD." in page
    assert 'id="plan-status">optimal<' in page
    assert not RegistrationAct.objects.filter(
        act_type=ActType.ALLOCATION, status=ActStatus.LODGED
    ).exists()


def test_an_unknown_report_format_answers_404_naming_the_formats(demo, client):
    planner = user(Role.PLANNER)
    run = start_run(user=planner, options=CoverageOptions())
    client.force_login(planner)
    response = client.get(f"/shelters/coverage/{run.pk}/report.xml")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "json, csv, html" in response.content.decode()
