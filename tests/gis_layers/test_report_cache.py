"""Reports kept until the register changes under them (gis_layers.report_cache).

Reports are kept only outside a transaction, as requests run: these tests keep them on
connections of their own (tests.registry.committed), where they commit. Writes to a report's
inputs that must count are committed there too; an ``UPDATE ... WHERE false`` writes nothing
and is still noted, as every statement on an input table is.
"""

import io
import re
import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client

from gis_layers import landuse_report, report_cache, space_report
from gis_layers.models import CachedReport
from tests.registry.committed import in_own_connection

pytestmark = pytest.mark.django_db

INPUTS = ("registry_party", "registry_district")


class Counted:
    """A report's computation that counts its runs; ``during`` runs inside each."""

    def __init__(self, during=None):
        self.runs = 0
        self.during = during

    def __call__(self) -> dict:
        self.runs += 1
        if self.during:
            self.during()
        return {"run": self.runs, "point": (1.5, 2.5), "by_rank": {3: "three"}}


def unique_key(name: str) -> str:
    """A key no other test uses: kept reports stay in the test database once committed."""
    return report_cache.cache_key(name, at=time.monotonic_ns())


def read(key: str, compute, inputs=INPUTS) -> dict:
    return in_own_connection(report_cache.cached_report, key, inputs=inputs, compute=compute)


def write_to(table: str) -> int:
    """A committed statement on ``table`` that changes no row; its transaction's id."""

    def update() -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET id = id WHERE false")
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            return cursor.fetchone()[0]

    return in_own_connection(update)


def test_a_kept_report_is_served_until_a_table_it_reads_changes():
    key, compute = unique_key("kept"), Counted()
    first = read(key, compute)
    assert read(key, compute) == first and compute.runs == 1
    write_to("registry_parcel")  # not one of its inputs
    assert read(key, compute) == first and compute.runs == 1
    write_to("registry_district")
    assert read(key, compute)["run"] == 2
    assert read(key, compute)["run"] == 2


def test_kept_and_fresh_reports_are_alike():
    """JSON keeps no tuple and no integer key: the fresh report comes back as the kept one
    will, so a page never depends on which it got."""
    key, compute = unique_key("alike"), Counted()
    fresh = read(key, compute)
    assert fresh == {"run": 1, "point": [1.5, 2.5], "by_rank": {"3": "three"}}
    assert read(key, compute) == fresh and compute.runs == 1


def test_a_change_committed_while_the_report_computes_makes_it_stale():
    """The snapshot is taken before computing: a change that commits during the computation
    may be missing from the report, so it counts against it."""
    key = unique_key("during")
    compute = Counted(during=lambda: write_to("registry_party") if compute.runs == 1 else None)
    assert read(key, compute)["run"] == 1
    assert read(key, compute)["run"] == 2
    assert read(key, compute)["run"] == 2


def test_a_transaction_that_wrote_to_the_inputs_computes_afresh_and_keeps_nothing():
    key, compute = unique_key("own"), Counted()
    read(key, compute)  # kept, committed
    with connection.cursor() as cursor:  # the test's own transaction
        cursor.execute("UPDATE registry_district SET id = id WHERE false")
    assert report_cache.cached_report(key, inputs=INPUTS, compute=compute)["run"] == 2
    assert report_cache.cached_report(key, inputs=INPUTS, compute=compute)["run"] == 3
    # Its own write is not committed: the kept report still counts for everyone else.
    assert read(key, compute)["run"] == 1


def test_a_transaction_keeps_no_report_but_reads_a_kept_one():
    key, compute = unique_key("inside"), Counted()
    assert report_cache.cached_report(key, inputs=INPUTS, compute=compute)["run"] == 1
    assert not CachedReport.objects.filter(key=key).exists()
    assert report_cache.cached_report(key, inputs=INPUTS, compute=compute)["run"] == 2
    kept = read(key, compute)
    with connection.cursor() as cursor:  # a write elsewhere
        cursor.execute("UPDATE registry_parcel SET id = id WHERE false")
    assert report_cache.cached_report(key, inputs=INPUTS, compute=compute) == kept


def test_a_report_kept_in_another_cluster_is_computed_again():
    """Transaction ids belong to one cluster: a row restored from another is not trusted."""
    key, compute = unique_key("cluster"), Counted()
    read(key, compute)

    def move_to_another_cluster():
        CachedReport.objects.filter(key=key).update(system_identifier=12345)

    in_own_connection(move_to_another_cluster)
    assert read(key, compute)["run"] == 2


def test_reports_asked_for_at_once_are_computed_once():
    key = unique_key("once")
    compute = Counted(during=lambda: time.sleep(0.5))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(read(key, compute))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert compute.runs == 1
    assert results == [{"run": 1, "point": [1.5, 2.5], "by_rank": {"3": "three"}}] * 3


def test_a_report_that_fails_keeps_nothing_and_lets_the_next_one_try():
    key = unique_key("fails")

    def fail():
        raise ValueError("no standard")

    with pytest.raises(ValueError):
        read(key, fail)
    assert read(key, Counted())["run"] == 1


def test_a_note_a_computation_under_way_needs_outlives_reports_kept_meanwhile():
    """While one report computes, a write commits and other reports are kept, dropping notes
    older than their snapshots: the note of that write must stay, for the report computing
    did not see it."""
    in_own_connection(lambda: CachedReport.objects.all().delete())
    key = unique_key("long")

    def meanwhile():
        if compute.runs == 1:
            write_to("registry_party")
            for number in range(2):
                read(unique_key(f"meanwhile-{number}"), Counted())

    compute = Counted(during=meanwhile)
    assert read(key, compute)["run"] == 1
    assert read(key, compute)["run"] == 2


def test_notes_of_another_cluster_are_dropped():
    """Notes restored from another cluster may carry ids this one has not reached: they would
    count against every report until it did."""
    key, compute = unique_key("restored"), Counted()

    def note_from_the_future():
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO gis_layers_reportinputchange (relation, transaction_id) "
                "VALUES ('registry_party', pg_current_xact_id()::text::bigint + 1000000000)"
            )

    in_own_connection(note_from_the_future)
    assert read(key, compute)["run"] == 1  # kept, and the foreign note dropped
    assert read(key, compute)["run"] == 1


def wait_until_every_transaction_before(transaction_id: int, *, ended_within_s: float) -> None:
    def oldest_running() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            return cursor.fetchone()[0]

    deadline = time.monotonic() + ended_within_s
    while (oldest := in_own_connection(oldest_running)) <= transaction_id:
        assert time.monotonic() < deadline, (
            f"transaction {oldest}, older than {transaction_id}, ran for over {ended_within_s} s"
        )
        time.sleep(0.2)


def test_notes_no_kept_report_needs_are_dropped():
    key, compute = unique_key("notes"), Counted()
    # Reports kept by earlier tests would hold older notes back.
    in_own_connection(lambda: CachedReport.objects.all().delete())
    noted = write_to("registry_district")

    def note_is_kept() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM gis_layers_reportinputchange "
                "WHERE relation = 'registry_district' AND transaction_id = %s)",
                [noted],
            )
            return cursor.fetchone()[0]

    assert in_own_connection(note_is_kept)
    # A transaction older than the note, anywhere in the cluster (the other test process's),
    # may still take a snapshot that did not see it: the note is kept for as long as one runs.
    wait_until_every_transaction_before(noted, ended_within_s=90)
    read(key, compute)  # kept after the note: the note can invalidate nothing any more
    assert not in_own_connection(note_is_kept)


# --- the reports' inputs ---------------------------------------------------------------


def tables_read_by(compute) -> set[str]:
    """The register's tables named in the SQL ``compute`` sends."""
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        compute()
    named = set()
    for sql in statements:
        named |= set(re.findall(r'"?((?:registry|gis_layers)_[a-z_]+)"?', sql))
    return named


@pytest.mark.parametrize(
    "module, compute",
    [
        (landuse_report, lambda user: landuse_report.landuse_report()),
        (space_report, lambda user: space_report.space_report(user=user)),
    ],
    ids=["landuse", "space"],
)
def test_a_report_names_every_table_it_reads_and_each_has_its_trigger(
    demo, module, compute, django_user_model
):
    superuser = django_user_model.objects.create_superuser("report-reader")
    read_tables = tables_read_by(lambda: compute(superuser))
    # The clearance is read per request, not by the computation.
    assert read_tables - {"registry_clearance"} <= set(module.INPUTS), read_tables
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = c.relname || '_report_input_change'"
        )
        triggered = {name for (name,) in cursor.fetchall()}
    assert set(module.INPUTS) <= triggered


# --- the pages --------------------------------------------------------------------------


def test_the_landuse_page_shows_a_committed_change_after_serving_the_kept_report(
    demo, django_user_model
):
    name = f"landuse-reader-{time.monotonic_ns()}"
    user = in_own_connection(django_user_model.objects.create_superuser, name)  # committed

    def page() -> str:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        response = client.get("/landuse/")
        assert response.status_code == 200
        return response.content.decode()

    def rename(old: str, new: str):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE registry_district SET name = replace(name, %s, %s) "
                "WHERE id IN (SELECT district_id FROM registry_parcel)",
                [old, new],
            )

    names = in_own_connection(
        lambda: list(landuse_report.District.objects.values_list("name", flat=True))
    )
    assert not any("Renamed" in district for district in names)
    in_own_connection(page)  # computed and kept
    try:
        in_own_connection(rename, " ", " Renamed ")
        assert "Renamed" in in_own_connection(page)
    finally:
        in_own_connection(rename, " Renamed ", " ")
    assert "Renamed" not in in_own_connection(page)


def test_a_kept_office_space_report_is_served_only_at_its_clearance(monkeypatch):
    """One kept report per clearance: a report kept for an auditor (cleared to confidential)
    never answers a planner (public), and the other way round."""
    from registry.roles import Role
    from tests.registry.register import user

    def by_clearance(*, user, clearance, **options):
        return {"clearance": clearance}

    monkeypatch.setattr(space_report, "space_report", by_clearance)
    in_own_connection(lambda: CachedReport.objects.all().delete())
    suffix = time.monotonic_ns()
    auditor = in_own_connection(user, Role.AUDITOR, f"space-auditor-{suffix}")
    planner = in_own_connection(user, Role.PLANNER, f"space-planner-{suffix}")

    def kept_clearance(reader) -> int:
        return in_own_connection(space_report.cached_space_report, user=reader)["clearance"]

    assert [kept_clearance(reader) for reader in (auditor, planner)] == [3, 0]
    assert [kept_clearance(reader) for reader in (planner, auditor)] == [0, 3]
    assert in_own_connection(lambda: CachedReport.objects.count()) == 2


# --- warming ----------------------------------------------------------------------------


def test_warming_keeps_the_reports_and_computes_nothing_when_nothing_changed(demo, monkeypatch):
    from django.core.management import call_command

    from gis_layers.management.commands.warm_reports import clearances_in_use

    in_own_connection(lambda: CachedReport.objects.all().delete())
    in_own_connection(call_command, "warm_reports", stdout=io.StringIO())
    kept = in_own_connection(lambda: list(CachedReport.objects.values_list("key", flat=True)))
    assert sum(key.startswith("landuse/") for key in kept) == 1
    assert sum(key.startswith("space/") for key in kept) == len(clearances_in_use()) >= 2

    def must_not_compute(*args, **kwargs):
        raise AssertionError("computed although nothing changed")

    monkeypatch.setattr(landuse_report, "landuse_report", must_not_compute)
    monkeypatch.setattr(space_report, "space_report", must_not_compute)
    out = io.StringIO()
    in_own_connection(call_command, "warm_reports", stdout=out)
    assert out.getvalue().count("ready") == 1 + len(clearances_in_use())
