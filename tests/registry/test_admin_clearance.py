"""The register's admin lists, the audit log and the history of row changes leave out what
would give a classified shelter away to a user not cleared for it: its title, rights, acts,
certificates and journal entries, its rows' history and the audit events about it."""

import pytest

from registry.models import (
    AuditEvent,
    Clearance,
    HistoryEvent,
    RightKind,
    SecurityLevel,
)
from registry.roles import Role
from registry.services.acts import title_of
from registry.services.shelters import record_inspection
from tests.registry import factories
from tests.registry.register import (
    holders,
    land_use_right,
    parcel_with_title,
    party,
    register,
    user,
)

pytestmark = pytest.mark.django_db
NAME = "Command post 7"


@pytest.fixture
def secret_title():
    """A secret shelter with its title, a registered state ownership and an inspection."""
    parcel, _ = parcel_with_title()
    building = factories.building(parcel=parcel)
    building.save()
    shelter = factories.shelter(classification=SecurityLevel.SECRET, name=NAME, building=building)
    shelter.save()
    title = title_of(shelter)
    act = register(
        "first",
        [title],
        {"right": {"kind": RightKind.BUILDING_OWNERSHIP, **holders(party("State"))}},
    )
    officer = user(Role.CIVIL_DEFENCE, "cleared-officer")
    Clearance.objects.update_or_create(user=officer, defaults={"level": SecurityLevel.SECRET})
    record_inspection(
        shelter=shelter,
        inspected_on=act.effective_date,
        inspector="Inspector",
        condition="good",
        findings="",
        user=officer,
    )
    return title, act


def auditor(level: int):
    """An auditor (reads everything) with the given clearance."""
    reader = user(Role.AUDITOR, f"auditor-{level}")
    Clearance.objects.update_or_create(user=reader, defaults={"level": level})
    return reader


def listed(client, reader, model: str) -> set:
    client.force_login(reader)
    response = client.get(f"/admin/registry/{model}/")
    assert response.status_code == 200, model
    return set(response.context["cl"].queryset.values_list("pk", flat=True))


@pytest.mark.parametrize(
    "model, rows_of",
    [
        ("title", lambda title, act: {title.pk}),
        ("right", lambda title, act: set(title.rights.values_list("pk", flat=True))),
        ("registrationact", lambda title, act: {act.pk}),
        ("certificate", lambda title, act: set(act.certificates.values_list("pk", flat=True))),
        ("journalentry", lambda title, act: {act.journal.pk}),
    ],
)
def test_the_register_admin_leaves_out_the_rows_of_a_hidden_shelter(
    client, secret_title, model, rows_of
):
    rows = rows_of(*secret_title)
    assert rows, "the fixture made such rows"
    assert not rows & listed(client, user(Role.REGISTRAR), model)
    assert not rows & listed(client, auditor(SecurityLevel.INTERNAL), model)
    assert rows <= listed(client, auditor(SecurityLevel.CONFIDENTIAL), model)


def test_a_raw_act_payload_is_shown_in_the_admin_only_to_users_cleared_for_everything(client):
    _, title = parcel_with_title()
    right = land_use_right(title, party("Holder"))
    act = right.registered_by
    for reader, shown in [
        (user(Role.REGISTRAR), False),
        (auditor(SecurityLevel.SECRET), False),
        (auditor(SecurityLevel.CONFIDENTIAL), True),
    ]:
        client.force_login(reader)
        page = client.get(f"/admin/registry/registrationact/{act.pk}/change/")
        assert page.status_code == 200
        assert ("field-payload" in page.content.decode()) is shown, reader


def test_history_and_audit_leave_out_a_hidden_shelters_rows_and_events(client, secret_title):
    title, _ = secret_title
    shelter = title.shelter
    shelter_rows = HistoryEvent.objects.filter(
        table_name="registry_shelter", row_pk=str(shelter.pk)
    ).values_list("pk", flat=True)
    assert shelter_rows
    uncleared, cleared = auditor(SecurityLevel.INTERNAL), auditor(SecurityLevel.CONFIDENTIAL)
    assert not set(shelter_rows) & listed(client, uncleared, "historyevent")
    assert set(shelter_rows) <= listed(client, cleared, "historyevent")
    inspected = AuditEvent.objects.get(action="inspect_shelter", object_id=str(shelter.pk))
    for reader, sees in [(uncleared, False), (cleared, True)]:
        assert (inspected.pk in listed(client, reader, "auditevent")) is sees, reader
        page = client.get("/registry/audit/", {"object": str(shelter.pk)})
        assert (inspected in page.context["page"].object_list) is sees, reader
        assert ("inspect_shelter" in page.content.decode()) is sees, reader


def test_a_shelter_export_is_in_the_log_only_for_users_cleared_as_far_as_its_exporter(
    client, demo, tmp_path
):
    """Its row count would give away how many shelters are hidden from the reader."""
    from gis_layers.exports import export_layer

    officer = user(Role.CIVIL_DEFENCE, "cleared-officer")
    Clearance.objects.update_or_create(user=officer, defaults={"level": SecurityLevel.SECRET})
    planner = user(Role.PLANNER)
    export_layer(kind="shelters", path=tmp_path / "secret.gpkg", user=officer)
    export_layer(kind="shelters", path=tmp_path / "public.gpkg", user=planner)
    by_file = {event.object_id: event.pk for event in AuditEvent.objects.filter(action="export")}
    assert set(by_file) == {"secret.gpkg", "public.gpkg"}
    for level, seen in [
        (SecurityLevel.PUBLIC, {"public.gpkg"}),
        (SecurityLevel.SECRET, {"secret.gpkg", "public.gpkg"}),
        (SecurityLevel.CONFIDENTIAL, {"secret.gpkg", "public.gpkg"}),
    ]:
        events = listed(client, auditor(level), "auditevent")
        assert {name for name, pk in by_file.items() if pk in events} == seen, level
