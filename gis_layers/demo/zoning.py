"""A synthetic land-use plan for the demo districts: square cells of 150 m, each planned for
the use (2023 class, first level) that takes most of its parcels' area, so that parcels of
the other uses in a cell do not conform. Marked synthetic; the permitted floor-area ratios
are typical values, not any city's."""

import datetime

import geopandas as gpd
import numpy as np
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction

from gis_layers.models import DatasetLoad, LandUseCrosswalk, ZoningArea
from registry.models import District, Parcel

DATASET = "demo_zoning"
CELL_M = 150.0
PLAN_NAME = "Demo plan (synthetic)"
PLAN_DATE = datetime.date(2022, 6, 30)
MAX_FAR = {"07": 3.0, "08": 2.5, "09": 4.0, "10": 1.5, "11": 1.2}


def _plan_for(parcels: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    min_x, min_y, max_x, max_y = parcels.total_bounds
    xs = np.arange(np.floor(min_x / CELL_M) * CELL_M, max_x, CELL_M)
    ys = np.arange(np.floor(min_y / CELL_M) * CELL_M, max_y, CELL_M)
    cells = gpd.GeoDataFrame(
        {"cell": np.arange(len(xs) * len(ys))},
        geometry=[shapely.box(x, y, x + CELL_M, y + CELL_M) for y in ys for x in xs],
        crs=parcels.crs,
    )
    pieces = gpd.overlay(
        parcels[["planned", "geometry"]], cells, how="intersection", keep_geom_type=True
    )
    pieces["area"] = pieces.geometry.area
    majority = pieces.groupby(["cell", "planned"])["area"].sum().reset_index().sort_values("area")
    majority = majority.groupby("cell").tail(1).set_index("cell")["planned"]
    zones = pieces.dissolve(by="cell").reset_index()[["cell", "geometry"]]
    zones["planned_use"] = zones["cell"].map(majority)
    return zones


def load_demo_zoning(*, progress=lambda step: None):
    from gis_layers.demo.titles import TitlesReport  # the same report shape

    if DatasetLoad.objects.filter(dataset=DATASET).exists():
        return TitlesReport(dataset=DATASET, skipped=True)
    progress("demo zoning: a synthetic plan")
    crosswalk = dict(LandUseCrosswalk.objects.values_list("current_id", "planned_id"))
    written = 0
    with transaction.atomic():
        for district in District.objects.order_by("code"):
            rows = list(
                Parcel.objects.filter(district=district, valid_to__isnull=True).values_list(
                    "land_use_id", "geom"
                )
            )
            if not rows:
                continue
            parcels = gpd.GeoDataFrame(
                {"planned": [crosswalk[code][:2] for code, _ in rows]},
                geometry=[shapely.from_wkb(bytes(geom.wkb)) for _, geom in rows],
                crs=4490,
            )
            metric = parcels.estimate_utm_crs()
            zones = _plan_for(parcels.to_crs(metric)).to_crs(4490)
            records = []
            for planned, geometry in zip(zones["planned_use"], zones.geometry, strict=True):
                polygons = [
                    part
                    for part in shapely.get_parts(shapely.make_valid(geometry))
                    if part.geom_type == "Polygon"
                ]
                if not polygons:
                    continue
                records.append(
                    ZoningArea(
                        planned_use=planned,
                        plan_name=PLAN_NAME,
                        plan_date=PLAN_DATE,
                        max_far=MAX_FAR.get(planned),
                        geom=GEOSGeometry(shapely.MultiPolygon(polygons).wkb_hex, srid=4490),
                        source=f"synthetic demo plan, district {district.code}",
                    )
                )
            ZoningArea.objects.bulk_create(records)
            written += len(records)
        DatasetLoad.objects.create(
            dataset=DATASET,
            version="1",
            counts={"zones": written},
            attribution="Land-use plan: synthetic demo data.",
        )
    return TitlesReport(dataset=DATASET, counts={"zones": written})
