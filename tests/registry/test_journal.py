"""The journal: sealed by a hash chain, refused to the application's UPDATE and DELETE, and
a row changed behind the guard's back is named by ``verify_journal``."""

import io
import itertools
import os
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from registry.models import JournalEntry, RightKind
from registry.roles import Role
from registry.services.acts import Source, lodge_act
from registry.services.journal import verify_journal
from tests.registry import factories
from tests.registry.committed import as_database_superuser, in_own_connection
from tests.registry.register import (
    day,
    holders,
    land_use_right,
    parcel_with_title,
    party,
    register,
    user,
)

pytestmark = pytest.mark.django_db
needs_superuser = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None,
    reason="needs root to act as the database superuser through runuser",
)


_committed_parcels = itertools.count(1)


def three_registered_acts() -> list[int]:
    """First registration, transfer and mortgage on a parcel of its own; their positions."""
    number = next(_committed_parcels)
    _, title = parcel_with_title(
        district=factories.district("110198"),
        geom=factories.square(x=117.10 + number * 0.001),
        unit_code=f"110198001001GB{number:05d}W00000000",
    )
    a, b, bank = party("Journal A"), party("Journal B"), party("Journal bank", "enterprise")
    registrar, supervisor = (
        user(Role.REGISTRAR, "journal-registrar"),
        user(Role.SUPERVISOR, "journal-supervisor"),
    )
    right = land_use_right_as(title, a, registrar, supervisor)
    register(
        "transfer",
        [title],
        {"right": right.pk, "transferors": [a.pk], **holders(b)},
        "2024-06-01",
        lodger=registrar,
        approver=supervisor,
    )
    register(
        "first",
        [title],
        {"right": {"kind": RightKind.MORTGAGE, "amount": "100", "rank": 1, **holders(bank)}},
        "2024-07-01",
        lodger=registrar,
        approver=supervisor,
    )
    return list(
        JournalEntry.objects.filter(act__act_titles__title=title)
        .order_by("position")
        .values_list("position", flat=True)
    )


def land_use_right_as(title, owner, registrar, supervisor):
    register(
        "first",
        [title],
        {
            "right": {
                "kind": RightKind.LAND_USE_RIGHT,
                "land_use_right_type": "allocated",
                **holders(owner),
            }
        },
        "2024-01-01",
        lodger=registrar,
        approver=supervisor,
    )
    return title.rights.get(kind=RightKind.LAND_USE_RIGHT, valid_to__isnull=True)


def test_entries_chain_each_to_the_one_before():
    _, title = parcel_with_title()
    land_use_right(title, party("A"))
    land_use_right(parcel_with_title(geom=factories.square(x=116.45))[1], party("B"))
    entries = list(JournalEntry.objects.order_by("position"))
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.previous_hash == before.entry_hash
        assert after.position == before.position + 1
    assert verify_journal().intact


def test_application_cannot_update_delete_or_truncate_the_journal():
    _, title = parcel_with_title()
    land_use_right(title, party("A"))
    for statement in (
        "UPDATE registry_journalentry SET payload = payload || ' '",
        "DELETE FROM registry_journalentry",
        "TRUNCATE registry_journalentry CASCADE",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                # TRUNCATE must not meet the test's own pending foreign-key checks first.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(statement)


def test_application_cannot_rewrite_the_audit_log_or_a_lodged_document():
    """Lodging records an audit event and keeps the deed: neither may change or go."""
    _, title = parcel_with_title()
    lodge_act(
        act_type="first",
        titles=[title],
        payload={"right": {"kind": RightKind.LAND_USE_RIGHT, "land_use_right_type": "allocated",
                           **holders(party("A"))}},
        effective_date=day("2024-01-01"),
        lodged_by=user(Role.REGISTRAR),
        sources=[Source(kind="deed", file_name="deed.pdf", content=b"%PDF-1.4 a deed")],
    )  # fmt: skip
    for table, change in (
        ("registry_auditevent", "SET detail = '{}'"),
        ("registry_sourcedocument", "SET content = 'another deed'"),
    ):
        for statement in (f"UPDATE {table} {change}", f"DELETE FROM {table}", f"TRUNCATE {table}"):
            with pytest.raises(DatabaseError, match=f"{table} is append-only"):
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute(statement)


@needs_superuser
def test_superuser_tampering_is_named_by_verify_journal():
    first, middle, last = in_own_connection(three_registered_acts)
    original = JournalEntry.objects.get(position=middle).payload
    forged = original.replace('"type":"transfer"', '"type":"correction"')
    assert forged != original
    call_command("verify_journal", stdout=io.StringIO(), stderr=io.StringIO())
    as_database_superuser(
        "SET session_replication_role = replica; "
        f"UPDATE registry_journalentry SET payload = $${forged}$$ WHERE position = {middle}"
    )
    try:
        check = verify_journal()
        assert (check.first_bad_position, check.reason) == (
            middle,
            "entry_hash does not match its payload",
        )
        with pytest.raises(CommandError, match=f"journal entry {middle} is bad"):
            call_command("verify_journal", stdout=io.StringIO(), stderr=io.StringIO())
    finally:
        as_database_superuser(
            "SET session_replication_role = replica; "
            f"UPDATE registry_journalentry SET payload = $${original}$$ WHERE position = {middle}"
        )
    assert verify_journal().intact


@needs_superuser
def test_register_row_changed_after_the_fact_is_named_by_verify_journal():
    first, middle, last = in_own_connection(three_registered_acts)
    entry = JournalEntry.objects.get(position=last)
    right_id = entry.act.rights_registered.get().pk
    # The database refuses the change (migration registry 0008) ...
    with pytest.raises(subprocess.CalledProcessError):
        as_database_superuser(f"UPDATE registry_right SET amount = 99999999 WHERE id = {right_id}")
    # ... unless a superuser turns the guards off: the journal still names it.
    as_database_superuser(
        "SET session_replication_role = replica; "
        f"UPDATE registry_right SET amount = 99999999 WHERE id = {right_id}"
    )
    try:
        check = verify_journal()
        assert check.first_bad_position == last
        assert "differ from the sealed payload" in check.reason
    finally:
        as_database_superuser(
            "SET session_replication_role = replica; "
            f"UPDATE registry_right SET amount = 100 WHERE id = {right_id}"
        )
    assert verify_journal().intact
