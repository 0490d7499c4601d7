"""Kept reports (gis_layers.report_cache) and the notes that tell when one is out of date.

A statement trigger on every table a kept report reads notes the writing transaction, once per
table and transaction: in that transaction, so the note counts only once it commits. A
statement trigger fires whatever path the write took and costs one INSERT per statement, not
per row, so a bulk import pays it once per chunk. TRUNCATE is noted too (Django's test flush
empties tables with it).
"""

from django.db import migrations, models


# The tables the land-use and office-space reports read (their ``INPUTS``); a test checks that
# every table a report names has its trigger.
REPORT_INPUTS = (
    "gis_layers_landusecrosswalk",
    "gis_layers_zoningarea",
    "registry_agency",
    "registry_agencyspacerecord",
    "registry_allocatedblock",
    "registry_building",
    "registry_district",
    "registry_officespacecap",
    "registry_officespacestandard",
    "registry_parcel",
    "registry_party",
    "registry_right",
    "registry_rightholder",
    "registry_shelter",
    "registry_spaceblock",
    "registry_staffestablishment",
    "registry_title",
)

NOTE_FUNCTION = """
CREATE FUNCTION landledger_note_report_input_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO gis_layers_reportinputchange (relation, transaction_id)
    VALUES (TG_TABLE_NAME, pg_current_xact_id()::text::bigint)
    ON CONFLICT ON CONSTRAINT report_input_change_once DO NOTHING;
    RETURN NULL;
END $$;
"""


def forwards() -> str:
    return NOTE_FUNCTION + "\n".join(
        f"CREATE TRIGGER {table}_report_input_change "
        f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} FOR EACH STATEMENT "
        "EXECUTE FUNCTION landledger_note_report_input_change();"
        for table in REPORT_INPUTS
    )


def backwards() -> str:
    return (
        "\n".join(
            f"DROP TRIGGER {table}_report_input_change ON {table};" for table in REPORT_INPUTS
        )
        + "\nDROP FUNCTION landledger_note_report_input_change();"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("gis_layers", "0015_empty_tile_cache"),
    ]

    operations = [
        migrations.CreateModel(
            name="CachedReport",
            fields=[
                ("key", models.CharField(max_length=200, primary_key=True, serialize=False)),
                ("payload", models.TextField(help_text="The report as JSON.")),
                (
                    "snapshot",
                    models.TextField(help_text="pg_current_snapshot() taken before computing."),
                ),
                ("system_identifier", models.BigIntegerField()),
                ("computed_at", models.DateTimeField()),
                ("seconds", models.FloatField(help_text="How long the computation took.")),
            ],
        ),
        migrations.CreateModel(
            name="ReportInputChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("relation", models.CharField(max_length=63)),
                ("transaction_id", models.BigIntegerField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("relation", "transaction_id"), name="report_input_change_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ReportComputation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=200)),
                (
                    "snapshot",
                    models.TextField(help_text="pg_current_snapshot() taken before computing."),
                ),
                ("started_at", models.DateTimeField()),
            ],
        ),
        migrations.RunSQL(forwards(), backwards()),
    ]
