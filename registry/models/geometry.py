"""Database guards and derived measures shared by every spatial table.

The guards are CHECK constraints so that no path into the database (ORM, raw SQL, COPY,
``psql``) can store a geometry that breaks them. Areas are generated columns computed by
PostGIS on the spheroid, so they are in m² and cannot drift from the geometry they measure.
"""

from django.db import models
from django.db.models import Q


class GeodesicArea(models.Func):
    """Area in m² on the storage datum's spheroid (PostGIS geography)."""

    template = "ST_Area(%(expressions)s::geography)"
    output_field = models.FloatField()


class GeodesicLength(models.Func):
    """Length in metres on the storage datum's spheroid (PostGIS geography)."""

    template = "ST_Length(%(expressions)s::geography)"
    output_field = models.FloatField()


class _BooleanSql(models.Func):
    output_field = models.BooleanField()


class IsValidGeometry(_BooleanSql):
    function = "ST_IsValid"


class IsEmptyGeometry(_BooleanSql):
    function = "ST_IsEmpty"


class HasLonLatCoordinates(_BooleanSql):
    """True when every coordinate is a longitude/latitude pair (or the geometry is empty,
    which its own guard refuses).

    Catches projected coordinates (metres) that arrive labelled with a geographic SRID,
    the most common way a wrong CRS slips into a cadastre.
    """

    def as_sql(self, compiler, connection, **extra_context):
        # The geometry appears twice in the SQL, so its parameters must too (Django also runs
        # this check in Python, during model validation, with the value as a parameter).
        geometry_sql, params = compiler.compile(self.source_expressions[0])
        world = f"ST_MakeEnvelope(-180, -90, 180, 90, ST_SRID({geometry_sql}))"
        sql = f"(ST_IsEmpty({geometry_sql}) OR ST_CoveredBy({geometry_sql}, {world}))"
        return sql, (*params, *params, *params)


def geometry_guards(model_name: str, field: str, *, nullable: bool = False) -> list:
    """CHECK constraints for a geometry column: valid, non-empty, lon/lat range.

    The column's own type modifier (``geometry(MultiPolygon, 4490)``) already refuses any
    other SRID and geometry type.
    """

    def unless_null(condition):
        return Q(**{f"{field}__isnull": True}) | condition if nullable else condition

    return [
        models.CheckConstraint(
            condition=unless_null(Q(IsValidGeometry(field))),
            name=f"{model_name}_{field}_valid",
            violation_error_message=f"{field}: the geometry is not valid (self-intersecting?).",
        ),
        models.CheckConstraint(
            condition=unless_null(~Q(IsEmptyGeometry(field))),
            name=f"{model_name}_{field}_not_empty",
            violation_error_message=f"{field}: the geometry is empty.",
        ),
        models.CheckConstraint(
            condition=unless_null(Q(HasLonLatCoordinates(field))),
            name=f"{model_name}_{field}_lonlat",
            violation_error_message=(
                f"{field}: coordinates are outside longitude/latitude range; "
                "the geometry is probably in a projected CRS labelled as geographic."
            ),
        ),
    ]
