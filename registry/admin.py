from django.contrib import admin

from registry.models import (
    Agency,
    AuditEvent,
    Certificate,
    Clearance,
    HistoryEvent,
    JournalEntry,
    LandUseClass,
    Party,
    RegistrationAct,
    Right,
    StaffEstablishment,
    Title,
)


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """The register is written only by registration acts; the admin shows it, never edits it."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Title)
class TitleAdmin(ReadOnlyAdmin):
    list_display = ["id", "parcel", "building", "shelter", "version", "is_open"]
    search_fields = ["parcel__unit_code"]


@admin.register(Right)
class RightAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "title",
        "kind",
        "valid_from",
        "valid_to",
        "registered_by",
        "cancelled_by",
    ]
    list_filter = ["kind"]
    search_fields = ["title__parcel__unit_code", "holders__name"]


@admin.register(RegistrationAct)
class RegistrationActAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "act_type",
        "status",
        "effective_date",
        "lodged_by",
        "examined_by",
        "decided_by",
    ]
    list_filter = ["act_type", "status"]
    search_fields = ["number"]
    exclude = ["titles"]


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "issued_at", "journal_position"]
    search_fields = ["number"]


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["position", "act", "recorded_at", "entry_hash"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "user__username"]


@admin.register(HistoryEvent)
class HistoryEventAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "operation", "table_name", "row_pk", "app_user", "db_user"]
    list_filter = ["table_name", "operation"]
    search_fields = ["row_pk", "app_user"]
