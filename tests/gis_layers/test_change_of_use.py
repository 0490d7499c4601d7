"""转变用途: a change of a parcel's use goes through the register's acts and is checked
against the plan, by area share, through the crosswalk of classification systems."""

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from gis_layers.models import ZoningArea
from gis_layers.planning import conforms, planned_use_of
from registry.errors import RuleViolation
from registry.models import Parcel
from registry.roles import Role
from registry.services.acts import approve_act, examine_act, lodge_act
from registry.services.journal import verify_journal
from tests.registry import factories
from tests.registry.register import day, holders, parcel_with_title, party, user

pytestmark = pytest.mark.django_db
X, Y, SIDE = 118.0, 31.0, 0.0006


def zoned_parcel():
    """A square parcel, its west two thirds planned 0801, its east third 1401 (parks)."""
    parcel, title = parcel_with_title(geom=factories.square(x=X, y=Y, side=SIDE))
    cut = X + SIDE * 2 / 3
    for planned, box in (
        ("0801", (X - 0.001, Y - 0.001, cut, Y + 0.002)),
        ("1401", (cut, Y - 0.001, X + 0.002, Y + 0.002)),
    ):
        ZoningArea.objects.create(
            planned_use=planned,
            plan_name="test plan",
            geom=MultiPolygon(Polygon.from_bbox(box), srid=4490),
        )
    return parcel, title


def change_use(title, land_use, reason=""):
    registrar = user(Role.REGISTRAR)
    title.refresh_from_db()
    act = lodge_act(
        act_type="change",
        titles=[title],
        lodged_by=registrar,
        effective_date=day("2025-06-01"),
        payload={"land_use": land_use, "override_reason": reason},
    )
    examine_act(act=act, examiner=registrar)
    return approve_act(act=act, approver=user(Role.SUPERVISOR))


def test_the_planned_use_over_most_of_a_parcel_and_its_share():
    parcel, _ = zoned_parcel()
    code, share = planned_use_of(parcel)
    assert code == "0801"
    assert share == pytest.approx(2 / 3, abs=0.01)


def test_crosswalk_decides_conformity_at_either_level():
    assert conforms("0801", "0801") and conforms("0801", "08") and conforms("0810", "1401")
    assert not conforms("0505", "0801") and not conforms("0701", "14")


def test_conforming_change_of_use_is_registered_and_sealed():
    parcel, title = zoned_parcel()
    Parcel.objects.filter(pk=parcel.pk).update(land_use_id="0701")
    change_use(title, "0801")
    parcel.refresh_from_db()
    assert parcel.land_use_id == "0801"
    assert verify_journal().intact


def test_change_against_the_plan_needs_an_override_reason():
    parcel, title = zoned_parcel()
    with pytest.raises(RuleViolation) as refusal:
        change_use(title, "0505")
    assert refusal.value.rule == "not_conforming_to_plan"
    assert "gives 0801 for 67% of the parcel" in refusal.value.message
    parcel.refresh_from_db()
    assert parcel.land_use_id == "0801"
    change_use(title, "0505", reason="interim use approved by the municipal government")
    parcel.refresh_from_db()
    assert parcel.land_use_id == "0505"


def test_parcel_no_plan_covers_may_change_use():
    parcel, title = parcel_with_title(geom=factories.square(x=118.5, y=31.5))
    change_use(title, "0505")
    parcel.refresh_from_db()
    assert parcel.land_use_id == "0505"


def test_a_lodged_change_of_use_shows_as_pending_in_the_map_popup(client):
    parcel, title = zoned_parcel()
    lodge_act(
        act_type="change",
        titles=[title],
        lodged_by=user(Role.REGISTRAR),
        effective_date=day("2025-06-01"),
        payload={"land_use": "0805", "override_reason": ""},
    )
    client.force_login(user(Role.PLANNER))
    popup = client.get(f"/map/popup/parcels/{parcel.pk}/").content.decode()
    assert "Pending" in popup and "→ 0805" in popup


def test_a_lodged_seizure_is_pending_only_for_roles_that_may_read_acts(client):
    parcel, title = zoned_parcel()
    for act_type, payload in [
        ("change", {"land_use": "0805", "override_reason": ""}),
        ("seizure", {**holders(party("Court")), "description": "court order"}),
    ]:
        lodge_act(
            act_type=act_type,
            titles=[title],
            lodged_by=user(Role.REGISTRAR),
            effective_date=day("2025-06-01"),
            payload=payload,
        )
    for role, sees_the_seizure in [
        (Role.PLANNER, False),
        (Role.CIVIL_DEFENCE, False),
        (Role.REGISTRAR, True),
    ]:
        client.force_login(user(role))
        popup = client.get(f"/map/popup/parcels/{parcel.pk}/").content.decode()
        assert "→ 0805" in popup, role
        assert ("seizure" in popup) is sees_the_seizure, role
