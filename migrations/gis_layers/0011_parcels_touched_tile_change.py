"""Triggers noting where a change of a building or a zone changes parcels' tiles: the extent
of the parcels it touches (before and after), under its own layer name.

The layers drawn from parcels with figures from their buildings or zones (``underused``,
``conformity``) change wherever those parcels are drawn, and a parcel reaches well beyond a
building on it, or beyond the part of a zone a change moved: the changed row's own box, as
0006 notes it, would leave the parcel's other tiles cached with the old figures.
"""

from django.db import migrations

LAYERS = {
    # layer noted: (table, geometry column)
    "parcels_by_building": ("registry_building", "footprint"),
    "parcels_by_zoning": ("gis_layers_zoningarea", "geom"),
}

FUNCTION = """
CREATE FUNCTION landledger_note_parcels_touched() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_geometry geometry;
    new_geometry geometry;
    touched box2d;
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
    -- Parcels of any date: tiles of past dates show the parcels of their day.
    SELECT ST_Extent(p.geom) INTO touched FROM registry_parcel p
     WHERE (p.geom && old_geometry AND ST_Intersects(p.geom, old_geometry))
        OR (p.geom && new_geometry AND ST_Intersects(p.geom, new_geometry));
    IF touched IS NOT NULL THEN
        INSERT INTO gis_layers_tilechange (layer, bbox, transaction_id)
        VALUES (TG_ARGV[0], ST_SetSRID(ST_Expand(touched, 0.00001)::geometry, 4490),
                txid_current());
    END IF;
    RETURN NULL;
END $$;
"""


def forwards() -> str:
    statements = [FUNCTION]
    for layer, (table, column) in LAYERS.items():
        statements.append(
            f"CREATE TRIGGER {table}_parcels_touched AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION landledger_note_parcels_touched('{layer}', '{column}');"
        )
    return "\n".join(statements)


def backwards() -> str:
    statements = [
        f"DROP TRIGGER {table}_parcels_touched ON {table};" for table, _ in LAYERS.values()
    ]
    statements.append("DROP FUNCTION landledger_note_parcels_touched();")
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [("gis_layers", "0010_coverage_runs")]
    operations = [
        migrations.RunSQL(forwards(), backwards()),
        # Conformity tiles now take the main planned use by the sum of its zones' areas and
        # leave slivers out: those cached before would stay as drawn the old way.
        migrations.RunSQL(
            "DELETE FROM gis_layers_cachedtile WHERE layer = 'conformity'", migrations.RunSQL.noop
        ),
    ]
