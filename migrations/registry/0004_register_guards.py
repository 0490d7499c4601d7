"""Database guards of the register, in SQL so that no path around the application skips them:

- history: every row change in the register's tables is copied into registry_historyevent;
- append-only: the journal and the history refuse UPDATE, DELETE and TRUNCATE;
- shares: at commit, every right's holders' shares add up to exactly one;
- overlap: at commit, no two current parcels overlap by more than the tolerance
  (``landledger.overlap_tolerance_m2``, 1 m² unless set).
"""

from django.db import migrations

HISTORY_TABLES = [
    "registry_parcel",
    "registry_building",
    "registry_shelter",
    "registry_title",
    "registry_right",
    "registry_rightholder",
    "registry_registrationact",
    "registry_acttitle",
    "registry_certificate",
    "registry_party",
    "registry_agency",
    "registry_staffestablishment",
]
APPEND_ONLY_TABLES = ["registry_journalentry", "registry_historyevent"]

FUNCTIONS = """
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

CREATE FUNCTION landledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE FUNCTION landledger_assert_shares(checked_right bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    denominator integer;
    parts bigint;
BEGIN
    SELECT share_denominator INTO denominator FROM registry_right WHERE id = checked_right;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT COALESCE(sum(share_parts), 0) INTO parts
        FROM registry_rightholder WHERE right_id = checked_right;
    IF parts <> denominator THEN
        RAISE EXCEPTION 'shares of right % add up to %/%, not 1', checked_right, parts, denominator
            USING ERRCODE = 'check_violation';
    END IF;
END $$;

CREATE FUNCTION landledger_check_right_shares() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM landledger_assert_shares(NEW.id);
    RETURN NULL;
END $$;

CREATE FUNCTION landledger_check_holder_shares() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM landledger_assert_shares(OLD.right_id);
    ELSE
        PERFORM landledger_assert_shares(NEW.right_id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION landledger_check_parcel_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tolerance float8 := COALESCE(
        NULLIF(current_setting('landledger.overlap_tolerance_m2', true), '')::float8, 1.0);
    other record;
BEGIN
    IF NEW.valid_to IS NOT NULL THEN
        RETURN NULL;
    END IF;
    SELECT p.id, p.unit_code,
           ST_Area(ST_Intersection(p.geom, NEW.geom)::geography) AS shared_m2
      INTO other
      FROM registry_parcel p
     WHERE p.id <> NEW.id AND p.valid_to IS NULL
       AND p.geom && NEW.geom AND ST_Intersects(p.geom, NEW.geom)
       AND ST_Area(ST_Intersection(p.geom, NEW.geom)::geography) > tolerance
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'parcel % overlaps current parcel % by % m² (tolerance % m²)',
            NEW.unit_code, other.unit_code, round(other.shared_m2::numeric, 1), tolerance
            USING ERRCODE = 'exclusion_violation';
    END IF;
    RETURN NULL;
END $$;
"""


def create_triggers() -> str:
    statements = [FUNCTIONS]
    for table in HISTORY_TABLES:
        key = "party_id" if table == "registry_agency" else "id"
        statements.append(
            f"CREATE TRIGGER {table}_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION landledger_record_history('{key}');"
        )
    for table in APPEND_ONLY_TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION landledger_refuse_change();"
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION landledger_refuse_change();"
        )
    statements.append(
        "CREATE CONSTRAINT TRIGGER registry_right_shares AFTER INSERT OR UPDATE ON registry_right "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION landledger_check_right_shares();"
        "CREATE CONSTRAINT TRIGGER registry_rightholder_shares "
        "AFTER INSERT OR UPDATE OR DELETE ON registry_rightholder "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION landledger_check_holder_shares();"
        "CREATE CONSTRAINT TRIGGER registry_parcel_no_overlap "
        "AFTER INSERT OR UPDATE OF geom, valid_to ON registry_parcel "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "EXECUTE FUNCTION landledger_check_parcel_overlap();"
    )
    return "\n".join(statements)


def drop_triggers() -> str:
    statements = []
    for table in HISTORY_TABLES:
        statements.append(f"DROP TRIGGER {table}_history ON {table};")
    for table in APPEND_ONLY_TABLES:
        statements.append(f"DROP TRIGGER {table}_append_only ON {table};")
        statements.append(f"DROP TRIGGER {table}_no_truncate ON {table};")
    statements += [
        "DROP TRIGGER registry_right_shares ON registry_right;",
        "DROP TRIGGER registry_rightholder_shares ON registry_rightholder;",
        "DROP TRIGGER registry_parcel_no_overlap ON registry_parcel;",
        "DROP FUNCTION landledger_record_history(); DROP FUNCTION landledger_refuse_change();",
        "DROP FUNCTION landledger_check_right_shares(); DROP FUNCTION landledger_check_holder_shares();",
        "DROP FUNCTION landledger_assert_shares(bigint); DROP FUNCTION landledger_check_parcel_overlap();",
    ]
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [("registry", "0003_register")]
    operations = [migrations.RunSQL(create_triggers(), drop_triggers())]
