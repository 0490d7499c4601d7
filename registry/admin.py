from django.contrib import admin

from registry.models import Agency, Clearance, LandUseClass, Party, StaffEstablishment


@admin.register(LandUseClass)
class LandUseClassAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "parent"]
    search_fields = ["code", "name_zh", "name_en"]


class StaffEstablishmentInline(admin.TabularInline):
    model = StaffEstablishment
    extra = 0


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["party", "level", "parent", "seat_building"]
    list_filter = ["level"]
    search_fields = ["party__name"]
    raw_id_fields = ["seat_building", "parent"]
    inlines = [StaffEstablishmentInline]


@admin.register(Party)
class PartyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "identifier", "is_synthetic"]
    list_filter = ["kind", "is_synthetic"]
    search_fields = ["name", "identifier"]


@admin.register(Clearance)
class ClearanceAdmin(admin.ModelAdmin):
    list_display = ["user", "level"]
