"""The query parameters of the OGC API, checked.

Every refusal is an :class:`OgcError` whose description names the parameter and says what is
accepted; the views answer it with its status and ``{"code", "description"}``. Nothing here
touches the database.
"""

import datetime
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.http import QueryDict
from django.utils import timezone

from gis_layers.ogc.crs import CRS84, SUPPORTED, Crs, crs_by_uri

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
# Far beyond any layer; keeps OFFSET within PostgreSQL's bigint.
MAX_OFFSET = 2**53

FORMATS = ("json", "html")
COMMON_PARAMETERS = ("f",)
ITEMS_PARAMETERS = ("f", "bbox", "bbox-crs", "limit", "offset", "datetime", "crs")
ITEM_PARAMETERS = ("f", "crs")

_WHOLE_NUMBER = re.compile(r"[0-9]+")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# RFC 3339 date-time: a time zone offset is required.
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class OgcError(Exception):
    """A request the API refuses: HTTP ``status``, a stable ``code``, a ``description`` for
    people (naming the parameter or resource)."""

    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description

    def as_dict(self) -> dict:
        return {"code": self.code, "description": self.description}


def bad_parameter(description: str) -> OgcError:
    return OgcError(400, "InvalidParameterValue", description)


@dataclass(frozen=True)
class Envelope:
    """A bounding box in longitude/latitude degrees (west, south, east, north)."""

    west: float
    south: float
    east: float
    north: float

    def as_list(self) -> list[float]:
        return [self.west, self.south, self.east, self.north]


@dataclass(frozen=True)
class Period:
    """Legal dates asked for: features in force on at least one day from ``start`` to ``end``
    (both included; None is open). ``start == end`` is the register as of that day."""

    start: datetime.date | None
    end: datetime.date | None


@dataclass(frozen=True)
class ItemsQuery:
    bbox: Envelope | None
    period: Period | None  # None: the register as of today
    limit: int
    offset: int
    crs: Crs
    bbox_crs: Crs | None  # as the client gave it (None: not given, CRS84)

    def as_audit_detail(self) -> dict:
        return {
            "bbox": self.bbox.as_list() if self.bbox else None,
            "datetime": ([_iso(self.period.start), _iso(self.period.end)] if self.period else None),
            "limit": self.limit,
            "offset": self.offset,
            "crs": self.crs.uri,
        }


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None


def _single(query: QueryDict, name: str) -> str | None:
    values = query.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad_parameter(f"{name}: given {len(values)} times; give it once")
    return values[0]


def check_known(query: QueryDict, accepted: Iterable[str]) -> None:
    """400 naming any parameter this resource does not define (OGC API – Features
    /req/core/query-param-unknown), so a misspelt filter is not silently ignored."""
    accepted = tuple(accepted)
    unknown = sorted(set(query) - set(accepted))
    if unknown:
        names = ", ".join(unknown)
        raise bad_parameter(
            f"unknown parameter {names}: this resource accepts {', '.join(accepted)}"
        )


def parse_format(query: QueryDict) -> str | None:
    """``f``: ``json`` (also ``geojson``) or ``html``; None when absent (then Accept decides)."""
    value = _single(query, "f")
    if value is None or value == "":
        return None
    value = value.strip().lower()
    if value == "geojson":
        return "json"
    if value not in FORMATS:
        raise bad_parameter(f"f: unknown format {value!r}; use json or html")
    return value


def parse_crs(query: QueryDict, name: str = "crs") -> Crs | None:
    value = _single(query, name)
    if value is None:
        return None
    crs = crs_by_uri(value)
    if crs is None:
        supported = ", ".join(crs.uri for crs in SUPPORTED)
        raise bad_parameter(
            f"{name}: {value!r} is not a CRS this API serves; use one of {supported}"
        )
    return crs


def _whole_number(
    query: QueryDict, name: str, *, default: int, low: int, high: int, hint: str
) -> int:
    text = _single(query, name)
    if text is None:
        return default
    if not _WHOLE_NUMBER.fullmatch(text):
        raise bad_parameter(f"{name}: {text!r} is not a whole number")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(high)):
        # Above the bound without reading it: Python refuses to read more than 4,300 digits.
        raise bad_parameter(f"{name}: {hint} (asked for a number of {len(digits)} digits)")
    value = int(digits)
    if value < low:
        raise bad_parameter(f"{name}: must be at least {low}, not {value}")
    if value > high:
        raise bad_parameter(f"{name}: {hint} (asked for {text})")
    return value


def parse_bbox(text: str, crs: Crs) -> Envelope:
    """Four finite numbers in ``crs``'s axis order (lon/lat for CRS84, lat/lon for the EPSG
    geographic CRSs), lower corner first, within longitude/latitude range."""
    parts = text.split(",")
    if len(parts) != 4:
        raise bad_parameter(
            f"bbox: give 4 numbers separated by commas (minimum then maximum corner), "
            f"got {len(parts)}"
        )
    numbers = []
    for part in parts:
        try:
            number = float(part)
        except ValueError:
            raise bad_parameter(f"bbox: {part.strip()!r} is not a number") from None
        if not math.isfinite(number):
            raise bad_parameter(f"bbox: {part.strip()!r} is not a finite number")
        numbers.append(number)
    if crs.lat_lon:
        south, west, north, east = numbers
        order = "minimum latitude, minimum longitude, maximum latitude, maximum longitude"
    else:
        west, south, east, north = numbers
        order = "minimum longitude, minimum latitude, maximum longitude, maximum latitude"
    for name, value, limit in (
        ("longitude", west, 180),
        ("longitude", east, 180),
        ("latitude", south, 90),
        ("latitude", north, 90),
    ):
        if not -limit <= value <= limit:
            raise bad_parameter(
                f"bbox: {name} {value:g} is outside -{limit}..{limit} (the order in "
                f"{crs.uri} is {order})"
            )
    if west > east:
        raise bad_parameter(
            f"bbox: minimum longitude {west:g} is greater than maximum longitude {east:g} "
            f"(the order in {crs.uri} is {order}; boxes across the antimeridian are not supported)"
        )
    if south > north:
        raise bad_parameter(
            f"bbox: minimum latitude {south:g} is greater than maximum latitude {north:g} "
            f"(the order in {crs.uri} is {order})"
        )
    return Envelope(west, south, east, north)


def _instant_date(text: str) -> datetime.date:
    """The legal date of a date or RFC 3339 instant. An instant is read on the register's
    calendar, the local date in ``settings.TIME_ZONE``: legal intervals are whole days there."""
    text = text.strip()
    try:
        if _DATE.fullmatch(text):
            return datetime.date.fromisoformat(text)
        if _INSTANT.fullmatch(text):
            # Python 3.11 reads at most 6 fractional digits; finer ones change no date.
            text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
            instant = datetime.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
            return timezone.localtime(instant).date()
    except (ValueError, OverflowError):
        raise bad_parameter(f"datetime: {text!r} is not a valid date or time") from None
    raise bad_parameter(
        f"datetime: {text!r} is neither a date (2025-03-03) nor an RFC 3339 instant "
        "(2025-03-03T12:00:00Z) nor an interval of them (2025-01-01/2025-03-31, ../2025-03-31)"
    )


def parse_datetime(text: str) -> Period:
    """A date, an RFC 3339 instant, or an interval ``start/end`` whose open ends are ``..``
    (or empty)."""
    if "/" not in text:
        day = _instant_date(text)
        return Period(day, day)
    ends = text.split("/")
    if len(ends) != 2:
        raise bad_parameter(f"datetime: {text!r} has more than one '/'; an interval is start/end")
    start, end = (None if end.strip() in ("", "..") else _instant_date(end) for end in ends)
    if start is not None and end is not None and start > end:
        raise bad_parameter(f"datetime: the interval {text!r} ends before it starts")
    return Period(start, end)


def parse_items_query(query: QueryDict) -> ItemsQuery:
    """The parameters of ``/collections/{id}/items``, or :class:`OgcError` (400)."""
    check_known(query, ITEMS_PARAMETERS)
    parse_format(query)
    crs = parse_crs(query) or CRS84
    bbox_crs = parse_crs(query, "bbox-crs")
    bbox_text = _single(query, "bbox")
    if bbox_text is None and bbox_crs is not None:
        raise bad_parameter("bbox-crs: given without bbox")
    bbox = parse_bbox(bbox_text, bbox_crs or CRS84) if bbox_text is not None else None
    datetime_text = _single(query, "datetime")
    period = parse_datetime(datetime_text) if datetime_text is not None else None
    limit = _whole_number(
        query,
        "limit",
        default=DEFAULT_LIMIT,
        low=1,
        high=MAX_LIMIT,
        hint=f"at most {MAX_LIMIT} items a page; page through the rest with offset",
    )
    offset = _whole_number(
        query, "offset", default=0, low=0, high=MAX_OFFSET, hint=f"must be at most {MAX_OFFSET}"
    )
    return ItemsQuery(bbox, period, limit, offset, crs, bbox_crs)


def parse_item_query(query: QueryDict) -> Crs:
    """The parameters of ``/collections/{id}/items/{fid}``: the output CRS."""
    check_known(query, ITEM_PARAMETERS)
    parse_format(query)
    return parse_crs(query) or CRS84
