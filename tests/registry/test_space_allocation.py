"""Use allocations of office space: registered by acts that list the rooms, refused when a
room is someone else's, of another building, unsurveyed, or above the agency's clearance;
guarded in the database too; sealed in the journal with their rooms."""

import pytest
from django.db import IntegrityError, connection, transaction

from registry.errors import InvalidApplication, RuleViolation
from registry.models import (
    Agency,
    AllocatedBlock,
    OfficeSpaceCap,
    OfficeSpaceStandard,
    RightKind,
    SecurityLevel,
    SpaceBlock,
)
from registry.services.acts import title_of
from registry.services.journal import verify_journal
from tests.registry import factories
from tests.registry.register import party, register

pytestmark = pytest.mark.django_db


def agency(name: str, clearance: int = SecurityLevel.PUBLIC) -> Agency:
    return Agency.objects.create(party=party(name), level="central", clearance=clearance)


@pytest.fixture
def building():
    parcel = factories.parcel()
    parcel.save()
    building = factories.building(parcel=parcel, gross_floor_area_m2=2000.0)
    building.save()
    rooms = SpaceBlock.objects.bulk_create(
        [
            SpaceBlock(building=building, label=f"R{n}", floor=1, kind="office", area_m2=20.0,
                       valid_from=factories.START)
            for n in range(1, 5)
        ]
    )  # fmt: skip
    return building, rooms


def allocate(building, *entries, on="2024-02-01"):
    return register(
        "allocation",
        [title_of(building)],
        {
            "allocations": [
                {"party": a.pk, "blocks": [b.pk for b in blocks]} for a, blocks in entries
            ]
        },
        on,
    )


def current_blocks(agency_) -> set[int]:
    return set(
        AllocatedBlock.objects.filter(
            right__valid_to__isnull=True, right__shares__party=agency_.party
        ).values_list("block_id", flat=True)
    )


def test_an_allocation_registers_one_right_per_agency_listing_its_rooms(building):
    house, rooms = building
    tax, audit = agency("Tax office"), agency("Audit office")
    act = allocate(house, (tax, rooms[:2]), (audit, rooms[2:3]))
    rights = act.rights_registered.order_by("id")
    assert [r.kind for r in rights] == [RightKind.USE_ALLOCATION] * 2
    assert current_blocks(tax) == {rooms[0].pk, rooms[1].pk}
    assert current_blocks(audit) == {rooms[2].pk}
    sealed = act.journal.payload
    assert f'"blocks":[{rooms[0].pk},{rooms[1].pk}]' in sealed
    assert verify_journal().intact


def test_a_reallocation_ends_the_old_right_and_moves_rooms_between_agencies(building):
    house, rooms = building
    tax, audit = agency("Tax office"), agency("Audit office")
    allocate(house, (tax, rooms[:3]))
    act = allocate(house, (tax, rooms[:1]), (audit, rooms[1:3]), on="2024-06-01")
    assert act.rights_cancelled.count() == 1
    assert current_blocks(tax) == {rooms[0].pk}
    assert current_blocks(audit) == {rooms[1].pk, rooms[2].pk}
    # An empty list ends the agency's allocation there.
    allocate(house, (tax, []), on="2024-07-01")
    assert current_blocks(tax) == set()


def test_a_room_held_by_another_agency_is_refused_naming_it(building):
    house, rooms = building
    tax, audit = agency("Tax office"), agency("Audit office")
    allocate(house, (tax, rooms[:1]))
    with pytest.raises(RuleViolation, match="block R1 is allocated to Tax office"):
        allocate(house, (audit, rooms[:1]), on="2024-03-01")


def test_rooms_of_another_building_unsurveyed_or_retired_are_refused(building):
    house, rooms = building
    tax = agency("Tax office")
    other = factories.building(parcel=house.parcel)
    other.save()
    elsewhere = SpaceBlock.objects.create(
        building=other, label="X1", floor=1, kind="office", area_m2=10.0, valid_from=factories.START
    )
    with pytest.raises(InvalidApplication, match=f"block {elsewhere.pk} is not a space block"):
        allocate(house, (tax, [elsewhere]))
    rooms[0].area_m2 = None
    rooms[0].save()
    with pytest.raises(RuleViolation, match="block R1 has no surveyed area"):
        allocate(house, (tax, rooms[:1]))


def test_premises_above_the_agencys_clearance_are_refused(building):
    house, rooms = building
    house.premises_classification = SecurityLevel.SECRET
    house.save()
    with pytest.raises(RuleViolation, match="cleared to level 0, the premises are classified 2"):
        allocate(house, (agency("Tax office"), rooms[:1]))
    allocate(house, (agency("Security bureau", SecurityLevel.SECRET), rooms[:1]))


def test_only_agencies_hold_use_allocations(building):
    house, rooms = building
    shop = party("A shop", kind="enterprise")
    with pytest.raises(InvalidApplication, match=f"party {shop.pk} is not an agency"):
        register(
            "allocation",
            [title_of(house)],
            {"allocations": [{"party": shop.pk, "blocks": [rooms[0].pk]}]},
        )


def test_the_database_refuses_a_room_in_two_current_allocations(building):
    house, rooms = building
    tax, audit = agency("Tax office"), agency("Audit office")
    allocate(house, (tax, rooms[:1]))
    allocate(house, (audit, rooms[1:2]))
    audit_right = AllocatedBlock.objects.get(block=rooms[1]).right
    with pytest.raises(IntegrityError, match="block R1 is already allocated"):
        with transaction.atomic():
            AllocatedBlock.objects.create(right=audit_right, block=rooms[0])
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_standards_are_seeded_with_2014_in_force_and_1999_kept_for_history():
    in_force = OfficeSpaceStandard.objects.get(in_force=True)
    assert in_force.year == 2014 and in_force.use_coefficient == 0.65
    caps = dict(in_force.caps.values_list("rank", "cap_m2_per_person"))
    assert caps == {
        "minister": 54, "vice_minister": 42, "director_general": 24,
        "deputy_director_general": 18, "division": 12, "below_division": 9,
    }  # fmt: skip
    old = OfficeSpaceStandard.objects.get(year=1999)
    assert not old.in_force
    assert dict(old.caps.values_list("rank", "cap_m2_per_person"))["below_division"] == 6
    with pytest.raises(IntegrityError), transaction.atomic():
        OfficeSpaceStandard.objects.filter(pk=old.pk).update(in_force=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        OfficeSpaceCap.objects.create(standard=old, rank="division", cap_m2_per_person=12)


def standard_form(standard: OfficeSpaceStandard, **caps) -> dict:
    rows = list(standard.caps.order_by("id"))
    form = {
        "name": standard.name,
        "year": standard.year,
        "use_coefficient": standard.use_coefficient,
        "note": standard.note,
        "caps-TOTAL_FORMS": len(rows),
        "caps-INITIAL_FORMS": len(rows),
        "caps-MIN_NUM_FORMS": 0,
        "caps-MAX_NUM_FORMS": 1000,
    }
    if standard.in_force:
        form["in_force"] = "on"
    for index, cap in enumerate(rows):
        form[f"caps-{index}-id"] = cap.pk
        form[f"caps-{index}-standard"] = standard.pk
        form[f"caps-{index}-rank"] = cap.rank
        form[f"caps-{index}-cap_m2_per_person"] = caps.get(cap.rank, cap.cap_m2_per_person)
    return form


def test_administrators_edit_standards_in_the_admin_and_planners_cannot(client):
    from registry.roles import Role
    from tests.registry.register import user

    standard = OfficeSpaceStandard.objects.get(in_force=True)
    url = f"/admin/registry/officespacestandard/{standard.pk}/change/"
    client.force_login(user(Role.PLANNER))
    assert client.post(url, standard_form(standard, division=13)).status_code == 403
    client.force_login(user(Role.ADMINISTRATOR))
    assert client.get(url).status_code == 200
    response = client.post(url, standard_form(standard, division=13))
    assert response.status_code == 302
    assert standard.caps.get(rank="division").cap_m2_per_person == 13
    # A second standard in force is refused with a message, not a 500.
    old = OfficeSpaceStandard.objects.get(year=1999)
    form = {**standard_form(old), "in_force": "on"}
    response = client.post(f"/admin/registry/officespacestandard/{old.pk}/change/", form)
    assert response.status_code == 200
    assert "Only one office-space standard can be in force." in response.content.decode()
