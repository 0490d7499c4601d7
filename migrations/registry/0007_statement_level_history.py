"""History written once per statement instead of once per row.

The triggers of 0004 and 0005 copied each changed row into registry_historyevent with a
call of a PL/pgSQL function and a one-row INSERT per row: a bulk load of a million parcels
made a million calls. Statement-level triggers with transition tables (the rows a statement
inserted, updated or deleted) write the same history rows in one INSERT ... SELECT, and
write a geometry's GeoJSON without querying spatial_ref_sys for each row as to_jsonb's cast
of a geometry does.

The rows are exactly those the row-level triggers wrote, in the same order (ids and
``changed_at`` rise with the rows of the statement): an UPDATE's old and new rows are paired
on the table's key, which therefore must not change (no code changes a primary key; the
trigger refuses it rather than record a row's history under the wrong key). One order
differs: a statement that both inserts and updates (INSERT ... ON CONFLICT DO UPDATE) now
records the rows it updated, then those it inserted, where row by row they were interleaved.

PostgreSQL allows a transition table only in a trigger for one event, so each table has
three triggers, one per event.
"""

from django.db import migrations

# table → the column its history rows are keyed on (``row_pk``), as in 0004 and 0005.
HISTORY_KEYS = {
    "registry_parcel": "id",
    "registry_building": "id",
    "registry_shelter": "id",
    "registry_title": "id",
    "registry_right": "id",
    "registry_rightholder": "id",
    "registry_registrationact": "id",
    "registry_acttitle": "id",
    "registry_certificate": "id",
    "registry_party": "id",
    "registry_agency": "party_id",
    "registry_staffestablishment": "id",
    "registry_spaceblock": "id",
    "registry_allocatedblock": "id",
    "registry_agencyspacerecord": "id",
}

STATEMENT_FUNCTION = """
CREATE FUNCTION landledger_record_statement_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key text := TG_ARGV[0];
    acting_user text := COALESCE(current_setting('landledger.app_user', true), '');
    columns text;
    paired bigint;
BEGIN
    -- Each row as to_jsonb(row) writes it, but a geometry as ST_AsGeoJSON(g, 15, 2): the
    -- same GeoJSON as to_jsonb's cast (15 decimals, the short CRS name), with the CRS looked
    -- up once per statement, where the cast queries spatial_ref_sys once per value (most of
    -- the cost of a parcel's history row).
    SELECT string_agg(
               CASE WHEN atttypid = 'geometry'::regtype
                    THEN format('ST_AsGeoJSON(r.%1$I, 15, 2)::jsonb AS %1$I', attname)
                    ELSE format('r.%I', attname) END,
               ', ' ORDER BY attnum)
      INTO columns
      FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped;
    IF TG_OP IN ('INSERT', 'DELETE') THEN
        EXECUTE format(
            'INSERT INTO registry_historyevent (table_name, row_pk, operation, changed_at, '
            'transaction_id, db_user, app_user, old, new) '
            'SELECT $1, changed.row_json ->> $2, left($4, 1), clock_timestamp(), txid_current(), '
            'current_user, $3, CASE $4 WHEN ''DELETE'' THEN changed.row_json END, '
            'CASE $4 WHEN ''INSERT'' THEN changed.row_json END '
            'FROM (SELECT to_jsonb(v) AS row_json FROM (SELECT %s FROM %I r) v) changed',
            columns, CASE TG_OP WHEN 'INSERT' THEN 'new_rows' ELSE 'old_rows' END)
        USING TG_TABLE_NAME, key, acting_user, TG_OP;
        RETURN NULL;
    END IF;
    -- Sorted by the statement's order of the rows before the timestamps are taken, so that
    -- ids and changed_at rise together, as they did row by row.
    EXECUTE format(
        'INSERT INTO registry_historyevent (table_name, row_pk, operation, changed_at, '
        'transaction_id, db_user, app_user, old, new) '
        'SELECT $1, pairs.new_row ->> $2, ''U'', clock_timestamp(), txid_current(), '
        'current_user, $3, pairs.old_row, pairs.new_row '
        'FROM (SELECT o.row_json AS old_row, n.row_json AS new_row '
        '      FROM (SELECT row_number() OVER () AS position, to_jsonb(v) AS row_json '
        '              FROM (SELECT %1$s FROM new_rows r) v) n '
        '      JOIN (SELECT to_jsonb(v) AS row_json FROM (SELECT %1$s FROM old_rows r) v) o '
        '        ON o.row_json -> $2 = n.row_json -> $2 '
        '     ORDER BY n.position) pairs',
        columns)
    USING TG_TABLE_NAME, key, acting_user;
    GET DIAGNOSTICS paired = ROW_COUNT;
    IF paired <> (SELECT count(*) FROM new_rows) THEN
        RAISE EXCEPTION 'an UPDATE of % changed its key %: its history would be lost',
            TG_TABLE_NAME, key USING ERRCODE = 'feature_not_supported';
    END IF;
    RETURN NULL;
END $$;
"""

# Verbatim from 0004, to restore the row-level triggers when this migration is reversed.
ROW_FUNCTION = """
CREATE FUNCTION landledger_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
BEGIN
    INSERT INTO registry_historyevent
        (table_name, row_pk, operation, changed_at, transaction_id, db_user, app_user, old, new)
    VALUES (
        TG_TABLE_NAME,
        COALESCE(new_row, old_row) ->> TG_ARGV[0],
        left(TG_OP, 1),
        clock_timestamp(),
        txid_current(),
        current_user,
        COALESCE(current_setting('landledger.app_user', true), ''),
        old_row,
        new_row
    );
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
    statements = [f"DROP TRIGGER {table}_history ON {table};" for table in HISTORY_KEYS]
    statements += ["DROP FUNCTION landledger_record_history();", STATEMENT_FUNCTION]
    for table, key in HISTORY_KEYS.items():
        for event, tables in TRANSITION_TABLES.items():
            statements.append(
                f"CREATE TRIGGER {table}_history_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {tables} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION landledger_record_statement_history('{key}');"
            )
    return "\n".join(statements)


def backwards() -> str:
    statements = [
        f"DROP TRIGGER {table}_history_{event.lower()} ON {table};"
        for table in HISTORY_KEYS
        for event in TRANSITION_TABLES
    ]
    statements += ["DROP FUNCTION landledger_record_statement_history();", ROW_FUNCTION]
    statements += [
        f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION landledger_record_history('{key}');"
        for table, key in HISTORY_KEYS.items()
    ]
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [("registry", "0006_shelter_inspections")]
    operations = [migrations.RunSQL(forwards(), backwards())]
