"""Maps built with folium, on Leaflet and its plugins from our own static files: the
planners' map (vector-tile layers, a legend, search, the as-of slider and the change view:
map.js), the office-space map, and the map of an import's check (import-check.js)."""

import html
import json
import re

import folium
from branca.element import MacroElement
from django.conf import settings
from django.templatetags.static import static
from django.utils import translation
from django.utils.translation import gettext as _
from folium.plugins import Fullscreen, MeasureControl
from folium.template import Template

from config.security import allow_inline_script
from gis_layers.imports.preview import CHECK_COLOURS, CHECK_STATUS_NAMES, MapPreview

# First-level GB/T 21010-2017 classes and their colours on the map.
LAND_USE_COLOURS = {
    "01": "#c8d977", "02": "#a9c95f", "03": "#4f9a4a", "04": "#9fd08b", "05": "#e06d5b",
    "06": "#9b7fc0", "07": "#f2cf5b", "08": "#5b8fd6", "09": "#a77a52", "10": "#9a9a9a",
    "11": "#6cc0e5", "12": "#d8d2c4",
}  # fmt: skip
SHELTER_COLOURS = {"good": "#2e8b57", "fair": "#e0a020", "poor": "#c0392b", "dangerous": "#6b0f1a"}
# Conformity to the plan (true, false, no plan) and use of the permitted floor area (by the
# status analysis.landuse.use_of_permitted and the "underused" tiles give).
CONFORMITY_COLOURS = {"conforming": "#1a9641", "nonconforming": "#d7191c", "no_plan": "#bbbbbb"}
INTENSITY_COLOURS = {
    "underused": "#d7301f",
    "used": "#78c679",
    "no_data": "#bdbdbd",
    "no_limit": "#f7f7f7",
}
VENDOR = "vendor/"
MAX_ZOOM = 20


def _local(map_element, js: dict[str, str], css: dict[str, str]) -> None:
    """Point a folium element's assets at our static files: no CDN at run time."""
    map_element.default_js = [(name, static(VENDOR + path)) for name, path in js.items()]
    map_element.default_css = [(name, static(VENDOR + path)) for name, path in css.items()]


class _ZoomAndScale(MacroElement):
    """Leaflet's zoom buttons titled in the reader's language, and a scale bar in metres
    alone: folium's own are titled in English and add feet and miles."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        L.control.zoom({{ this.zoom_titles|tojson }}).addTo({{ this._parent.get_name() }});
        L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self):
        super().__init__()
        self._name = "ZoomAndScale"
        self.zoom_titles = {"zoomInTitle": _("Zoom in"), "zoomOutTitle": _("Zoom out")}


def _base_map(*, location, zoom: int, prefer_canvas: bool) -> folium.Map:
    """A folium map on Leaflet from our static files, with the configured basemap if any."""
    figure_map = folium.Map(
        location=location,
        zoom_start=zoom,
        tiles=None,
        zoom_control=False,
        prefer_canvas=prefer_canvas,
        max_zoom=MAX_ZOOM,
    )
    _ZoomAndScale().add_to(figure_map)
    _local(
        figure_map,
        {"leaflet": "leaflet-1.9.4/leaflet.js"},
        {"leaflet_css": "leaflet-1.9.4/leaflet.css"},
    )
    basemap = settings.LANDLEDGER_BASEMAP_URL
    if basemap:
        folium.TileLayer(
            tiles=basemap,
            attr=settings.LANDLEDGER_BASEMAP_ATTRIBUTION,
            name="basemap",
            max_zoom=MAX_ZOOM,
            # Beyond the deepest zoom the host has tiles for, Leaflet scales that zoom's tiles
            # up rather than asking for tiles that do not exist (a blank basemap).
            max_native_zoom=settings.LANDLEDGER_BASEMAP_MAX_NATIVE_ZOOM,
            # What Leaflet puts for the URL's {s}: "abc" of old OpenStreetMap hosts, 0-7 of
            # Tianditu's (config.settings.basemap_settings).
            subdomains=settings.LANDLEDGER_BASEMAP_SUBDOMAINS,
        ).add_to(figure_map)
    return figure_map


def _figure(figure_map: folium.Map) -> folium.Figure:
    """The page a map is drawn on (its header, body and script)."""
    figure = figure_map.get_root()
    # A folium Map puts itself in a Figure when made; get_root() is typed for any Element.
    assert isinstance(figure, folium.Figure)
    return figure


def _parts(figure_map: folium.Map) -> dict[str, str]:
    figure = _figure(figure_map)
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


def planner_map(*, config: dict) -> dict[str, str]:
    """The map's HTML in three parts for a page template: ``header``, ``body``, ``script``.

    ``config`` is handed to map.js (layers the user may see, URLs, dates, land-use names).
    """
    figure_map = _base_map(location=config["centre"], zoom=config["zoom"], prefer_canvas=True)
    fullscreen = Fullscreen(
        position="topleft", title=_("Full screen"), title_cancel=_("Leave full screen")
    )
    _local(
        fullscreen,
        {"Control.Fullscreen.js": "leaflet.fullscreen-3.0.2/Control.FullScreen.js"},
        {"Control.FullScreen.css": "leaflet.fullscreen-3.0.2/Control.FullScreen.css"},
    )
    fullscreen.add_to(figure_map)
    measure = MeasureControl(
        primary_length_unit="meters",
        secondary_length_unit="kilometers",
        primary_area_unit="sqmeters",
        secondary_area_unit="hectares",
    )
    # The plugin's words come built in: its Chinese build for Chinese readers.
    chinese = translation.get_language().startswith("zh")
    _local(
        measure,
        {
            "leaflet_measure_js": "leaflet-measure-3.1.0/leaflet-measure"
            + (".cn.js" if chinese else ".js")
        },
        {"leaflet_measure_css": "leaflet-measure-3.1.0/leaflet-measure.css"},
    )
    measure.add_to(figure_map)
    figure = _figure(figure_map)
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
        {
            **config,
            "landUseColours": LAND_USE_COLOURS,
            "shelterColours": SHELTER_COLOURS,
            "conformityColours": CONFORMITY_COLOURS,
            "intensityColours": INTENSITY_COLOURS,
        }
    )
    figure.script.add_child(folium.Element(f"landledgerMap({figure_map.get_name()}, {payload});"))
    return _parts(figure_map)


# Vacancy of a building and over-standard share of an agency: shares 0-1 in classes.
VACANCY_CLASSES = [(0.05, "#1a9641"), (0.25, "#fdae61"), (1.01, "#d7191c")]
OVER_STANDARD_CLASSES = [(0.0001, "#2c7bb6"), (0.15, "#fdae61"), (1.01, "#d7191c")]
DEFICIT_COLOUR = "#7b3294"
FLOW_COLOUR = "#1f4e5f"


def share_colour(share: float | None, classes: list[tuple[float, str]]) -> str:
    if share is None:
        return "#999999"
    return next(colour for upper, colour in classes if share < upper)


def space_map(
    *, buildings: list[dict], agencies: list[dict], flows: list[dict], handed_back=()
) -> dict[str, str]:
    """Office space on a map: buildings coloured by vacant share, agencies' seats by
    over-standard share (purple where below the standard), and the plan's flows as lines
    from the building giving space to the agency's seat, as wide as the area moved.
    Drawn in SVG (not canvas) so that each feature is an element of the page."""
    points = [b["point"] for b in buildings if b["point"]] + [
        a["seat"] for a in agencies if a["seat"]
    ]
    if points:
        lon = sorted(p[0] for p in points)[len(points) // 2]
        lat = sorted(p[1] for p in points)[len(points) // 2]
    else:
        lon, lat = 0.0, 0.0
    figure_map = _base_map(location=[lat, lon], zoom=15, prefer_canvas=False)
    given_back = {b["building_id"] for b in handed_back}
    layer = folium.FeatureGroup(name=str(_("Buildings by vacant share"))).add_to(figure_map)
    for building in buildings:
        if not building["point"]:
            continue
        lon, lat = building["point"]
        folium.CircleMarker(
            location=[lat, lon],
            radius=6 + min(building["total_m2"] or 0, 8000) / 800,
            color="#000000" if building["building_id"] in given_back else "#333333",
            weight=3 if building["building_id"] in given_back else 1,
            fill=True,
            fill_color=share_colour(building["vacant_share"], VACANCY_CLASSES),
            fill_opacity=0.85,
            class_name="space-building",
            tooltip=f"{building['name']}: {building['vacant_m2']:,.0f} m² "
            f"{_('vacant')} ({(building['vacant_share'] or 0):.0%})",
        ).add_to(layer)
    layer = folium.FeatureGroup(name=str(_("Agencies by over-standard share"))).add_to(figure_map)
    for agency in agencies:
        if not agency["seat"]:
            continue
        lon, lat = agency["seat"]
        below = (agency["deficit_m2"] or 0) > 0
        colour = (
            DEFICIT_COLOUR if below else share_colour(agency["over_share"], OVER_STANDARD_CLASSES)
        )
        # A square (a plain div, core Leaflet) so that seats stand apart from buildings' discs.
        folium.Marker(
            location=[lat, lon],
            icon=folium.DivIcon(
                html=f'<div class="space-agency" style="width:12px;height:12px;'
                f'background:{colour};border:1px solid #222"></div>',
                icon_size=(12, 12),
                icon_anchor=(6, 6),
                class_name="space-agency-icon",
            ),
            tooltip=f"{agency['name']}: "
            + (
                f"{agency['deficit_m2']:,.0f} m² {_('below the standard')}"
                if below
                else f"{agency['over_m2'] or 0:,.0f} m² {_('over the standard')}"
            ),
        ).add_to(layer)
    layer = folium.FeatureGroup(name=str(_("Plan: space moved"))).add_to(figure_map)
    for flow in flows:
        if not flow["from"] or not flow["to"]:
            continue
        (from_lon, from_lat), (to_lon, to_lat) = flow["from"], flow["to"]
        if (from_lon, from_lat) == (to_lon, to_lat):
            # Space given in the agency's own building: a ring, since a line has no length.
            folium.CircleMarker(
                location=[to_lat, to_lon],
                radius=12,
                color=FLOW_COLOUR,
                weight=3,
                fill=False,
                class_name="space-flow",
                tooltip=f"{flow['agency']}: {flow['area_m2']:,.0f} m² {_('in its own building')}",
            ).add_to(layer)
            continue
        folium.PolyLine(
            locations=[[from_lat, from_lon], [to_lat, to_lon]],
            color=FLOW_COLOUR,
            weight=2 + min(flow["area_m2"], 2000) / 200,
            opacity=0.8,
            class_name="space-flow",
            tooltip=f"{flow['building']} → {flow['agency']}: {flow['area_m2']:,.0f} m², "
            f"{flow['distance_m']:,.0f} m",
        ).add_to(layer)
    folium.LayerControl(collapsed=False).add_to(figure_map)
    if points:
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        figure_map.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    figure_map.get_root().render()
    return _parts(figure_map)


# The register's parcels beside a checked file's rows.
CURRENT_PARCEL_COLOUR = "#555555"


def _escaped(values: dict) -> dict:
    """``values`` made safe for HTML: folium's tooltips and popups write them into the page
    as markup, and these come from an uploaded file."""
    return {name: html.escape(str(value)) for name, value in values.items()}


def import_check_map(*, preview: MapPreview, parcels: list[dict]) -> dict[str, str]:
    """A checked file on a map: its drawn rows coloured by status (a tooltip with row and
    status, a popup with the reasons) over the current ``parcels`` around it (GeoJSON
    features with ``unit_code``). Drawn in SVG, so that each row is an element of the page."""
    assert preview.extent is not None
    min_x, min_y, max_x, max_y = preview.extent
    figure_map = _base_map(
        location=[(min_y + max_y) / 2, (min_x + max_x) / 2], zoom=15, prefer_canvas=False
    )
    if parcels:
        folium.GeoJson(
            {
                "type": "FeatureCollection",
                "features": [
                    {**parcel, "properties": _escaped(parcel["properties"])} for parcel in parcels
                ],
            },
            name=str(_("Current parcels")),
            style_function=lambda feature: {
                "color": CURRENT_PARCEL_COLOUR,
                "weight": 1,
                "dashArray": "4 3",
                "fill": False,
                "className": "check-current-parcel",
            },
            tooltip=folium.GeoJsonTooltip(fields=["unit_code"], labels=False),
        ).add_to(figure_map)
    rows = []
    for feature in preview.in_drawing_order():
        row = feature["properties"]
        properties = _escaped(
            {"row": row["row"], "shown_status": CHECK_STATUS_NAMES[row["status"]]}
        )
        # Our own markup between the escaped reasons: one to a line.
        properties["reasons"] = "<br>".join(html.escape(reason) for reason in row["reasons"])
        properties["status"] = row["status"]  # one of CHECK_COLOURS: styles the row
        rows.append({**feature, "properties": properties})
    drawn_rows = folium.GeoJson(
        {"type": "FeatureCollection", "features": rows},
        name=str(_("The file's rows")),
        style_function=lambda feature: {
            "color": CHECK_COLOURS[feature["properties"]["status"]],
            "fillColor": CHECK_COLOURS[feature["properties"]["status"]],
            "weight": 2,
            "fillOpacity": 0.35,
            "className": f"check-row check-{feature['properties']['status']}",
        },
        marker=folium.CircleMarker(radius=6),
        tooltip=folium.GeoJsonTooltip(
            fields=["row", "shown_status"], aliases=[str(_("Row")), str(_("Status"))]
        ),
        popup=folium.GeoJsonPopup(
            fields=["row", "shown_status", "reasons"],
            aliases=[str(_("Row")), str(_("Status")), str(_("Reasons"))],
        ),
    ).add_to(figure_map)
    folium.LayerControl(collapsed=False).add_to(figure_map)
    figure_map.fit_bounds([[min_y, min_x], [max_y, max_x]])
    figure = _figure(figure_map)
    # Rendering adds Leaflet to the header; our script must come after it.
    figure.render()
    figure.header.add_child(folium.JavascriptLink(static("gis_layers/import-check.js")))
    figure.script.add_child(
        folium.Element(f"landledgerImportCheck({figure_map.get_name()}, {drawn_rows.get_name()});")
    )
    return _parts(figure_map)
