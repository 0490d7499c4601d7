"""Deciding and applying the coordinate reference system of an input file. No Django imports
but gettext, which renders the refusals in the active language.

An import reads a file, asks :func:`resolve_crs` which CRS its coordinates are in, removes a
Chinese web-map offset with :func:`remove_offset` if there is one, and then transforms from
``SourceCrs.epsg`` to EPSG:4490 (CGCS2000), where the register keeps its geometry.

Only integer EPSG codes from :data:`ALLOWED_EPSG` ever reach PROJ or GDAL: a CRS given as free
text (a PROJ string, WKT, a URL) can name grid files or other resources on this machine, and an
EPSG code outside the whitelist may need a datum transformation that PROJ can only do roughly.

GCJ-02 ("Mars coordinates", used by Amap, Tencent and Google's China maps) and BD-09 (Baidu)
are WGS84 longitude/latitude with a deliberate, non-linear offset of a few hundred metres.
They have no EPSG code, so :class:`SourceCrs` carries them as EPSG:4326 plus an ``offset``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from .errors import WORDING, ImportRefusal

__all__ = [
    "ALLOWED_EPSG",
    "CHINA_BOUNDS",
    "SourceCrs",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "declared_differs",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "identify_epsg",
    "remove_offset",
    "resolve_crs",
    "storage_transformer",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

Offset = Literal["gcj02", "bd09"]

# --------------------------------------------------------------------------------------------
# The whitelist
# --------------------------------------------------------------------------------------------

CGCS2000_EPSG = 4490
WGS84_EPSG = 4326
STORAGE_EPSG = CGCS2000_EPSG


def _crs_or_none(code: int) -> CRS | None:
    try:
        return CRS.from_epsg(code)
    except CRSError:
        return None


def _is_cgcs2000_projected(code: int) -> bool:
    crs = _crs_or_none(code)
    return (
        crs is not None
        and crs.is_projected
        and crs.geodetic_crs is not None
        and crs.geodetic_crs.to_epsg() == CGCS2000_EPSG
    )


def _existing(codes) -> set[int]:
    return {code for code in codes if _crs_or_none(code) is not None}


# Codes are checked against the PROJ database installed with pyproj, so a code that an older or
# newer database lacks (or has redefined) silently drops out instead of failing later in GDAL.
ALLOWED_EPSG: frozenset[int] = frozenset(
    # WGS 84, CGCS2000 (2D; 3D geographic 4480 and geocentric 4479), Web Mercator.
    _existing([4326, CGCS2000_EPSG, 3857, 4479, 4480])
    # CGCS2000 Gauss-Krüger: 6-degree zones 13-23 and CM 75E-135E, 3-degree zones 25-45 and
    # CM 75E-135E. The range is checked code by code because EPSG numbers are not guaranteed
    # to stay contiguous.
    | {code for code in range(4491, 4555) if _is_cgcs2000_projected(code)}
    # UTM on WGS 84, north and south.
    | _existing(range(32601, 32661))
    | _existing(range(32701, 32761))
    # ETRS89: geographic, LAEA Europe, Finland TM35FIN, Helsinki GK25, UTM 32N-35N; and the
    # Czech S-JTSK / Krovak East North, which Czech cadastral open data uses.
    | _existing([4258, 3035, 3067, 3879, 5514, 25832, 25833, 25834, 25835])
    # National grids that open-data portals publish in most often, so that reference layers
    # load without a manual reprojection; each has a PROJ transformation good to about a metre
    # or better without extra grid files:
    #   4269 NAD83 (US federal data, e.g. Census TIGER), 27700 British National Grid (Ordnance
    #   Survey, data.gov.uk), 2154 RGF93 / Lambert-93 (French IGN and cadastre), 28992 Dutch RD
    #   New (PDOK, Kadaster), 2056 Swiss CH1903+ / LV95 (swisstopo), 3006 SWEREF99 TM
    #   (Lantmäteriet), 25830 and 25831 ETRS89 / UTM 30N and 31N (Spain, France, Benelux).
    | _existing([4269, 27700, 2154, 28992, 2056, 3006, 25830, 25831])
    # Deliberately absent: Beijing 1954 (4214) and Xian 1980 (4610) and their Gauss-Krüger
    # zones. Older Chinese survey data uses them, but the shift to CGCS2000 is tens of metres
    # and depends on local parameters that only the surveying authority has; PROJ's fallback
    # would move every parcel by that much without saying so.
)

# The geodetic datums named above; a file in one of them gets a refusal that says what to do.
# Their names in the active language, as messages give them.
_LOCAL_CHINESE_DATUMS: dict[int, Promise] = {
    4214: gettext_lazy("Beijing 1954"),
    4610: gettext_lazy("Xian 1980"),
}

# pyproj's own default: high enough that a .prj written by ArcGIS for a standard CRS matches
# (confidence 100 for WGS 84, CGCS2000 and the Gauss-Krüger zones), low enough to tolerate
# WKT flavours that differ only in names.
_MIN_CONFIDENCE = 70


# Codes to give as examples in messages, in the active language when a message is made.
_EXAMPLES = gettext_lazy(
    "EPSG:4490 for CGCS2000 longitude/latitude, EPSG:4548 for CGCS2000 Gauss-Krüger CM 117E"
)


@dataclass(frozen=True)
class SourceCrs:
    """The CRS that an input file's coordinates are in.

    Parameters
    ----------
    epsg : int
        An EPSG code from :data:`ALLOWED_EPSG`.
    offset : {None, "gcj02", "bd09"}
        A Chinese web-map offset on top of WGS 84 longitude/latitude (degrees); when set,
        ``epsg`` is 4326 and :func:`remove_offset` must run before any PROJ transformation.
    """

    epsg: int
    offset: Offset | None = None

    def __post_init__(self) -> None:
        # Guards the invariant that lets callers hand `epsg` to GDAL without checking again.
        if self.epsg not in ALLOWED_EPSG:
            raise ValueError(f"EPSG:{self.epsg} is not in ALLOWED_EPSG")
        if self.offset is not None:
            if self.offset not in get_args(Offset):
                raise ValueError(f"unknown offset {self.offset!r}; expected 'gcj02' or 'bd09'")
            if self.epsg != WGS84_EPSG:
                raise ValueError("an offset applies to WGS 84 longitude/latitude (EPSG:4326) only")

    @property
    def crs(self) -> CRS:
        """The pyproj CRS of ``epsg`` (after any offset is removed)."""
        return CRS.from_epsg(self.epsg)

    def describe(self) -> str:
        """A short label for messages: ``EPSG:4548``, or the offset's name and what it means."""
        if self.offset is not None:
            return f"{self.offset} (WGS 84 longitude/latitude with the {self.offset} offset)"
        return f"EPSG:{self.epsg}"


# --------------------------------------------------------------------------------------------
# Deciding the CRS
# --------------------------------------------------------------------------------------------

_EPSG_TEXT = re.compile(r"(?:epsg\s*:\s*)?(\d{1,9})", re.IGNORECASE)
_OFFSET_NAMES: dict[str, Offset] = {
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
}


def _show(text: str, limit: int = 60) -> str:
    """Quote text from the outside world for a message, escaped and cut to a readable length."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"'{shown}'" if shown.isprintable() else repr(shown)


def _as_pyproj(declared) -> CRS:
    if isinstance(declared, CRS):
        return declared
    # rasterio's CRS (and other wrappers) expose WKT; WKT is read here only to identify an
    # EPSG code, and the code, never the text, goes on to GDAL.
    to_wkt = getattr(declared, "to_wkt", None)
    if callable(to_wkt) and not isinstance(declared, str):
        return CRS.from_wkt(to_wkt())
    raise TypeError(
        f"declared must be a pyproj.CRS, an object with to_wkt() or None, not {type(declared)}"
    )


def identify_epsg(declared) -> int | None:
    """The EPSG code of a CRS read from a file, or None if it cannot be identified.

    Parameters
    ----------
    declared : pyproj.CRS or object with ``to_wkt()``
        The CRS the file declares (geopandas/pyogrio ``.crs``, rasterio ``.crs``).

    Returns
    -------
    int or None
        The code, which may be outside :data:`ALLOWED_EPSG`. A compound CRS (horizontal plus
        vertical) or a bound CRS (with TOWGS84 parameters) that does not match an allowed code
        as a whole is identified by its horizontal or source part, because imports are 2D.
    """
    crs = _as_pyproj(declared)
    try:
        code = crs.to_epsg(min_confidence=_MIN_CONFIDENCE)
    except CRSError:
        code = None
    if code in ALLOWED_EPSG:
        return code
    part = None
    if crs.is_compound and crs.sub_crs_list:
        part = crs.sub_crs_list[0]
    elif crs.is_bound and crs.source_crs is not None:
        part = crs.source_crs
    if part is not None:
        try:
            part_code = part.to_epsg(min_confidence=_MIN_CONFIDENCE)
        except CRSError:
            part_code = None
        if part_code is not None and (code is None or part_code in ALLOWED_EPSG):
            return part_code
    return code


def _epsg_label(code: int) -> str:
    crs = _crs_or_none(code)
    return f"EPSG:{code} ({crs.name})" if crs is not None else f"EPSG:{code}"


def _describe_declared(crs: CRS) -> str:
    """The CRS's name, with its method and ellipsoid when the name alone says nothing."""
    name = crs.name or "unnamed"
    if name.lower() not in {"unknown", "unnamed", ""}:
        return _show(name, 120)
    # Only this module's own stand-in is translated; a name from the file is shown as it is.
    if not crs.name:
        name = _("unnamed")
    details = []
    operation = crs.coordinate_operation
    if operation is not None and operation.method_name:
        details.append(operation.method_name)
    if crs.ellipsoid is not None and crs.ellipsoid.name:
        details.append(_("ellipsoid %(name)s") % {"name": crs.ellipsoid.name})
    return _show(name) + (f" ({', '.join(details)})" if details else "")


def _local_datum_advice(crs: CRS | None) -> str:
    if crs is None or crs.geodetic_crs is None:
        return ""
    datum = _LOCAL_CHINESE_DATUMS.get(crs.geodetic_crs.to_epsg() or -1)
    if datum is None:
        return ""
    return _(
        "%(datum)s coordinates need the local transformation parameters from the surveying"
        " authority; convert the file to CGCS2000 (for example EPSG:4490 or the CGCS2000"
        " Gauss-Krüger zone) with them first."
    ) % {"datum": datum}


def _with_local_datum_advice(message: str, crs: CRS | None) -> str:
    """``message``, followed by :func:`_local_datum_advice` when there is any."""
    advice = _local_datum_advice(crs)
    if not advice:
        return message
    # Translators: a refusal followed by the advice for a file in a local Chinese datum
    # (the separator between two sentences).
    return _("%(message)s %(advice)s") % {"message": message, "advice": advice}


def _parse_override(override: str, path: str) -> SourceCrs:
    text = override.strip()
    offset = _OFFSET_NAMES.get(text.lower())
    if offset is not None:
        return SourceCrs(WGS84_EPSG, offset)
    match = _EPSG_TEXT.fullmatch(text)
    if match is None:
        raise ImportRefusal(
            _(
                "%(given)s is not understood: %(asked)s with an integer EPSG code (for example"
                " %(examples)s), or gcj02 / bd09 for Chinese web-map coordinates (Amap/Tencent,"
                " Baidu)."
            )
            % {
                "given": WORDING.get().crs_given(_show(override)),
                "asked": WORDING.get().crs_asked("EPSG:NNNN"),
                "examples": _EXAMPLES,
            },
            path=path,
        )
    code = int(match.group(1))
    if code in ALLOWED_EPSG:
        return SourceCrs(code)
    crs = _crs_or_none(code)
    if crs is None:
        raise ImportRefusal(
            _("%(given)s is not a known EPSG code; check the code (for example %(examples)s).")
            % {"given": WORDING.get().crs_given(f"EPSG:{code}"), "examples": _EXAMPLES},
            path=path,
        )
    raise ImportRefusal(
        _with_local_datum_advice(
            _(
                "%(given)s is not among the coordinate systems this import accepts; reproject"
                " the file to an accepted one first (for example %(examples)s, or the WGS 84"
                " UTM zone)."
            )
            % {"given": WORDING.get().crs_given(_epsg_label(code)), "examples": _EXAMPLES},
            crs,
        ),
        path=path,
    )


def _declared_source(declared, path: str) -> SourceCrs:
    try:
        crs = _as_pyproj(declared)
    except CRSError as error:
        raise ImportRefusal(
            _(
                "the file's coordinate system cannot be read (%(error)s); %(asked)s with the"
                " EPSG code of its coordinates (for example %(examples)s)."
            )
            % {
                "error": error,
                "asked": WORDING.get().crs_asked("EPSG:NNNN"),
                "examples": _EXAMPLES,
            },
            path=path,
        ) from error
    code = identify_epsg(crs)
    if code is None:
        raise ImportRefusal(
            _with_local_datum_advice(
                _(
                    "the file declares the coordinate system %(crs)s, which cannot be matched to"
                    " an EPSG code; if you know the file's EPSG code, %(asked)s (for example"
                    " %(examples)s), or reproject the file to one first."
                )
                % {
                    "crs": _describe_declared(crs),
                    "asked": WORDING.get().crs_asked("EPSG:NNNN"),
                    "examples": _EXAMPLES,
                },
                crs,
            ),
            path=path,
        )
    if code not in ALLOWED_EPSG:
        raise ImportRefusal(
            _with_local_datum_advice(
                _(
                    "the file declares %(crs)s, which is not among the coordinate systems this"
                    " import accepts; reproject the file to an accepted one first (for example"
                    " %(examples)s, or the WGS 84 UTM zone), or %(asked)s if the declaration is"
                    " wrong."
                )
                % {
                    "crs": _epsg_label(code),
                    "examples": _EXAMPLES,
                    "asked": WORDING.get().crs_asked("EPSG:NNNN"),
                },
                crs,
            ),
            path=path,
        )
    return SourceCrs(code)


def resolve_crs(*, declared, override: str | None, path: str | os.PathLike) -> SourceCrs:
    """Decide which CRS a file's coordinates are in.

    Parameters
    ----------
    declared : pyproj.CRS, object with ``to_wkt()`` (rasterio CRS), or None
        What the file itself declares (geopandas/pyogrio ``.crs``, rasterio ``.crs``).
    override : str or None
        The ``--crs`` option: ``EPSG:NNNN`` (any case) or plain digits, ``gcj02`` or ``bd09``.
        None, or blank text from an empty form field, means no override.
    path : str or path-like
        The file, named in refusals.

    Returns
    -------
    SourceCrs
        The override if there is one, even when the file declares something else (the caller
        reports that with :func:`declared_differs`); otherwise the declared CRS.

    Raises
    ------
    ImportRefusal
        No override and no declared CRS; a declared CRS that cannot be identified or is not in
        :data:`ALLOWED_EPSG`; an override that is not understood, not a known EPSG code or not
        in :data:`ALLOWED_EPSG`. The message names the file and says what to pass.
    """
    path = os.fspath(path)
    if override is not None and override.strip():
        return _parse_override(override, path)
    if declared is None:
        raise ImportRefusal(
            _(
                "the file declares no coordinate reference system (a Shapefile needs its .prj);"
                " %(asked)s with the EPSG code of its coordinates (for example %(examples)s), or"
                " gcj02 / bd09 for Chinese web-map coordinates (Amap/Tencent, Baidu)."
            )
            % {"asked": WORDING.get().crs_asked("EPSG:NNNN"), "examples": _EXAMPLES},
            path=path,
        )
    return _declared_source(declared, path)


def declared_differs(*, declared, source: SourceCrs) -> bool:
    """Whether a file declares a CRS other than the one the import will use.

    Parameters
    ----------
    declared : pyproj.CRS, object with ``to_wkt()``, or None
        What the file declares.
    source : SourceCrs
        What :func:`resolve_crs` returned.

    Returns
    -------
    bool
        False when the file declares nothing or the same EPSG code; True when it declares
        another code or a CRS that cannot be identified. Offsets are not compared: GCJ-02 and
        BD-09 files usually declare plain WGS 84, which is what ``source.epsg`` is for them.
    """
    if declared is None:
        return False
    try:
        return identify_epsg(declared) != source.epsg
    except CRSError:
        return True


def storage_transformer(epsg: int) -> Transformer:
    """A transformer from an allowed EPSG code to the storage CRS, EPSG:4490 (CGCS2000).

    PROJ knows no transformation between CGCS2000 and any other datum. From WGS 84 it applies
    none, which is right: the two agree to a few decimetres. But from S-JTSK, OSGB36, Amersfoort
    or CH1903+ it also falls back to a "ballpark" operation that ignores the datum shift and
    misplaces everything by around 100 m. Going through WGS 84 picks up the published
    transformations PROJ does have for those datums (good to 1-6 m).

    Parameters
    ----------
    epsg : int
        A code from :data:`ALLOWED_EPSG` (``SourceCrs.epsg``, after any offset is removed).

    Returns
    -------
    pyproj.Transformer
        Takes x/easting or longitude first (``always_xy``); gives CGCS2000 longitude and
        latitude in degrees.
    """
    if epsg not in ALLOWED_EPSG:
        raise ValueError(f"EPSG:{epsg} is not in ALLOWED_EPSG")
    source = CRS.from_epsg(epsg)
    if source.datum == CRS.from_epsg(CGCS2000_EPSG).datum:
        return Transformer.from_crs(source, STORAGE_EPSG, always_xy=True)
    # WGS 84 longitude/latitude are taken as CGCS2000 unchanged, as PROJ itself does.
    return Transformer.from_crs(source, WGS84_EPSG, always_xy=True)


# --------------------------------------------------------------------------------------------
# GCJ-02 and BD-09
# --------------------------------------------------------------------------------------------

# (west, south, east, north) in degrees: where GCJ-02 applies an offset at all. This is the
# rectangle that the published GCJ-02 code uses, not China's border: Korea, Mongolia and much
# of South-East Asia fall inside it and get an offset too.
CHINA_BOUNDS = (72.004, 0.8293, 137.8347, 55.8271)

# Krasovsky 1940 ellipsoid, on which the GCJ-02 offset is expressed.
_KRASOVSKY_A = 6378245.0  # semi-major axis, metres
_KRASOVSKY_EE = 0.00669342162296594323  # first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0  # BD-09's angular frequency, radians per degree

# The inverses are solved to this residual (degrees, about 0.1 mm), which keeps a round trip
# well inside the centimetre that a register cares about.
_TOLERANCE_DEGREES = 1e-9
# Each iteration shrinks the error by the offset's slope (at most about 0.006 for GCJ-02 and
# 0.02 for BD-09), so four or five iterations converge; the bound only stops pathological
# input such as a point on the edge of CHINA_BOUNDS.
_MAX_ITERATIONS = 30
# Points this far outside CHINA_BOUNDS (degrees) cannot be the image of a point inside it; the
# largest GCJ-02 offset is about 0.01 degree.
_GCJ02_REACH_DEGREES = 0.1

Coordinates = float | npt.ArrayLike
Pair = tuple[np.ndarray, np.ndarray] | tuple[float, float]


def _arrays(lon: Coordinates, lat: Coordinates) -> tuple[np.ndarray, np.ndarray, tuple]:
    lon_a, lat_a = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    shape = lon_a.shape
    return lon_a.ravel().copy(), lat_a.ravel().copy(), shape


def _result(lon: np.ndarray, lat: np.ndarray, shape: tuple) -> Pair:
    if shape == ():
        return float(lon[0]), float(lat[0])
    return lon.reshape(shape), lat.reshape(shape)


def _in_bounds(lon: np.ndarray, lat: np.ndarray, margin: float = 0.0) -> np.ndarray:
    west, south, east, north = CHINA_BOUNDS
    return (
        (lon >= west - margin)
        & (lon <= east + margin)
        & (lat >= south - margin)
        & (lat <= north + margin)
    )


def _gcj02_shift(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (degrees) at WGS 84 points, ignoring CHINA_BOUNDS."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    # The periodic terms shared by both polynomials.
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat += common
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon += common
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    # The polynomials give metres-like quantities; convert them to degrees of latitude and
    # longitude with the Krasovsky radii of curvature at the point.
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / (
        (_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi
    )
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _gcj02_forward_unbounded(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d_lon, d_lat = _gcj02_shift(lon, lat)
    return lon + d_lon, lat + d_lat


def _bd09_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _fixed_point_inverse(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    target_lon: np.ndarray,
    target_lat: np.ndarray,
    start_lon: np.ndarray,
    start_lat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(p) == target`` for p, where forward is the identity plus a small offset.

    Each step moves p by the residual; because the offset varies slowly, the error shrinks by
    the offset's slope (at most a few hundredths) per step. Stops when every finite point's residual
    is below the tolerance (degrees) or after ``_MAX_ITERATIONS``.
    """
    lon, lat = start_lon.copy(), start_lat.copy()
    for _iteration in range(_MAX_ITERATIONS):
        f_lon, f_lat = forward(lon, lat)
        r_lon = f_lon - target_lon
        r_lat = f_lat - target_lat
        lon -= r_lon
        lat -= r_lat
        # NaN compares False, so missing coordinates do not keep the loop going.
        if not np.any((np.abs(r_lon) > _TOLERANCE_DEGREES) | (np.abs(r_lat) > _TOLERANCE_DEGREES)):
            break
    return lon, lat


def wgs84_to_gcj02(lon: Coordinates, lat: Coordinates) -> Pair:
    """WGS 84 longitude/latitude to GCJ-02.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS 84 longitude and latitude, degrees; arrays broadcast against each other.

    Returns
    -------
    (lon, lat) : floats for scalar input, else arrays
        GCJ-02 longitude and latitude, degrees. Points outside :data:`CHINA_BOUNDS` and NaN
        are returned unchanged.
    """
    lon_a, lat_a, shape = _arrays(lon, lat)
    inside = _in_bounds(lon_a, lat_a)
    if inside.any():
        lon_a[inside], lat_a[inside] = _gcj02_forward_unbounded(lon_a[inside], lat_a[inside])
    return _result(lon_a, lat_a, shape)


def gcj02_to_wgs84(lon: Coordinates, lat: Coordinates) -> Pair:
    """GCJ-02 longitude/latitude to WGS 84, solved iteratively to about 1e-9 degree.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude, degrees; arrays broadcast against each other.

    Returns
    -------
    (lon, lat) : floats for scalar input, else arrays
        WGS 84 longitude and latitude, degrees, such that :func:`wgs84_to_gcj02` gives the
        input back (to 1e-9 degree). Near the edge of :data:`CHINA_BOUNDS`, where a GCJ-02
        point can be the image of both an offset point inside and itself outside, the point
        inside wins; a point with no pre-image at all (just inside the edge) is returned as
        given.
    """
    lon_a, lat_a, shape = _arrays(lon, lat)
    near = _in_bounds(lon_a, lat_a, margin=_GCJ02_REACH_DEGREES)
    if near.any():
        q_lon, q_lat = lon_a[near], lat_a[near]
        # Start from the one-step approximation (subtract the offset found at the GCJ-02
        # point) rather than from the point itself: near the edge of the bounds, starting from
        # a point outside would stop at once with no offset.
        d_lon, d_lat = _gcj02_shift(q_lon, q_lat)
        p_lon, p_lat = _fixed_point_inverse(
            _gcj02_forward_unbounded, q_lon, q_lat, q_lon - d_lon, q_lat - d_lat
        )
        # The tolerance lets a point exactly on the edge, which the forward transformation
        # offsets, come back although rounding may leave it a hair outside.
        offset_applies = _in_bounds(p_lon, p_lat, margin=_TOLERANCE_DEGREES)
        lon_a[near] = np.where(offset_applies, p_lon, q_lon)
        lat_a[near] = np.where(offset_applies, p_lat, q_lat)
    return _result(lon_a, lat_a, shape)


def gcj02_to_bd09(lon: Coordinates, lat: Coordinates) -> Pair:
    """GCJ-02 longitude/latitude to BD-09.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 longitude and latitude, degrees.

    Returns
    -------
    (lon, lat) : floats for scalar input, else arrays
        BD-09 longitude and latitude, degrees. BD-09 is defined everywhere (no bounds).
    """
    lon_a, lat_a, shape = _arrays(lon, lat)
    return _result(*_bd09_forward(lon_a, lat_a), shape)


def bd09_to_gcj02(lon: Coordinates, lat: Coordinates) -> Pair:
    """BD-09 longitude/latitude to GCJ-02, solved iteratively to about 1e-9 degree.

    The published one-step inverse evaluates the periodic terms at the BD-09 point instead of
    the GCJ-02 one and is off by up to about 2e-6 degree (0.2 m); it serves here only as the
    starting point.

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 longitude and latitude, degrees.

    Returns
    -------
    (lon, lat) : floats for scalar input, else arrays
        GCJ-02 longitude and latitude, degrees.
    """
    lon_a, lat_a, shape = _arrays(lon, lat)
    x = lon_a - 0.0065
    y = lat_a - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    start_lon, start_lat = z * np.cos(theta), z * np.sin(theta)
    return _result(*_fixed_point_inverse(_bd09_forward, lon_a, lat_a, start_lon, start_lat), shape)


def wgs84_to_bd09(lon: Coordinates, lat: Coordinates) -> Pair:
    """WGS 84 longitude/latitude to BD-09 (through GCJ-02); degrees in, degrees out."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Coordinates, lat: Coordinates) -> Pair:
    """BD-09 longitude/latitude to WGS 84 (through GCJ-02); degrees in, degrees out."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_INVERSES: dict[str, Callable[[Coordinates, Coordinates], Pair]] = {
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def remove_offset(geometries, offset: Offset | None):
    """Convert geometries from GCJ-02 or BD-09 to WGS 84 longitude/latitude.

    Parameters
    ----------
    geometries : numpy.ndarray of shapely geometries, geopandas.GeoSeries, or one geometry
        Coordinates in longitude/latitude degrees with the given offset. Missing values (None)
        stay missing; Z values are kept unchanged.
    offset : {None, "gcj02", "bd09"}
        ``SourceCrs.offset``. None returns ``geometries`` as they are.

    Returns
    -------
    Same type as ``geometries``
        WGS 84 longitude/latitude (EPSG:4326), degrees. A GeoSeries keeps its index and name
        and gets ``crs`` EPSG:4326.
    """
    if offset is None:
        return geometries
    inverse = _INVERSES.get(offset)
    if inverse is None:
        raise ValueError(f"unknown offset {offset!r}; expected None, 'gcj02' or 'bd09'")

    def to_wgs84(coords: np.ndarray) -> np.ndarray:
        # Called with (N, 2) or (N, 3) arrays; only longitude and latitude move.
        out = coords.copy()
        out[:, 0], out[:, 1] = inverse(coords[:, 0], coords[:, 1])
        return out

    if isinstance(geometries, gpd.GeoSeries):
        values = np.asarray(geometries.values, dtype=object)
        moved = shapely.transform(values, to_wgs84, include_z=None)
        return gpd.GeoSeries(moved, index=geometries.index, name=geometries.name, crs=WGS84_EPSG)
    return shapely.transform(geometries, to_wgs84, include_z=None)
