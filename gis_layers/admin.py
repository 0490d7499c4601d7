"""Admin pages with map widgets for every spatial table, the register's included."""

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from gis_layers.models import DatasetLoad, PopulationCell, RoadSegment
from gis_layers.widgets import OfflineOSMWidget
from registry.models import Building, District, Parcel, Right, Shelter, ShelterInspection
from registry.outline import outline_svg
from registry.selectors import shelters_visible_to


class MapAdmin(GISModelAdmin):
    gis_widget = OfflineOSMWidget


@admin.register(District)
class DistrictAdmin(MapAdmin):
    list_display = ["code", "name", "name_local", "is_synthetic_code"]


@admin.register(Parcel)
class ParcelAdmin(MapAdmin):
    list_display = ["unit_code", "name", "land_use", "area_m2", "district", "is_synthetic"]
    list_filter = ["district", "land_use", "is_synthetic"]
    search_fields = ["unit_code", "name", "address"]
    readonly_fields = ["outline", "area_m2", "recorded_at"]
    list_select_related = ["land_use", "district"]

    @admin.display(description="map")
    def outline(self, parcel):
        # Shown also where the map widget is not: on parcels that are read-only here.
        return outline_svg(parcel.geom) if parcel.geom else ""

    def has_change_permission(self, request, obj=None):
        # Once rights are registered on a parcel, it changes only through registration acts
        # (split, merge, correction), never by editing here.
        if obj is not None and Right.objects.filter(title__parcel=obj).exists():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and Right.objects.filter(title__parcel=obj).exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Building)
class BuildingAdmin(MapAdmin):
    list_display = ["__str__", "use", "floors_above", "gross_floor_area_m2", "parcel", "source"]
    list_filter = ["use", "condition", "floors_estimated", "is_synthetic"]
    search_fields = ["name", "address", "source"]
    readonly_fields = ["footprint_area_m2", "recorded_at"]
    raw_id_fields = ["parcel"]
    list_select_related = ["parcel"]


class InspectionInline(admin.TabularInline):
    """Inspections are recorded on the shelter's page (/shelters/N/), where the latest one
    sets the condition and the act is audited; here they are only listed."""

    model = ShelterInspection
    fields = ["inspected_on", "inspector", "condition", "findings", "recorded_by"]
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
    list_filter = ["shelter_type", "condition", "protection_class"]
    search_fields = ["name"]
    readonly_fields = ["recorded_at"]
    raw_id_fields = ["building"]

    def get_queryset(self, request):
        # Classified shelters must not appear, not even as a count, to users without clearance.
        return shelters_visible_to(user=request.user)


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
class DatasetLoadAdmin(admin.ModelAdmin):
    list_display = ["dataset", "version", "loaded_at", "counts", "repaired"]
    readonly_fields = ["dataset", "version", "loaded_at", "counts", "repaired", "attribution"]
