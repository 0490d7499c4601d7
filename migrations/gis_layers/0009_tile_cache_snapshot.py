"""The tile cache keeps the snapshot each tile was rendered after, instead of the oldest
running transaction: a change the rendering saw no longer invalidates the tile, however long
another transaction runs. Cached tiles are dropped; they render again on demand."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("gis_layers", "0008_planned_use_data")]

    operations = [
        migrations.RunSQL("DELETE FROM gis_layers_cachedtile", migrations.RunSQL.noop),
        migrations.RemoveField(model_name="cachedtile", name="watermark"),
        migrations.AddField(
            model_name="cachedtile",
            name="snapshot",
            field=models.CharField(
                default="",
                help_text="pg_current_snapshot() taken before rendering, as text.",
                max_length=2000,
            ),
            preserve_default=False,
        ),
    ]
