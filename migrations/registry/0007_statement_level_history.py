"""History written once per statement instead of once per row.

The triggers of 0004 and 0005 copied each changed row into registry_historyevent with a
call of a PL/pgSQL function and a one-row INSERT per row: a bulk load of a million parcels
made a million calls. Statement-level triggers with transition tables (the rows a statement
inserted, updated or deleted) write the same history rows in one INSERT ... SELECT.

The rows are exactly those the row-level triggers wrote, in the same order (ids and
``changed_at`` rise with the rows of the statement): an UPDATE's old and new rows are paired
on the table's key, which therefore must not change (no code changes a primary key; the
trigger refuses it rather than record a row's history under the wrong key).

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
    paired bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO registry_historyevent
            (table_name, row_pk, operation, changed_at, transaction_id, db_user, app_user, old, new)
        SELECT TG_TABLE_NAME, n.new_row ->> key, 'I', clock_timestamp(), txid_current(),
               current_user, acting_user, NULL, n.new_row
          FROM (SELECT to_jsonb(r) AS new_row FROM new_rows r) n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO registry_historyevent
            (table_name, row_pk, operation, changed_at, transaction_id, db_user, app_user, old, new)
        SELECT TG_TABLE_NAME, o.old_row ->> key, 'D', clock_timestamp(), txid_current(),
               current_user, acting_user, o.old_row, NULL
          FROM (SELECT to_jsonb(r) AS old_row FROM old_rows r) o;
    ELSE
        -- Sorted by the statement's order of the rows before the timestamps are taken, so
        -- that ids and changed_at rise together, as they did row by row.
        INSERT INTO registry_historyevent
            (table_name, row_pk, operation, changed_at, transaction_id, db_user, app_user, old, new)
        SELECT TG_TABLE_NAME, pairs.new_row ->> key, 'U', clock_timestamp(), txid_current(),
               current_user, acting_user, pairs.old_row, pairs.new_row
          FROM (SELECT o.old_row, n.new_row
                  FROM (SELECT row_number() OVER () AS position, to_jsonb(r) AS new_row
                          FROM new_rows r) n
                  JOIN (SELECT to_jsonb(r) AS old_row FROM old_rows r) o
                    ON o.old_row -> key = n.new_row -> key
                 ORDER BY n.position) pairs;
        GET DIAGNOSTICS paired = ROW_COUNT;
        IF paired <> (SELECT count(*) FROM new_rows) THEN
            RAISE EXCEPTION 'an UPDATE of % changed its key %: its history would be lost',
                TG_TABLE_NAME, key USING ERRCODE = 'feature_not_supported';
        END IF;
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
