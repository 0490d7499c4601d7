"""What a checked file looks like on a map: its rows where they lie, each marked rejected,
repaired or accepted with the report's reasons, so that a user sees where the problems are
before confirming. Bounded: at most :data:`PREVIEW_FEATURES` rows are drawn, those the report
names first (its first lines, by row number), each simplified to a share of its own size."""

import heapq
import html
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gis_layers.imports.staging import STAGING
from gis_layers.imports.validation import Finding

PREVIEW_FEATURES = 2_000
# Reasons listed in a row's popup; a row seldom has more, and the report lists them all.
REASONS_SHOWN = 5
# A drawn shape keeps detail down to this share of its own size: its outline stays true at
# any zoom (a file may span cities), and a surveyed boundary of thousands of vertices stays
# light.
DETAIL_SHARE = 1 / 200
COORDINATE_DECIMALS = 6  # about 0.1 m in degrees: finer than a drawn outline shows
# A row's colour by what the check made of it, on the page's map and in the report's; the
# worst first.
CHECK_COLOURS = {"rejected": "#c0392b", "repaired": "#e08e0b", "accepted": "#2c7bb6"}
# What the check made of a row, in the reader's language.
CHECK_STATUS_NAMES = {
    "rejected": gettext_lazy("rejected"),
    "repaired": gettext_lazy("repaired"),
    "accepted": gettext_lazy("accepted"),
}
SVG_WIDTH, SVG_HEIGHT, SVG_MARGIN = 800, 500, 12  # pixels


@dataclass
class MapPreview:
    """Rows as GeoJSON features (in EPSG:4490, longitude first) with the properties ``row``
    (as the report numbers it), ``status`` (rejected, repaired or accepted) and ``reasons``;
    ``extent`` (min lon, min lat, max lon, max lat) covers every row that has a geometry,
    drawn or not."""

    features: list[dict] = field(default_factory=list)
    extent: tuple[float, float, float, float] | None = None
    with_geometry: int = 0  # rows of the file with a usable geometry
    without_geometry: int = 0  # rejected rows with no geometry to draw (refused, or none given)

    @property
    def drawn(self) -> int:
        return len(self.features)

    @property
    def drawn_by_status(self) -> dict[str, int]:
        counts = dict.fromkeys(CHECK_COLOURS, 0)
        for feature in self.features:
            counts[feature["properties"]["status"]] += 1
        return counts

    def in_drawing_order(self) -> list[dict]:
        """The features with the rejected last, then drawn over the rest, where no accepted
        neighbour hides them."""
        best_first = list(reversed(CHECK_COLOURS))
        return sorted(
            self.features, key=lambda feature: best_first.index(feature["properties"]["status"])
        )

    def svg(self) -> str:
        """The drawn rows as an SVG picture (no script, nothing fetched: the report file
        stands alone), each with its row, status and reasons as a tooltip; north up, in an
        equirectangular projection scaled for the extent's latitude. Empty without rows."""
        if not self.features or self.extent is None:
            return ""
        min_x, min_y, max_x, max_y = self.extent
        # Degrees of longitude shrink with latitude: without this a city's map would be
        # stretched east-west (by 1.3 at Beijing's latitude).
        shrink = math.cos(math.radians((min_y + max_y) / 2))
        inner_width, inner_height = SVG_WIDTH - 2 * SVG_MARGIN, SVG_HEIGHT - 2 * SVG_MARGIN
        scale = min(
            inner_width / max((max_x - min_x) * shrink, 1e-9),
            inner_height / max(max_y - min_y, 1e-9),
        )
        # Centred: the extent fills the picture in one direction only.
        left = (SVG_WIDTH - (max_x - min_x) * shrink * scale) / 2
        top = (SVG_HEIGHT - (max_y - min_y) * scale) / 2

        def to_pixels(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(
                (
                    left + (xy[:, 0] - min_x) * shrink * scale,
                    top + (max_y - xy[:, 1]) * scale,  # the SVG's y runs down
                )
            )

        drawn = []
        for feature in self.in_drawing_order():
            row = feature["properties"]
            shape = shapely.transform(shapely.geometry.shape(feature["geometry"]), to_pixels)
            status = _("row %(row)s: %(status)s") % {
                "row": row["row"],
                "status": CHECK_STATUS_NAMES[row["status"]],
            }
            title = "\n".join([status, *row["reasons"]])
            drawn.append(
                f"<g class='check-{row['status']}'><title>{html.escape(title)}</title>"
                f"{shape.svg(1.0, CHECK_COLOURS[row['status']], 0.6)}</g>"
            )
        return (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{SVG_WIDTH}' height='{SVG_HEIGHT}' "
            f"viewBox='0 0 {SVG_WIDTH} {SVG_HEIGHT}' role='img'>"
            f"<rect width='100%' height='100%' fill='#f4f4f4'/>{''.join(drawn)}</svg>"
        )


class PreviewCollector:
    """Gathers a :class:`MapPreview` while an import runs. Rows rejected before staging come
    chunk by chunk, in the file's order: every one is counted and bounds the extent, and the
    first :data:`PREVIEW_FEATURES` are kept, simplified, so that memory stays bounded. The
    staged rows are read from the staging table at the end, before it is dropped."""

    def __init__(self) -> None:
        self._rejected_shapes: dict[int, shapely.Geometry] = {}
        self._rejected_with_shape = 0
        self._rejected_without_shape = 0
        self._rejected_bounds: list[tuple[float, float, float, float]] = []

    def add_rejected(self, shapes: list[tuple[int, shapely.Geometry | None]]) -> None:
        """Rows the chunk's checks rejected, each with its shape in EPSG:4490, or None where
        there is none to draw."""
        drawable = [(row, shape) for row, shape in shapes if shape is not None]
        self._rejected_without_shape += len(shapes) - len(drawable)
        if not drawable:
            return
        self._rejected_with_shape += len(drawable)
        self._rejected_bounds.append(
            tuple(shapely.total_bounds([shape for _, shape in drawable]).tolist())
        )
        for row, shape in drawable[: PREVIEW_FEATURES - len(self._rejected_shapes)]:
            self._rejected_shapes[row] = _simplified(shape)

    def preview(self, findings: list[Finding]) -> MapPreview:
        """The preview, given every finding of the file (checked in Python and in SQL). The
        rows drawn are those the findings name with the lowest row numbers (the report's
        first lines), then rows without a finding, in the file's order."""
        named = heapq.nsmallest(PREVIEW_FEATURES, {finding.row for finding in findings})
        statuses, reasons = _statuses_and_reasons(findings, rows=set(named))
        staged_extent, staged = _staged_extent()
        # The named rows rejected before staging are among the shapes kept: those are the
        # first rejected rows of the file, and the named rows the first named.
        rows = [
            (row, shapely.to_geojson(self._rejected_shapes[row], indent=None))
            for row in named
            if row in self._rejected_shapes
        ]
        rows += _staged_rows(named)
        if len(named) < PREVIEW_FEATURES:  # then every named row is drawn already
            rows += _staged_rows(named, limit=PREVIEW_FEATURES - len(rows), others=True)
        extents = [staged_extent, *self._rejected_bounds]
        return MapPreview(
            features=[
                _feature(row, geojson, statuses.get(row, "accepted"), reasons.get(row, []))
                for row, geojson in rows
            ],
            extent=_union_of([extent for extent in extents if extent is not None]),
            with_geometry=staged + self._rejected_with_shape,
            without_geometry=self._rejected_without_shape,
        )


def _statuses_and_reasons(
    findings: list[Finding], *, rows: set[int]
) -> tuple[dict[int, str], dict[int, list[str]]]:
    """What the findings say of ``rows``: each one's status and reasons."""
    statuses: dict[int, str] = {}
    reasons: dict[int, list[str]] = defaultdict(list)
    for finding in findings:
        if finding.row not in rows:
            continue
        # A row rejected for one reason is rejected, whatever else was repaired in it.
        if statuses.get(finding.row) != "rejected":
            statuses[finding.row] = finding.action
        reasons[finding.row].append(f"{finding.field}: {finding.reason}")
    return statuses, reasons


def _union_of(extents) -> tuple[float, float, float, float] | None:
    if not extents:
        return None
    return (
        float(min(extent[0] for extent in extents)),
        float(min(extent[1] for extent in extents)),
        float(max(extent[2] for extent in extents)),
        float(max(extent[3] for extent in extents)),
    )


def _staged_extent() -> tuple[tuple[float, float, float, float] | None, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), n FROM ("
            f"SELECT ST_Extent(geom)::geometry AS e, count(geom) AS n FROM {STAGING}) AS extent"
        )
        *corners, staged = cursor.fetchone()
    return (tuple(corners) if staged else None), staged


def simplified_sql(column: str) -> str:
    """SQL for the geometry ``column`` simplified as :data:`DETAIL_SHARE` says."""
    size = f"GREATEST(ST_XMax({column}) - ST_XMin({column}), ST_YMax({column}) - ST_YMin({column}))"
    return f"ST_Simplify({column}, {size} * {DETAIL_SHARE}, true)"


def _simplified(shape: shapely.Geometry) -> shapely.Geometry:
    """``shape`` simplified as :func:`simplified_sql` does it in the database."""
    min_x, min_y, max_x, max_y = shape.bounds
    return shapely.simplify(shape, max(max_x - min_x, max_y - min_y) * DETAIL_SHARE)


def _staged_rows(
    named: list[int], *, limit: int = PREVIEW_FEATURES, others: bool = False
) -> list[tuple[int, str]]:
    """(row, GeoJSON) of the staged rows with a geometry among ``named``, or, with
    ``others``, of the first ``limit`` not among them, in the file's order."""
    if limit <= 0:
        return []
    chosen = "row <> ALL(%s)" if others else "row = ANY(%s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT row, ST_AsGeoJSON({simplified_sql('geom')}, {COORDINATE_DECIMALS}) "
            f"FROM {STAGING} WHERE geom IS NOT NULL AND {chosen} ORDER BY row LIMIT %s",
            [named, limit],
        )
        return cursor.fetchall()


def _feature(row: int, geojson: str, status: str, reasons: list[str]) -> dict:
    shown = reasons[:REASONS_SHOWN]
    if len(reasons) > REASONS_SHOWN:
        shown.append(_("… %(count)s more in the report") % {"count": len(reasons) - REASONS_SHOWN})
    return {
        "type": "Feature",
        "geometry": json.loads(geojson),
        "properties": {"row": row, "status": status, "reasons": shown},
    }
