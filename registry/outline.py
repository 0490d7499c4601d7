"""A parcel's outline drawn to scale, for pages and certificates that must print offline.

Coordinates are projected to metres around the parcel (equirectangular, good to well under
1 % over a parcel's extent), so the drawing keeps its true shape; north is up.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.gis.geos import GEOSGeometry, LinearRing, MultiPolygon, Polygon
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

METRES_PER_DEGREE = 111_320.0
MARGIN = 0.12


@dataclass
class Drawing:
    """Rings in drawing units (y down), and a scale bar ``bar_m`` metres ``bar_units`` long."""

    rings: list[list[tuple[float, float]]]
    context: list[list[tuple[float, float]]]
    bar_m: float
    bar_units: float


def _rings(geometry: GEOSGeometry) -> Iterator[LinearRing]:
    if isinstance(geometry, Polygon):
        yield from geometry
    elif isinstance(geometry, MultiPolygon):
        for polygon in geometry:
            yield from _rings(polygon)
    else:
        raise ValueError(f"an outline is drawn of polygons, not of a {geometry.geom_type}")


def draw(geometry: GEOSGeometry, *, size: float, neighbours=()) -> Drawing:
    """Project ``geometry`` (lon/lat) to fill a ``size`` square, keeping its shape."""
    x_min, y_min, x_max, y_max = geometry.extent
    per_degree_x = METRES_PER_DEGREE * math.cos(math.radians((y_min + y_max) / 2))
    width_m = max((x_max - x_min) * per_degree_x, 1.0)
    height_m = max((y_max - y_min) * METRES_PER_DEGREE, 1.0)
    scale = size * (1 - 2 * MARGIN) / max(width_m, height_m)  # units per metre

    def project(shape):
        return [
            [
                (
                    size * MARGIN + (x - x_min) * per_degree_x * scale,
                    size * (1 - MARGIN) - (y - y_min) * METRES_PER_DEGREE * scale,
                )
                for x, y in ring.coords
            ]
            for ring in _rings(shape)
        ]

    bar_m = _round_length(max(width_m, height_m) / 3)
    context = [ring for other in neighbours for ring in project(other)]
    return Drawing(rings=project(geometry), context=context, bar_m=bar_m, bar_units=bar_m * scale)


def _svg_path(rings) -> str:
    return " ".join("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in ring) + " Z" for ring in rings)


def outline_svg(geometry: GEOSGeometry, *, size_px: int = 240, neighbours=()) -> str:
    """SVG of ``geometry`` in a ``size_px`` square, neighbours faint behind, with a scale bar."""
    drawing = draw(geometry, size=size_px, neighbours=neighbours)
    context = (
        format_html(
            '<path d="{}" fill="none" stroke="#b8c2cc" stroke-width="1"/>',
            _svg_path(drawing.context),
        )
        if drawing.context
        else mark_safe("")  # noqa: S308 - an empty string
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="parcel-outline" width="{size}" '
        'height="{size}" viewBox="0 0 {size} {size}" role="img" aria-label="{label}">'
        '<rect width="100%" height="100%" fill="#fbfbf8" stroke="#ccd"/>{context}'
        '<path d="{d}" fill="#f3d9a4" fill-opacity="0.8" stroke="#8a4b08" stroke-width="2" '
        'fill-rule="evenodd"/>'
        '<line x1="8" y1="{y}" x2="{x2}" y2="{y}" stroke="#333" stroke-width="2"/>'
        '<text x="8" y="{ty}" font-size="10" fill="#333">{bar} m</text>'
        '<text x="{nx}" y="14" font-size="11" fill="#333">N ↑</text></svg>',
        size=size_px,
        label=_("parcel outline"),
        context=context,
        d=_svg_path(drawing.rings),
        y=size_px - 8,
        x2=f"{8 + drawing.bar_units:.1f}",
        ty=size_px - 12,
        bar=f"{drawing.bar_m:g}",
        nx=size_px - 26,
    )


def _round_length(metres: float) -> float:
    """1, 2 or 5 times a power of ten, not above ``metres``."""
    power = 10 ** math.floor(math.log10(metres))
    for step in (5, 2, 1):
        if step * power <= metres:
            return step * power
    return power
