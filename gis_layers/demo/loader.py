"""``load_demo``: the Helsinki centre and Prague Bubeneč demo districts.

Each district loads in one transaction and records a ``DatasetLoad`` last, so a district is
either wholly in place (and skipped next time) or not there at all.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from django.contrib.gis.geos import (
    GEOSGeometry,
    LineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)
from django.db import connection, transaction

from gis_layers.analysis.geometry import repair_polygons
from gis_layers.analysis.parcels import cut_blocks_by_land_use, flatten_overlaps, street_blocks
from gis_layers.demo import osm, synthetic
from gis_layers.demo.sources import (
    HELSINKI,
    PRAGUE,
    DemoDistrictSpec,
    bubenec_path,
    helsinki_pbf_path,
    read_osm_layer,
)
from gis_layers.models import DatasetLoad, PopulationCell, RoadSegment
from registry.models import (
    Agency,
    AgencyLevel,
    Building,
    District,
    Parcel,
    Party,
    PartyKind,
    SecurityLevel,
    Shelter,
    StaffEstablishment,
)

DEMO_VERSION = "1"
STORAGE_SRID = 4490
DEMO_VALID_FROM = datetime.date(2020, 1, 1)
# Street classes whose centrelines bound city blocks, with half the corridor width in metres.
BLOCK_STREET_HALF_WIDTHS_M = {
    "primary": 10.0,
    "primary_link": 6.0,
    "secondary": 8.0,
    "tertiary": 6.0,
    "tertiary_link": 5.0,
    "residential": 5.0,
    "unclassified": 5.0,
    "living_street": 4.0,
    "pedestrian": 4.0,
}
NOT_WALKABLE = {"motorway", "motorway_link", "trunk", "trunk_link", "construction", "elevator"}
# Where no land-use polygon says otherwise, a parcel's use follows its buildings.
LAND_USE_BY_BUILDING_USE = {
    "residential": "0701",
    "office": "0505",
    "commercial": "0501",
    "public": "0807",
    "industrial": "0601",
    "other": "0701",
}
OPEN_SPACE_LAND_USE = "1004"  # squares and street space between blocks (城镇村道路用地)
GOVERNMENT_LAND_USE = "0801"
BATCH_SIZE = 500
MIN_BUILDING_M2 = 1.0

Progress = Callable[[str], None]


@dataclass
class LoadReport:
    dataset: str
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


# How many times a full load calls ``progress``: the length of its progress bar.
DEMO_STEPS = 13


def load_demo(*, progress: Progress = lambda step: None) -> list[LoadReport]:
    """Load every demo district that is not loaded yet, then their titles (each act its own
    transaction, through the register's services). Running it twice changes nothing."""
    from gis_layers.demo.inspections import load_demo_inspections
    from gis_layers.demo.space import load_demo_space
    from gis_layers.demo.titles import load_demo_titles
    from gis_layers.demo.zoning import load_demo_zoning

    return [
        _load_district(HELSINKI, _build_helsinki, progress),
        _load_district(PRAGUE, _build_prague, progress),
        load_demo_titles(progress=progress),
        load_demo_zoning(progress=progress),
        load_demo_inspections(progress=progress),
        load_demo_space(progress=progress),
    ]


def _load_district(spec: DemoDistrictSpec, build, progress: Progress) -> LoadReport:
    with transaction.atomic():
        # Two concurrent load_demo runs queue here instead of both inserting.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('landledger.load_demo'))")
        if DatasetLoad.objects.filter(dataset=spec.dataset).exists():
            return LoadReport(dataset=spec.dataset, skipped=True)
        report = LoadReport(dataset=spec.dataset)
        layers = build(report, progress)
        progress(f"{spec.dataset}: writing")
        _write(spec, layers, report)
        DatasetLoad.objects.create(
            dataset=spec.dataset,
            version=DEMO_VERSION,
            counts=report.counts,
            repaired=report.repaired,
            attribution=spec.attribution,
        )
    return report


@dataclass
class DistrictLayers:
    """Everything one district writes, in the metric CRS ``crs`` until written."""

    crs: object
    extent: shapely.Polygon
    parcels: gpd.GeoDataFrame  # land_use_code, name, source
    buildings: gpd.GeoDataFrame  # building_key, parcel_index, name, use, floors...
    roads: gpd.GeoDataFrame  # osm_id, name, highway
    shelters: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    agencies: list[dict]


# --- Helsinki --------------------------------------------------------------------------


def _build_helsinki(report: LoadReport, progress: Progress) -> DistrictLayers:
    rng = np.random.default_rng(synthetic.SEED)
    path = helsinki_pbf_path()
    progress("helsinki_centre: reading the OSM extract")
    areas = read_osm_layer(path, "multipolygons")
    lines = read_osm_layer(path, "lines")
    crs = lines.estimate_utm_crs()
    areas_tags = osm.tags_frame(
        areas, ["building", "landuse", "leisure", "natural", "amenity", "office", "name"]
    )
    areas = areas.assign(tags=areas_tags)

    is_building = areas["building"].notna()
    raw_buildings = areas[is_building]
    report.dropped["buildings_unreadable"] = int(raw_buildings.geometry.isna().sum())
    buildings = raw_buildings[raw_buildings.geometry.notna()].to_crs(crs)
    footprints, report.repaired["buildings"] = repair_polygons(buildings.geometry)
    buildings = buildings.set_geometry(footprints)
    # A repaired sliver under 1 m² is a mapping error, not a building.
    has_area = buildings.geometry.notna() & (buildings.geometry.area >= MIN_BUILDING_M2)
    report.dropped["buildings_without_area"] = int((~has_area).sum())
    buildings = buildings[has_area]

    land_use = areas[~is_building].copy()
    land_use["land_use_code"] = [osm.land_use_code(tags) for tags in land_use["tags"]]
    land_use = land_use[land_use["land_use_code"].notna() & land_use.geometry.notna()].to_crs(crs)
    land_use_geometry, report.repaired["land_use"] = repair_polygons(land_use.geometry)
    land_use = land_use.set_geometry(land_use_geometry)
    land_use = land_use[land_use.geometry.notna()]

    progress("helsinki_centre: deriving parcels from street blocks and land use")
    highways = lines[lines["highway"].notna()].to_crs(crs)
    extent = shapely.box(*highways.total_bounds)
    block_streets = highways[highways["highway"].isin(BLOCK_STREET_HALF_WIDTHS_M)]
    blocks = street_blocks(
        block_streets,
        half_widths_m=block_streets["highway"].map(BLOCK_STREET_HALF_WIDTHS_M),
        extent=extent,
    )
    pieces = cut_blocks_by_land_use(
        blocks, flatten_overlaps(land_use[["land_use_code", "geometry"]])
    )
    pieces["source"] = "derived: street block cut by OSM land use"
    pieces["name"] = ""

    building_rows = _building_rows(buildings, rng)
    parcels = _ordered_by_position(pieces)
    building_rows["parcel_index"] = _parcel_holding_most(building_rows, parcels)
    parcels["land_use_code"] = _land_use_with_buildings(parcels, building_rows)

    roads = gpd.GeoDataFrame(
        {
            "osm_id": pd.to_numeric(highways["osm_id"], errors="coerce"),
            "name": highways["name"].fillna(""),
            "highway": highways["highway"],
        },
        geometry=highways.geometry,
        crs=crs,
    )
    progress("helsinki_centre: generating agencies, shelters and population (synthetic)")
    return DistrictLayers(
        crs=crs,
        extent=extent,
        parcels=parcels,
        buildings=building_rows,
        roads=roads,
        shelters=synthetic.basement_shelters(building_rows, rng),
        population=synthetic.population_grid(building_rows, extent),
        agencies=_agencies_for_offices(building_rows, rng),
    )


def _building_rows(buildings: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    tags = buildings["tags"]
    uses = pd.Series([osm.building_use(t) for t in tags], index=buildings.index)
    levels = pd.Series([osm.number_or_none(t.get("building:levels")) for t in tags], dtype=float)
    heights = pd.Series([osm.number_or_none(t.get("height")) for t in tags], dtype=float)
    floors, estimated = synthetic.estimate_floors(uses, levels, heights, rng)
    footprint_m2 = buildings.geometry.area.to_numpy()
    rows = gpd.GeoDataFrame(
        {
            "building_key": np.arange(len(buildings)),
            "name": [t.get("name:en") or t.get("name") or "" for t in tags],
            "address": [_address(t) for t in tags],
            "use": uses.to_numpy(),
            "is_government_office": [osm.is_government_office(t) for t in tags],
            "floors_above": floors,
            "floors_estimated": estimated,
            "height_m": heights.to_numpy(),
            "year_built": [osm.year_or_none(t.get("start_date")) for t in tags],
            "footprint_m2": footprint_m2,
            "gfa_m2": np.round(footprint_m2 * floors, 1),
            "source": [_osm_source(row) for _, row in buildings.iterrows()],
            "government_tag": [t.get("government", "") for t in tags],
            "is_municipal": [osm.is_municipal(t) for t in tags],
        },
        geometry=buildings.geometry.to_numpy(),
        crs=buildings.crs,
    )
    return rows


def _address(tags: dict[str, str]) -> str:
    street, number = tags.get("addr:street", ""), tags.get("addr:housenumber", "")
    return f"{street} {number}".strip()


def _osm_source(row) -> str:
    if pd.notna(row.get("osm_id")):
        return f"OSM relation {row['osm_id']}"
    return f"OSM way {row['osm_way_id']}"


def _ordered_by_position(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """North to south, then west to east: parcel numbers that are stable and readable."""
    points = parcels.geometry.representative_point()
    order = np.lexsort((np.round(points.x.to_numpy()), -np.round(points.y.to_numpy() / 50)))
    return parcels.iloc[order].reset_index(drop=True)


def _parcel_holding_most(buildings: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame) -> np.ndarray:
    """Index of the parcel holding most of each footprint; -1 when on none."""
    pieces = gpd.overlay(
        buildings[["building_key", "geometry"]],
        parcels[["geometry"]].assign(parcel_index=np.arange(len(parcels))),
        how="intersection",
        keep_geom_type=True,
    )
    pieces["overlap_m2"] = pieces.geometry.area
    best = pieces.sort_values("overlap_m2").groupby("building_key").tail(1)
    mapping = dict(zip(best["building_key"], best["parcel_index"], strict=True))
    return np.array([mapping.get(key, -1) for key in buildings["building_key"]], dtype=int)


def _land_use_with_buildings(parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> list[str]:
    """A parcel holding a government office is 0801; otherwise OSM land use where mapped,
    else the use of most of its built footprint, else open street space."""
    on_parcel = buildings[buildings["parcel_index"] >= 0]
    government = set(on_parcel.loc[on_parcel["is_government_office"], "parcel_index"])
    main_use = (
        on_parcel.groupby(["parcel_index", "use"])["footprint_m2"].sum().reset_index()
        .sort_values("footprint_m2").groupby("parcel_index").tail(1)
        .set_index("parcel_index")["use"]
    )  # fmt: skip
    codes = []
    for index, mapped in enumerate(parcels["land_use_code"]):
        if index in government:
            codes.append(GOVERNMENT_LAND_USE)
        elif isinstance(mapped, str):
            codes.append(mapped)
        elif index in main_use.index:
            codes.append(LAND_USE_BY_BUILDING_USE[main_use[index]])
        else:
            codes.append(OPEN_SPACE_LAND_USE)
    return codes


def _agencies_for_offices(buildings: gpd.GeoDataFrame, rng: np.random.Generator) -> list[dict]:
    """One synthetic agency per real government office building, under one administration."""
    agencies: list[dict] = [
        {
            "key": "root",
            "name": "Government Offices Administration (demo)",
            "parent": None,
            "level": AgencyLevel.CENTRAL,
            "building_key": None,
            "clearance": SecurityLevel.SECRET,
            "staff": synthetic.staff_establishment(rng, ministerial=True),
        }
    ]
    offices = buildings[buildings["is_government_office"]]
    for number, (_, office) in enumerate(offices.iterrows(), start=1):
        ministerial = office["government_tag"] == "ministry"
        agencies.append(
            {
                "key": f"office-{office['building_key']}",
                "name": office["name"]
                or f"Demo agency {number} ({office['address'] or 'no address'})",
                "parent": "root",
                "level": AgencyLevel.MUNICIPAL if office["is_municipal"] else AgencyLevel.CENTRAL,
                "building_key": int(office["building_key"]),
                "clearance": SecurityLevel.SECRET if rng.random() < 0.15 else SecurityLevel.PUBLIC,
                "staff": synthetic.staff_establishment(rng, ministerial=ministerial),
            }
        )
    return agencies


# --- Prague Bubeneč --------------------------------------------------------------------


def _build_prague(report: LoadReport, progress: Progress) -> DistrictLayers:
    rng = np.random.default_rng(synthetic.SEED + 1)
    path = bubenec_path()
    progress("prague_bubenec: reading the momepy sample")
    plots = gpd.read_file(path, layer="plots")
    footprints = gpd.read_file(path, layer="buildings")
    streets = gpd.read_file(path, layer="streets")
    crs = plots.estimate_utm_crs()
    plots, footprints, streets = plots.to_crs(crs), footprints.to_crs(crs), streets.to_crs(crs)
    plot_geometry, report.repaired["plots"] = repair_polygons(plots.geometry)
    footprint_geometry, report.repaired["buildings"] = repair_polygons(footprints.geometry)

    parcels = gpd.GeoDataFrame(
        {
            "land_use_code": None,
            "name": "",
            "source": [
                f"momepy bubenec plot {plot_id} (cadastre ID {plot_id_2})"
                for plot_id, plot_id_2 in zip(plots["ID"], plots["ID_2"], strict=True)
            ],
        },
        geometry=plot_geometry.to_numpy(),
        crs=crs,
    )
    parcels = _ordered_by_position(parcels[parcels.geometry.notna()])
    uses = pd.Series(rng.choice(["residential"] * 6 + ["office", "public"], len(footprints)))
    floors, _ = synthetic.estimate_floors(
        uses, pd.Series(np.nan, index=uses.index), pd.Series(np.nan, index=uses.index), rng
    )
    footprint_m2 = footprint_geometry.area.to_numpy()
    buildings = gpd.GeoDataFrame(
        {
            "building_key": np.arange(len(footprints)),
            "name": "",
            "address": "",
            "use": uses.to_numpy(),
            "is_government_office": False,
            "floors_above": floors,
            "floors_estimated": True,
            "height_m": np.nan,
            "year_built": None,
            "footprint_m2": footprint_m2,
            "gfa_m2": np.round(footprint_m2 * floors, 1),
            "source": [f"momepy bubenec building {uid}" for uid in footprints["uID"]],
            "government_tag": "",
            "is_municipal": False,
        },
        geometry=footprint_geometry.to_numpy(),
        crs=crs,
    )
    buildings["parcel_index"] = _parcel_holding_most(buildings, parcels)
    parcels["land_use_code"] = _land_use_with_buildings(parcels, buildings)
    extent = shapely.box(*parcels.total_bounds)
    roads = gpd.GeoDataFrame(
        {"osm_id": None, "name": "", "highway": "street"},
        index=range(len(streets)),
        geometry=streets.geometry.to_numpy(),
        crs=crs,
    )
    progress("prague_bubenec: generating shelters and population (synthetic)")
    return DistrictLayers(
        crs=crs,
        extent=extent,
        parcels=parcels,
        buildings=buildings,
        roads=roads,
        shelters=synthetic.basement_shelters(buildings, rng),
        population=synthetic.population_grid(buildings, extent),
        agencies=[],
    )


# --- writing ---------------------------------------------------------------------------


_Geometry = TypeVar("_Geometry", bound=GEOSGeometry)


def _geos(geometry, kind: type[_Geometry]) -> _Geometry:
    # GEOSGeometry() gives back the subclass the WKB holds; ``kind`` names the one the field
    # stores, which the constructor's annotation (plain GEOSGeometry) cannot say.
    return cast(_Geometry, GEOSGeometry(memoryview(shapely.to_wkb(geometry)), srid=STORAGE_SRID))


def _to_storage(frame: gpd.GeoDataFrame, report: LoadReport, layer: str) -> gpd.GeoSeries:
    """Transform to EPSG:4490; repair anything the transformation made invalid."""
    stored = frame.geometry.to_crs(STORAGE_SRID)
    if frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        stored, repaired = repair_polygons(stored)
        report.repaired[layer] = report.repaired.get(layer, 0) + repaired
    return stored


def _unit_code(division: str, parcel_number: int) -> str:
    # State-owned (G), construction land use right on the surface (B), no fixture (W).
    return f"{division}001001GB{parcel_number:05d}W00000000"


def _write(spec: DemoDistrictSpec, layers: DistrictLayers, report: LoadReport) -> None:
    boundary = gpd.GeoSeries([layers.extent], crs=layers.crs).to_crs(STORAGE_SRID).iloc[0]
    district = District.objects.create(
        code=spec.division_code,
        name=spec.name,
        name_local=spec.name_local,
        boundary=_geos(shapely.MultiPolygon([boundary]), MultiPolygon),
        is_synthetic_code=True,
        attribution=spec.attribution,
        certificate_province=spec.certificate_province,
        certificate_office=spec.certificate_office,
    )
    parcel_geometries = _to_storage(layers.parcels, report, "parcels")
    parcels = Parcel.objects.bulk_create(
        [
            Parcel(
                unit_code=_unit_code(spec.division_code, number),
                district=district,
                land_use_id=row.land_use_code,
                name=row.name,
                geom=_geos(geometry, MultiPolygon),
                valid_from=DEMO_VALID_FROM,
                source=row.source,
            )
            for number, (row, geometry) in enumerate(
                zip(layers.parcels.itertuples(), parcel_geometries, strict=True), start=1
            )
        ],
        batch_size=BATCH_SIZE,
    )
    footprints = _to_storage(layers.buildings, report, "buildings")
    buildings = Building.objects.bulk_create(
        [
            Building(
                parcel=parcels[row.parcel_index] if row.parcel_index >= 0 else None,
                name=row.name,
                address=row.address,
                footprint=_geos(geometry, MultiPolygon),
                floors_above=int(row.floors_above),
                floors_estimated=bool(row.floors_estimated),
                height_m=None if pd.isna(row.height_m) else float(row.height_m),
                gross_floor_area_m2=float(row.gfa_m2),
                use=row.use,
                year_built=None if pd.isna(row.year_built) else int(row.year_built),
                valid_from=DEMO_VALID_FROM,
                source=row.source,
                is_synthetic=False,
            )
            for row, geometry in zip(layers.buildings.itertuples(), footprints, strict=True)
        ],
        batch_size=BATCH_SIZE,
    )
    building_by_key = dict(zip(layers.buildings["building_key"], buildings, strict=True))
    _write_shelters(layers, building_by_key)
    _write_agencies(layers.agencies, building_by_key)
    roads = layers.roads[layers.roads.geometry.geom_type == "LineString"]
    RoadSegment.objects.bulk_create(
        [
            RoadSegment(
                district=district,
                osm_id=None if pd.isna(row.osm_id) else int(row.osm_id),
                name=row.name,
                highway=row.highway,
                walkable=row.highway not in NOT_WALKABLE,
                geom=_geos(geometry, LineString),
                source=spec.dataset,
            )
            for row, geometry in zip(
                roads.itertuples(), roads.geometry.to_crs(STORAGE_SRID), strict=True
            )
        ],
        batch_size=BATCH_SIZE,
    )
    PopulationCell.objects.bulk_create(
        [
            PopulationCell(
                district=district,
                geom=_geos(geometry, Polygon),
                residents=float(residents),
                is_synthetic=True,
                source="modelled from residential floor area at 35 m² per person",
            )
            for residents, geometry in zip(
                layers.population["residents"],
                layers.population.geometry.to_crs(STORAGE_SRID),
                strict=True,
            )
        ],
        batch_size=BATCH_SIZE,
    )
    report.counts.update(
        parcels=len(parcels),
        buildings=len(buildings),
        shelters=len(layers.shelters),
        roads=len(roads),
        population_cells=len(layers.population),
        agencies=len(layers.agencies),
    )


def _shelter_name(building: Building) -> str:
    return f"Shelter under {building.name or f'building {building.pk}'}"


def _write_shelters(layers: DistrictLayers, building_by_key: dict) -> None:
    shelters = layers.shelters
    locations = shelters.geometry.to_crs(STORAGE_SRID)
    entrances = gpd.GeoSeries(shelters["entrances"], crs=layers.crs).to_crs(STORAGE_SRID)
    Shelter.objects.bulk_create(
        [
            Shelter(
                name=_shelter_name(building_by_key[row.building_key]),
                location=_geos(location, Point),
                entrances=_geos(entrance, MultiPoint),
                building=building_by_key[row.building_key],
                shelter_type=row.shelter_type,
                protection_class=row.protection_class,
                capacity_persons=int(row.capacity_persons),
                usable_area_m2=float(row.usable_area_m2),
                condition=row.condition,
                peacetime_use=row.peacetime_use,
                classification=int(row.classification),
                valid_from=DEMO_VALID_FROM,
                is_synthetic=True,
                source="synthetic: basement of a large building",
            )
            for row, location, entrance in zip(
                shelters.itertuples(), locations, entrances, strict=True
            )
        ],
        batch_size=BATCH_SIZE,
    )


def _write_agencies(agencies: list[dict], building_by_key: dict) -> None:
    created: dict[str, Agency] = {}
    for spec in agencies:
        party = Party.objects.create(
            kind=PartyKind.AGENCY,
            name=spec["name"],
            is_synthetic=True,
            source="synthetic agency seated in a real OSM government office building",
        )
        agency = Agency.objects.create(
            party=party,
            parent=created.get(spec["parent"]),
            level=spec["level"],
            seat_building=building_by_key.get(spec["building_key"]),
            clearance=spec["clearance"],
        )
        StaffEstablishment.objects.bulk_create(
            [
                StaffEstablishment(agency=agency, rank=rank, headcount=count, is_synthetic=True)
                for rank, count in spec["staff"].items()
            ]
        )
        created[spec["key"]] = agency
