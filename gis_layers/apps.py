from django.apps import AppConfig


class GisLayersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "gis_layers"
    verbose_name = "Map layers"

    def ready(self) -> None:
        # The register asks the plan through a hook, so that it never imports this app.
        import gis_layers.metric  # noqa: F401  (registers its system check)
        from gis_layers.planning import conformity_of_change
        from registry.services.acts import set_plan_check

        set_plan_check(conformity_of_change)
