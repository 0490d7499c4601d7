"""Map widget for the admin: OpenLayers from our own static files, not a CDN, and the
basemap the deployment configures (none in plain mode)."""

from django.conf import settings
from django.contrib.gis.forms.widgets import OSMWidget


class OfflineOSMWidget(OSMWidget):
    template_name = "gis/landledger-map-widget.html"
    # Degrees with decimals, which Django accepts; the stubs declare whole numbers.
    default_lon = 24.945  # type: ignore[assignment]
    default_lat = 60.17  # type: ignore[assignment]
    default_zoom = 15

    class Media:
        extend = False
        css = {"all": ("vendor/ol-7.2.2/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol-7.2.2/ol.js", "gis/js/OLMapWidget.js", "gis_layers/map-widget.js")

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        # What Django's template writes into its inline script, handed over as JSON.
        context["options_id"] = f"{context['id']}_options"
        context["widget_options"] = {
            "geom_name": context["geom_type"],
            "id": context["id"],
            "map_id": f"{context['id']}_map",
            "map_srid": context["map_srid"],
            "name": context["name"],
            "module": context["module"],
            "default_lon": context["default_lon"],
            "default_lat": context["default_lat"],
            "default_zoom": context["default_zoom"],
            "basemap_url": settings.LANDLEDGER_BASEMAP_URL,
            "basemap_subdomains": settings.LANDLEDGER_BASEMAP_SUBDOMAINS,
            "basemap_attribution": settings.LANDLEDGER_BASEMAP_ATTRIBUTION,
        }
        return context
