"""Tile changes noted once per statement (migration 0013) are the notes the row-level trigger
it replaced wrote, row by row: each test puts the row-level trigger back beside the
statement-level ones, runs multi-row SQL, and compares what each noted."""

import importlib

import pytest
from django.db import DatabaseError, connection, transaction

from tests.registry import factories

pytestmark = pytest.mark.django_db

TILE_MIGRATION = importlib.import_module("migrations.gis_layers.0013_statement_level_tile_change")


def execute(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def row_level_notes_too():
    """The row-level trigger as it was before 0013, beside the new ones (undone with the
    test's transaction). Row-level AFTER triggers fire before statement-level ones, so each
    statement's notes are first the old trigger's, then the new ones'."""
    execute(TILE_MIGRATION.ROW_FUNCTION)
    execute(
        "CREATE TRIGGER registry_parcel_tile_change_by_row AFTER INSERT OR UPDATE OR DELETE "
        "ON registry_parcel FOR EACH ROW "
        "EXECUTE FUNCTION landledger_note_tile_change('parcels', 'geom')"
    )


def notes_since(last_id: int) -> list[tuple]:
    return execute(
        "SELECT layer, ST_AsEWKT(bbox), transaction_id = txid_current() "
        "FROM gis_layers_tilechange WHERE id > %s ORDER BY id",
        [last_id],
    )


def last_note_id() -> int:
    return execute("SELECT COALESCE(max(id), 0) FROM gis_layers_tilechange")[0][0]


def assert_same_notes_twice(notes: list[tuple], count: int) -> list[tuple]:
    """The first half (row by row) equals the second (by statement), note for note, in
    order; returns the second half."""
    assert len(notes) == 2 * count
    assert notes[count:] == notes[:count]
    assert all(layer == "parcels" and ours for layer, _, ours in notes)
    return notes[count:]


def box(n: int, *, moved: bool = False) -> str:
    """The note of the n-th square of these tests (moved north by 0.001°, or not): its box
    grown by 0.00001°."""
    return execute(
        "SELECT ST_AsEWKT(ST_Envelope(ST_Expand(ST_Translate(ST_MakeEnvelope(116.9 + n * 0.001, "
        "39.9, 116.9 + n * 0.001 + 0.0005, 39.9005, 4490), 0, %s), 0.00001))) "
        "FROM (SELECT %s::int AS n) square",
        [0.001 if moved else 0, n],
    )[0][0]


def test_multi_row_insert_update_delete_note_the_boxes_of_each_row(row_level_notes_too):
    district = factories.district()
    before = last_note_id()
    inserted = [
        row[0]
        for row in execute(
            "INSERT INTO registry_parcel (unit_code, district_id, land_use_id, name, address, "
            "geom, valid_from, source, is_synthetic) "
            "SELECT '110102001001GB' || lpad((91000 + n)::text, 5, '0') || 'W00000000', %s, "
            "'0801', 'parcel ' || n, '', ST_Multi(ST_MakeEnvelope(116.9 + n * 0.001, 39.9, "
            "116.9 + n * 0.001 + 0.0005, 39.9005, 4490)), '2024-01-01', 'sql', true "
            "FROM generate_series(1, 3) n ORDER BY n RETURNING id",
            [district.id],
        )
    ]
    notes = assert_same_notes_twice(notes_since(before), count=3)
    assert [note[1] for note in notes] == [box(n) for n in (1, 2, 3)]

    # The first row as it was (no note), the second renamed (its box, twice: before and
    # after), the third moved north (its old box, then its new one).
    before = last_note_id()
    execute(
        "UPDATE registry_parcel SET name = CASE WHEN id = %s THEN name || ' (renamed)' ELSE name END, "
        "geom = CASE WHEN id = %s THEN ST_Translate(geom, 0, 0.001) ELSE geom END "
        "WHERE id = ANY(%s)",
        [inserted[1], inserted[2], inserted],
    )
    notes = assert_same_notes_twice(notes_since(before), count=4)
    assert sorted(note[1] for note in notes) == sorted([box(2)] * 2 + [box(3), box(3, moved=True)])

    before = last_note_id()
    execute("DELETE FROM registry_parcel WHERE id = ANY(%s)", [inserted])
    notes = assert_same_notes_twice(notes_since(before), count=3)
    assert sorted(note[1] for note in notes) == sorted([box(1), box(2), box(3, moved=True)])


def test_an_update_of_the_id_is_refused_rather_than_a_box_missed():
    zone_id = execute(
        "INSERT INTO gis_layers_zoningarea (planned_use, plan_name, geom, source) "
        "VALUES ('0801', 'plan', ST_Multi(ST_MakeEnvelope(116.9, 39.9, 116.901, 39.901, 4490)), "
        "'sql') RETURNING id"
    )[0][0]
    with pytest.raises(DatabaseError, match="changed its id"), transaction.atomic():
        execute("UPDATE gis_layers_zoningarea SET id = id + 1000000 WHERE id = %s", [zone_id])
