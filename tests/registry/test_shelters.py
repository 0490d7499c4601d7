"""The shelter inventory: inspections, the share in good order by district, overdue lists,
and clearance on each."""

import datetime

import pytest
from django.utils import timezone

from registry.errors import InvalidApplication, NotAllowed
from registry.models import AuditEvent, District, SecurityLevel, Shelter
from registry.roles import Role
from registry.selectors import shelter_inventory
from registry.services.shelters import record_inspection
from tests.registry import factories
from tests.registry.register import user

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2026, 6, 30)


@pytest.fixture
def district_shelters(db):
    """Four shelters in a district of their own: two good, one poor, one secret and fair."""
    district = District.objects.create(
        code="110106", name="丰台区", boundary=factories.square(116.30, 39.80, side=0.05)
    )
    made = {}
    for name, condition, level in [
        ("good one", "good", SecurityLevel.PUBLIC),
        ("good two", "good", SecurityLevel.PUBLIC),
        ("poor one", "poor", SecurityLevel.PUBLIC),
        ("secret fair", "fair", SecurityLevel.SECRET),
    ]:
        made[name] = factories.shelter(
            name=name, condition=condition, classification=level,
            location=factories.Point(116.31, 39.81, srid=4490),
        )  # fmt: skip
        made[name].save()
    return district, made


def inspect(shelter, on, condition="good", who=Role.CIVIL_DEFENCE, **extra):
    return record_inspection(
        shelter=shelter, inspected_on=on, inspector=extra.pop("inspector", "Wang Fang"),
        condition=condition, findings=extra.pop("findings", ""), user=user(who),
    )  # fmt: skip


def district_row(inventory, name="丰台区"):
    return next(row for row in inventory["districts"] if row["district"] == name)


def test_good_order_share_and_overdue_by_district(district_shelters):
    _, shelters = district_shelters
    inspect(shelters["good one"], TODAY - datetime.timedelta(days=30))
    inspect(shelters["good two"], TODAY - datetime.timedelta(days=400))
    inspect(shelters["secret fair"], TODAY - datetime.timedelta(days=10), "fair")
    officer = shelter_inventory(user=user(Role.CIVIL_DEFENCE), on=TODAY)
    row = district_row(officer)
    assert row["shelters"] == 4 and row["by_condition"]["good"] == 2
    assert row["good_share"] == 0.5
    overdue = {item["shelter"].name for item in officer["overdue"] if item["district"] == "丰台区"}
    # 400 days ago is past the yearly interval; "poor one" was never inspected.
    assert overdue == {"good two", "poor one"}
    # A planner is not cleared for the secret shelter: it is in no figure.
    planner = district_row(shelter_inventory(user=user(Role.PLANNER), on=TODAY))
    assert planner["shelters"] == 3 and planner["good_share"] == pytest.approx(2 / 3)


def test_the_latest_inspection_sets_the_condition_and_is_audited(district_shelters):
    _, shelters = district_shelters
    shelter = shelters["good one"]
    inspect(shelter, datetime.date(2026, 3, 1), "poor", findings="seal perished")
    assert Shelter.objects.get(pk=shelter.pk).condition == "poor"
    # An older inspection recorded late does not overrule the newer one.
    inspect(shelter, datetime.date(2025, 3, 1), "good")
    assert Shelter.objects.get(pk=shelter.pk).condition == "poor"
    assert (
        AuditEvent.objects.filter(action="inspect_shelter", object_id=str(shelter.pk)).count() == 2
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"on": timezone.localdate() + datetime.timedelta(days=1)}, "is in the future"),
        ({"on": datetime.date(2000, 1, 1)}, "before the shelter existed"),
        ({"condition": "splendid"}, "unknown condition"),
        ({"inspector": "  "}, "name the inspector"),
    ],
)
def test_bad_inspections_are_refused_and_nothing_is_written(district_shelters, change, message):
    _, shelters = district_shelters
    shelter = shelters["good one"]
    on = change.pop("on", datetime.date(2026, 1, 5))
    with pytest.raises(InvalidApplication, match=message):
        inspect(shelter, on, **change)
    assert not shelter.inspections.exists()
    assert Shelter.objects.get(pk=shelter.pk).condition == "good"


def test_only_cleared_officers_may_record(district_shelters):
    _, shelters = district_shelters
    with pytest.raises(NotAllowed):
        inspect(shelters["good one"], TODAY, who=Role.PLANNER)
    # The auditor may read everything but records nothing.
    with pytest.raises(NotAllowed):
        inspect(shelters["good one"], TODAY, who=Role.AUDITOR)
    assert not shelters["good one"].inspections.exists()


def test_inventory_and_inspection_pages(client, district_shelters):
    _, shelters = district_shelters
    client.force_login(user(Role.CIVIL_DEFENCE))
    page = client.get("/shelters/")
    assert page.status_code == 200 and "丰台区" in page.content.decode()
    detail = f"/shelters/{shelters['poor one'].pk}/"
    response = client.post(
        detail,
        {"inspected_on": "2026-01-05", "inspector": "Li Lei", "condition": "fair", "findings": ""},
    )
    assert response.status_code == 302
    assert Shelter.objects.get(pk=shelters["poor one"].pk).condition == "fair"
    refused = client.post(
        detail, {"inspected_on": "2999-01-05", "inspector": "Li Lei", "condition": "fair"}
    )
    assert refused.status_code == 400 and "is in the future" in refused.content.decode()
    # Not cleared: the secret shelter does not exist for a planner.
    client.force_login(user(Role.PLANNER))
    assert client.get(f"/shelters/{shelters['secret fair'].pk}/").status_code == 404
    assert (
        client.post(
            detail, {"inspected_on": "2026-01-06", "inspector": "X", "condition": "good"}
        ).status_code
        == 403
    )
    assert "secret fair" not in client.get("/shelters/").content.decode()
    client.force_login(user(Role.REGISTRAR))
    assert client.get(detail).status_code == 403


def test_admin_lists_inspections_but_records_none(client, district_shelters):
    _, shelters = district_shelters
    inspect(shelters["good one"], TODAY, inspector="Zhao Min")
    client.force_login(user(Role.ADMINISTRATOR))
    page = client.get(f"/admin/registry/shelter/{shelters['good one'].pk}/change/")
    content = page.content.decode()
    assert page.status_code == 200 and "Zhao Min" in content
    # Listed, not editable: no input for an inspection's fields.
    assert 'name="inspections-0-inspector"' not in content
