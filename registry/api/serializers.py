"""Serializers of the register's REST API.

They shape input and output only. The rules of the register (who may hold what, which
version an act was based on, whether shares add up) live in :mod:`registry.services` and are
checked there; an input serializer only refuses what cannot be read at all (a date that is
not a date, base64 that does not decode, a title id that does not exist) and names the field.
"""

import base64
import binascii
import math
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from registry.models import (
    ActStatus,
    ActTitle,
    ActType,
    Certificate,
    Parcel,
    RegistrationAct,
    Right,
    RightHolder,
    RightKind,
    SourceDocument,
    Title,
)
from registry.selectors import payload_shown_to
from registry.services.acts import Source

# Limits on one application. The whole request body is also bounded, by Django's
# DATA_UPLOAD_MAX_MEMORY_SIZE: larger bodies are refused with 413 before they are parsed.
MAX_TITLES_PER_ACT = 50
MAX_SOURCES_PER_ACT = 20
MAX_TEXT = 4000
UNIT_TYPES = ["parcel", "building", "shelter"]


# --- errors and query parameters --------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """Every refusal: the register's own (``RegisterError.as_dict()``) and the API's."""

    rule = serializers.CharField(
        help_text="Stable code of the rule or check that refused the request, e.g. "
        "'stale_version', 'transfer_from_current_holder', 'invalid_input', 'not_allowed'."
    )
    title = serializers.CharField(
        allow_blank=True, help_text="Label (unit code) of the title concerned; empty if none."
    )
    message = serializers.CharField(help_text="What was wrong, naming the field where one is.")
    field_errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For invalid input only: messages per field, nested fields as "
        "'sources[0].content_base64'.",
    )


class AsOfQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(
        required=False,
        help_text="Legal date YYYY-MM-DD to read the register on; today when omitted.",
    )


class RegisteredByQuerySerializer(serializers.Serializer):
    registered_by = serializers.DateField(
        required=False,
        help_text="The register as it stood at the end of this day YYYY-MM-DD (recording "
        "time): what was registered later is left out, and rights ended later are shown as "
        "they stood; as it stands when omitted.",
    )


class TitleQuerySerializer(AsOfQuerySerializer, RegisteredByQuerySerializer):
    pass


class PointQuerySerializer(AsOfQuerySerializer):
    lon = serializers.FloatField(
        min_value=-180, max_value=180, help_text="Longitude, degrees (CGCS2000, EPSG:4490)."
    )
    lat = serializers.FloatField(
        min_value=-90, max_value=90, help_text="Latitude, degrees (CGCS2000, EPSG:4490)."
    )

    def validate(self, attrs: dict) -> dict:
        # NaN passes the range checks (every comparison with it is false): refuse it here.
        for name in ("lon", "lat"):
            if not math.isfinite(attrs[name]):
                raise serializers.ValidationError({name: [_("must be a finite number")]})
        return attrs


class TitleSearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Unit code, certificate number, current holder's name, unit name or address "
        "(case-insensitive, part of the text is enough). No results when empty.",
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=200, default=50, help_text="At most this many."
    )


class ActQueueQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=ActStatus.choices,
        required=False,
        help_text="Only acts in this state; every state when omitted.",
    )


# --- titles and rights ------------------------------------------------------------------


class TitleSerializer(serializers.ModelSerializer):
    """A title and the unit (parcel, building or shelter) it is on."""

    unit_type = serializers.SerializerMethodField()
    unit_id = serializers.SerializerMethodField()
    # Shadows Field.label only for the type checker: DRF collects declared fields apart.
    label = serializers.CharField(source="unit_label", read_only=True)  # type: ignore[assignment]
    unit_code = serializers.SerializerMethodField()
    name = serializers.SerializerMethodField()
    address = serializers.SerializerMethodField()

    class Meta:
        model = Title
        fields = [
            "id",
            "version",
            "is_open",
            "unit_type",
            "unit_id",
            "label",
            "unit_code",
            "name",
            "address",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=UNIT_TYPES))
    def get_unit_type(self, title: Title) -> str:
        if title.parcel_id:
            return "parcel"
        return "building" if title.building_id else "shelter"

    def get_unit_id(self, title: Title) -> int:
        unit_id = title.parcel_id or title.building_id or title.shelter_id
        assert unit_id is not None  # the database holds every title to exactly one unit
        return unit_id

    @extend_schema_field(serializers.CharField(allow_null=True, help_text="Parcels only."))
    def get_unit_code(self, title: Title) -> str | None:
        return title.parcel.unit_code if title.parcel else None

    def get_name(self, title: Title) -> str:
        return title.unit.name or ""

    def get_address(self, title: Title) -> str:
        return getattr(title.unit, "address", "")


class HolderShareSerializer(serializers.ModelSerializer):
    """One holder's share of a right, as ``parts/denominator``."""

    party = serializers.CharField(source="party.name", read_only=True)
    party_kind = serializers.CharField(source="party.kind", read_only=True)
    share = serializers.SerializerMethodField()

    class Meta:
        model = RightHolder
        fields = ["party_id", "party", "party_kind", "share_parts", "share"]
        read_only_fields = fields

    def get_share(self, holder: RightHolder) -> str:
        return f"{holder.share_parts}/{holder.right.share_denominator}"


class RightSerializer(serializers.ModelSerializer):
    """A right, restriction or responsibility, in force over [valid_from, valid_to)."""

    kind = serializers.ChoiceField(choices=RightKind.choices, read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    registered_by_number = serializers.CharField(source="registered_by.number", read_only=True)
    holders = HolderShareSerializer(source="shares", many=True, read_only=True)

    class Meta:
        model = Right
        fields = [
            "id",
            "title_id",
            "kind",
            "kind_label",
            "land_use_right_type",
            "term_end",
            "amount",
            "rank",
            "description",
            "share_denominator",
            "holders",
            "valid_from",
            "valid_to",
            "recorded_at",
            "registered_by",
            "registered_by_number",
            "cancelled_by",
        ]
        read_only_fields = fields


class HoldingSerializer(serializers.Serializer):
    """One row of ``holders_as_of``: who held which right, with the share as a fraction."""

    right = serializers.IntegerField(help_text="Id of the right.")
    kind = serializers.ChoiceField(choices=RightKind.choices)
    party = serializers.CharField(help_text="The holder's name.")
    party_id = serializers.IntegerField()
    share = serializers.CharField(help_text="parts/denominator, e.g. '1/2'.")


class RightAsRegisteredSerializer(RightSerializer):
    """A right as ``rights_as_of`` gives it: its end as the register recorded it at the time
    asked for, none where the act that ended it was registered later."""

    valid_to = serializers.DateField(source="valid_to_as_registered", allow_null=True)
    cancelled_by = serializers.IntegerField(source="cancelled_by_as_registered", allow_null=True)


class TitleAsRegisteredSerializer(TitleSerializer):
    """A title whose ``is_open`` is as the register stood at the time asked for (the
    serializer's context ``closed``, from ``closed_as_registered``)."""

    is_open = serializers.SerializerMethodField()

    def get_is_open(self, title: Title) -> bool:
        return not self.context["closed"]


class TitleOnDateSerializer(serializers.Serializer):
    """A title as the register stood on ``as_of``."""

    title = TitleAsRegisteredSerializer()
    as_of = serializers.DateField()
    rights = RightAsRegisteredSerializer(many=True)
    holders = HoldingSerializer(many=True)


# --- parcels ----------------------------------------------------------------------------


class ParcelFeatureSerializer(GeoFeatureModelSerializer):
    """A parcel as a GeoJSON feature; coordinates are CGCS2000 (EPSG:4490) longitude and
    latitude, areas are geodesic, in m²."""

    district = serializers.CharField(source="district.code", read_only=True)
    district_name = serializers.CharField(source="district.name", read_only=True)
    land_use_name = serializers.CharField(source="land_use.name_en", read_only=True)
    title = serializers.SerializerMethodField()

    class Meta:
        model = Parcel
        geo_field = "geom"
        id_field = "unit_code"
        fields = [
            "unit_code",
            "district",
            "district_name",
            "land_use",
            "land_use_name",
            "name",
            "address",
            "area_m2",
            "valid_from",
            "valid_to",
            "recorded_at",
            "title",
            "source",
            "is_synthetic",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text="Id of its title."))
    def get_title(self, parcel: Parcel) -> int | None:
        title = getattr(parcel, "title", None)
        return title.pk if title is not None else None


class ParcelAtPointSerializer(serializers.Serializer):
    """The parcel at a point on a date, with the holders of its title's rights then (only for
    roles that may read rights; otherwise ``holders`` is absent)."""

    as_of = serializers.DateField()
    parcel = ParcelFeatureSerializer()
    holders = HoldingSerializer(many=True, required=False)


class ParcelAsRegisteredSerializer(ParcelFeatureSerializer):
    """A parcel as ``parcels_as_registered`` gives it: its end as the register recorded it at
    the time asked for, none where the split or merge that retired it was registered later."""

    valid_to = serializers.DateField(source="valid_to_as_registered", allow_null=True)


class ParcelLineageSerializer(serializers.Serializer):
    """The parcels one came from and the ones it became (one generation each way)."""

    parcel = ParcelAsRegisteredSerializer()
    parents = ParcelAsRegisteredSerializer(many=True)
    children = ParcelAsRegisteredSerializer(many=True)


# --- registration acts ------------------------------------------------------------------


class ActTitleSerializer(serializers.ModelSerializer):
    """A title an act concerns and the version of it the application was based on."""

    # Shadows Field.label only for the type checker, as TitleSerializer.label.
    label = serializers.CharField(source="title.unit_label", read_only=True)  # type: ignore[assignment]

    class Meta:
        model = ActTitle
        fields = ["title_id", "label", "based_on_version"]
        read_only_fields = fields


class SourceDocumentSerializer(serializers.ModelSerializer):
    """A document behind an act; its bytes are not returned, only their SHA-256."""

    class Meta:
        model = SourceDocument
        fields = ["id", "kind", "file_name", "content_type", "size_bytes", "sha256", "uploaded_at"]
        read_only_fields = fields


class JournalSealSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    entry_hash = serializers.CharField()


class ActSerializer(serializers.ModelSerializer):
    """A registration act as it stands in the queue."""

    act_type = serializers.ChoiceField(choices=ActType.choices, read_only=True)
    act_type_label = serializers.CharField(source="get_act_type_display", read_only=True)
    status = serializers.ChoiceField(choices=ActStatus.choices, read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    office = serializers.CharField(source="office.code", read_only=True)
    titles = ActTitleSerializer(source="act_titles", many=True, read_only=True)
    lodged_by = serializers.CharField(source="lodged_by.username", read_only=True)
    examined_by = serializers.CharField(
        source="examined_by.username", read_only=True, allow_null=True
    )
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True
    )

    class Meta:
        model = RegistrationAct
        fields = [
            "id",
            "number",
            "act_type",
            "act_type_label",
            "status",
            "status_label",
            "office",
            "titles",
            "effective_date",
            "lodged_by",
            "lodged_at",
            "examined_by",
            "examined_at",
            "decided_by",
            "decided_at",
        ]
        read_only_fields = fields


def _journal_seal(act: RegistrationAct) -> dict | None:
    try:
        entry = act.journal
    except RegistrationAct.journal.RelatedObjectDoesNotExist:
        return None
    return {"position": entry.position, "entry_hash": entry.entry_hash}


class ActDetailSerializer(ActSerializer):
    """A registration act with what was applied for, its documents and, once registered,
    its journal entry and certificates."""

    sources = SourceDocumentSerializer(many=True, read_only=True)
    payload = serializers.SerializerMethodField(
        help_text="What was applied for, without the space blocks hidden from the reader."
    )
    journal = serializers.SerializerMethodField()
    certificates: "serializers.SlugRelatedField[Certificate]" = serializers.SlugRelatedField(
        slug_field="number", many=True, read_only=True, help_text="Certificate numbers issued."
    )

    class Meta(ActSerializer.Meta):
        fields = [
            *ActSerializer.Meta.fields,
            "payload",
            "examination_note",
            "rejection_reason",
            "sources",
            "journal",
            "certificates",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.JSONField())
    def get_payload(self, act: RegistrationAct) -> dict:
        return payload_shown_to(act=act, user=self.context["user"])

    @extend_schema_field(JournalSealSerializer(allow_null=True))
    def get_journal(self, act: RegistrationAct) -> dict | None:
        return _journal_seal(act)


class ChainActSerializer(serializers.ModelSerializer):
    """One registered act in a title's chain: what it registered and what it ended."""

    act_type = serializers.ChoiceField(choices=ActType.choices, read_only=True)
    act_type_label = serializers.CharField(source="get_act_type_display", read_only=True)
    lodged_by = serializers.CharField(source="lodged_by.username", read_only=True)
    examined_by = serializers.CharField(source="examined_by.username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True)
    journal = serializers.SerializerMethodField()
    rights_registered = RightAsRegisteredSerializer(many=True, read_only=True)
    rights_cancelled: "serializers.PrimaryKeyRelatedField[Right]" = (
        serializers.PrimaryKeyRelatedField(
            many=True, read_only=True, help_text="Ids of the rights this act ended."
        )
    )

    class Meta:
        model = RegistrationAct
        fields = [
            "id",
            "number",
            "act_type",
            "act_type_label",
            "effective_date",
            "lodged_by",
            "examined_by",
            "decided_by",
            "decided_at",
            "journal",
            "rights_registered",
            "rights_cancelled",
        ]
        read_only_fields = fields

    @extend_schema_field(JournalSealSerializer(allow_null=True))
    def get_journal(self, act: RegistrationAct) -> dict | None:
        return _journal_seal(act)


class TitleChainSerializer(serializers.Serializer):
    title = TitleAsRegisteredSerializer()
    acts = ChainActSerializer(many=True)


# --- input: lodging and deciding --------------------------------------------------------


def _contains_nul(value: Any) -> bool:
    """True if any string in a JSON value (keys included) holds U+0000, which PostgreSQL
    cannot store in ``jsonb``."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


class SourceInputSerializer(serializers.Serializer):
    """A document lodged with an application, its bytes base64-encoded."""

    kind = serializers.CharField(max_length=40, help_text="deed, survey plan, court order, ...")
    file_name = serializers.CharField(max_length=200)
    content_type = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="MIME type."
    )
    content_base64 = serializers.CharField(
        trim_whitespace=True,
        help_text="The document's bytes, base64 (RFC 4648). The whole request body is at most "
        f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (413 beyond).",
    )

    def validate_content_base64(self, value: str) -> bytes:
        try:
            content = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as error:
            raise serializers.ValidationError(
                _("is not valid base64 (%(error)s)") % {"error": error}
            ) from error
        if not content:
            raise serializers.ValidationError(_("the document is empty"))
        return content


class LodgeActSerializer(serializers.Serializer):
    """An application for registration. The payload's shape depends on ``act_type``
    (see ``registry.services.acts``); the service checks it and answers 400 naming the rule.

    Expects ``context["titles"]``: the titles the user may lodge on (a queryset).
    """

    act_type = serializers.ChoiceField(choices=ActType.choices)
    titles = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=MAX_TITLES_PER_ACT,
        help_text="Ids of the titles the act concerns; the first decides the office.",
    )
    based_on_versions = serializers.DictField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=dict,
        help_text="Title id → the title's version the application was prepared on. A title "
        "left out is taken at its current version. Lodging or approving against a title that "
        "has changed since is refused with 409.",
    )
    effective_date = serializers.DateField(help_text="Legal date the act takes effect.")
    payload = serializers.JSONField(help_text="What the applicant asks for (a JSON object).")
    sources = serializers.ListField(
        child=SourceInputSerializer(),
        required=False,
        default=list,
        max_length=MAX_SOURCES_PER_ACT,
    )

    def validate_titles(self, ids: list[int]) -> list[Title]:
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError(_("a title is listed twice"))
        candidates: QuerySet[Title] = self.context["titles"]
        found = {title.pk: title for title in candidates.filter(pk__in=ids)}
        missing = [pk for pk in ids if pk not in found]
        if missing:
            raise serializers.ValidationError(_("unknown title id(s) %(ids)s") % {"ids": missing})
        # The client's order is kept: the first title decides the registration office.
        return [found[pk] for pk in ids]

    def validate_payload(self, value: Any) -> dict:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("must be a JSON object"))
        if _contains_nul(value):
            raise serializers.ValidationError(_("contains the character U+0000, which is refused"))
        return value

    def validate_sources(self, value: list[dict]) -> list[Source]:
        return [
            Source(
                kind=item["kind"],
                file_name=item["file_name"],
                content=item["content_base64"],
                content_type=item["content_type"],
            )
            for item in value
        ]

    def validate(self, data: dict) -> dict:
        title_ids = {title.pk for title in data.get("titles", [])}
        versions: dict[int, int] = {}
        for key, version in data.get("based_on_versions", {}).items():
            try:
                title_id = int(key)
            except (TypeError, ValueError):
                title_id = None
            if title_id is None or title_id not in title_ids:
                raise serializers.ValidationError(
                    {
                        "based_on_versions": [
                            _("%(key)s is not the id of one of the act's titles")
                            % {"key": repr(key)}
                        ]
                    }
                )
            versions[title_id] = version
        data["based_on_versions"] = versions
        return data


class ExamineActSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_TEXT, help_text="Optional."
    )


class RejectActSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=MAX_TEXT, help_text="Why registration is refused; shown to the applicant."
    )
