"""Holders are added to a right only by the transaction that recorded it, and only while it
stands: read from the register's own history, not from the row's xmin.

0008 asked whether the right's row was written by the current transaction. Ending a right
rewrites its row, so a transaction that ended a right could then add holders to it; and the
row's 32-bit xmin had to be placed in its epoch by reckoning, which goes wrong for a right
written more than 2^31 transactions ago. The history keeps, for every right, the 64-bit id of
the transaction that inserted it (written at the end of the inserting statement, savepoints
included, and gone with them when rolled back).
"""

from django.db import migrations

GUARD = """
CREATE OR REPLACE FUNCTION landledger_guard_right_holders() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM registry_right r WHERE r.id = NEW.right_id
                   AND r.cancelled_by_id IS NULL)
           AND EXISTS (SELECT 1 FROM registry_historyevent h
                       WHERE h.table_name = 'registry_right' AND h.row_pk = NEW.right_id::text
                         AND h.operation = 'I' AND h.transaction_id = txid_current()) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'right % was recorded by an earlier transaction, or has ended: its '
            'holders change only with a new version of the right, registered by an act',
            NEW.right_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'the holders of right % are part of its record: % refused',
        OLD.right_id, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP FUNCTION landledger_written_by_this_transaction(xid);
"""

# 0008's guard and its helper, as they were.
PREVIOUS_GUARD = """
CREATE FUNCTION landledger_written_by_this_transaction(row_xmin xid) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    current bigint := pg_current_xact_id()::text::bigint;
    writer bigint := (current >> 32 << 32) | row_xmin::text::bigint;
BEGIN
    IF writer - current > (1::bigint << 31) THEN
        writer := writer - (1::bigint << 32);
    ELSIF current - writer > (1::bigint << 31) THEN
        writer := writer + (1::bigint << 32);
    END IF;
    RETURN writer >= 0 AND pg_xact_status(writer::text::xid8) IS NOT DISTINCT FROM 'in progress';
END $$;

CREATE OR REPLACE FUNCTION landledger_guard_right_holders() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM registry_right r WHERE r.id = NEW.right_id
                   AND landledger_written_by_this_transaction(r.xmin)) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'right % was recorded by an earlier transaction: its holders change '
            'only with a new version of the right, registered by an act', NEW.right_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'the holders of right % are part of its record: % refused',
        OLD.right_id, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("registry", "0008_right_guards")]
    operations = [migrations.RunSQL(GUARD, PREVIOUS_GUARD)]
