"""What the land-use plan says of a parcel: the planned use over most of it, and whether a
current use conforms (through the crosswalk from GB/T 21010-2017 to the 2023 classes)."""

from django.conf import settings
from django.db import connection

from gis_layers.models import LandUseCrosswalk
from registry.services.acts import PlanVerdict

# Overlaps below the register's tolerance (m²) are slivers of drawing: a zone or a building
# that only grazes a parcel does not count on it (as in gis_layers.landuse_report).
SLIVER_M2 = float(settings.LANDLEDGER_OVERLAP_TOLERANCE_M2)

# SQL joining to a parcel (alias t) the planned use covering most of it, as
# analysis.landuse.planned_use_shares finds it: by the sum of its zones' areas there (ties to
# the lower code), with its share and the permitted FAR (area-weighted over the zones of that
# use that give one). Areas geodesic, as the register's; a zone covering the whole parcel
# needs no intersection. The tiles use it too.
MAIN_PLAN = (
    "LEFT JOIN LATERAL (SELECT pieces.planned_use, sum(pieces.m2) / t.area_m2 AS share, "
    "sum(pieces.m2 * pieces.max_far) "
    "/ nullif(sum(pieces.m2) FILTER (WHERE pieces.max_far IS NOT NULL), 0) AS permitted_far "
    "FROM (SELECT z.planned_use, z.max_far, CASE WHEN ST_CoveredBy(t.geom, z.geom) THEN t.area_m2 "
    "ELSE ST_Area(ST_Intersection(z.geom, t.geom)::geography) END AS m2 "
    "FROM gis_layers_zoningarea z WHERE z.geom && t.geom AND ST_Intersects(z.geom, t.geom)) pieces "
    f"WHERE pieces.m2 >= {SLIVER_M2!r} GROUP BY pieces.planned_use "
    "ORDER BY sum(pieces.m2) DESC, pieces.planned_use LIMIT 1) plan ON true"
)


def planned_use_of(parcel) -> tuple[str, float] | None:
    """The planned-use code covering the largest share of the parcel, and that share (0-1);
    None where no zoning area covers more than a sliver of it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT plan.planned_use, plan.share FROM registry_parcel t {MAIN_PLAN} "
            "WHERE t.id = %s AND plan.planned_use IS NOT NULL",
            [parcel.pk],
        )
        row = cursor.fetchone()
    return (row[0], float(row[1])) if row else None


def conforms(land_use: str, planned: str) -> bool:
    """A current use conforms where its 2023 class and the planned class are the same class
    or one lies under the other (plans are drawn at either level)."""
    mapped = (
        LandUseCrosswalk.objects.filter(current_id=land_use)
        .values_list("planned_id", flat=True)
        .first()
    )
    if mapped is None:
        return False
    return mapped.startswith(planned[:4]) or planned[:4].startswith(mapped)


def conformity_of_change(*, parcel, land_use: str) -> PlanVerdict:
    planned = planned_use_of(parcel)
    if planned is None:
        return PlanVerdict(None)
    code, share = planned
    return PlanVerdict(conforms(land_use, code), code, share)
