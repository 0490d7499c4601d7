"""The database's own guards of rights and holders (migration registry 0008): whatever path
writes to the register, a recorded right only ends, its holders never change, and a transfer
ends only a right held by exactly its transferors."""

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction

from registry.models import ActStatus, Right, RightHolder, RightKind
from registry.roles import Role
from registry.services.acts import examine_act, lodge_act
from tests.registry.register import day, holders, land_use_right, parcel_with_title, party, user

pytestmark = pytest.mark.django_db


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred guards, now


def recorded_earlier() -> Right:
    """A current right of the demo, committed when the demo was loaded."""
    return Right.objects.filter(valid_to__isnull=True, shares__isnull=False).first()


def test_the_holders_of_a_right_recorded_earlier_never_change(demo):
    right = recorded_earlier()
    holder = right.shares.first()
    stranger = party("Stranger")
    for statement, params, refusal in [
        (
            "INSERT INTO registry_rightholder (right_id, party_id, share_parts) VALUES (%s, %s, 1)",
            [right.pk, stranger.pk],
            f"right {right.pk} was recorded by an earlier transaction",
        ),
        (
            "UPDATE registry_rightholder SET party_id = %s WHERE id = %s",
            [stranger.pk, holder.pk],
            "are part of its record: UPDATE refused",
        ),
        (
            "DELETE FROM registry_rightholder WHERE id = %s",
            [holder.pk],
            "are part of its record: DELETE refused",
        ),
    ]:
        with pytest.raises(ProgrammingError, match=refusal), transaction.atomic():
            sql(statement, params)
    assert list(right.shares.values_list("party", flat=True)) == [holder.party_id]


def easement_beside(right: Right, *, parts: int) -> Right:
    """An easement recorded now on ``right``'s title, its shares in ``parts`` parts."""
    return Right.objects.create(
        title=right.title,
        kind=RightKind.EASEMENT,
        share_denominator=parts,
        valid_from=day("2024-06-01"),
        registered_by=right.registered_by,
    )


def test_holders_are_recorded_with_their_right_in_one_transaction_savepoints_included(demo):
    earlier = recorded_earlier()
    with transaction.atomic():  # a savepoint: the right's row is a subtransaction's
        right = easement_beside(earlier, parts=1)
    RightHolder.objects.create(right=right, party=party("Neighbour"), share_parts=1)
    sql("SELECT 1")  # the shares' guard, at once
    assert right.shares.count() == 1


def test_a_right_gains_no_holders_once_ended_even_by_this_transaction(demo):
    """Ending a right rewrites its row in this transaction; its holders stay as recorded, for
    a right recorded earlier and for one recorded in this very transaction alike."""
    earlier = recorded_earlier()
    recorded_now = easement_beside(earlier, parts=2)
    RightHolder.objects.create(right=recorded_now, party=party("Neighbour"), share_parts=2)
    late_holder = party("Latecomer")
    for right in (earlier, recorded_now):
        sql(
            "UPDATE registry_right SET valid_to = current_date, cancelled_by_id = %s WHERE id = %s",
            [right.registered_by_id, right.pk],
        )
        with pytest.raises(ProgrammingError, match=f"right {right.pk} .*or has ended"):
            with transaction.atomic():
                sql(
                    "INSERT INTO registry_rightholder (right_id, party_id, share_parts) VALUES (%s, %s, 1)",
                    [right.pk, late_holder.pk],
                )
    assert not RightHolder.objects.filter(party=late_holder).exists()


def test_no_statement_forges_the_recording_of_a_right(demo):
    """Neither a made-up history row nor a right deleted and written again under its own id
    lets a later transaction add a holder."""
    right = recorded_earlier()
    stranger = party("Forger")
    add_holder = (
        "INSERT INTO registry_rightholder (right_id, party_id, share_parts) VALUES (%s, %s, 1)"
    )
    with pytest.raises(ProgrammingError, match="recorded by an earlier transaction"):
        with transaction.atomic():
            sql(
                "INSERT INTO registry_historyevent (table_name, row_pk, operation, changed_at, "
                "transaction_id, db_user, app_user) VALUES "
                "('registry_right', %s, 'I', now(), txid_current(), current_user, '')",
                [str(right.pk)],
            )
            sql(add_holder, [right.pk, stranger.pk])
    with pytest.raises(ProgrammingError, match="registry_right is append-only: DELETE refused"):
        with transaction.atomic():
            sql("DELETE FROM registry_right WHERE id = %s", [right.pk])
    with pytest.raises(ProgrammingError, match="registry_right is append-only: TRUNCATE refused"):
        with transaction.atomic():
            sql("TRUNCATE registry_right CASCADE")
    # A right recorded now carries the digest of this transaction's secret, whatever the
    # insert gives, and the secret itself is nowhere in the register.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_right (title_id, kind, land_use_right_type, description, rank, "
            "share_denominator, valid_from, registered_by_id, recorded_at, recorded_with) "
            "SELECT title_id, 'easement', '', '', NULL, 1, valid_from, registered_by_id, now(), "
            "recorded_with FROM registry_right WHERE id = %s RETURNING id, recorded_with",
            [right.pk],
        )
        new_id, digest = cursor.fetchone()
        cursor.execute("SELECT recorded_with FROM registry_right WHERE id = %s", [right.pk])
        assert digest != cursor.fetchone()[0]
    RightHolder.objects.create(right_id=new_id, party=stranger, share_parts=1)
    sql("SELECT 1")


def test_a_recorded_right_only_ends_once(demo):
    right = recorded_earlier()
    with pytest.raises(ProgrammingError, match="may only be ended by an act, once"):
        with transaction.atomic():
            sql("UPDATE registry_right SET description = 'rewritten' WHERE id = %s", [right.pk])
    with pytest.raises(ProgrammingError, match="may only be ended by an act, once"):
        with transaction.atomic():  # ended, but by no act
            sql("UPDATE registry_right SET valid_to = current_date WHERE id = %s", [right.pk])
    ending = right.registered_by_id
    sql(
        "UPDATE registry_right SET valid_to = current_date, cancelled_by_id = %s WHERE id = %s",
        [ending, right.pk],
    )
    with pytest.raises(ProgrammingError, match="may only be ended by an act, once"):
        with transaction.atomic():
            sql("UPDATE registry_right SET valid_to = NULL, cancelled_by_id = NULL WHERE id = %s", [right.pk])  # fmt: skip


def transfer_lodged(title, right, transferors) -> int:
    registrar = user(Role.REGISTRAR)
    act = lodge_act(
        act_type="transfer",
        titles=[title],
        payload={"right": right.pk, "transferors": transferors, **holders(party("Buyer"))},
        effective_date=day("2024-06-01"),
        lodged_by=registrar,
    )
    assert examine_act(act=act, examiner=registrar).status == ActStatus.EXAMINED
    return act.pk


def test_a_transfer_ends_only_a_right_its_transferors_hold(demo):
    """The services refuse such a transfer before writing (tests/registry/test_views.py);
    here the write goes around them, as SQL would."""
    _, title = parcel_with_title()
    seller = party("Seller")
    right = land_use_right(title, seller)
    ending = "UPDATE registry_right SET valid_to = '2024-06-01', cancelled_by_id = %s WHERE id = %s"
    stranger = transfer_lodged(title, right, [party("Stranger").pk])
    with pytest.raises(IntegrityError, match="a transfer must come from the current holders"):
        with transaction.atomic():
            sql(ending, [stranger, right.pk])
    # The transferors as the payload may give them: numbers in text, once each.
    rightful = transfer_lodged(title, right, [str(seller.pk), seller.pk])
    sql(ending, [rightful, right.pk])
    assert Right.objects.get(pk=right.pk).cancelled_by_id == rightful
    assert RightHolder.objects.filter(right=right).count() == 1
    assert right.kind == RightKind.LAND_USE_RIGHT
