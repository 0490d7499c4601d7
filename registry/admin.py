from django.contrib import admin

from registry.models import (
    Agency,
    AgencySpaceRecord,
    AllocatedBlock,
    AuditEvent,
    Certificate,
    Clearance,
    HistoryEvent,
    JournalEntry,
    LandUseClass,
    OfficeSpaceCap,
    OfficeSpaceStandard,
    Party,
    RegistrationAct,
    Right,
    SpaceBlock,
    StaffEstablishment,
    Title,
)
from registry.selectors import (
    acts_visible_to,
    audit_events_visible_to,
    clearance_of,
    cleared_for_everything,
    history_visible_to,
    space_blocks_hidden_from,
    titles_visible_to,
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


class PayloadForTheFullyClearedAdmin(ReadOnlyAdmin):
    """The raw payload may name space blocks hidden from the user (a use allocation): it is
    shown only to users cleared for everything; the act's page shows the rest."""

    def get_exclude(self, request, obj=None):
        excluded = list(super().get_exclude(request, obj) or ())
        if not cleared_for_everything(user=request.user):
            excluded.append("payload")
        return excluded


# The register's own tables, each without the rows on titles of shelters above the user's
# clearance (DESIGN.md §7): not even their number may give those shelters away.
@admin.register(Title)
class TitleAdmin(ReadOnlyAdmin):
    list_display = ["id", "parcel", "building", "shelter", "version", "is_open"]
    search_fields = ["parcel__unit_code"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=_titles_seen_by(request))


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

    def get_queryset(self, request):
        return super().get_queryset(request).filter(title__in=_titles_seen_by(request))


@admin.register(RegistrationAct)
class RegistrationActAdmin(PayloadForTheFullyClearedAdmin):
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

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=_acts_seen_by(request))


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "issued_at", "journal_position"]
    search_fields = ["number"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(right__title__in=_titles_seen_by(request))


@admin.register(JournalEntry)
class JournalEntryAdmin(PayloadForTheFullyClearedAdmin):
    list_display = ["position", "act", "recorded_at", "entry_hash"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(act__in=_acts_seen_by(request))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "user", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "user__username"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=audit_events_visible_to(user=request.user).values("pk"))
        )


@admin.register(HistoryEvent)
class HistoryEventAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "operation", "table_name", "row_pk", "app_user", "db_user"]
    list_filter = ["table_name", "operation"]
    search_fields = ["row_pk", "app_user"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=history_visible_to(user=request.user).values("pk"))
        )


def _titles_seen_by(request):
    return titles_visible_to(user=request.user).values("pk")


def _acts_seen_by(request):
    return acts_visible_to(user=request.user).values("pk")


class OfficeSpaceCapInline(admin.TabularInline):
    model = OfficeSpaceCap
    extra = 0


@admin.register(OfficeSpaceStandard)
class OfficeSpaceStandardAdmin(admin.ModelAdmin):
    """Administrators keep the standards: a new version is added beside the old ones, and
    marking it in force is what switches every computation over (only one can be)."""

    list_display = ["name", "year", "in_force", "use_coefficient"]
    list_filter = ["in_force"]
    inlines = [OfficeSpaceCapInline]


@admin.register(SpaceBlock)
class SpaceBlockAdmin(admin.ModelAdmin):
    list_display = ["building", "label", "floor", "kind", "area_m2", "area_basis", "valid_to"]
    list_filter = ["kind", "area_basis", "is_synthetic"]
    search_fields = ["label", "building__name"]
    raw_id_fields = ["building"]

    def get_queryset(self, request):
        # The same blocks the office-space report leaves out for the user, so that the list,
        # its search and the change page do not show what the report hides.
        return super().get_queryset(request).exclude(pk__in=_blocks_hidden_from(request))


@admin.register(AllocatedBlock)
class AllocatedBlockAdmin(ReadOnlyAdmin):
    """Registered with their use-allocation right by an act; shown, never edited."""

    list_display = ["right", "block"]
    raw_id_fields = ["right", "block"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(block__in=_blocks_hidden_from(request))


def _blocks_hidden_from(request):
    return space_blocks_hidden_from(clearance=clearance_of(user=request.user)).values("pk")


@admin.register(AgencySpaceRecord)
class AgencySpaceRecordAdmin(admin.ModelAdmin):
    list_display = ["agency", "building", "area_m2", "recorded_on", "is_synthetic"]
    raw_id_fields = ["agency", "building"]
