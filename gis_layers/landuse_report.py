"""The land-use report: per district, land by current use, planned use and holder type;
conformity to the plan; intensity. Loads the register's current parcels, buildings and
zoning and runs :mod:`gis_layers.analysis.landuse` on them in each district's UTM zone."""

import geopandas as gpd
import pandas as pd
import shapely
from django.db import connection

from gis_layers.analysis.landuse import conformity, intensity, underused
from gis_layers.models import LandUseCrosswalk
from registry.models import District

UNDERUSED_SHARE = 0.5


def _frame(sql: str, params) -> gpd.GeoDataFrame:
    """Rows of ``sql`` whose last column is a geometry, as a GeoDataFrame in EPSG:4490."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT q.*, ST_AsBinary(q.geom) AS wkb FROM ({sql}) q", params)
        columns = [column.name for column in cursor.description]
        rows = cursor.fetchall()
    table = pd.DataFrame(rows, columns=columns).drop(columns="geom")
    geometry = shapely.from_wkb([bytes(value) for value in table.pop("wkb")]) if len(table) else []
    return gpd.GeoDataFrame(table, geometry=geometry, crs=4490)


def district_report(district: District) -> dict:
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
        return {"code": district.code, "name": district.name, "parcels": 0}
    metric = parcels.estimate_utm_crs()
    parcels = parcels.to_crs(metric)
    envelope = parcels.total_bounds
    zones = _frame(
        "SELECT id, planned_use, max_far, geom FROM gis_layers_zoningarea "
        "WHERE geom && ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, %s), 4490)",
        [*envelope, metric.to_epsg()],
    ).to_crs(metric)
    buildings = _frame(
        "SELECT b.gross_floor_area_m2 AS gfa_m2, b.footprint AS geom FROM registry_building b "
        "JOIN registry_parcel p ON p.id = b.parcel_id WHERE p.district_id = %s AND b.valid_to IS NULL",
        [district.pk],
    ).to_crs(metric)
    # Totals in the register's own (geodesic) areas; shares and ratios from the projected
    # geometry, where they do not depend on the projection.
    crosswalk = dict(LandUseCrosswalk.objects.values_list("current_id", "planned_id"))
    plan = (
        conformity(parcels, zones, crosswalk)
        if not zones.empty
        else parcels[["parcel_id"]].assign(planned_use=None, share=None, conforms=pd.NA)
    )
    built = intensity(parcels, buildings)
    table = (
        parcels.drop(columns="geometry")
        .merge(plan[["parcel_id", "planned_use", "share", "conforms"]], on="parcel_id")
        .merge(built[["parcel_id", "far", "coverage"]], on="parcel_id")
    )
    permitted = _permitted_far(plan, zones)
    ranked = underused(built, permitted, below_share=UNDERUSED_SHARE).merge(
        parcels[["parcel_id", "unit_code"]], on="parcel_id"
    )

    def by(column) -> dict[str, float]:
        grouped = table.groupby(table[column].fillna("no plan"))["area_m2"].sum().sort_index()
        return {str(key): round(float(value), 1) for key, value in grouped.items()}

    conforms = table["conforms"]
    return {
        "code": district.code,
        "name": district.name,
        "parcels": int(len(table)),
        "area_m2": round(float(table["area_m2"].sum()), 1),
        "by_current_use": _by_first_level(table),
        "by_planned_use": by("planned_use"),
        "by_holder_type": by("holder_kind"),
        "conforming_m2": round(
            float(table.loc[conforms.eq(True).fillna(False).astype(bool), "area_m2"].sum()), 1
        ),
        "nonconforming_m2": round(float(table.loc[_is_false(conforms), "area_m2"].sum()), 1),
        "no_plan_m2": round(float(table.loc[conforms.isna(), "area_m2"].sum()), 1),
        "parcels_without_building_data": int(table["far"].isna().sum()),
        "nonconforming": [
            {
                "unit_code": row.unit_code,
                "land_use": row.land_use,
                "planned_use": row.planned_use,
                "share": round(float(row.share), 3),
            }
            for row in table[_is_false(conforms)].itertuples()
        ],
        "underused": [
            {
                "unit_code": row.unit_code,
                "far": round(float(row.far), 2),
                "permitted_far": float(row.permitted_far),
                "addable_gfa_m2": round(float(row.addable_gfa_m2), 1),
            }
            for row in ranked.head(50).itertuples()
        ],
    }


def _is_false(values: pd.Series) -> pd.Series:
    """True where a nullable boolean is False (not where it is missing)."""
    return values.eq(False).fillna(False).astype(bool)


def _by_first_level(table: pd.DataFrame) -> dict[str, float]:
    grouped = table.groupby(table["land_use"].str[:2])["area_m2"].sum().sort_index()
    return {str(key): round(float(value), 1) for key, value in grouped.items()}


def _permitted_far(plan: pd.DataFrame, zones: gpd.GeoDataFrame) -> pd.Series:
    """The permitted FAR of each parcel's main planned zone, where the plan gives one."""
    if zones.empty or "max_far" not in zones:
        return pd.Series(dtype=float)
    far_by_use = zones.dropna(subset=["max_far"]).groupby("planned_use")["max_far"].max()
    return plan.set_index("parcel_id")["planned_use"].map(far_by_use).dropna()


def landuse_report() -> dict:
    districts = [district_report(district) for district in District.objects.order_by("code")]
    return {"districts": [report for report in districts if report["parcels"]]}
