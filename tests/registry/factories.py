"""Minimal valid rows, for tests that then break one thing at a time."""

import datetime
import itertools

from django.contrib.gis.geos import MultiPolygon, Point, Polygon

from registry.models import Building, District, LandUseClass, Parcel, Shelter

_numbers = itertools.count(1)
START = datetime.date(2024, 1, 1)


def square(
    x: float = 116.36, y: float = 39.91, side: float = 0.0005, srid: int = 4490
) -> MultiPolygon:
    """A small square near Beijing's Xicheng district, in degrees."""
    ring = ((x, y), (x + side, y), (x + side, y + side), (x, y + side), (x, y))
    return MultiPolygon(Polygon(ring), srid=srid)


def bowtie(srid: int = 4490) -> MultiPolygon:
    ring = ((116.36, 39.91), (116.361, 39.911), (116.361, 39.91), (116.36, 39.911), (116.36, 39.91))
    return MultiPolygon(Polygon(ring), srid=srid)


def district(code: str = "110102") -> District:
    return District.objects.get_or_create(code=code, defaults={"name": "西城区"})[0]


def unit_code(number: int | None = None) -> str:
    return f"110102001001GB{number or next(_numbers):05d}W00000000"


def parcel(**overrides) -> Parcel:
    fields = {
        "unit_code": unit_code(),
        "district": district(),
        "land_use": LandUseClass.objects.get(code="0801"),
        "geom": square(),
        "valid_from": START,
    }
    fields.update(overrides)
    return Parcel(**fields)


def building(**overrides) -> Building:
    fields = {"footprint": square(side=0.0002), "valid_from": START, "floors_above": 5}
    fields.update(overrides)
    return Building(**fields)


def shelter(**overrides) -> Shelter:
    fields = {
        "name": "Test shelter",
        "location": Point(116.3602, 39.9102, srid=4490),
        "shelter_type": "personnel",
        "protection_class": "n6",
        "capacity_persons": 500,
        "usable_area_m2": 500.0,
        "valid_from": START,
    }
    fields.update(overrides)
    return Shelter(**fields)
