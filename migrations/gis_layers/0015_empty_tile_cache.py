"""Parcel tiles no longer carry a title: the tiles cached before hold one, and no change of a
feature would ever replace them. The cache is only a cache; every tile is drawn again on its
next request."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("gis_layers", "0014_coverage_runs_follow_classification")]
    operations = [migrations.RunSQL("DELETE FROM gis_layers_cachedtile", migrations.RunSQL.noop)]
