"""Triggers noting where each map layer changes, for the tile cache (see TileChange)."""

from django.db import migrations

LAYERS = {
    # layer: (table, geometry column)
    "parcels": ("registry_parcel", "geom"),
    "buildings": ("registry_building", "footprint"),
    "shelters": ("registry_shelter", "location"),
    "zoning": ("gis_layers_zoningarea", "geom"),
}

FUNCTION = """
CREATE FUNCTION landledger_note_tile_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_geometry geometry;
    new_geometry geometry;
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
    INSERT INTO gis_layers_tilechange (layer, bbox, transaction_id)
    SELECT TG_ARGV[0], ST_Envelope(ST_Expand(g, 0.00001)), txid_current()
      FROM (VALUES (old_geometry), (new_geometry)) AS changed(g)
     WHERE g IS NOT NULL AND NOT ST_IsEmpty(g);
    RETURN NULL;
END $$;
"""


def forwards() -> str:
    statements = [FUNCTION]
    for layer, (table, column) in LAYERS.items():
        statements.append(
            f"CREATE TRIGGER {table}_tile_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION landledger_note_tile_change('{layer}', '{column}');"
        )
    return "\n".join(statements)


def backwards() -> str:
    statements = [f"DROP TRIGGER {table}_tile_change ON {table};" for table, _ in LAYERS.values()]
    statements.append("DROP FUNCTION landledger_note_tile_change();")
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [("gis_layers", "0005_tiles"), ("registry", "0004_register_guards")]
    operations = [migrations.RunSQL(forwards(), backwards())]
