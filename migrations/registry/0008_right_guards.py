"""Guards of rights and their holders, in SQL so that no path around the application skips
them (DESIGN.md §4: "a transfer only from the current holder"):

- a right, once recorded, changes only by being ended: its valid_to and the act that ended it
  are set, once; every other column stays as recorded. A change of its terms or holders is a
  new version of the right, registered by an act;
- a right's holders are recorded with it, in the transaction that recorded it, and are never
  updated or deleted;
- at commit, a right ended by a transfer was held by exactly the parties the transfer names
  as its transferors.
"""

from django.db import migrations

FORWARDS = """
CREATE FUNCTION landledger_guard_right_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.valid_to IS NULL AND OLD.cancelled_by_id IS NULL
       AND NEW.valid_to IS NOT NULL AND NEW.cancelled_by_id IS NOT NULL
       AND to_jsonb(NEW) - 'valid_to' - 'cancelled_by_id'
           = to_jsonb(OLD) - 'valid_to' - 'cancelled_by_id' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'right % may only be ended by an act, once; any other change is a new '
        'version of the right, registered by an act', OLD.id
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Whether the visible row version whose xmin is ``row_xmin`` was written by the current
-- transaction or one of its subtransactions (Django's savepoints): a row visible here whose
-- writer is still in progress can only be our own. xmin holds the low 32 bits of the
-- writer's id; its epoch is the one that puts it nearest the current transaction's id (a
-- subtransaction's id comes after it, an older writer's before it).
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

CREATE FUNCTION landledger_guard_right_holders() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE FUNCTION landledger_check_transfer_from_holders() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ending record;
    held bigint[];
    named bigint[];
BEGIN
    SELECT a.number, a.act_type, a.payload INTO ending
        FROM registry_registrationact a WHERE a.id = NEW.cancelled_by_id;
    IF ending.act_type IS DISTINCT FROM 'transfer' THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(h.party_id ORDER BY h.party_id) INTO held
        FROM registry_rightholder h WHERE h.right_id = NEW.id;
    SELECT array_agg(DISTINCT (e #>> '{}')::numeric::bigint ORDER BY (e #>> '{}')::numeric::bigint)
        INTO named
        FROM jsonb_array_elements(
            CASE WHEN jsonb_typeof(ending.payload -> 'transferors') = 'array'
                 THEN ending.payload -> 'transferors' ELSE '[]'::jsonb END) AS e;
    IF held IS DISTINCT FROM named THEN
        RAISE EXCEPTION 'transfer % ends right % held by parties %, but names % as the transferors: '
            'a transfer must come from the current holders',
            ending.number, NEW.id, held, COALESCE(named, '{}')
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER registry_right_only_ended BEFORE UPDATE ON registry_right
    FOR EACH ROW EXECUTE FUNCTION landledger_guard_right_update();
CREATE TRIGGER registry_rightholder_recorded_with_right
    BEFORE INSERT OR UPDATE OR DELETE ON registry_rightholder
    FOR EACH ROW EXECUTE FUNCTION landledger_guard_right_holders();
CREATE TRIGGER registry_rightholder_no_truncate BEFORE TRUNCATE ON registry_rightholder
    FOR EACH STATEMENT EXECUTE FUNCTION landledger_refuse_change();
CREATE CONSTRAINT TRIGGER registry_right_transfer_from_holders
    AFTER UPDATE OF cancelled_by_id ON registry_right
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.cancelled_by_id IS NOT NULL)
    EXECUTE FUNCTION landledger_check_transfer_from_holders();
"""

BACKWARDS = """
DROP TRIGGER registry_right_transfer_from_holders ON registry_right;
DROP TRIGGER registry_rightholder_no_truncate ON registry_rightholder;
DROP TRIGGER registry_rightholder_recorded_with_right ON registry_rightholder;
DROP TRIGGER registry_right_only_ended ON registry_right;
DROP FUNCTION landledger_check_transfer_from_holders();
DROP FUNCTION landledger_guard_right_holders();
DROP FUNCTION landledger_written_by_this_transaction(xid);
DROP FUNCTION landledger_guard_right_update();
"""


class Migration(migrations.Migration):
    dependencies = [("registry", "0007_statement_level_history")]
    operations = [migrations.RunSQL(FORWARDS, BACKWARDS)]
