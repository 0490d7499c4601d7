"""Tile changes noted once per statement instead of once per row.

The triggers of 0006 noted the boxes of each changed row in gis_layers_tilechange with a call
of a PL/pgSQL function per row: a bulk load of a million parcels made a million calls.
Statement-level triggers with transition tables (the rows a statement inserted, updated or
deleted) note the same boxes in one INSERT ... SELECT.

The notes are exactly those the row-level triggers wrote, in the same order: for each row of
the statement, the box before the change, then the box after it; an UPDATE that changed
nothing in a row notes nothing for it. An UPDATE's old and new rows are paired on ``id``,
which therefore must not change (no code changes it; the trigger refuses it rather than miss a
box).

PostgreSQL allows a transition table only in a trigger for one event, so each table has
three triggers, one per event.
"""

from django.db import migrations

LAYERS = {
    # layer: (table, geometry column), as in 0006
    "parcels": ("registry_parcel", "geom"),
    "buildings": ("registry_building", "footprint"),
    "shelters": ("registry_shelter", "location"),
    "zoning": ("gis_layers_zoningarea", "geom"),
}

# The geometry column's name comes from the trigger's arguments, hence EXECUTE (once per
# statement, not per row); $1 is the layer.
STATEMENT_FUNCTION = """
CREATE FUNCTION landledger_note_statement_tile_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    paired bigint;
BEGIN
    IF TG_OP IN ('INSERT', 'DELETE') THEN
        EXECUTE format(
            'INSERT INTO gis_layers_tilechange (layer, bbox, transaction_id) '
            'SELECT $1, ST_Envelope(ST_Expand(g, 0.00001)), txid_current() '
            'FROM (SELECT r.%I AS g FROM %I r) changed '
            'WHERE g IS NOT NULL AND NOT ST_IsEmpty(g)',
            TG_ARGV[1], CASE TG_OP WHEN 'INSERT' THEN 'new_rows' ELSE 'old_rows' END)
        USING TG_ARGV[0];
        RETURN NULL;
    END IF;
    -- For each row in the statement's order: the box before, then the box after, unless the
    -- UPDATE left the row as it was.
    EXECUTE format(
        'INSERT INTO gis_layers_tilechange (layer, bbox, transaction_id) '
        'SELECT $1, ST_Envelope(ST_Expand(g, 0.00001)), txid_current() FROM ('
        '  SELECT sides.g FROM ('
        '    SELECT row_number() OVER () AS position, r AS new_row FROM new_rows r) n '
        '  JOIN (SELECT r AS old_row FROM old_rows r) o ON (o.old_row).id = (n.new_row).id '
        '  CROSS JOIN LATERAL (VALUES (1, (o.old_row).%1$I), (2, (n.new_row).%1$I)) AS sides(side, g) '
        '  WHERE NOT ((o.old_row).%1$I IS NOT DISTINCT FROM (n.new_row).%1$I '
        '             AND to_jsonb(o.old_row) = to_jsonb(n.new_row)) '
        '    AND sides.g IS NOT NULL AND NOT ST_IsEmpty(sides.g) '
        '  ORDER BY n.position, sides.side) changed',
        TG_ARGV[1])
    USING TG_ARGV[0];
    SELECT count(*) INTO paired FROM new_rows n JOIN old_rows o ON o.id = n.id;
    IF paired <> (SELECT count(*) FROM new_rows) THEN
        RAISE EXCEPTION 'an UPDATE of % changed its id: its tile changes would be lost',
            TG_TABLE_NAME USING ERRCODE = 'feature_not_supported';
    END IF;
    RETURN NULL;
END $$;
"""

# Verbatim from 0006, to restore the row-level triggers when this migration is reversed.
ROW_FUNCTION = """
CREATE FUNCTION landledger_note_tile_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_geometry geometry;
    new_geometry geometry;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('SELECT ($1).%I', TG_ARGV[1]) INTO old_geometry USING OLD;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('SELECT ($1).%I', TG_ARGV[1]) INTO new_geometry USING NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND old_geometry IS NOT DISTINCT FROM new_geometry
       AND to_jsonb(OLD) = to_jsonb(NEW) THEN
        RETURN NULL;
    END IF;
    INSERT INTO gis_layers_tilechange (layer, bbox, transaction_id)
    SELECT TG_ARGV[0], ST_Envelope(ST_Expand(g, 0.00001)), txid_current()
      FROM (VALUES (old_geometry), (new_geometry)) AS changed(g)
     WHERE g IS NOT NULL AND NOT ST_IsEmpty(g);
    RETURN NULL;
END $$;
"""

# event → the transition tables its trigger sees.
TRANSITION_TABLES = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}


def forwards() -> str:
    statements = [f"DROP TRIGGER {table}_tile_change ON {table};" for table, _ in LAYERS.values()]
    statements += ["DROP FUNCTION landledger_note_tile_change();", STATEMENT_FUNCTION]
    for layer, (table, column) in LAYERS.items():
        for event, tables in TRANSITION_TABLES.items():
            statements.append(
                f"CREATE TRIGGER {table}_tile_change_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {tables} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION landledger_note_statement_tile_changes('{layer}', '{column}');"
            )
    return "\n".join(statements)


def backwards() -> str:
    statements = [
        f"DROP TRIGGER {table}_tile_change_{event.lower()} ON {table};"
        for table, _ in LAYERS.values()
        for event in TRANSITION_TABLES
    ]
    statements += ["DROP FUNCTION landledger_note_statement_tile_changes();", ROW_FUNCTION]
    statements += [
        f"CREATE TRIGGER {table}_tile_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION landledger_note_tile_change('{layer}', '{column}');"
        for layer, (table, column) in LAYERS.items()
    ]
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [("gis_layers", "0012_cached_tile_stored_uncompressed")]
    operations = [migrations.RunSQL(forwards(), backwards())]
