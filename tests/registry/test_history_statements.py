"""History written once per statement (migration 0007) is the history the row-level trigger
it replaced wrote, row by row: each test puts the row-level trigger back beside the
statement-level ones, runs multi-row SQL, and compares what each wrote."""

import importlib

import pytest
from django.db import DatabaseError, connection, transaction

from registry.models import HistoryEvent
from tests.registry import factories

pytestmark = pytest.mark.django_db

HISTORY_MIGRATION = importlib.import_module("migrations.registry.0007_statement_level_history")
COMPARED = ("table_name", "row_pk", "operation", "transaction_id", "db_user", "app_user")


def execute(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def row_level_history_too():
    """The row-level history trigger as it was before 0007, beside the new ones (undone with
    the test's transaction). Row-level AFTER triggers fire before statement-level ones, so
    each statement's events are first the old trigger's, then the new ones'."""
    execute(HISTORY_MIGRATION.ROW_FUNCTION)
    execute(
        "CREATE TRIGGER registry_parcel_history_by_row AFTER INSERT OR UPDATE OR DELETE "
        "ON registry_parcel FOR EACH ROW EXECUTE FUNCTION landledger_record_history('id')"
    )


def events_since(last_id: int) -> list[HistoryEvent]:
    return list(HistoryEvent.objects.filter(id__gt=last_id, table_name="registry_parcel"))


def as_stored(event: HistoryEvent) -> tuple[str | None, str | None]:
    return execute(
        "SELECT old::text, new::text FROM registry_historyevent WHERE id = %s", [event.id]
    )[0]


def assert_same_history_twice(events: list[HistoryEvent], rows: int) -> list[HistoryEvent]:
    """The first half (row by row) equals the second (by statement), event for event, in
    order; returns the second half."""
    assert len(events) == 2 * rows
    by_row, by_statement = events[:rows], events[rows:]
    for old, new in zip(by_row, by_statement, strict=True):
        assert [getattr(new, field) for field in COMPARED] == [
            getattr(old, field) for field in COMPARED
        ]
        # As stored: jsonb's own text, digit for digit, not only equal once parsed.
        assert as_stored(new) == as_stored(old)
        assert new.changed_at >= old.changed_at
    changed_at = [event.changed_at for event in by_statement]
    assert changed_at == sorted(changed_at)
    return by_statement


def last_event_id() -> int:
    return HistoryEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_multi_row_insert_update_delete_record_the_history_of_each_row(row_level_history_too):
    district, land_use = factories.district(), "0801"
    execute("SELECT set_config('landledger.app_user', 'registrar-7', true)")

    before = last_event_id()
    inserted = [
        row[0]
        for row in execute(
            "INSERT INTO registry_parcel (unit_code, district_id, land_use_id, name, address, "
            "geom, valid_from, source, is_synthetic) "
            "SELECT '110102001001GB' || lpad((90000 + n)::text, 5, '0') || 'W00000000', %s, %s, "
            "'parcel ' || n, '', ST_Multi(ST_MakeEnvelope(116.9 + n * 0.001, 39.9, "
            "116.9 + n * 0.001 + 0.0005, 39.9005, 4490)), '2024-01-01', 'sql', true "
            "FROM generate_series(1, 4) n RETURNING id",
            [district.id, land_use],
        )
    ]
    events = assert_same_history_twice(events_since(before), rows=4)
    assert [event.operation for event in events] == ["I"] * 4
    assert [event.row_pk for event in events] == [str(pk) for pk in inserted]
    assert [event.new["name"] for event in events] == [f"parcel {n}" for n in range(1, 5)]
    assert {event.app_user for event in events} == {"registrar-7"}
    assert all(event.old is None for event in events)

    # Renames three, moves one, and leaves one as it was: every row updated is recorded.
    before = last_event_id()
    updated = [
        row[0]
        for row in execute(
            "UPDATE registry_parcel SET name = CASE WHEN id = %s THEN name ELSE name || ' (renamed)' END, "
            "geom = CASE WHEN id = %s THEN ST_Translate(geom, 0, 0.001) ELSE geom END "
            "WHERE id = ANY(%s) RETURNING id",
            [inserted[0], inserted[1], inserted],
        )
    ]
    events = assert_same_history_twice(events_since(before), rows=4)
    assert [event.row_pk for event in events] == [str(pk) for pk in updated]
    assert [event.operation for event in events] == ["U"] * 4
    unchanged = next(event for event in events if event.row_pk == str(inserted[0]))
    assert unchanged.old == unchanged.new
    renamed = next(event for event in events if event.row_pk == str(inserted[2]))
    assert (renamed.old["name"], renamed.new["name"]) == ("parcel 3", "parcel 3 (renamed)")

    before = last_event_id()
    deleted = [
        row[0]
        for row in execute(
            "DELETE FROM registry_parcel WHERE id = ANY(%s) RETURNING id", [inserted[1:]]
        )
    ]
    events = assert_same_history_twice(events_since(before), rows=3)
    assert [event.row_pk for event in events] == [str(pk) for pk in deleted]
    assert [(event.operation, event.new) for event in events] == [("D", None)] * 3
    assert sorted(event.old["name"] for event in events) == [
        "parcel 2 (renamed)",
        "parcel 3 (renamed)",
        "parcel 4 (renamed)",
    ]


def test_an_update_of_the_key_is_refused_rather_than_recorded_under_the_wrong_key():
    parcel = factories.parcel()
    parcel.save()
    with pytest.raises(DatabaseError, match="changed its key id"), transaction.atomic():
        execute("UPDATE registry_parcel SET id = id + 1000000 WHERE id = %s", [parcel.pk])
