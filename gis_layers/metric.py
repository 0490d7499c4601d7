"""Where an analysis measures in metres (DESIGN.md §5): the projected CRS the deployment
configures (LANDLEDGER_METRIC_EPSG; for Beijing EPSG:4548, CGCS2000 3-degree Gauss-Krüger
CM 117°E), else the WGS 84 UTM zone that holds the data."""

from functools import cache

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from pyproj import CRS
from pyproj.exceptions import CRSError

from gis_layers.analysis.geometry import utm_epsg


@cache
def _checked(code: int) -> int:
    try:
        crs = CRS.from_epsg(code)
    except CRSError:
        raise ImproperlyConfigured(f"LANDLEDGER_METRIC_EPSG={code} is not an EPSG code") from None
    if not crs.is_projected or crs.axis_info[0].unit_name not in {"metre", "meter"}:
        raise ImproperlyConfigured(
            f"LANDLEDGER_METRIC_EPSG={code} is not a projected coordinate system in metres"
        )
    return code


def configured_metric_epsg() -> int | None:
    code = settings.LANDLEDGER_METRIC_EPSG
    return _checked(code) if code else None


def metric_epsg(longitude: float, latitude: float) -> int:
    """The EPSG code to measure in for data around a point."""
    return configured_metric_epsg() or utm_epsg(longitude, latitude)


@checks.register()
def check_metric_crs(app_configs=None, **kwargs) -> list[checks.Error]:
    """A metric CRS that is no such thing is said as the server starts, not by the first
    analysis to measure."""
    try:
        configured_metric_epsg()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="landledger.E001")]
    return []
