"""Holders are added to a right only by the transaction that recorded it, and only while it
stands; and a recorded right is never deleted.

0008 asked whether the right's row was written by the current transaction (its xmin). Ending
a right rewrites its row, so a transaction that ended a right could then add holders to it;
and the row's 32-bit xmin had to be placed in its epoch by reckoning, which goes wrong for a
right written more than 2^31 transactions ago. A transaction id kept with the right would not
do either: after a restore from pg_dump into a new cluster, ids are given out again from a low
number, and one that recorded a restored right would come round once more.

So each transaction that records rights holds a secret of its own, drawn at random when it
records its first right and kept as a transaction-local setting (undone with a savepoint
rolled back, like the rights written under it); each right keeps the SHA-256 of it,
``recorded_with``, set by the database whatever the insert gives. Only the transaction that
knows the secret can add holders to the right, and no ordinary statement can forge it: the
register holds only its digest, and a right's columns never change but for its end (0008).
A right and its holders inserted by one statement (a data-modifying WITH) are refused: the
rows of the one statement cannot see each other.

Deleting a right and inserting another under its id in the same transaction would also pass
any check on the new row; rights, like their holders, are therefore never deleted.
"""

from django.db import migrations

FORWARDS = """
ALTER TABLE registry_right ADD COLUMN recorded_with bytea;

CREATE FUNCTION landledger_recording_secret() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    secret text := current_setting('landledger.recording_secret', true);
BEGIN
    IF secret IS NULL OR secret = '' THEN
        secret := gen_random_uuid()::text || gen_random_uuid()::text;
        PERFORM set_config('landledger.recording_secret', secret, true);
    END IF;
    RETURN secret;
END $$;

CREATE FUNCTION landledger_stamp_right() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.recorded_with := sha256(convert_to(landledger_recording_secret(), 'UTF8'));
    RETURN NEW;
END $$;

CREATE TRIGGER registry_right_recorded_with BEFORE INSERT ON registry_right
    FOR EACH ROW EXECUTE FUNCTION landledger_stamp_right();
CREATE TRIGGER registry_right_never_deleted BEFORE DELETE ON registry_right
    FOR EACH ROW EXECUTE FUNCTION landledger_refuse_change();
CREATE TRIGGER registry_right_no_truncate BEFORE TRUNCATE ON registry_right
    FOR EACH STATEMENT EXECUTE FUNCTION landledger_refuse_change();

CREATE OR REPLACE FUNCTION landledger_guard_right_holders() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    secret text := current_setting('landledger.recording_secret', true);
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF secret IS NOT NULL AND secret <> '' AND EXISTS (
               SELECT 1 FROM registry_right r WHERE r.id = NEW.right_id
               AND r.cancelled_by_id IS NULL
               AND r.recorded_with = sha256(convert_to(secret, 'UTF8'))) THEN
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
BACKWARDS = """
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

DROP TRIGGER registry_right_no_truncate ON registry_right;
DROP TRIGGER registry_right_never_deleted ON registry_right;
DROP TRIGGER registry_right_recorded_with ON registry_right;
DROP FUNCTION landledger_stamp_right();
DROP FUNCTION landledger_recording_secret();
ALTER TABLE registry_right DROP COLUMN recorded_with;
"""


class Migration(migrations.Migration):
    dependencies = [("registry", "0008_right_guards")]
    operations = [migrations.RunSQL(FORWARDS, BACKWARDS)]
