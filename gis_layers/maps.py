"""The planners' map, built with folium: Leaflet and its plugins from our own static files,
vector-tile layers, a legend, search, the as-of slider and the change view (map.js)."""

import json
import re

import folium
from django.conf import settings
from django.templatetags.static import static
from folium.plugins import Fullscreen, MeasureControl

from config.security import allow_inline_script

# First-level GB/T 21010-2017 classes and their colours on the map.
LAND_USE_COLOURS = {
    "01": "#c8d977", "02": "#a9c95f", "03": "#4f9a4a", "04": "#9fd08b", "05": "#e06d5b",
    "06": "#9b7fc0", "07": "#f2cf5b", "08": "#5b8fd6", "09": "#a77a52", "10": "#9a9a9a",
    "11": "#6cc0e5", "12": "#d8d2c4",
}  # fmt: skip
SHELTER_COLOURS = {"good": "#2e8b57", "fair": "#e0a020", "poor": "#c0392b", "dangerous": "#6b0f1a"}
VENDOR = "vendor/"


def _local(map_element, js: dict[str, str], css: dict[str, str]) -> None:
    """Point a folium element's assets at our static files: no CDN at run time."""
    map_element.default_js = [(name, static(VENDOR + path)) for name, path in js.items()]
    map_element.default_css = [(name, static(VENDOR + path)) for name, path in css.items()]


def planner_map(*, config: dict) -> dict[str, str]:
    """The map's HTML in three parts for a page template: ``header``, ``body``, ``script``.

    ``config`` is handed to map.js (layers the user may see, URLs, dates, land-use names).
    """
    basemap = settings.LANDLEDGER_BASEMAP_URL
    figure_map = folium.Map(
        location=config["centre"],
        zoom_start=config["zoom"],
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        max_zoom=20,
    )
    _local(
        figure_map,
        {"leaflet": "leaflet-1.9.4/leaflet.js"},
        {"leaflet_css": "leaflet-1.9.4/leaflet.css"},
    )
    if basemap:
        folium.TileLayer(
            tiles=basemap, attr=settings.LANDLEDGER_BASEMAP_ATTRIBUTION, name="basemap", max_zoom=20
        ).add_to(figure_map)
    fullscreen = Fullscreen(position="topleft")
    _local(
        fullscreen,
        {"Control.Fullscreen.js": "leaflet.fullscreen-3.0.2/Control.FullScreen.js"},
        {"Control.FullScreen.css": "leaflet.fullscreen-3.0.2/Control.FullScreen.css"},
    )
    fullscreen.add_to(figure_map)
    measure = MeasureControl(primary_length_unit="meters", primary_area_unit="sqmeters")
    _local(
        measure,
        {"leaflet_measure_js": "leaflet-measure-3.1.0/leaflet-measure.js"},
        {"leaflet_measure_css": "leaflet-measure-3.1.0/leaflet-measure.css"},
    )
    measure.add_to(figure_map)
    figure = figure_map.get_root()
    # Rendering adds Leaflet and the plugins to the header; our scripts must come after them.
    figure.render()
    figure.header.add_child(
        folium.JavascriptLink(
            static(VENDOR + "leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js")
        )
    )
    figure.header.add_child(folium.JavascriptLink(static("gis_layers/map.js")))
    figure.header.add_child(folium.CssLink(static("gis_layers/map.css")))
    payload = json.dumps(
        {**config, "landUseColours": LAND_USE_COLOURS, "shelterColours": SHELTER_COLOURS}
    )
    figure.script.add_child(folium.Element(f"landledgerMap({figure_map.get_name()}, {payload});"))
    parts = {
        "header": figure.header.render(),
        "body": figure.html.render(),
        "script": figure.script.render(),
    }
    # The page may run exactly these inline scripts (Content-Security-Policy by hash): the
    # templates write ``<script>{{ map.script|safe }}</script>``.
    for inline in re.findall(r"<script>(.*?)</script>", parts["header"], flags=re.DOTALL):
        allow_inline_script(inline)
    allow_inline_script(parts["script"])
    return parts
