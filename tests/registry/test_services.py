"""The register's rules, each shown refusing what it must with its message, and leaving the
register exactly as it was."""

import datetime

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from registry.errors import ConflictError, InvalidApplication, NotAllowed, RuleViolation
from registry.models import (
    ActStatus,
    Certificate,
    JournalEntry,
    Parcel,
    ParcelLineage,
    RegistrationAct,
    Right,
    RightHolder,
    RightKind,
)
from registry.roles import Role
from registry.selectors import holders_as_of, parcel_as_of, parcel_lineage, title_chain
from registry.services.acts import approve_act, examine_act, lodge_act, reject_act
from registry.services.journal import verify_journal
from tests.registry import factories
from tests.registry.register import (
    day,
    halves,
    holders,
    land_use_right,
    parcel_with_title,
    party,
    register,
    transfer_chain,
    user,
)

pytestmark = pytest.mark.django_db


def snapshot(title) -> tuple:
    """What a refused act must not change."""
    title.refresh_from_db()
    return (
        title.version,
        sorted(Right.objects.filter(title=title).values_list("id", "valid_to", "cancelled_by")),
        JournalEntry.objects.count(),
        Certificate.objects.count(),
    )


def refused(act_type, title, payload, rule, on="2024-06-01"):
    """Lodge and examine, then show approval refuses with ``rule`` and changes nothing."""
    before = snapshot(title)
    registrar = user(Role.REGISTRAR)
    act = lodge_act(
        act_type=act_type,
        titles=[title],
        payload=payload,
        effective_date=day(on),
        lodged_by=registrar,
    )
    examine_act(act=act, examiner=registrar)
    with pytest.raises(RuleViolation) as error:
        approve_act(act=act, approver=user(Role.SUPERVISOR))
    assert error.value.rule == rule
    assert snapshot(title) == before
    act.refresh_from_db()
    assert act.status == ActStatus.EXAMINED
    return error.value


def test_first_registration_issues_a_numbered_certificate_sealed_in_the_journal():
    _, title = parcel_with_title(district=factories.district(), name="demo")
    title.parcel.district.certificate_province = "京"
    title.parcel.district.certificate_office = "西城区"
    title.parcel.district.save()
    agency = party("国务院机关事务管理局")
    right = land_use_right(title, agency)
    certificate = Certificate.objects.get(right=right)
    assert certificate.number.startswith(f"京({certificate.year})西城区不动产权第")
    assert certificate.number.endswith(f"{certificate.serial:07d}号")
    entry = JournalEntry.objects.get(act=right.registered_by)
    assert (certificate.journal_position, certificate.journal_hash) == (
        entry.position,
        entry.entry_hash,
    )
    title.refresh_from_db()
    assert title.version == 2
    assert verify_journal().intact


def test_certificates_are_numbered_in_sequence_without_gaps():
    serials = []
    for number in range(3):
        _, title = parcel_with_title(geom=factories.square(x=116.40 + number * 0.001))
        right = land_use_right(title, party(f"agency {number}"))
        serials.append(Certificate.objects.get(right=right).serial)
    assert serials == list(range(serials[0], serials[0] + 3))


def test_transfer_chain_answers_holders_as_of_any_date():
    _, title = parcel_with_title()
    transfer_chain(title)

    def holder_on(text):
        return [
            row["party"]
            for row in holders_as_of(title=title, on=day(text), kinds=[RightKind.LAND_USE_RIGHT])
        ]

    assert holder_on("2023-12-31") == []
    assert holder_on("2024-01-01") == ["A"]
    assert holder_on("2024-05-31") == ["A"]
    assert holder_on("2024-06-01") == ["B"]
    assert holder_on("2024-12-31") == ["B"]
    assert holder_on("2025-01-01") == ["C"]
    assert holder_on("2030-01-01") == ["C"]
    assert [act.act_type for act in title_chain(title=title)] == ["first", "transfer", "transfer"]


def test_transfer_from_non_holder_is_refused():
    _, title = parcel_with_title()
    a, b, stranger = party("A"), party("B"), party("Stranger")
    right = land_use_right(title, a)
    error = refused(
        "transfer",
        title,
        {"right": right.pk, "transferors": [stranger.pk], **holders(b)},
        "transfer_from_current_holder",
    )
    assert "must come from the current holders (A)" in error.message
    assert error.title == title.parcel.unit_code


def test_transfer_of_a_seized_title_is_refused():
    _, title = parcel_with_title()
    a, b, court = party("A"), party("B"), party("Court", kind="enterprise")
    right = land_use_right(title, a)
    register(
        "seizure", [title], {**holders(court), "description": "(2024)京0102执123号"}, "2024-03-01"
    )
    error = refused(
        "transfer", title, {"right": right.pk, "transferors": [a.pk], **holders(b)}, "seized"
    )
    assert "seized" in error.message


def test_mortgage_of_a_seized_title_is_refused():
    _, title = parcel_with_title()
    a, court, bank = party("A"), party("Court"), party("Bank", kind="enterprise")
    land_use_right(title, a)
    register("seizure", [title], {**holders(court), "description": "case 1"}, "2024-03-01")
    refused(
        "first",
        title,
        {"right": {"kind": "mortgage", "amount": "1000000", "rank": 1, **holders(bank)}},
        "seized",
    )


def test_mortgage_ranks_are_unique_among_current_mortgages():
    _, title = parcel_with_title()
    a, bank, other_bank = party("A"), party("Bank"), party("Other bank")
    land_use_right(title, a)
    register(
        "first",
        [title],
        {"right": {"kind": "mortgage", "amount": "500000", "rank": 1, **holders(bank)}},
        "2024-02-01",
    )
    error = refused(
        "first",
        title,
        {"right": {"kind": "mortgage", "amount": "1", "rank": 1, **holders(other_bank)}},
        "mortgage_rank_taken",
    )
    assert "rank 1" in error.message


def test_shares_must_sum_to_one():
    _, title = parcel_with_title()
    a, b = party("A"), party("B")
    payload = {
        "right": {
            "kind": "land_use_right",
            "land_use_right_type": "allocated",
            "holders": [{"party": a.pk, "parts": 1}, {"party": b.pk, "parts": 1}],
            "share_denominator": 3,
        }
    }
    error = refused("first", title, payload, "shares_sum_to_one")
    assert "add up to 2/3, not 1" in error.message


def test_database_refuses_shares_that_do_not_sum_to_one():
    _, title = parcel_with_title()
    right = land_use_right(title, party("A"), party("B"), parts=[1, 1])
    with pytest.raises(IntegrityError, match="add up to 3/2"), transaction.atomic():
        RightHolder.objects.create(right=right, party=party("C"), share_parts=1)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_examiner_cannot_approve_their_own_case():
    _, title = parcel_with_title()
    registrar = user(Role.REGISTRAR)
    both = user(Role.SUPERVISOR, "supervisor-who-examines")
    both.user_permissions.add(*registrar.groups.get().permissions.all())
    act = lodge_act(
        act_type="first",
        titles=[title],
        lodged_by=registrar,
        effective_date=day("2024-01-01"),
        payload={"right": {"kind": "state_ownership", **holders(party("State", "state"))}},
    )
    examine_act(act=act, examiner=both)
    with pytest.raises(NotAllowed, match="examined act .* and cannot also decide it"):
        approve_act(act=act, approver=both)
    act.refresh_from_db()
    assert act.status == ActStatus.EXAMINED


def test_database_refuses_an_act_decided_by_its_examiner():
    _, title = parcel_with_title()
    registrar = user(Role.REGISTRAR)
    act = lodge_act(
        act_type="first",
        titles=[title],
        lodged_by=registrar,
        effective_date=day("2024-01-01"),
        payload={"right": {"kind": "state_ownership", **holders(party("State", "state"))}},
    )
    act.examined_by = act.decided_by = registrar
    with pytest.raises(IntegrityError, match="act_approver_is_not_examiner"), transaction.atomic():
        act.save()


def test_act_on_a_stale_version_is_refused_with_a_conflict():
    _, title = parcel_with_title()
    a, b, c = party("A"), party("B"), party("C")
    right = land_use_right(title, a)
    registrar, supervisor = user(Role.REGISTRAR), user(Role.SUPERVISOR)
    first, second = (
        lodge_act(
            act_type="transfer",
            titles=[title],
            effective_date=day("2024-06-01"),
            lodged_by=registrar,
            payload={"right": right.pk, "transferors": [a.pk], **holders(to)},
        )
        for to in (b, c)
    )
    for act in (first, second):
        examine_act(act=act, examiner=registrar)
    approve_act(act=first, approver=supervisor)
    before = snapshot(title)
    with pytest.raises(ConflictError, match="changed since act .* was lodged"):
        approve_act(act=second, approver=supervisor)
    assert snapshot(title) == before
    with pytest.raises(ConflictError, match="prepared on version 2"):
        lodge_act(
            act_type="cancellation",
            titles=[title],
            effective_date=day("2024-07-01"),
            lodged_by=registrar,
            payload={"right": right.pk},
            based_on_versions={title.pk: 2},
        )


def test_rejection_needs_a_reason_and_changes_no_title():
    _, title = parcel_with_title()
    registrar = user(Role.REGISTRAR)
    act = lodge_act(
        act_type="first",
        titles=[title],
        lodged_by=registrar,
        effective_date=day("2024-01-01"),
        payload={"right": {"kind": "state_ownership", **holders(party("State", "state"))}},
    )
    examine_act(act=act, examiner=registrar)
    before = snapshot(title)
    with pytest.raises(InvalidApplication, match="needs its reason"):
        reject_act(act=act, decider=user(Role.SUPERVISOR), reason="  ")
    reject_act(act=act, decider=user(Role.SUPERVISOR), reason="deed not notarised")
    assert RegistrationAct.objects.get(pk=act.pk).status == ActStatus.REJECTED
    assert snapshot(title) == before


def test_an_act_dated_after_today_is_refused_and_nothing_is_lodged():
    _, title = parcel_with_title()
    before = (snapshot(title), RegistrationAct.objects.count())
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(InvalidApplication, match=f"takes effect on {tomorrow}, after today"):
        lodge_act(
            act_type="first",
            titles=[title],
            lodged_by=user(Role.REGISTRAR),
            effective_date=tomorrow,
            payload={"right": {"kind": "state_ownership", **holders(party("State", "state"))}},
        )
    assert (snapshot(title), RegistrationAct.objects.count()) == before


def test_planner_cannot_lodge():
    _, title = parcel_with_title()
    with pytest.raises(NotAllowed, match="may not lodge"):
        lodge_act(
            act_type="first",
            titles=[title],
            lodged_by=user(Role.PLANNER),
            effective_date=day("2024-01-01"),
            payload={},
        )


def test_split_retires_the_parent_and_issues_new_codes_with_lineage():
    parent, title = parcel_with_title(unit_code=factories.unit_code(41))
    a = party("A")
    land_use_right(title, a)
    west, east = halves(parent)
    register(
        "split",
        [title],
        {"children": [{"geometry": west.geojson}, {"geometry": east.geojson, "land_use": "0810"}]},
        "2024-06-01",
    )
    parent.refresh_from_db()
    assert parent.valid_to == day("2024-06-01")
    lineage = parcel_lineage(parcel=parent)
    codes = [child.unit_code for child in lineage["children"]]
    assert len(codes) == 2 and len(set(codes)) == 2 and parent.unit_code not in codes
    assert all(code[:12] == parent.unit_code[:12] for code in codes)
    assert sum(child.area_m2 for child in lineage["children"]) == pytest.approx(
        parent.area_m2, abs=0.01
    )
    assert [child.land_use_id for child in lineage["children"]] == ["0801", "0810"]
    for child in lineage["children"]:
        assert parcel_lineage(parcel=child)["parents"] == [parent]
        assert [row["party"] for row in holders_as_of(title=child.title, on=day("2024-07-01"))] == [
            "A"
        ]
    assert parcel_as_of(unit_code=parent.unit_code, on=day("2024-05-31")) == parent
    assert parcel_as_of(unit_code=parent.unit_code, on=day("2024-06-01")) is None
    assert verify_journal().intact


def test_split_whose_children_leave_a_gap_is_refused():
    parent, title = parcel_with_title()
    west, _ = halves(parent)
    (x0, y0, x1, y1) = parent.geom.extent
    narrow_east = Polygon.from_bbox(((x0 + x1) / 2 + 0.0001, y0, x1, y1))
    error = refused(
        "split",
        title,
        {"children": [{"geometry": west.geojson}, {"geometry": narrow_east.geojson}]},
        "children_cover_parent",
    )
    assert "must cover exactly the parent" in error.message
    assert not ParcelLineage.objects.filter(parent=parent).exists()


def test_merge_of_adjacent_parcels_with_the_same_holders():
    a = party("A")
    west, west_title = parcel_with_title(geom=factories.square(x=116.50))
    east, east_title = parcel_with_title(geom=factories.square(x=116.5005))
    land_use_right(west_title, a)
    land_use_right(east_title, a)
    register("merge", [west_title, east_title], {"name": "merged"}, "2024-06-01")
    (child,) = parcel_lineage(parcel=west)["children"]
    assert parcel_lineage(parcel=east)["children"] == [child]
    assert child.area_m2 == pytest.approx(west.area_m2 + east.area_m2, rel=1e-6)
    assert child.geom.num_geom == 1
    assert [row["party"] for row in holders_as_of(title=child.title, on=day("2024-06-02"))] == ["A"]


def test_merge_of_parcels_apart_or_with_different_holders_is_refused():
    a, b = party("A"), party("B")
    _, one = parcel_with_title(geom=factories.square(x=116.60))
    _, apart = parcel_with_title(geom=factories.square(x=116.61))
    _, beside = parcel_with_title(geom=factories.square(x=116.6005))
    for title, owner in ((one, a), (apart, a), (beside, b)):
        land_use_right(title, owner)
    registrar, supervisor = user(Role.REGISTRAR), user(Role.SUPERVISOR)
    for titles, rule in (([one, apart], "parents_not_adjacent"), ([one, beside], "holders_differ")):
        act = lodge_act(
            act_type="merge",
            titles=titles,
            payload={},
            effective_date=day("2024-06-01"),
            lodged_by=registrar,
        )
        examine_act(act=act, examiner=registrar)
        with pytest.raises(RuleViolation) as error:
            approve_act(act=act, approver=supervisor)
        assert error.value.rule == rule


def test_database_refuses_overlapping_current_parcels():
    parcel_with_title(geom=factories.square(x=116.70))
    overlapping = factories.parcel(geom=factories.square(x=116.7002))
    with pytest.raises(IntegrityError, match="overlaps current parcel"), transaction.atomic():
        overlapping.save()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_retired_parcel_may_lie_under_its_successor():
    old = factories.parcel(
        geom=factories.square(x=116.80), valid_to=day("2024-01-01"), valid_from=day("2020-01-01")
    )
    old.save()
    new = factories.parcel(geom=factories.square(x=116.80))
    new.save()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert Parcel.objects.filter(pk__in=[old.pk, new.pk]).count() == 2


def test_every_change_is_kept_in_history_by_the_database():
    parcel, title = parcel_with_title()
    Parcel.objects.filter(pk=parcel.pk).update(name="renamed by a bulk update")
    from registry.models import HistoryEvent

    events = HistoryEvent.objects.filter(table_name="registry_parcel", row_pk=str(parcel.pk))
    assert [event.operation for event in events] == ["I", "U"]
    assert events.last().new["name"] == "renamed by a bulk update"
    assert events.last().old["name"] == parcel.name


def test_geometry_multipolygon_helper_is_square():
    assert isinstance(factories.square(), MultiPolygon)
