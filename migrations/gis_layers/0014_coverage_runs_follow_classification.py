"""A coverage run is shown only to users cleared for its ``clearance``; a shelter it holds
(in its catchments or its list of shelters left out) that is later classified higher raises
the run's clearance with it.

A run keeps its results as computed: without this, a shelter classified secret after a public
run would stay on that run's page, report and catchment tiles for every planner.
"""

from django.db import migrations

FORWARDS = """
CREATE FUNCTION landledger_raise_coverage_run_clearance(only_run bigint, only_shelter bigint)
RETURNS void LANGUAGE sql AS $$
    UPDATE gis_layers_coveragerun r SET clearance = seen.level
      FROM (SELECT held.run_id, max(s.classification) AS level
              FROM (SELECT cs.run_id, cs.shelter_id FROM gis_layers_coverageshelter cs
                    UNION ALL
                    SELECT run.id, (left_out->>'shelter')::bigint
                      FROM gis_layers_coveragerun run,
                           jsonb_array_elements(run.summary->'excluded_shelters') AS left_out) held
              JOIN registry_shelter s ON s.id = held.shelter_id
             WHERE (only_run IS NULL OR held.run_id = only_run)
               AND (only_shelter IS NULL OR held.shelter_id = only_shelter)
             GROUP BY held.run_id) seen
     WHERE r.id = seen.run_id AND seen.level > r.clearance;
$$;

CREATE FUNCTION landledger_coverage_runs_follow_classification() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM landledger_raise_coverage_run_clearance(NULL, NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER registry_shelter_coverage_runs_follow_classification
AFTER UPDATE OF classification ON registry_shelter
FOR EACH ROW WHEN (NEW.classification > OLD.classification)
EXECUTE FUNCTION landledger_coverage_runs_follow_classification();
"""

BACKWARDS = """
DROP TRIGGER registry_shelter_coverage_runs_follow_classification ON registry_shelter;
DROP FUNCTION landledger_coverage_runs_follow_classification();
DROP FUNCTION landledger_raise_coverage_run_clearance(bigint, bigint);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("gis_layers", "0013_statement_level_tile_change"),
        ("registry", "0001_initial"),
    ]
    operations = [migrations.RunSQL(FORWARDS, BACKWARDS)]
