"""A synthetic city in the register, reproducible from a seed: N parcels on a street grid,
buildings on a share of them and civil-defence shelters in some of the buildings.

Usage (from the repository root, on a migrated database; the database must be named, so that
the city never lands in the register by accident)::

    .venv/bin/python bench/synthetic_city.py --parcels 1000000 --seed 1 \\
        --database-url postgis://landledger:landledger@127.0.0.1:5432/landledger_bench_tiles

``--parcels`` takes a number or a size: S (10,000), M (100,000), L (1,000,000, the default).

The city lies around 116.4° E, 39.9° N in the made-up district 990301 (合成新区), which the
run creates. Blocks of 180 m x 120 m lie on a grid of streets (16 m wide, an arterial of 40 m
every sixth street) and are filled ring by ring from the centre outwards, so a city of N
parcels is the first N parcels of any bigger one of the same seed. Each block is cut into a
grid of cells whose inner corners are moved a little at random, so parcels are quadrilaterals
sharing their edges with their neighbours (no overlaps, no gaps inside a block); some pairs of
neighbouring cells form one parcel of six corners. Blocks are cut finer near the centre (about
19 parcels each within 4 km of it, 13 within 10 km, 7 beyond), and some blocks are one or two
large parcels (a school, a park, a factory). Each block is a cadastral subzone (街坊),
squares of 16 x 16 blocks are cadastral zones, so the 28-character unit codes are valid
(GB/T 37346). Land uses follow a mix of GB/T 21010-2017 second-level classes that changes
from the centre to the edge (offices and shops in the centre, homesteads, factories and
farmland at the edge). A building, an axis-parallel rectangle inside its parcel, stands on
most built-up parcels; some buildings of four floors or more hold a shelter (a point at the
footprint's centre).

Rows are written by COPY into temporary tables, then by one INSERT per batch into
``registry_parcel``, ``registry_building`` and ``registry_shelter``. The register's
constraints and triggers stay on: the history row and the tile-change note of every row, the
validity checks, and at each COMMIT the overlap check of every new parcel against its
neighbours. Batches are separate transactions, so an interrupted run goes on from the last
batch committed when started again with the same seed; so does a run asking for a bigger city
of the same seed.
"""

import argparse
import dataclasses
import datetime
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a file, the script's own folder is on the path, not the repository root.
    sys.path.insert(0, str(REPOSITORY))

SIZES = {"S": 10_000, "M": 100_000, "L": 1_000_000}
DEFAULT_BATCH = 25_000  # parcels per transaction

DIVISION = "990301"  # made up: no GB/T 2260 division uses 99
DISTRICT_NAME = "Synthetic city"
DISTRICT_NAME_LOCAL = "合成新区"
CERTIFICATE_PROVINCE = "京"
CERTIFICATE_OFFICE = "合成新区"
APP_USER = "bench/synthetic_city"  # names the loader in the history rows

CENTRE = (116.4, 39.9)  # longitude, latitude of the city's centre, degrees
# Metres per degree at 39.9° N on the GRS80 ellipsoid. A linear map from metres to degrees
# keeps the polygons' topology: what does not overlap in metres does not overlap in degrees.
M_PER_DEG_LON = 85_519.0
M_PER_DEG_LAT = 111_033.0

BLOCK_W, BLOCK_H = 180.0, 120.0  # a block, m
STREET_M = 16.0
ARTERIAL_M = 40.0
ARTERIAL_EVERY = 6  # blocks between two arterials
ZONE_BLOCKS = 16  # a cadastral zone is a square of 16 x 16 blocks
ZONES_PER_SIDE = 31  # zones -15..15 on each axis: zone numbers 001-961
MAX_RING = ZONE_BLOCKS * (ZONES_PER_SIDE // 2) + ZONE_BLOCKS - 1  # outermost ring with a zone
CORE_M, INNER_M = 4_000.0, 10_000.0  # radii of the dense centre and of the inner city, m
JITTER = 0.12  # largest move of an inner corner, as a share of the cell's side
MERGE_SHARE = 0.15  # chance that a cell forms one parcel with its right neighbour
CAMPUS_SHARE = 0.08  # blocks that are one or two large parcels
SETBACK_M = 2.0  # least distance from a building to its parcel's edge
FIRST_DAY = datetime.date(1998, 1, 1)  # parcels are registered from here ...
DAYS = (datetime.date(2024, 12, 31) - FIRST_DAY).days  # ... to the end of 2024

# GB/T 21010-2017 second-level classes, weights in percent, by where the block lies.
CORE_MIX = {
    "0701": 40, "0505": 12, "0501": 7, "0503": 3, "0504": 3, "0506": 1, "0507": 2,
    "0801": 5, "0802": 1, "0803": 4, "0804": 2, "0805": 2, "0806": 1, "0807": 2, "0808": 1,
    "0809": 2, "0810": 6, "0604": 1, "1005": 1, "0902": 1, "0904": 1, "1201": 2,
}  # fmt: skip
INNER_MIX = {
    "0701": 52, "0501": 6, "0503": 2, "0504": 1, "0505": 4, "0507": 2, "0601": 6, "0604": 3,
    "0801": 3, "0803": 4, "0805": 2, "0806": 1, "0808": 1, "0809": 2, "0810": 6, "1005": 1,
    "1201": 3, "0904": 1,
}  # fmt: skip
OUTER_MIX = {
    "0701": 28, "0702": 20, "0501": 3, "0507": 2, "0601": 12, "0602": 1, "0604": 5,
    "0801": 2, "0803": 2, "0809": 2, "0810": 3, "0101": 4, "0103": 4, "0201": 2, "0301": 2,
    "1104": 1, "1201": 4, "1202": 2, "0905": 1,
}  # fmt: skip
CAMPUS_MIX = {
    "0803": 25, "0805": 10, "0810": 25, "0808": 8, "0601": 12, "0801": 10, "0804": 5, "1005": 5,
}  # fmt: skip

# Owner type and parcel type of the unit code (GB/T 37346): collective land for homesteads,
# farmland and forest; state construction land for the rest.
COLLECTIVE_TYPES = {"0702": "JC", "01": "JD", "02": "JD", "04": "JD", "1104": "JD", "03": "JE"}
# Chance that a parcel of a class has a building, by class or first-level class.
BUILT_SHARE = {
    "0702": 0.9, "0810": 0.05, "0602": 0.3, "1202": 0.3,
    "07": 0.85, "05": 0.8, "06": 0.7, "08": 0.6, "09": 0.5, "10": 0.4, "12": 0.05,
}  # fmt: skip
BUILDING_USE = {"0801": "office", "07": "residential", "05": "commercial", "06": "industrial"}
PUBLIC_CLASSES = ("08", "09")
SHELTER_TYPES = {"personnel": 70, "support": 10, "professional": 10, "medical": 5, "command": 5}
PROTECTION_CLASSES = ("n5", "n6", "n6b", "c5", "c6")
CLASSIFICATIONS = {0: 85, 1: 10, 2: 4, 3: 1}  # public, internal, secret, confidential
CONDITIONS = {"good": 70, "fair": 22, "poor": 6, "dangerous": 2}
PEACETIME_USES = ("地下停车场", "仓储", "", "")

PARCEL_COLUMNS = ("ord", "unit_code", "land_use", "address", "geom", "valid_from", "source")
BUILDING_COLUMNS = (
    "parcel_code", "source", "name", "footprint", "floors_above", "floors_below", "height_m",
    "gross_floor_area_m2", "use", "year_built", "condition", "valid_from",
)  # fmt: skip
SHELTER_COLUMNS = (
    "building_source", "source", "name", "location", "shelter_type", "protection_class",
    "capacity_persons", "usable_area_m2", "condition", "peacetime_use", "classification",
    "valid_from",
)  # fmt: skip

STAGING_SQL = """
CREATE TEMPORARY TABLE synthetic_parcel (
    ord integer, unit_code text, land_use text, address text,
    geom geometry(MultiPolygon, 4490), valid_from date, source text) ON COMMIT DROP;
CREATE TEMPORARY TABLE synthetic_building (
    parcel_code text, source text, name text, footprint geometry(MultiPolygon, 4490),
    floors_above integer, floors_below integer, height_m float8, gross_floor_area_m2 float8,
    use text, year_built integer, condition text, valid_from date) ON COMMIT DROP;
CREATE TEMPORARY TABLE synthetic_shelter (
    building_source text, source text, name text, location geometry(Point, 4490),
    shelter_type text, protection_class text, capacity_persons integer,
    usable_area_m2 float8, condition text, peacetime_use text, classification integer,
    valid_from date) ON COMMIT DROP;
"""
# One statement for the three tables: the buildings find their parcel's new id, the shelters
# their building's, from what the INSERTs return.
INSERT_SQL = """
WITH parcels AS (
    INSERT INTO registry_parcel (unit_code, district_id, land_use_id, name, address, geom,
                                 valid_from, source, is_synthetic)
    SELECT unit_code, %(district)s, land_use, '', address, geom, valid_from, source, true
      FROM synthetic_parcel ORDER BY ord
    RETURNING id, unit_code
), buildings AS (
    INSERT INTO registry_building (parcel_id, name, address, footprint, floors_above,
                                   floors_below, floors_estimated, height_m,
                                   gross_floor_area_m2, use, year_built, condition,
                                   is_underground, valid_from, source, is_synthetic)
    SELECT p.id, b.name, '', b.footprint, b.floors_above, b.floors_below, false, b.height_m,
           b.gross_floor_area_m2, b.use, b.year_built, b.condition, false, b.valid_from,
           b.source, true
      FROM synthetic_building b JOIN parcels p ON p.unit_code = b.parcel_code
     ORDER BY b.source
    RETURNING id, source
)
INSERT INTO registry_shelter (name, location, building_id, shelter_type, protection_class,
                              capacity_persons, usable_area_m2, condition, peacetime_use,
                              classification, is_underground, valid_from, source, is_synthetic)
SELECT s.name, s.location, b.id, s.shelter_type, s.protection_class, s.capacity_persons,
       s.usable_area_m2, s.condition, s.peacetime_use, s.classification, true, s.valid_from,
       s.source, true
  FROM synthetic_shelter s JOIN buildings b ON b.source = s.building_source
"""
LOADED_TABLES = (
    "registry_parcel",
    "registry_building",
    "registry_shelter",
    "registry_historyevent",
    "gis_layers_tilechange",
)


# --- the city ------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Building:
    box: tuple[float, float, float, float]  # west, south, east, north, m from the centre
    floors_above: int
    floors_below: int
    height_m: float
    use: str
    year_built: int
    condition: str


@dataclasses.dataclass(slots=True)
class Shelter:
    shelter_type: str
    protection_class: str
    capacity_persons: int
    usable_area_m2: float
    condition: str
    peacetime_use: str
    classification: int


@dataclasses.dataclass(slots=True)
class Parcel:
    """One parcel as generated; coordinates in metres east and north of the centre."""

    unit_code: str
    land_use: str
    address: str
    valid_from: datetime.date
    ring: np.ndarray  # (corners, 2), counter-clockwise, not closed
    building: Building | None
    shelter: Shelter | None


def parse_size(text: str) -> int:
    """A number of parcels, or one of the sizes S, M, L."""
    if text.upper() in SIZES:
        return SIZES[text.upper()]
    count = int(text.replace(",", "").replace("_", ""))
    if count < 1:
        raise ValueError("a city has at least one parcel")
    return count


def marker(*, seed: int) -> str:
    """What the district's attribution says of the city it holds: its seed. Its size is the
    number of its parcels: a city grows into a bigger one of the same seed."""
    return f"synthetic city, seed {seed} (bench/synthetic_city.py)"


def block_origin(i: int, j: int) -> tuple[float, float]:
    """South-west corner of block (i, j), m from the centre; block (0, 0) is centred on it."""
    arterials_x = (i + ARTERIAL_EVERY // 2) // ARTERIAL_EVERY
    arterials_y = (j + ARTERIAL_EVERY // 2) // ARTERIAL_EVERY
    x = i * (BLOCK_W + STREET_M) + arterials_x * (ARTERIAL_M - STREET_M) - BLOCK_W / 2
    y = j * (BLOCK_H + STREET_M) + arterials_y * (ARTERIAL_M - STREET_M) - BLOCK_H / 2
    return x, y


def ring_blocks(ring: int) -> list[tuple[int, int]]:
    """The blocks at Chebyshev distance ``ring`` from the centre block, by angle."""
    if ring == 0:
        return [(0, 0)]
    cells = [(i, j) for i in range(-ring, ring + 1) for j in (-ring, ring)]
    cells += [(i, j) for i in (-ring, ring) for j in range(-ring + 1, ring)]
    return sorted(cells, key=lambda cell: math.atan2(cell[1], cell[0]))


def _choices(rng: np.random.Generator, weights: dict, size: int) -> list:
    keys = list(weights)
    p = np.array([weights[key] for key in keys], dtype=float)
    return [keys[k] for k in rng.choice(len(keys), size=size, p=p / p.sum())]


def _by_class(table: dict, code: str, default):
    return table.get(code, table.get(code[:2], default))


def _block_parcels(rng: np.random.Generator, i: int, j: int) -> list[Parcel]:
    """The parcels of block (i, j), numbered from 00001 in their subzone (the block)."""
    x0, y0 = block_origin(i, j)
    distance = math.hypot(x0 + BLOCK_W / 2, y0 + BLOCK_H / 2)
    if distance < CORE_M:
        mix, cols, rows, tall = CORE_MIX, (5, 8), (3, 4), (6, 32)
    elif distance < INNER_M:
        mix, cols, rows, tall = INNER_MIX, (4, 7), (2, 4), (3, 18)
    else:
        mix, cols, rows, tall = OUTER_MIX, (2, 5), (2, 3), (1, 6)
    campus = rng.random() < CAMPUS_SHARE
    if campus:
        mix, c, r = CAMPUS_MIX, int(rng.integers(1, 3)), 1
    else:
        c, r = int(rng.integers(cols[0], cols[1] + 1)), int(rng.integers(rows[0], rows[1] + 1))
    cell_w, cell_h = BLOCK_W / c, BLOCK_H / r
    # Corners of the cells; those on the block's edge move only along it, so the block keeps
    # its straight sides and no parcel reaches into the street.
    jitter_x = rng.uniform(-JITTER, JITTER, (r + 1, c + 1)) * cell_w
    jitter_y = rng.uniform(-JITTER, JITTER, (r + 1, c + 1)) * cell_h
    jitter_x[:, [0, -1]] = 0
    jitter_y[[0, -1], :] = 0
    xs = x0 + np.arange(c + 1)[None, :] * cell_w + jitter_x
    ys = y0 + np.arange(r + 1)[:, None] * cell_h + jitter_y
    merges = rng.random((r, c)) < MERGE_SHARE

    spans = []  # (row, first column, last column + 1)
    for row in range(r):
        column = 0
        while column < c:
            width = 2 if column + 1 < c and merges[row, column] else 1
            spans.append((row, column, column + width))
            column += width
    count = len(spans)
    uses = _choices(rng, mix, count)
    days = rng.integers(0, DAYS + 1, size=count)
    draws = rng.random((count, 8))
    floors = rng.integers(tall[0], tall[1] + 1, size=count)
    conditions = _choices(rng, CONDITIONS, count)
    shelter_types = _choices(rng, SHELTER_TYPES, count)
    classifications = _choices(rng, CLASSIFICATIONS, count)

    zone_i, zone_j = i // ZONE_BLOCKS, j // ZONE_BLOCKS
    half = ZONES_PER_SIDE // 2
    zone = (zone_j + half) * ZONES_PER_SIDE + zone_i + half + 1
    subzone = (j - zone_j * ZONE_BLOCKS) * ZONE_BLOCKS + (i - zone_i * ZONE_BLOCKS) + 1
    parcels = []
    for number, ((row, first, last), use) in enumerate(zip(spans, uses, strict=True), start=1):
        # Counter-clockwise: along the bottom edge eastwards, back along the top westwards.
        bottom = [(xs[row, k], ys[row, k]) for k in range(first, last + 1)]
        top = [(xs[row + 1, k], ys[row + 1, k]) for k in range(last, first - 1, -1)]
        ring = np.array(bottom + top)
        owner = _by_class(COLLECTIVE_TYPES, use, "GB")
        unit_code = f"{DIVISION}{zone:03d}{subzone:03d}{owner}{number:05d}W00000000"
        valid_from = FIRST_DAY + datetime.timedelta(days=int(days[number - 1]))
        draw = draws[number - 1]
        building = shelter = None
        # Every corner moves at most JITTER of a cell from its place on the grid, so this box,
        # drawn in by that much and the setback, lies inside the parcel whatever the moves.
        margin_x = (JITTER * cell_w if c > 1 else 0) + SETBACK_M
        margin_y = (JITTER * cell_h if r > 1 else 0) + SETBACK_M
        west, east = x0 + first * cell_w + margin_x, x0 + last * cell_w - margin_x
        south, north = y0 + row * cell_h + margin_y, y0 + (row + 1) * cell_h - margin_y
        if draw[0] < _by_class(BUILT_SHARE, use, 0.02) and min(east - west, north - south) > 8:
            width, depth = (
                (east - west) * (0.35 + 0.6 * draw[1]),
                (north - south) * (0.35 + 0.6 * draw[2]),
            )
            left = west + (east - west - width) * draw[3]
            bottom_y = south + (north - south - depth) * draw[4]
            above = 1 + int(draw[5] * 2) if use == "0702" else int(floors[number - 1])
            if use[:2] == "06":
                above = min(above, 3)
            kind = _by_class(BUILDING_USE, use, "public" if use[:2] in PUBLIC_CLASSES else "other")
            with_shelter = above >= 4 and draw[6] < (0.08 if distance < INNER_M else 0.03)
            building = Building(
                box=(left, bottom_y, left + width, bottom_y + depth),
                floors_above=above,
                floors_below=1 + int(draw[7] * 3) if with_shelter else int(draw[7] < 0.3),
                height_m=round(above * 3.1 + 0.8, 1),
                use=kind,
                year_built=min(2024, 1960 + int(draw[7] * 65)),
                condition=conditions[number - 1],
            )
            if with_shelter:
                usable = round(width * depth * 0.7, 1)
                shelter = Shelter(
                    shelter_type=shelter_types[number - 1],
                    protection_class=PROTECTION_CLASSES[int(draw[5] * len(PROTECTION_CLASSES))],
                    # Personnel shelters are planned at about 1 m² of usable area a person.
                    capacity_persons=max(1, int(usable)),
                    usable_area_m2=usable,
                    condition=building.condition,
                    peacetime_use=PEACETIME_USES[int(draw[1] * len(PEACETIME_USES))],
                    classification=int(classifications[number - 1]),
                )
        address = f"{DISTRICT_NAME_LOCAL}{zone}区{subzone}街坊{number}号"
        parcels.append(Parcel(unit_code, use, address, valid_from, ring, building, shelter))
    return parcels


def generate(parcels: int, *, seed: int) -> Iterator[Parcel]:
    """The city's first ``parcels`` parcels, ring by ring from the centre outwards. Each ring
    draws from its own random stream, whatever the size asked for, so a smaller city is the
    centre of a bigger one."""
    produced = 0
    for ring in range(MAX_RING + 1):
        rng = np.random.default_rng([seed, ring])
        for i, j in ring_blocks(ring):
            for parcel in _block_parcels(rng, i, j):
                if produced == parcels:
                    return
                yield parcel
                produced += 1
    if produced < parcels:
        raise ValueError(f"the city holds at most {produced:,} parcels")


def to_lonlat(points: np.ndarray) -> np.ndarray:
    """Metres east and north of the centre to longitude and latitude, degrees."""
    return np.column_stack(
        (CENTRE[0] + points[:, 0] / M_PER_DEG_LON, CENTRE[1] + points[:, 1] / M_PER_DEG_LAT)
    )


def _ewkb(rings: list[np.ndarray], *, multi: bool) -> list[str]:
    """Polygons (or MultiPolygons of one polygon) as hex EWKB in EPSG:4490."""
    import shapely

    counts = np.array([len(ring) for ring in rings])
    coordinates = to_lonlat(np.concatenate(rings))
    linear = shapely.linearrings(coordinates, indices=np.repeat(np.arange(len(rings)), counts))
    geometries = shapely.polygons(linear)
    if multi:
        geometries = shapely.multipolygons(geometries, indices=np.arange(len(rings)))
    geometries = shapely.set_srid(geometries, 4490)
    return list(shapely.to_wkb(geometries, hex=True, include_srid=True))


def _points_ewkb(points: np.ndarray) -> list[str]:
    import shapely

    geometries = shapely.set_srid(shapely.points(to_lonlat(points)), 4490)
    return list(shapely.to_wkb(geometries, hex=True, include_srid=True))


def _box_ring(box: tuple[float, float, float, float]) -> np.ndarray:
    west, south, east, north = box
    return np.array([(west, south), (east, south), (east, north), (west, north)])


def staging_rows(batch: list[Parcel], *, first: int, seed: int) -> tuple[list, list, list]:
    """The rows of the three staging tables for parcels ``first`` .. of the city."""
    parcel_geoms = _ewkb([parcel.ring for parcel in batch], multi=True)
    built = [(n, parcel) for n, parcel in enumerate(batch) if parcel.building is not None]
    footprints = _ewkb([_box_ring(parcel.building.box) for _, parcel in built], multi=True)
    sheltered = [(n, parcel) for n, parcel in built if parcel.shelter is not None]
    centres = np.array(
        [
            (
                (p.building.box[0] + p.building.box[2]) / 2,
                (p.building.box[1] + p.building.box[3]) / 2,
            )
            for _, p in sheltered
        ]
    ).reshape(-1, 2)
    locations = _points_ewkb(centres) if sheltered else []

    parcels = [
        (
            first + n,
            parcel.unit_code,
            parcel.land_use,
            parcel.address,
            geom,
            parcel.valid_from,
            f"synthetic city seed {seed} parcel {first + n + 1}",
        )
        for n, (parcel, geom) in enumerate(zip(batch, parcel_geoms, strict=True))
    ]
    buildings = []
    for (n, parcel), footprint in zip(built, footprints, strict=True):
        b = parcel.building
        width, depth = b.box[2] - b.box[0], b.box[3] - b.box[1]
        buildings.append(
            (
                parcel.unit_code,
                f"synthetic city seed {seed} building {first + n + 1}",
                f"{int(parcel.unit_code[14:19])}号楼",
                footprint,
                b.floors_above,
                b.floors_below,
                b.height_m,
                round(width * depth * b.floors_above, 1),
                b.use,
                b.year_built,
                b.condition,
                parcel.valid_from,
            )
        )
    shelters = []
    for (n, parcel), location in zip(sheltered, locations, strict=True):
        s = parcel.shelter
        shelters.append(
            (
                f"synthetic city seed {seed} building {first + n + 1}",
                f"synthetic city seed {seed} shelter {first + n + 1}",
                f"人防工程 {parcel.unit_code[6:9]}-{parcel.unit_code[9:12]}-{parcel.unit_code[14:19]}",
                location,
                s.shelter_type,
                s.protection_class,
                s.capacity_persons,
                s.usable_area_m2,
                s.condition,
                s.peacetime_use,
                s.classification,
                parcel.valid_from,
            )
        )
    return parcels, buildings, shelters


# --- the database --------------------------------------------------------------------------


@dataclasses.dataclass
class LoadReport:
    """What a fill wrote and where its time went, s."""

    parcels: int = 0  # written by this run (a resumed run writes the rest)
    buildings: int = 0
    shelters: int = 0
    batches: int = 0
    generate_s: float = 0.0  # drawing the city, building the rows in Python
    copy_s: float = 0.0  # COPY into the staging tables
    insert_s: float = 0.0  # the INSERT: rows, indexes, checks, history and tile-change triggers
    commit_s: float = 0.0  # COMMIT: the deferred overlap check and foreign keys
    vacuum_s: float = 0.0  # VACUUM ANALYZE of the loaded tables
    total_s: float = 0.0


class CityMismatch(RuntimeError):
    """The database holds another synthetic city (another seed), or a bigger one."""


def city_state(*, parcels: int, seed: int) -> int:
    """Parcels of the city of ``seed`` already in the database (0 if none): the first ones
    of the city asked for, since a city is the first part of any bigger one. Raises
    CityMismatch when the district holds another city or more parcels than asked for."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, attribution FROM registry_district WHERE code = %s", [DIVISION])
        row = cursor.fetchone()
        if row is None:
            return 0
        if row[1] != marker(seed=seed):
            raise CityMismatch(
                f"district {DIVISION} holds another city ({row[1]!r}); "
                "fill a fresh copy of the template instead"
            )
        cursor.execute("SELECT count(*) FROM registry_parcel WHERE district_id = %s", [row[0]])
        done = cursor.fetchone()[0]
    if done > parcels:
        raise CityMismatch(
            f"district {DIVISION} holds {done:,} parcels of seed {seed}, more than {parcels:,}; "
            "fill a fresh copy of the template instead"
        )
    return done


def _district_id(*, seed: int) -> int:
    from registry.models import District

    district, _ = District.objects.get_or_create(
        code=DIVISION,
        defaults={
            "name": DISTRICT_NAME,
            "name_local": DISTRICT_NAME_LOCAL,
            "is_synthetic_code": True,
            "attribution": marker(seed=seed),
            "certificate_province": CERTIFICATE_PROVINCE,
            "certificate_office": CERTIFICATE_OFFICE,
        },
    )
    return district.pk


def _copy(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _write_batch(district: int, rows: tuple[list, list, list], report: LoadReport) -> None:
    """One transaction: COPY to the staging tables, the INSERT, the COMMIT (timed apart:
    the overlap check of the new parcels runs in it)."""
    from django.db import connection, transaction

    parcels, buildings, shelters = rows
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('landledger.app_user', %s, true)", [APP_USER])
            cursor.execute(STAGING_SQL)
            started = time.perf_counter()
            raw = cursor.cursor  # psycopg's own cursor, for COPY
            _copy(raw, "synthetic_parcel", PARCEL_COLUMNS, parcels)
            _copy(raw, "synthetic_building", BUILDING_COLUMNS, buildings)
            _copy(raw, "synthetic_shelter", SHELTER_COLUMNS, shelters)
            copied = time.perf_counter()
            cursor.execute(INSERT_SQL, {"district": district})
            inserted = time.perf_counter()
        report.copy_s += copied - started
        report.insert_s += inserted - copied
    report.commit_s += time.perf_counter() - inserted
    report.parcels += len(parcels)
    report.buildings += len(buildings)
    report.shelters += len(shelters)
    report.batches += 1


def fill(
    *, parcels: int, seed: int, batch: int = DEFAULT_BATCH, progress: bool = True
) -> LoadReport:
    """Fill the database Django is connected to with the city of ``parcels`` parcels from
    ``seed``, or with what it still lacks of it; then VACUUM ANALYZE what was written, so that
    the planner knows the new rows. Returns what was written and the time it took, s."""
    from django.db import connection
    from tqdm import tqdm

    started = time.perf_counter()
    report = LoadReport()
    done = city_state(parcels=parcels, seed=seed)
    if done == parcels:
        # All there: no need to draw the city again only to skip it.
        report.total_s = time.perf_counter() - started
        return report
    district = _district_id(seed=seed)
    pending: list[Parcel] = []
    first = done
    generating = time.perf_counter()
    with tqdm(
        total=parcels,
        initial=done,
        desc="synthetic city",
        unit="parcel",
        unit_scale=True,
        disable=not progress,
    ) as bar:
        for index, parcel in enumerate(generate(parcels, seed=seed)):
            if index < done:
                continue  # committed by an earlier run: the stream is the same, skip it
            pending.append(parcel)
            if len(pending) == batch or index == parcels - 1:
                rows = staging_rows(pending, first=first, seed=seed)
                report.generate_s += time.perf_counter() - generating
                _write_batch(district, rows, report)
                bar.update(len(pending))
                bar.set_postfix(
                    commit_s=f"{report.commit_s:.0f}", insert_s=f"{report.insert_s:.0f}"
                )
                first += len(pending)
                pending = []
                generating = time.perf_counter()
    if report.parcels:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE registry_district SET boundary = (SELECT ST_Multi(ST_SetSRID("
                "ST_Extent(geom)::geometry, 4490)) FROM registry_parcel WHERE district_id = %s) "
                "WHERE id = %s",
                [district, district],
            )
            vacuum_started = time.perf_counter()
            cursor.execute(f"VACUUM (ANALYZE) {', '.join(LOADED_TABLES)}")
            report.vacuum_s = time.perf_counter() - vacuum_started
    report.total_s = time.perf_counter() - started
    return report


# --- a plan and more buildings (the land-use benchmark's city) -------------------------------

PLAN_DATE = datetime.date(2023, 6, 30)
UNPLANNED_SHARE = 0.03  # blocks no zone covers
SPLIT_SHARE = 0.2  # blocks cut into a western and an eastern zone, across some parcels
REZONED_SHARE = 0.12  # zones planned for another use than the one their parcels hold
REZONED_MIX = {"07": 40, "09": 20, "08": 15, "14": 15, "10": 5, "12": 5}  # 2023 classes
# Permitted floor-area ratios by planned class (first level), from the low end at the city's
# edge to the high end in its centre (with some spread); the other classes get none.
FAR_RANGES = {
    "07": (1.2, 3.5), "08": (1.0, 3.0), "09": (1.5, 5.0), "10": (0.6, 1.6), "11": (0.6, 1.5),
    "13": (0.5, 1.5), "15": (0.5, 2.0),
}  # fmt: skip
STRADDLING_SHARE = 0.3  # of the added buildings, those across the edge of two neighbours
SECOND_TRIES = 6  # places tried for a second building on a parcel
BUILDING_GAP_M = 1.5  # least distance between an added building and the others on its parcels
ZONE_COLUMNS = ("planned_use", "plan_name", "plan_date", "max_far", "geom", "source")
PLAN_STREAM, BUILDINGS_STREAM = 1_000_001, 1_000_002  # random streams apart from the rings'


def plan_name(*, seed: int) -> str:
    return f"Synthetic plan, seed {seed} (bench/synthetic_city.py)"


def _extra_prefix(seed: int) -> str:
    """The source of an added building starts with this (then "straddling" or "second")."""
    return f"synthetic city seed {seed} added building"


@dataclasses.dataclass(slots=True)
class Zone:
    box: tuple[float, float, float, float]  # west, south, east, north, m from the centre
    planned_use: str  # 2023 class, first level
    max_far: float | None


@dataclasses.dataclass(slots=True)
class AddedBuilding:
    box: tuple[float, float, float, float]
    parcel: str  # unit code of the parcel holding most of it
    straddling: bool
    floors_above: int
    use: str


def _ring_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _block_plan(
    rng: np.random.Generator, block: list[Parcel], crosswalk: dict[str, str]
) -> list[Zone]:
    """The zones over one block: none, one, or a western and an eastern one. Each is planned
    for the use holding most of the area of the parcels whose centre lies in it, or (some)
    for another; the permitted FAR grows towards the centre."""
    corners = np.concatenate([parcel.ring for parcel in block])
    west, south = corners.min(axis=0)
    east, north = corners.max(axis=0)
    draw = rng.random(3)
    if draw[0] < UNPLANNED_SHARE:
        return []
    cuts = [west, east]
    if draw[1] < SPLIT_SHARE:
        cuts = [west, west + (east - west) * (0.3 + 0.4 * draw[2]), east]
    centrality = max(0.0, 1.0 - math.hypot((west + east) / 2, (south + north) / 2) / INNER_M)
    zones = []
    for left, right in zip(cuts, cuts[1:], strict=False):
        areas: dict[str, float] = {}
        for parcel in block:
            centre_x = parcel.ring[:, 0].mean()
            if left <= centre_x < right or (right == east and centre_x == east):
                planned = crosswalk.get(parcel.land_use, "23")[:2]
                areas[planned] = areas.get(planned, 0.0) + _ring_area(parcel.ring)
        planned = max(sorted(areas), key=areas.get) if areas else "23"
        rezone, spread = rng.random(2)
        if rezone < REZONED_SHARE:
            planned = _choices(rng, REZONED_MIX, 1)[0]
        far = None
        if planned in FAR_RANGES:
            low, high = FAR_RANGES[planned]
            far = round(low + (high - low) * (0.6 * centrality + 0.4 * spread), 1)
        zones.append(Zone((left, south, right, north), planned, far))
    return zones


def _blocks(parcels: int, seed: int) -> Iterator[list[Parcel]]:
    """The city's parcels, block by block (a block is a subzone of the unit code)."""
    block: list[Parcel] = []
    for parcel in generate(parcels, seed=seed):
        if block and parcel.unit_code[6:12] != block[0].unit_code[6:12]:
            yield block
            block = []
        block.append(parcel)
    if block:
        yield block


def plan_and_buildings(
    parcels: int, *, seed: int, crosswalk: dict[str, str], buildings: int
) -> tuple[list[Zone], list[AddedBuilding]]:
    """A land-use plan over the city, and the buildings to add to its own so that it holds
    ``buildings`` in all (none where it holds that many already).

    Zones are blocks (some cut in two, some left out), so some parcels lie in two zones.
    Added buildings are of two kinds: across the shared edge of two neighbouring parcels
    (each then holds part of it: the straddling buildings whose floor area is apportioned),
    and second buildings on built parcels; a parcel gets at most one, none touching another
    building. Reproducible from the seed."""
    import shapely

    plan_rng = np.random.default_rng([seed, PLAN_STREAM])
    zones: list[Zone] = []
    rings, codes, uses, first_boxes = [], [], [], []
    pairs = []  # (left parcel, right parcel, shared edge's bottom and top corners)
    for block in _blocks(parcels, seed):
        zones += _block_plan(plan_rng, block, crosswalk)
        start = len(rings)
        for n, parcel in enumerate(block):
            rings.append(parcel.ring)
            codes.append(parcel.unit_code)
            uses.append(parcel.land_use)
            first_boxes.append(parcel.building.box if parcel.building else None)
            if n:
                left = block[n - 1].ring
                half = len(left) // 2
                # Neighbours in a row: the left one's bottom-right corner is the right one's
                # bottom-left one (the same numbers: both come from the block's grid).
                if np.array_equal(left[half - 1], parcel.ring[0]):
                    pairs.append((start + n - 1, start + n, left[half - 1], left[half]))
    base = sum(box is not None for box in first_boxes)
    wanted = max(0, buildings - base)
    if not wanted:
        return zones, []

    rng = np.random.default_rng([seed, BUILDINGS_STREAM])
    polygons = _polygons(rings)
    has_first = np.array([box is not None for box in first_boxes])
    first = np.array(
        [shapely.box(*box) if box is not None else None for box in first_boxes], dtype=object
    )
    # Straddling: a box centred on the middle of the shared edge.
    left_index = np.array([pair[0] for pair in pairs], dtype=int)
    right_index = np.array([pair[1] for pair in pairs], dtype=int)
    bottoms = np.array([pair[2] for pair in pairs]).reshape(-1, 2)
    tops = np.array([pair[3] for pair in pairs]).reshape(-1, 2)
    middles = (bottoms + tops) / 2
    draws = rng.random((len(pairs), 3))
    widths = 6 + 8 * draws[:, 0]
    depths = np.minimum(0.45 * np.abs(tops[:, 1] - bottoms[:, 1]), 6 + 14 * draws[:, 1])
    straddling = shapely.box(
        middles[:, 0] - widths / 2,
        middles[:, 1] - depths / 2,
        middles[:, 0] + widths / 2,
        middles[:, 1] + depths / 2,
    )
    both = shapely.union(polygons[left_index], polygons[right_index])
    clear = np.ones(len(pairs), dtype=bool)
    for index in (left_index, right_index):
        built = has_first[index]
        clear[built] &= shapely.distance(straddling[built], first[index][built]) >= BUILDING_GAP_M
    straddling_ok = shapely.within(straddling, both) & clear & (depths >= 6)

    # Second buildings: boxes tried at random places in the bounding box of a built parcel.
    built_index = np.flatnonzero(has_first)
    tries = np.repeat(built_index, SECOND_TRIES)
    bounds = shapely.bounds(polygons[tries])
    draws = rng.random((len(tries), 4))
    sizes_x, sizes_y = 5 + 10 * draws[:, 0], 5 + 10 * draws[:, 1]
    west = bounds[:, 0] + (bounds[:, 2] - bounds[:, 0] - sizes_x) * draws[:, 2]
    south = bounds[:, 1] + (bounds[:, 3] - bounds[:, 1] - sizes_y) * draws[:, 3]
    seconds = shapely.box(west, south, west + sizes_x, south + sizes_y)
    seconds_ok = (
        shapely.within(seconds, polygons[tries])
        & (shapely.distance(seconds, first[tries]) >= BUILDING_GAP_M)
        & (bounds[:, 2] - bounds[:, 0] > sizes_x)
        & (bounds[:, 3] - bounds[:, 1] > sizes_y)
    )

    used = np.zeros(len(rings), dtype=bool)
    added: list[AddedBuilding] = []
    floors = rng.integers(1, 7, size=len(pairs) + len(tries))

    def add(box_geometry, owner: int, is_straddling: bool, storeys: int) -> None:
        use = _by_class(
            BUILDING_USE, uses[owner], "public" if uses[owner][:2] in PUBLIC_CLASSES else "other"
        )
        added.append(
            AddedBuilding(
                tuple(float(v) for v in shapely.bounds(box_geometry)),
                codes[owner],
                is_straddling,
                int(storeys),
                use,
            )
        )

    straddling_wanted = round(wanted * STRADDLING_SHARE)
    for k in rng.permutation(np.flatnonzero(straddling_ok)):
        if len(added) == straddling_wanted:
            break
        a, b = left_index[k], right_index[k]
        if used[a] or used[b]:
            continue
        used[a] = used[b] = True
        inside_a = shapely.area(shapely.intersection(straddling[k], polygons[a]))
        owner = a if inside_a * 2 >= shapely.area(straddling[k]) else b
        add(straddling[k], owner, True, floors[k])
    for k in rng.permutation(np.flatnonzero(seconds_ok)):
        if len(added) == wanted:
            break
        owner = tries[k]
        if used[owner]:
            continue
        used[owner] = True
        add(seconds[k], owner, False, floors[len(pairs) + k])
    if len(added) < wanted:
        raise ValueError(
            f"room for {len(added):,} more buildings only; "
            f"{buildings:,} in all is more than this city holds"
        )
    return zones, added


def _polygons(rings: list[np.ndarray]) -> np.ndarray:
    """Shapely polygons of rings of any number of corners (coordinates as they are)."""
    import shapely

    counts = np.array([len(ring) for ring in rings])
    linear = shapely.linearrings(
        np.concatenate(rings), indices=np.repeat(np.arange(len(rings)), counts)
    )
    return shapely.polygons(linear)


def _zone_rows(zones: list[Zone], *, seed: int) -> list[tuple]:
    geometries = _ewkb([_box_ring(zone.box) for zone in zones], multi=True) if zones else []
    return [
        (
            zone.planned_use,
            plan_name(seed=seed),
            PLAN_DATE,
            zone.max_far,
            geometry,
            f"synthetic city seed {seed} zone {n + 1}",
        )
        for n, (zone, geometry) in enumerate(zip(zones, geometries, strict=True))
    ]


def _added_rows(added: list[AddedBuilding], *, seed: int, first: int) -> list[tuple]:
    footprints = _ewkb([_box_ring(b.box) for b in added], multi=True) if added else []
    rows = []
    for n, (building, footprint) in enumerate(zip(added, footprints, strict=True), start=first):
        width, depth = building.box[2] - building.box[0], building.box[3] - building.box[1]
        kind = "straddling" if building.straddling else "second"
        rows.append(
            (
                building.parcel,
                f"{_extra_prefix(seed)} {n + 1} ({kind})",
                f"{int(building.parcel[14:19])}号{'连' if building.straddling else '附'}楼",
                footprint,
                building.floors_above,
                0,
                round(building.floors_above * 3.1 + 0.8, 1),
                round(width * depth * building.floors_above, 1),
                building.use,
                2010,
                "good",
                PLAN_DATE,
            )
        )
    return rows


@dataclasses.dataclass
class PlanReport:
    """What adding the plan and the buildings wrote and took, s."""

    zones: int = 0
    buildings: int = 0  # added by this run
    straddling: int = 0
    generate_s: float = 0.0
    zones_s: float = 0.0
    buildings_s: float = 0.0  # COPY, INSERT (triggers) and COMMIT of the added buildings
    vacuum_s: float = 0.0
    total_s: float = 0.0


ADDED_INSERT_SQL = """
INSERT INTO registry_building (parcel_id, name, address, footprint, floors_above, floors_below,
                               floors_estimated, height_m, gross_floor_area_m2, use, year_built,
                               condition, is_underground, valid_from, source, is_synthetic)
SELECT p.id, b.name, '', b.footprint, b.floors_above, b.floors_below, false, b.height_m,
       b.gross_floor_area_m2, b.use, b.year_built, b.condition, false, b.valid_from, b.source, true
  FROM synthetic_building b JOIN registry_parcel p ON p.unit_code = b.parcel_code
 WHERE p.valid_to IS NULL
 ORDER BY b.source
"""


def fill_plan_and_buildings(
    *, parcels: int, seed: int, buildings: int, batch: int = 50_000, progress: bool = True
) -> PlanReport:
    """Give the city (already filled) its plan and ``buildings`` buildings in all; what is
    there already stays (an interrupted run goes on). Returns what was written and took."""
    from django.db import connection, transaction

    from gis_layers.models import LandUseCrosswalk

    started = time.perf_counter()
    report = PlanReport()
    crosswalk = dict(LandUseCrosswalk.objects.values_list("current_id", "planned_id"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM gis_layers_zoningarea WHERE plan_name = %s",
            [plan_name(seed=seed)],
        )
        (zones_there,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM registry_building WHERE source LIKE %s",
            [_extra_prefix(seed) + " %"],
        )
        (added_there,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM registry_building b JOIN registry_parcel p ON p.id = b.parcel_id "
            "JOIN registry_district d ON d.id = p.district_id WHERE d.code = %s AND b.valid_to IS NULL",
            [DIVISION],
        )
        (buildings_there,) = cursor.fetchone()
    if zones_there and buildings_there >= buildings:
        # Both there (the zones are written in one transaction): no need to draw them again.
        report.total_s = time.perf_counter() - started
        return report
    generating = time.perf_counter()
    zones, added = plan_and_buildings(parcels, seed=seed, crosswalk=crosswalk, buildings=buildings)
    report.generate_s = time.perf_counter() - generating
    if zones_there != len(zones):
        writing = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM gis_layers_zoningarea WHERE plan_name = %s", [plan_name(seed=seed)]
            )
            _copy(
                cursor.cursor, "gis_layers_zoningarea", ZONE_COLUMNS, _zone_rows(zones, seed=seed)
            )
        report.zones = len(zones)
        report.zones_s = time.perf_counter() - writing
    if added_there > len(added):
        raise CityMismatch(
            f"the city holds {added_there:,} added buildings, more than {len(added):,}; "
            "fill a fresh copy of the template instead"
        )
    writing = time.perf_counter()
    for first in range(added_there, len(added), batch):
        rows = _added_rows(added[first : first + batch], seed=seed, first=first)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('landledger.app_user', %s, true)", [APP_USER])
            cursor.execute(STAGING_SQL)
            _copy(cursor.cursor, "synthetic_building", BUILDING_COLUMNS, rows)
            cursor.execute(ADDED_INSERT_SQL)
        report.buildings += len(rows)
        report.straddling += sum(b.straddling for b in added[first : first + batch])
        if progress:
            print(f"added buildings: {first + len(rows):,} of {len(added):,}", flush=True)
    report.buildings_s = time.perf_counter() - writing
    if report.zones or report.buildings:
        vacuum_started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "VACUUM (ANALYZE) gis_layers_zoningarea, registry_building, gis_layers_tilechange"
            )
        report.vacuum_s = time.perf_counter() - vacuum_started
    report.total_s = time.perf_counter() - started
    return report


def check(*, parcels: int, seed: int) -> dict[str, int]:
    """Counts of the city's rows, and of buildings not within their parcel (straddling ones
    aside), straddling buildings not across two parcels, and shelters not within their
    building (those three must be 0)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM registry_parcel p JOIN registry_district d "
            "        ON d.id = p.district_id WHERE d.code = %(code)s), "
            "(SELECT count(*) FROM registry_building b WHERE b.source LIKE %(prefix)s), "
            "(SELECT count(*) FROM registry_shelter s WHERE s.source LIKE %(prefix)s), "
            "(SELECT count(*) FROM registry_building b JOIN registry_parcel p "
            "        ON p.id = b.parcel_id WHERE b.source LIKE %(prefix)s "
            "        AND b.source NOT LIKE '%%(straddling)' AND NOT ST_Within(b.footprint, p.geom)), "
            "(SELECT count(*) FROM registry_building b WHERE b.source LIKE %(prefix)s "
            "        AND b.source LIKE '%%(straddling)' AND (SELECT count(*) FROM registry_parcel p "
            "        WHERE p.geom && b.footprint AND ST_Area(ST_Intersection(p.geom, b.footprint)) > 0) <> 2), "
            "(SELECT count(*) FROM gis_layers_zoningarea z WHERE z.plan_name = %(plan)s), "
            "(SELECT count(*) FROM registry_shelter s JOIN registry_building b "
            "        ON b.id = s.building_id WHERE s.source LIKE %(prefix)s "
            "        AND NOT ST_Within(s.location, b.footprint))",
            {
                "code": DIVISION,
                "prefix": f"synthetic city seed {seed} %",
                "plan": plan_name(seed=seed),
            },
        )
        counts = cursor.fetchone()
    return dict(
        zip(
            (
                "parcels",
                "buildings",
                "shelters",
                "buildings outside",
                "straddling buildings not on two parcels",
                "zones",
                "shelters outside",
            ),
            counts,
            strict=True,
        )
    )


def setup_django(database_url: str) -> None:
    """Point Django at ``database_url``; must run before anything imports the models."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--parcels",
        type=parse_size,
        default=SIZES["L"],
        help="parcels: a number, or S (10,000), M (100,000), L (1,000,000; the default)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the city (default 1)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="parcels per transaction")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="the database to fill (default: $DATABASE_URL; one of the two is required)",
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="also give the city a land-use plan (zones over its blocks)",
    )
    parser.add_argument(
        "--buildings",
        type=parse_size,
        help="with --plan: add buildings (some straddling two parcels) up to this many in all",
    )
    parser.add_argument("--check", action="store_true", help="check the rows afterwards")
    arguments = parser.parse_args()
    if not arguments.database_url:
        parser.error("name the database: --database-url or DATABASE_URL")
    setup_django(arguments.database_url)
    try:
        report = fill(parcels=arguments.parcels, seed=arguments.seed, batch=arguments.batch)
    except CityMismatch as error:
        sys.exit(str(error))
    print(
        f"wrote {report.parcels:,} parcels, {report.buildings:,} buildings, "
        f"{report.shelters:,} shelters in {report.batches} transactions, {report.total_s:.1f} s: "
        f"generate {report.generate_s:.1f} s, COPY {report.copy_s:.1f} s, "
        f"INSERT {report.insert_s:.1f} s, COMMIT (overlap check) {report.commit_s:.1f} s, "
        f"VACUUM ANALYZE {report.vacuum_s:.1f} s"
    )
    if arguments.plan:
        added = fill_plan_and_buildings(
            parcels=arguments.parcels, seed=arguments.seed, buildings=arguments.buildings or 0
        )
        print(
            f"wrote {added.zones:,} zones and {added.buildings:,} more buildings "
            f"({added.straddling:,} straddling two parcels) in {added.total_s:.1f} s: "
            f"generate {added.generate_s:.1f} s, zones {added.zones_s:.1f} s, "
            f"buildings {added.buildings_s:.1f} s, VACUUM ANALYZE {added.vacuum_s:.1f} s"
        )
    if arguments.check:
        print(check(parcels=arguments.parcels, seed=arguments.seed))


if __name__ == "__main__":
    main()
