"""Twenty clerks' approvals of transfers of one title, lodged on the same version, race on
twenty real database connections: exactly one registers, the others are refused with a
conflict, nothing deadlocks, and the journal stays intact."""

import threading

import pytest
from django.db import connections

from registry.errors import ConflictError
from registry.models import ActStatus, RegistrationAct, Right, RightKind
from registry.roles import Role
from registry.services.acts import approve_act, examine_act, lodge_act
from registry.services.journal import verify_journal
from tests.registry import factories
from tests.registry.committed import in_own_connection
from tests.registry.register import day, holders, parcel_with_title, party, register, user

pytestmark = pytest.mark.django_db
CLIENTS = 20


def twenty_competing_transfers():
    """One title held by A, and twenty examined transfers of it to twenty buyers."""
    _, title = parcel_with_title(
        district=factories.district("110199"),
        geom=factories.square(x=117.50),
        unit_code="110199001001GB00001W00000000",
    )
    seller = party("Seller")
    registrar = user(Role.REGISTRAR, "race-registrar")
    register(
        "first",
        [title],
        {
            "right": {
                "kind": RightKind.LAND_USE_RIGHT,
                "land_use_right_type": "allocated",
                **holders(seller),
            }
        },
        lodger=registrar,
        approver=user(Role.SUPERVISOR, "race-supervisor"),
    )
    right = title.rights.get(valid_to__isnull=True)
    title.refresh_from_db()
    acts = []
    for number in range(CLIENTS):
        act = lodge_act(
            act_type="transfer",
            titles=[title],
            effective_date=day("2024-06-01"),
            lodged_by=registrar,
            payload={
                "right": right.pk,
                "transferors": [seller.pk],
                **holders(party(f"Buyer {number}")),
            },
        )
        acts.append(examine_act(act=act, examiner=registrar).pk)
    return title.pk, acts


def test_twenty_parallel_transfers_of_one_title_register_exactly_one():
    title_id, act_ids = in_own_connection(twenty_competing_transfers)
    approver = in_own_connection(user, Role.SUPERVISOR, "race-supervisor")
    start = threading.Barrier(CLIENTS)
    outcomes = [None] * CLIENTS

    def approve(index: int) -> None:
        try:
            act = RegistrationAct.objects.get(pk=act_ids[index])
            start.wait(timeout=30)
            approve_act(act=act, approver=approver)
            outcomes[index] = "registered"
        except ConflictError:
            outcomes[index] = "conflict"
        except Exception as error:  # a deadlock or anything else fails the test below
            outcomes[index] = repr(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an approval hung"
    assert sorted(outcomes) == ["conflict"] * (CLIENTS - 1) + ["registered"]
    registered = RegistrationAct.objects.filter(pk__in=act_ids, status=ActStatus.REGISTERED)
    assert registered.count() == 1
    assert (
        RegistrationAct.objects.filter(pk__in=act_ids, status=ActStatus.EXAMINED).count()
        == CLIENTS - 1
    )
    current = Right.objects.get(
        title_id=title_id, kind=RightKind.LAND_USE_RIGHT, valid_to__isnull=True
    )
    assert current.registered_by == registered.get()
    assert verify_journal().intact
