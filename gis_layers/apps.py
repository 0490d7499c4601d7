from django.apps import AppConfig


class GisLayersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "gis_layers"
    verbose_name = "Map layers"
