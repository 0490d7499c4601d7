"""Map widget for the admin: OpenLayers from our own static files, not a CDN, and the
basemap the deployment configures (none in plain mode)."""

from django.conf import settings
from django.contrib.gis.forms.widgets import OSMWidget


class OfflineOSMWidget(OSMWidget):
    template_name = "gis/landledger-map-widget.html"
    default_lon = 24.945
    default_lat = 60.17
    default_zoom = 15

    class Media:
        extend = False
        css = {"all": ("vendor/ol-7.2.2/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol-7.2.2/ol.js", "gis/js/OLMapWidget.js")

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["basemap_url"] = settings.LANDLEDGER_BASEMAP_URL
        context["basemap_attribution"] = settings.LANDLEDGER_BASEMAP_ATTRIBUTION
        return context
