"""Cached tiles are stored out of line uncompressed (STORAGE EXTERNAL): compressing a large tile
on every write cost more than the space saves, and reading one back needs no decompression.
Rows written before keep their compression until they are written again."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("gis_layers", "0011_parcels_touched_tile_change")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE gis_layers_cachedtile ALTER COLUMN tile SET STORAGE EXTERNAL",
            "ALTER TABLE gis_layers_cachedtile ALTER COLUMN tile SET STORAGE EXTENDED",
        ),
    ]
