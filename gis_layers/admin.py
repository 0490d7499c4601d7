"""Admin pages with map widgets for every spatial table, the register's included."""

import functools
import math

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException
from django.core.exceptions import ValidationError

from gis_layers.models import DatasetLoad, PopulationCell, RoadSegment
from gis_layers.selectors import dataset_counts_for
from gis_layers.widgets import OfflineOSMWidget
from registry.admin import ReadOnlyAdmin
from registry.models import (
    ActStatus,
    Building,
    District,
    Parcel,
    RegistrationAct,
    Right,
    SecurityLevel,
    Shelter,
    ShelterInspection,
)
from registry.outline import outline_svg
from registry.selectors import clearance_of, shelters_visible_to

# How far a geometry converted to the storage CRS and back may land from where it was given
# (in the units of the CRS it was given in): more, and the conversion clamped or wrapped it.
ROUND_TRIP_TOLERANCE = 1e-3
# Larger than any coordinate of any CRS on Earth (metres of Web Mercator reach 2.0e7).
LARGEST_COORDINATE = 1e8


class ConvertibleGeometryMixin:
    """A geometry form field that refuses, with a message, a geometry whose coordinate system
    cannot be converted to the storage CRS (an unknown SRID: Django's field lets GDAL's error
    through, a 500) or whose coordinates the conversion would clamp (far outside the CRS's
    area: it would be saved somewhere else without a word)."""

    def clean(self, value):
        given = self.to_python(value)
        if given is None or given.empty:
            return super().clean(value)
        extent = given.extent
        if not all(math.isfinite(bound) and abs(bound) <= LARGEST_COORDINATE for bound in extent):
            # Checked before anything converts or prints the geometry: GEOS and PROJ abort the
            # whole process on some of these (printing 1e300 as WKT overflows GEOS's buffer).
            raise ValidationError(
                f"coordinates must be finite and within ±{LARGEST_COORDINATE:.0e}; the geometry "
                f"spans {extent[0]:.6g}, {extent[1]:.6g} to {extent[2]:.6g}, {extent[3]:.6g}"
            )
        if given.srid and self.srid and given.srid != self.srid:
            try:
                back = given.transform(self.srid, clone=True).transform(given.srid, clone=True)
            except (GDALException, GEOSException) as error:
                raise ValidationError(
                    f"the geometry's coordinate system EPSG:{given.srid} cannot be converted "
                    f"to EPSG:{self.srid} ({error})"
                ) from error
            if not back.equals_exact(given, tolerance=ROUND_TRIP_TOLERANCE):
                raise ValidationError(
                    f"the coordinates lie outside what EPSG:{given.srid} can place in "
                    f"EPSG:{self.srid}: {given.wkt[:120]}"
                )
        return super().clean(value)


@functools.cache
def convertible(form_class: type) -> type:
    return type(f"Convertible{form_class.__name__}", (ConvertibleGeometryMixin, form_class), {})


class MapAdmin(GISModelAdmin):
    # Django sets and instantiates a widget class here; the stubs declare an instance.
    gis_widget = OfflineOSMWidget  # type: ignore[assignment]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, GeometryField):
            kwargs["form_class"] = convertible(db_field.form_class)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class KeptByActsAdmin(MapAdmin):
    """A unit on the register (rights on its title, or any registered act: a change of use
    on a parcel without rights, say) or retired changes only through registration acts
    (split, merge, correction), never by editing here. ``title_of`` names the lookup from a
    title to the unit."""

    title_of = ""

    def has_change_permission(self, request, obj=None):
        if obj is not None and self._kept_by_acts(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self._kept_by_acts(obj):
            return False
        return super().has_delete_permission(request, obj)

    def _kept_by_acts(self, unit) -> bool:
        if unit.valid_to is not None:
            return True
        rights = Right.objects.filter(**{f"title__{self.title_of}": unit})
        acts = RegistrationAct.objects.filter(
            status=ActStatus.REGISTERED, **{f"act_titles__title__{self.title_of}": unit}
        )
        return rights.exists() or acts.exists()


@admin.register(District)
class DistrictAdmin(MapAdmin):
    list_display = ["code", "name", "name_local", "is_synthetic_code"]


@admin.register(Parcel)
class ParcelAdmin(KeptByActsAdmin):
    title_of = "parcel"
    list_display = ["unit_code", "name", "land_use", "area_m2", "district", "is_synthetic"]
    list_filter = ["district", "land_use", "is_synthetic"]
    search_fields = ["unit_code", "name", "address"]
    readonly_fields = ["outline", "area_m2", "recorded_at"]
    list_select_related = ["land_use", "district"]

    @admin.display(description="map")
    def outline(self, parcel):
        # Shown also where the map widget is not: on parcels that are read-only here.
        return outline_svg(parcel.geom) if parcel.geom else ""


@admin.register(Building)
class BuildingAdmin(KeptByActsAdmin):
    # A building with a title of its own (building ownership).
    title_of = "building"
    list_display = ["__str__", "use", "floors_above", "gross_floor_area_m2", "parcel", "source"]
    list_filter = ["use", "condition", "is_underground", "floors_estimated", "is_synthetic"]
    search_fields = ["name", "address", "source"]
    readonly_fields = ["footprint_area_m2", "recorded_at"]
    raw_id_fields = ["parcel"]
    list_select_related = ["parcel"]


class InspectionInline(admin.TabularInline):
    """Inspections are recorded on the shelter's page (/shelters/N/), where the latest one
    sets the condition and the act is audited; here they are only listed."""

    model = ShelterInspection
    fields = ("inspected_on", "inspector", "condition", "findings", "recorded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Shelter)
class ShelterAdmin(MapAdmin):
    inlines = [InspectionInline]
    list_display = [
        "name", "shelter_type", "capacity_persons", "condition", "classification", "is_synthetic",
    ]  # fmt: skip
    list_filter = ["shelter_type", "condition", "protection_class", "is_underground"]
    search_fields = ["name"]
    readonly_fields = ["recorded_at"]
    raw_id_fields = ["building"]

    def get_queryset(self, request):
        # Classified shelters must not appear, not even as a count, to users without clearance.
        return shelters_visible_to(user=request.user)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "classification":
            # No one classifies a shelter above their own clearance: they could no longer see
            # or correct what they wrote. The form refuses any other value.
            cleared = clearance_of(user=request.user)
            kwargs["choices"] = [
                (value, label) for value, label in SecurityLevel.choices if value <= cleared
            ]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


@admin.register(RoadSegment)
class RoadSegmentAdmin(MapAdmin):
    list_display = ["__str__", "highway", "walkable", "length_m", "district"]
    list_filter = ["highway", "walkable", "district"]
    readonly_fields = ["length_m"]


@admin.register(PopulationCell)
class PopulationCellAdmin(MapAdmin):
    list_display = ["__str__", "residents", "area_m2", "is_synthetic", "district"]
    readonly_fields = ["area_m2"]


@admin.register(DatasetLoad)
class DatasetLoadAdmin(ReadOnlyAdmin):
    """A load's counts were taken over every shelter classification: the shelters' and
    inspections' are shown only to users cleared for all (gis_layers.selectors). A load is the
    record of what was loaded: shown, never edited (and a view-only page builds no form, to
    which the counts' columns could not belong)."""

    exclude = ["counts", "repaired"]

    def get_list_display(self, request):
        return ["dataset", "version", "loaded_at", *_counts_columns(request.user)]

    def get_readonly_fields(self, request, obj=None):
        return ["dataset", "version", "loaded_at", *_counts_columns(request.user), "attribution"]


def _counts_columns(user) -> list:
    """The counts and repairs of a load as ``user`` may see them, as admin columns (made per
    request: the admin itself is shared by every request)."""

    visible = dataset_counts_for(user=user)

    def shown(counts: dict) -> str:
        return ", ".join(f"{key}: {value}" for key, value in visible(counts).items())

    @admin.display(description="counts")
    def counts(load):
        return shown(load.counts)

    @admin.display(description="repaired")
    def repaired(load):
        return shown(load.repaired)

    return [counts, repaired]
