"""The audit log and the documents lodged with acts become append-only, as the journal and
the history are (0004): the database refuses UPDATE, DELETE and TRUNCATE on them, whoever
asks. An audit log the application could rewrite would not tell an auditor what happened,
and a lodged deed must stay the one its SHA-256 names."""

from django.db import migrations

TABLES = ["registry_auditevent", "registry_sourcedocument"]


def create_triggers() -> str:
    return "\n".join(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION landledger_refuse_change();"
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION landledger_refuse_change();"
        for table in TABLES
    )


def drop_triggers() -> str:
    return "\n".join(
        f"DROP TRIGGER {table}_append_only ON {table}; DROP TRIGGER {table}_no_truncate ON {table};"
        for table in TABLES
    )


class Migration(migrations.Migration):
    dependencies = [("registry", "0010_stratified_units")]
    operations = [migrations.RunSQL(create_triggers(), drop_triggers())]
