"""The coordinate reference systems the OGC API serves, by URI (OGC API – Features Part 2).

Only these are accepted; a client's CRS string is looked up here and never passed on, so
PostGIS and GDAL only ever see the integer EPSG codes below (DESIGN.md §5).
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Crs:
    uri: str
    srid: int  # the EPSG code PostGIS transforms to
    lat_lon: bool  # the CRS's axis order is latitude first (EPSG geographic CRSs)
    label: str

    @property
    def header(self) -> str:
        """The value of the ``Content-Crs`` header: the URI in angle brackets."""
        return f"<{self.uri}>"


CRS84 = Crs(
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False, "WGS 84 longitude/latitude"
)
WGS84 = Crs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, "WGS 84 (EPSG:4326)")
CGCS2000 = Crs("http://www.opengis.net/def/crs/EPSG/0/4490", 4490, True, "CGCS2000 (EPSG:4490)")

SUPPORTED: tuple[Crs, ...] = (CRS84, WGS84, CGCS2000)
STORAGE: Crs = next(crs for crs in SUPPORTED if crs.srid == settings.LANDLEDGER_STORAGE_SRID)

_BY_URI = {crs.uri: crs for crs in SUPPORTED}
# The same CRSs as their "https" URIs and as safe CURIEs ([EPSG:4326]), which clients also send.
_BY_URI.update({crs.uri.replace("http://", "https://", 1): crs for crs in SUPPORTED})
_BY_URI.update({"[OGC:CRS84]": CRS84, "[EPSG:4326]": WGS84, "[EPSG:4490]": CGCS2000})


def crs_by_uri(uri: str) -> Crs | None:
    """The supported CRS this URI names; None for anything else."""
    return _BY_URI.get(uri.strip())
