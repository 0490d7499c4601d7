"""Rules of the acts that keep the register whole: a seizure freezes what it seizes, a
mortgage is never left on nothing, exclusive rights never overlap in time, merges and
splits carry every right and building and never multiply a mortgage, and an application
that could never be registered is refused at lodging, or at approval with a message,
never with a server error. Each refusal leaves the register exactly as it was."""

import pytest
from django.db import connection
from django.test import Client

from registry.errors import InvalidApplication, RuleViolation
from registry.models import (
    ActStatus,
    Agency,
    AllocatedBlock,
    ParcelLineage,
    RegistrationAct,
    RightKind,
    SpaceBlock,
)
from registry.roles import Role
from registry.selectors import parcel_lineage
from registry.services import acts
from registry.services.acts import approve_act, examine_act, lodge_act, title_of
from tests.registry import factories
from tests.registry.register import (
    day,
    halves,
    holders,
    land_use_right,
    parcel_with_title,
    party,
    register,
    split_in_halves,
    user,
)
from tests.registry.test_services import snapshot

pytestmark = pytest.mark.django_db

# Apart from the demo's parcels and those of the other test files: current parcels may not
# overlap.
X = 117.30


def lodged(act_type, titles, payload, on="2024-06-01") -> RegistrationAct:
    registrar = user(Role.REGISTRAR)
    act = lodge_act(
        act_type=act_type,
        titles=titles,
        payload=payload,
        effective_date=day(on),
        lodged_by=registrar,
    )
    examine_act(act=act, examiner=registrar)
    return act


def refused(act_type, titles, payload, *, rule, error=RuleViolation, on="2024-06-01"):
    """Lodge and examine, then show approval refuses with ``error`` and ``rule`` and changes
    none of the titles."""
    before = [snapshot(title) for title in titles]
    act = lodged(act_type, titles, payload, on)
    with pytest.raises(error) as refusal:
        approve_act(act=act, approver=user(Role.SUPERVISOR))
    assert refusal.value.rule == rule
    assert [snapshot(title) for title in titles] == before
    act.refresh_from_db()
    assert act.status == ActStatus.EXAMINED
    return refusal.value


def refused_at_lodging(act_type, titles, payload, on="2024-06-01"):
    """Show lodging refuses the application as malformed, and lodges nothing."""
    acts_before = RegistrationAct.objects.count()
    with pytest.raises(InvalidApplication) as refusal:
        lodge_act(
            act_type=act_type,
            titles=titles,
            payload=payload,
            effective_date=day(on),
            lodged_by=user(Role.REGISTRAR),
        )
    assert RegistrationAct.objects.count() == acts_before
    return refusal.value


def current(title, kind):
    return title.rights.filter(kind=kind, valid_to__isnull=True)


def mortgage(title, bank, *, amount="1000000", rank=1, on="2024-02-01"):
    register(
        "first",
        [title],
        {"right": {"kind": "mortgage", "amount": amount, "rank": rank, **holders(bank)}},
        on,
    )
    return current(title, RightKind.MORTGAGE).get(rank=rank)


# --- 1. a seizure freezes the rights it seizes ----------------------------------------


@pytest.fixture
def seized():
    """A land-use right held by A, seized by a court on 2024-03-01."""
    _, title = parcel_with_title(geom=factories.square(x=X))
    a = party("A")
    right = land_use_right(title, a)
    register("seizure", [title], {**holders(party("Court")), "description": "case 7"}, "2024-03-01")
    return title, right, a


@pytest.mark.parametrize(
    ("act_type", "changes"),
    [
        ("correction", "holders"),
        ("change", {"description": "granted on new terms"}),
        ("cancellation", None),
    ],
)
def test_a_seized_land_use_right_is_not_corrected_changed_or_cancelled(seized, act_type, changes):
    title, right, _ = seized
    payload = {"right": right.pk}
    if changes == "holders":
        payload["changes"] = holders(party("B"))
    elif changes:
        payload["changes"] = changes
    error = refused(act_type, [title], payload, rule="seized")
    assert "the title is seized" in error.message
    assert f"right {right.pk} (land-use right" in error.message
    assert [row.party.name for row in right.shares.select_related("party")] == ["A"]


def test_once_the_seizure_is_lifted_the_right_may_be_corrected(seized):
    title, right, _ = seized
    seizure = current(title, RightKind.SEIZURE).get()
    register("cancellation", [title], {"right": seizure.pk}, "2024-05-01")
    register(
        "correction", [title], {"right": right.pk, "changes": holders(party("B"))}, "2024-06-01"
    )
    corrected = current(title, RightKind.LAND_USE_RIGHT).get()
    assert list(corrected.holders.values_list("name", flat=True)) == ["B"]


# --- 2. a mortgage is never left on a right that ended ----------------------------------


def test_a_land_use_right_securing_a_current_mortgage_is_not_cancelled():
    _, title = parcel_with_title(geom=factories.square(x=X + 0.01))
    right = land_use_right(title, party("A"))
    secured = mortgage(title, party("Bank", kind="enterprise"))
    error = refused("cancellation", [title], {"right": right.pk}, rule="right_secures_mortgage")
    assert f"secures mortgage {secured.pk} (rank 1, 1,000,000.00 yuan, held by Bank)" in (
        error.message
    )
    # Discharged first, the mortgage no longer stands in the way.
    register("cancellation", [title], {"right": secured.pk}, "2024-06-01")
    register("cancellation", [title], {"right": right.pk}, "2024-07-01")
    assert not title.rights.filter(valid_to__isnull=True).exists()


# --- 3. exclusive rights never overlap in time -------------------------------------------


def test_a_backdated_first_registration_overlapping_an_ended_right_is_refused():
    _, title = parcel_with_title(geom=factories.square(x=X + 0.02))
    right = land_use_right(title, party("A"), on="2024-01-01")
    register("cancellation", [title], {"right": right.pk}, "2024-12-01")
    for_b = {
        "right": {
            "kind": "land_use_right",
            "land_use_right_type": "allocated",
            **holders(party("B")),
        }
    }
    error = refused("first", [title], for_b, rule="already_registered", on="2024-02-01")
    assert (
        f"(right {right.pk}) is registered from 2024-01-01 until 2024-12-01: another from "
        "2024-02-01 would be in force on the same days"
    ) in error.message
    # From the day A's right ended, B's may begin.
    register("first", [title], for_b, "2024-12-01")
    assert current(title, RightKind.LAND_USE_RIGHT).get().holders.get().name == "B"


# --- 4. a merge keeps every right and changes none ---------------------------------------


def granted(title, holder, *, term_end="2070-01-01", description="grant contract 1"):
    register(
        "first",
        [title],
        {
            "right": {
                "kind": "land_use_right",
                "land_use_right_type": "granted",
                "term_end": term_end,
                "description": description,
                **holders(holder),
            }
        },
    )


@pytest.mark.parametrize(
    ("difference", "words"),
    [
        ({"term_end": "2060-01-01"}, "has term_end 2070-01-01, of "),
        ({"description": "grant contract 2"}, "has description 'grant contract 1', of "),
    ],
)
def test_a_merge_of_parcels_held_on_different_terms_is_refused(difference, words):
    a = party("A")
    _, west = parcel_with_title(geom=factories.square(x=X + 0.03))
    _, east = parcel_with_title(geom=factories.square(x=X + 0.0305))
    granted(west, a)
    granted(east, a, **difference)
    error = refused("merge", [west, east], {"name": "merged"}, rule="terms_differ")
    assert f"the land-use right 建设用地使用权 of {west} {words}{east}" in error.message
    assert not ParcelLineage.objects.filter(parent=west.parcel).exists()


def test_a_merge_of_parcels_held_by_others_names_the_holders():
    _, west = parcel_with_title(geom=factories.square(x=X + 0.04))
    _, east = parcel_with_title(geom=factories.square(x=X + 0.0405))
    land_use_right(west, party("A"))
    land_use_right(east, party("A"), party("B"))
    error = refused("merge", [west, east], {}, rule="holders_differ")
    assert f"of {west} is held by A 1/1, of {east} by A 1/2, B 1/2" in error.message


def test_a_merge_carries_the_leases_easements_and_buildings_of_every_parent():
    a, tenant, neighbour = party("A"), party("Tenant"), party("Neighbour")
    west_parcel, west = parcel_with_title(geom=factories.square(x=X + 0.05))
    east_parcel, east = parcel_with_title(geom=factories.square(x=X + 0.0505))
    land_use_right(west, a)
    land_use_right(east, a)
    register(
        "first",
        [east],
        {
            "right": {
                "kind": "lease",
                "term_end": "2030-01-01",
                "description": "shop",
                **holders(tenant),
            }
        },
        "2024-02-01",
    )
    register(
        "first",
        [west],
        {"right": {"kind": "easement", "description": "right of way", **holders(neighbour)}},
        "2024-02-01",
    )
    house = factories.building(
        parcel=east_parcel, footprint=factories.square(x=X + 0.0506, y=39.9101, side=0.0001)
    )
    house.save()
    register("merge", [west, east], {"name": "merged"}, "2024-06-01")
    (child,) = parcel_lineage(parcel=west_parcel)["children"]
    carried = {
        right.kind: (
            right.term_end,
            right.description,
            list(right.holders.values_list("name", flat=True)),
        )
        for right in child.title.rights.filter(valid_to__isnull=True)
    }
    assert carried == {
        RightKind.LAND_USE_RIGHT: (None, "", ["A"]),
        RightKind.LEASE: (day("2030-01-01"), "shop", ["Tenant"]),
        RightKind.EASEMENT: (None, "right of way", ["Neighbour"]),
    }
    house.refresh_from_db()
    assert house.parcel == child


# --- 5. a split moves the buildings and never multiplies a mortgage ---------------------


def test_a_split_of_a_mortgaged_parcel_is_refused_until_the_mortgage_is_discharged():
    parent, title = parcel_with_title(geom=factories.square(x=X + 0.06))
    land_use_right(title, party("A"))
    secured = mortgage(title, party("Bank", kind="enterprise"))
    west, east = halves(parent)
    split = {"children": [{"geometry": west.geojson}, {"geometry": east.geojson}]}
    error = refused("split", [title], split, rule="mortgaged")
    assert f"mortgage {secured.pk} (rank 1, 1,000,000.00 yuan, held by Bank)" in error.message
    assert "cancel the mortgage first" in error.message
    assert not ParcelLineage.objects.filter(parent=parent).exists()


def test_a_split_moves_each_current_building_to_the_child_holding_most_of_it():
    parent, title = parcel_with_title(geom=factories.square(x=X + 0.07))
    land_use_right(title, party("A"))
    (x0, y0, x1, _) = parent.geom.extent
    middle = (x0 + x1) / 2
    # Three quarters of its footprint east of the cut.
    mostly_east = factories.building(
        parcel=parent, footprint=factories.square(x=middle - 0.00005, y=y0 + 0.0001, side=0.0002)
    )
    mostly_east.save()
    west_only = factories.building(
        parcel=parent, footprint=factories.square(x=x0 + 0.00005, y=y0 + 0.0001, side=0.0001)
    )
    west_only.save()
    demolished = factories.building(
        parcel=parent,
        footprint=factories.square(x=middle + 0.00005, y=y0 + 0.0003, side=0.0001),
        valid_to=day("2024-03-01"),
    )
    demolished.save()
    split_in_halves(title, parent)
    west_child, east_child = sorted(
        parcel_lineage(parcel=parent)["children"], key=lambda child: child.geom.extent[0]
    )
    for building in (mostly_east, west_only, demolished):
        building.refresh_from_db()
    assert (mostly_east.parcel, west_only.parcel) == (east_child, west_child)
    assert demolished.parcel == parent  # it stood on the parent, which it never outlived


# --- 6. what would fail in the database is refused with a message ------------------------


def test_a_single_title_act_on_two_titles_is_refused_at_lodging():
    _, one = parcel_with_title(geom=factories.square(x=X + 0.08))
    _, other = parcel_with_title(geom=factories.square(x=X + 0.081))
    seizure = {**holders(party("Court")), "description": "case 8"}
    error = refused_at_lodging("seizure", [one, other], seizure)
    assert "a seizure 查封登记 concerns one title, not 2" in error.message
    assert "a merge needs at least two parcels" in refused_at_lodging("merge", [one], {}).message
    assert "listed twice" in refused_at_lodging("merge", [one, one], {}).message


def test_a_seizure_on_two_titles_through_the_api_is_a_400_and_nothing_is_lodged():
    _, one = parcel_with_title(geom=factories.square(x=X + 0.09))
    _, other = parcel_with_title(geom=factories.square(x=X + 0.091))
    client = Client()
    client.force_login(user(Role.REGISTRAR))
    acts_before = RegistrationAct.objects.count()
    body = {
        "act_type": "seizure",
        "titles": [one.pk, other.pk],
        "based_on_versions": {str(one.pk): one.version, str(other.pk): other.version},
        "effective_date": "2024-06-01",
        "payload": {**holders(party("Court")), "description": "case 9"},
    }
    response = client.post("/api/acts/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["rule"] == "invalid_application"
    assert "concerns one title, not 2" in response.json()["message"]
    assert RegistrationAct.objects.count() == acts_before


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_an_amount_that_is_no_finite_number_is_refused(amount):
    _, title = parcel_with_title(geom=factories.square(x=X + 0.10))
    land_use_right(title, party("A"))
    payload = {"right": {"kind": "mortgage", "amount": amount, "rank": 1, **holders(party("Bank"))}}
    error = refused("first", [title], payload, rule="invalid_application", error=InvalidApplication)
    assert "'amount' must be" in error.message


def land_use_payload(**spec):
    return {"right": {"kind": "land_use_right", "land_use_right_type": "allocated", **spec}}


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (
            lambda a: land_use_payload(
                holders=[{"party": a.pk, "parts": 2**31}], share_denominator=2**31
            ),
            "'holders' entry 1: parts must be from 1 to 2147483647",
        ),
        (
            lambda a: {"right": {"kind": "mortgage", "amount": "1", "rank": 70000, **holders(a)}},
            "a mortgage's 'rank' must be from 1 to 32767, not 70000",
        ),
        (
            lambda a: {"right": {"kind": "mortgage", "amount": 1e15, "rank": 1, **holders(a)}},
            "'amount' must be less than 100,000,000,000,000",
        ),
        (
            lambda a: {"right": {"kind": "mortgage", "amount": "10.005", "rank": 1, **holders(a)}},
            "'amount' is in yuan with at most 2 decimals",
        ),
    ],
)
def test_values_the_register_cannot_hold_are_refused_naming_the_field(payload, words):
    _, title = parcel_with_title(geom=factories.square(x=X + 0.11))
    error = refused(
        "first", [title], payload(party("A")), rule="invalid_application", error=InvalidApplication
    )
    assert words in error.message


def test_a_name_longer_than_a_parcel_name_may_be_is_refused_in_a_split_and_a_merge():
    parent, title = parcel_with_title(geom=factories.square(x=X + 0.12))
    _, beside = parcel_with_title(geom=factories.square(x=X + 0.1205))
    west, east = halves(parent)
    too_long = "名" * 201
    split = {"children": [{"geometry": west.geojson}, {"geometry": east.geojson, "name": too_long}]}
    error = refused("split", [title], split, rule="invalid_application", error=InvalidApplication)
    assert "child 2: 'name' is 201 characters long, more than the 200" in error.message
    error = refused(
        "merge",
        [title, beside],
        {"name": too_long},
        rule="invalid_application",
        error=InvalidApplication,
    )
    assert "'name' is 201 characters long" in error.message


def test_a_value_the_database_refuses_at_approval_is_a_refusal_not_a_server_error(monkeypatch):
    _, title = parcel_with_title(geom=factories.square(x=X + 0.13))

    def fails_in_the_database(act, titles):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")

    monkeypatch.setitem(acts.REGISTER, "objection", fails_in_the_database)
    error = refused(
        "objection",
        [title],
        {**holders(party("Objector")), "description": "boundary"},
        rule="database_guard",
        error=InvalidApplication,
    )
    assert "division by zero" in error.message


# --- 7. fractions are refused, never truncated -------------------------------------------


@pytest.mark.parametrize(
    ("holder", "denominator", "words"),
    [
        ({"parts": 1.9}, 1.5, "'holders' entry 1: parts must be a whole number, not 1.9"),
        ({"parts": 1}, 1.5, "'share_denominator' must be a whole number, not 1.5"),
        ({"party_offset": 0.5}, 1, "'holders' entry 1: party must be a whole number"),
    ],
)
def test_fractional_shares_and_party_ids_are_refused_not_truncated(holder, denominator, words):
    _, title = parcel_with_title(geom=factories.square(x=X + 0.14))
    a = party("A")
    entry = {"party": a.pk + holder.get("party_offset", 0), "parts": holder.get("parts", 1)}
    payload = land_use_payload(holders=[entry], share_denominator=denominator)
    error = refused("first", [title], payload, rule="invalid_application", error=InvalidApplication)
    assert words in error.message
    assert not title.rights.exists()


# --- 8. an application that can never be registered is refused at lodging ---------------


@pytest.mark.parametrize(
    ("act_type", "payload", "words"),
    [
        (
            "transfer",
            {"nonsense": 1},
            "a transfer 转移登记 holds 'right', 'transferors', 'holders'",
        ),
        (
            "first",
            {"right": {"kind": "lease", "term": "2030-01-01", **holders()}},
            "'right' holds 'kind', 'holders' and optionally",
        ),
        ("correction", {"right": 1, "changes": {"holder": 2}}, "'changes' of a correction"),
        ("change", {"right": 1, "changes": holders()}, "must change some of ['amount'"),
        ("cancellation", {"right": 1, "reason": "sold"}, "not ['reason', 'right']"),
        ("merge", {"title": "x"}, "holds at most 'land_use', 'name', not ['title']"),
    ],
)
def test_a_payload_without_the_keys_its_act_type_reads_is_refused_at_lodging(
    act_type, payload, words
):
    _, title = parcel_with_title(geom=factories.square(x=X + 0.15))
    _, beside = parcel_with_title(geom=factories.square(x=X + 0.1505))
    titles = [title, beside] if act_type == "merge" else [title]
    assert words in refused_at_lodging(act_type, titles, payload).message


def test_a_transfer_with_nonsense_through_the_api_is_a_400_and_nothing_is_lodged():
    _, title = parcel_with_title(geom=factories.square(x=X + 0.16))
    client = Client()
    client.force_login(user(Role.REGISTRAR))
    acts_before = RegistrationAct.objects.count()
    body = {
        "act_type": "transfer",
        "titles": [title.pk],
        "based_on_versions": {str(title.pk): title.version},
        "effective_date": "2024-06-01",
        "payload": {"nonsense": 1},
    }
    response = client.post("/api/acts/", body, content_type="application/json")
    assert response.status_code == 400
    assert "'right', 'transferors', 'holders'" in response.json()["message"]
    assert RegistrationAct.objects.count() == acts_before


# --- a changed use allocation keeps its rooms -------------------------------------------


def test_a_change_of_a_use_allocation_keeps_its_blocks():
    parcel = factories.parcel(geom=factories.square(x=X + 0.17))
    parcel.save()
    building = factories.building(
        parcel=parcel, footprint=factories.square(x=X + 0.1701, y=39.9101, side=0.0002)
    )
    building.save()
    rooms = SpaceBlock.objects.bulk_create(
        [
            SpaceBlock(
                building=building,
                label=f"R{n}",
                floor=1,
                kind="office",
                area_m2=20.0,
                valid_from=factories.START,
            )
            for n in (1, 2)
        ]
    )
    tax = Agency.objects.create(party=party("Tax office"), level="central")
    title = title_of(building)
    register(
        "allocation",
        [title],
        {"allocations": [{"party": tax.party.pk, "blocks": [room.pk for room in rooms]}]},
        "2024-02-01",
    )
    allocation = current(title, RightKind.USE_ALLOCATION).get()
    register(
        "change",
        [title],
        {"right": allocation.pk, "changes": {"description": "until the move"}},
        "2024-06-01",
    )
    changed = current(title, RightKind.USE_ALLOCATION).get()
    assert changed.description == "until the move"
    assert set(AllocatedBlock.objects.filter(right=changed).values_list("block", flat=True)) == {
        room.pk for room in rooms
    }


def test_ids_in_digits_other_than_ascii_are_refused_as_the_database_would_read_them():
    """Full-width digits (an input method's), underscores and no-break spaces: Python reads
    them as numbers, PostgreSQL does not, and the register's guards read the payload there."""
    _, title = parcel_with_title(geom=factories.square(x=X + 0.09))
    seller = party("Full-width seller")
    right = land_use_right(title, seller)
    for written in ["１２", "1_2", "\u00a012"]:
        act = lodged(
            "transfer",
            [title],
            {"right": right.pk, "transferors": [written], **holders(party("B"))},
        )
        with pytest.raises(InvalidApplication, match="must be a whole number"):
            approve_act(act=act, approver=user(Role.SUPERVISOR))
