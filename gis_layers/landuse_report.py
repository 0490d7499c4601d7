"""The land-use report: per district, land by current use, planned use and holder type;
conformity to the plan, in all and by current-use class; intensity. Loads the register's
current parcels, buildings and zoning and runs :mod:`gis_layers.analysis.landuse` on them in
each district's UTM zone."""

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from django.conf import settings
from django.db import connection
from pyproj import CRS

from gis_layers.analysis.landuse import (
    UNDERUSED,
    UNDERUSED_SHARE,
    conformity,
    conformity_by_class,
    intensity,
    use_of_permitted,
)
from gis_layers.metric import configured_metric_epsg
from gis_layers.models import LandUseCrosswalk
from gis_layers.report_cache import cache_key, cached_report
from registry.models import District

NO_PLAN = "no plan"
# Every table the report reads (for gis_layers.report_cache).
INPUTS = (
    "gis_layers_landusecrosswalk",
    "gis_layers_zoningarea",
    "registry_building",
    "registry_district",
    "registry_parcel",
    "registry_party",
    "registry_right",
    "registry_rightholder",
    "registry_title",
)


def _frame(sql: str, params) -> gpd.GeoDataFrame:
    """Rows of ``sql`` whose last column is a geometry, as a GeoDataFrame in EPSG:4490."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT q.*, ST_AsBinary(q.geom) AS wkb FROM ({sql}) q", params)
        columns = [column.name for column in cursor.description]
        rows = cursor.fetchall()
    table = pd.DataFrame(rows, columns=columns).drop(columns="geom")
    geometry = shapely.from_wkb([bytes(value) for value in table.pop("wkb")]) if len(table) else []
    return gpd.GeoDataFrame(table, geometry=geometry, crs=4490)


@dataclasses.dataclass
class DistrictInputs:
    """What the analysis of one district reads from the register, in EPSG:4490."""

    parcels: gpd.GeoDataFrame  # parcel_id, unit_code, land_use, area_m2 (geodesic), holder_kind
    zones: gpd.GeoDataFrame  # planned_use, max_far: the zoning over the parcels' extent
    buildings: gpd.GeoDataFrame  # gfa_m2: current buildings on the district's parcels
    crosswalk: dict[str, str]  # GB/T 21010-2017 code -> 2023 planned-use class


def district_inputs(district: District) -> DistrictInputs | None:
    """The district's current parcels, their buildings and the zoning over them; None where
    the district has no current parcel."""
    parcels = _frame(
        "SELECT p.id AS parcel_id, p.unit_code, p.land_use_id AS land_use, p.area_m2, p.geom, COALESCE(("
        " SELECT pa.kind FROM registry_title t JOIN registry_right r ON r.title_id = t.id "
        " JOIN registry_rightholder h ON h.right_id = r.id JOIN registry_party pa ON pa.id = h.party_id "
        " WHERE t.parcel_id = p.id AND r.valid_to IS NULL "
        " AND r.kind IN ('land_use_right', 'state_ownership') ORDER BY r.kind = 'state_ownership', r.id LIMIT 1"
        "), 'unregistered') AS holder_kind FROM registry_parcel p WHERE p.district_id = %s AND p.valid_to IS NULL",
        [district.pk],
    )
    if parcels.empty:
        return None
    zones = _frame(
        "SELECT id, planned_use, max_far, geom FROM gis_layers_zoningarea "
        "WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)",
        list(parcels.total_bounds),
    )
    buildings = _frame(
        "SELECT b.gross_floor_area_m2 AS gfa_m2, b.footprint AS geom FROM registry_building b "
        "JOIN registry_parcel p ON p.id = b.parcel_id WHERE p.district_id = %s AND b.valid_to IS NULL",
        [district.pk],
    )
    crosswalk = dict(LandUseCrosswalk.objects.values_list("current_id", "planned_id"))
    return DistrictInputs(parcels, zones, buildings, crosswalk)


def metric_groups(parcels: gpd.GeoDataFrame) -> list[tuple[object, np.ndarray]]:
    """The parcels by the CRS they are measured in, with their positions: all of them in the
    deployment's own where one is configured (gis_layers.metric), else by UTM zone (of their
    boxes' centres), each zone's CRS as GeoPandas estimates it for those parcels. A district
    lies in one zone as a rule; one spread over several is measured in each zone's own,
    where shapes and areas keep true, rather than in one far from some of them."""
    configured = configured_metric_epsg()
    if configured is not None:  # the deployment's own, for all of them
        return [(CRS.from_epsg(configured), np.arange(len(parcels)))]
    west, south, east, north = shapely.bounds(parcels.geometry.values).T
    keys = np.floor(((west + east) / 2 + 180) / 6).astype(int) * 2 + ((south + north) / 2 >= 0)
    return [
        (parcels.iloc[positions].estimate_utm_crs(), positions)
        for positions in (np.flatnonzero(keys == key) for key in np.unique(keys))
    ]


def _near(frame: gpd.GeoDataFrame, bounds: np.ndarray) -> gpd.GeoDataFrame:
    """The rows of ``frame`` whose box meets ``bounds`` (west, south, east, north)."""
    if frame.empty:
        return frame
    return frame.iloc[frame.sindex.query(shapely.box(*bounds), predicate="intersects")]


def parcel_table(inputs: DistrictInputs) -> pd.DataFrame:
    """One row per parcel: its plan (``planned_use``, ``share``, ``conforms``,
    ``permitted_far``) and its intensity (``far``, ``coverage``, ``gfa_m2``,
    ``addable_gfa_m2``, ``status``; see :func:`~gis_layers.analysis.landuse.use_of_permitted`).

    Computed in the metric CRS of the parcels (see :func:`metric_groups`). Totals are in the
    register's own (geodesic) areas; shares and coverage come from the projected geometry,
    where they do not depend on the projection."""
    tables = []
    for crs, positions in metric_groups(inputs.parcels):
        parcels = inputs.parcels.iloc[positions]
        bounds = parcels.total_bounds
        tables.append(
            _parcel_table(
                parcels.to_crs(crs),
                _near(inputs.zones, bounds).to_crs(crs),
                _near(inputs.buildings, bounds).to_crs(crs),
                inputs.crosswalk,
            )
        )
    return tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)


def _parcel_table(
    parcels: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    crosswalk: dict[str, str],
) -> pd.DataFrame:
    # Overlaps below the register's tolerance are slivers of drawing, not a use of the land.
    sliver_m2 = settings.LANDLEDGER_OVERLAP_TOLERANCE_M2
    plan = (
        conformity(parcels, zones, crosswalk, min_piece_m2=sliver_m2)
        if not zones.empty
        else parcels[["parcel_id"]].assign(
            planned_use=None, share=None, permitted_far=pd.NA, conforms=pd.NA
        )
    )
    permitted = plan.set_index("parcel_id")["permitted_far"].dropna()
    built = use_of_permitted(
        intensity(parcels, buildings, min_piece_m2=sliver_m2),
        permitted,
        below_share=UNDERUSED_SHARE,
    )
    return (
        parcels.drop(columns="geometry")
        .merge(plan[["parcel_id", "planned_use", "share", "conforms"]], on="parcel_id")
        .merge(
            built[
                [
                    "parcel_id",
                    "footprint_m2",
                    "gfa_m2",
                    "far",
                    "coverage",
                    "permitted_far",
                    "addable_gfa_m2",
                    "status",
                ]
            ],
            on="parcel_id",
        )
    )


def _class_rows(table: pd.DataFrame) -> list[dict]:
    """Conformity by current-use class (GB/T 21010-2017, as the parcels carry it)."""
    rows = []
    for code, row in conformity_by_class(table, by="land_use").iterrows():
        share = row["nonconforming_share"]
        rows.append(
            {
                "class": str(code),
                "parcels": int(row["parcels"]),
                "area_m2": round(float(row["area_m2"]), 1),
                **{
                    f"{part}_{unit}": (
                        int(row[f"{part}_parcels"])
                        if unit == "parcels"
                        else round(float(row[f"{part}_m2"]), 1)
                    )
                    for part in ("conforming", "nonconforming", "no_plan")
                    for unit in ("parcels", "m2")
                },
                # Of the area the plan covers; None where it covers none of the class.
                "nonconforming_pct": None if pd.isna(share) else round(100 * float(share), 1),
            }
        )
    return rows


def district_report(district: District) -> dict:
    inputs = district_inputs(district)
    if inputs is None:
        return {"code": district.code, "name": district.name, "parcels": 0}
    table = parcel_table(inputs)
    by_class = conformity_by_class(table, by="land_use")
    ranked = table[table["status"] == UNDERUSED].sort_values("addable_gfa_m2", ascending=False)

    def by(column) -> dict[str, float]:
        grouped = table.groupby(table[column].fillna(NO_PLAN))["area_m2"].sum().sort_index()
        return {str(key): round(float(value), 1) for key, value in grouped.items()}

    return {
        "code": district.code,
        "name": district.name,
        "parcels": int(len(table)),
        "area_m2": round(float(table["area_m2"].sum()), 1),
        "by_current_use": _by_first_level(table),
        "by_planned_use": by("planned_use"),
        "by_holder_type": by("holder_kind"),
        # The district's totals are the sums of the table by class: one computation for both.
        "conforming_m2": round(float(by_class["conforming_m2"].sum()), 1),
        "nonconforming_m2": round(float(by_class["nonconforming_m2"].sum()), 1),
        "no_plan_m2": round(float(by_class["no_plan_m2"].sum()), 1),
        "conformity_by_class": _class_rows(table),
        "parcels_without_building_data": int(table["far"].isna().sum()),
        "nonconforming": [
            {
                "unit_code": row.unit_code,
                "land_use": row.land_use,
                "planned_use": row.planned_use,
                "share": round(float(row.share), 3),
            }
            for row in table[table["conforms"].eq(False).fillna(False).astype(bool)].itertuples()
        ],
        "underused": [
            {
                "unit_code": row.unit_code,
                "far": round(float(row.far), 2),
                "permitted_far": round(float(row.permitted_far), 2),
                "addable_gfa_m2": round(float(row.addable_gfa_m2), 1),
            }
            for row in ranked.head(50).itertuples()
        ],
    }


def _by_first_level(table: pd.DataFrame) -> dict[str, float]:
    grouped = table.groupby(table["land_use"].str[:2])["area_m2"].sum().sort_index()
    return {str(key): round(float(value), 1) for key, value in grouped.items()}


def landuse_report() -> dict:
    districts = [district_report(district) for district in District.objects.order_by("code")]
    return {"districts": [report for report in districts if report["parcels"]]}


def cached_landuse_report() -> dict:
    """:func:`landuse_report`, kept until the register changes under it."""
    key = cache_key("landuse", sliver_m2=settings.LANDLEDGER_OVERLAP_TOLERANCE_M2)
    return cached_report(key, inputs=INPUTS, compute=landuse_report)
