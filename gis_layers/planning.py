"""What the land-use plan says of a parcel: the planned use over most of it, and whether a
current use conforms (through the crosswalk from GB/T 21010-2017 to the 2023 classes)."""

from django.db import connection

from gis_layers.models import LandUseCrosswalk
from registry.services.acts import PlanVerdict


def planned_use_of(parcel) -> tuple[str, float] | None:
    """The planned-use code covering the largest share of the parcel, and that share (0-1);
    None where no zoning area touches it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT z.planned_use, sum(ST_Area(ST_Intersection(z.geom, p.geom)::geography)) / p.area_m2 "
            "FROM gis_layers_zoningarea z JOIN registry_parcel p ON p.id = %s "
            "WHERE z.geom && p.geom AND ST_Intersects(z.geom, p.geom) "
            "GROUP BY z.planned_use, p.area_m2 ORDER BY 2 DESC, 1 LIMIT 1",
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
