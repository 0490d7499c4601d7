"""Forms of the registrar's desk: one per act type, each turned into the payload that
:mod:`registry.services.acts` documents. Forms check the shape of the input; the rules of
the register are checked by the services."""

import json
from collections.abc import Sequence

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from registry.models import (
    TRANSFERABLE_KINDS,
    ActType,
    LandUseClass,
    LandUseRightType,
    Party,
    Right,
    Title,
)
from registry.services.acts import KINDS_BY_FIRST_REGISTRATION, Source

MAX_SOURCE_BYTES = 20 * 1024 * 1024
HOLDER_ROWS = 3


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class SourcesField(forms.FileField):
    """Several documents in one input; each at most 20 MB."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        cleaned = [super(SourcesField, self).clean(item, initial) for item in files]
        for item in cleaned:
            if item.size > MAX_SOURCE_BYTES:
                raise ValidationError(
                    _("%(name)s is larger than 20 MB."), params={"name": item.name}
                )
        return cleaned


class LodgeForm(forms.Form):
    """Fields every act has; subclasses add the act's own."""

    based_on_version = forms.IntegerField(widget=forms.HiddenInput)
    effective_date = forms.DateField(
        label=_("Effective date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    source_kind = forms.CharField(label=_("Kind of documents"), initial="deed", max_length=40)
    sources = SourcesField(label=_("Source documents"), required=False)

    def __init__(self, *args, title: Title, **kwargs):
        self.title = title
        super().__init__(*args, **kwargs)

    def sources_list(self) -> list[Source]:
        return [
            Source(
                kind=self.cleaned_data["source_kind"],
                file_name=upload.name,
                content=upload.read(),
                content_type=upload.content_type or "",
            )
            for upload in self.cleaned_data.get("sources") or []
        ]

    def payload(self) -> dict:
        return {}


def _party_field(label, required=False):
    return forms.ModelChoiceField(
        queryset=Party.objects.order_by("name"), label=label, required=required
    )


class HoldersMixin(forms.Form):
    """Up to three holders with their parts; the denominator defaults to the sum of parts."""

    share_denominator = forms.IntegerField(
        label=_("Share denominator"),
        min_value=1,
        required=False,
        help_text=_("Leave empty for the sum of the parts."),
    )

    def add_holder_fields(self):
        for row in range(1, HOLDER_ROWS + 1):
            self.fields[f"holder_{row}"] = _party_field(_("Holder %(n)d") % {"n": row}, row == 1)
            self.fields[f"parts_{row}"] = forms.IntegerField(
                label=_("Parts"), min_value=1, initial=1, required=False
            )

    def holders_payload(self) -> dict:
        holders = []
        for row in range(1, HOLDER_ROWS + 1):
            party = self.cleaned_data.get(f"holder_{row}")
            if party is not None:
                holders.append(
                    {"party": party.pk, "parts": self.cleaned_data.get(f"parts_{row}") or 1}
                )
        denominator = self.cleaned_data.get("share_denominator") or sum(h["parts"] for h in holders)
        return {"holders": holders, "share_denominator": denominator}


class FirstForm(HoldersMixin, LodgeForm):
    kind = forms.ChoiceField(
        label=_("Right"), choices=[(kind.value, kind.label) for kind in KINDS_BY_FIRST_REGISTRATION]
    )
    land_use_right_type = forms.ChoiceField(
        label=_("Land-use right"), choices=[("", "—"), *LandUseRightType.choices], required=False
    )
    term_end = forms.DateField(
        label=_("Term ends"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    amount = forms.DecimalField(label=_("Amount secured (CNY)"), required=False, decimal_places=2)
    rank = forms.IntegerField(label=_("Mortgage rank"), required=False, min_value=1)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_holder_fields()

    def payload(self) -> dict:
        data = self.cleaned_data
        right = {
            "kind": data["kind"],
            "land_use_right_type": data["land_use_right_type"],
            "term_end": data["term_end"].isoformat() if data["term_end"] else None,
            "amount": str(data["amount"]) if data["amount"] is not None else None,
            "rank": data["rank"],
            "description": data["description"],
            **self.holders_payload(),
        }
        return {"right": right}


def _current_rights(title: Title, kinds=None):
    rights = Right.objects.filter(title=title, valid_to__isnull=True)
    return rights.filter(kind__in=kinds) if kinds else rights


class RightChoiceMixin(forms.Form):
    right_kinds: Sequence[str] | None = None  # None: rights of every kind

    def add_right_field(self):
        self.fields["right"] = forms.ModelChoiceField(
            queryset=_current_rights(self.title, self.right_kinds), label=_("Right")
        )


class TransferForm(HoldersMixin, RightChoiceMixin, LodgeForm):
    right_kinds = TRANSFERABLE_KINDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_right_field()
        # Any party may be named, as the application names them (examination refuses a
        # transfer not made by the current holders); the current holders come ticked.
        holders = Party.objects.filter(
            shares__right__in=_current_rights(self.title, self.right_kinds)
        ).distinct()
        self.fields["transferors"] = forms.ModelMultipleChoiceField(
            queryset=Party.objects.order_by("name"),
            label=_("Transferors, as the application names them"),
            initial=list(holders.values_list("pk", flat=True)),
            help_text=_("Current holders: %(names)s")
            % {"names": ", ".join(holders.order_by("name").values_list("name", flat=True)) or "—"},
        )
        self.add_holder_fields()
        for row in range(1, HOLDER_ROWS + 1):
            self.fields[f"holder_{row}"].label = _("New holder %(n)d") % {"n": row}

    def payload(self) -> dict:
        return {
            "right": self.cleaned_data["right"].pk,
            "transferors": [party.pk for party in self.cleaned_data["transferors"]],
            **self.holders_payload(),
        }


class CancellationForm(RightChoiceMixin, LodgeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_right_field()

    def payload(self) -> dict:
        return {"right": self.cleaned_data["right"].pk}


class ChangeForm(RightChoiceMixin, LodgeForm):
    term_end = forms.DateField(
        label=_("New term end"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    amount = forms.DecimalField(label=_("New amount (CNY)"), required=False, decimal_places=2)
    rank = forms.IntegerField(label=_("New mortgage rank"), required=False, min_value=1)
    description = forms.CharField(label=_("New description"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_right_field()

    def payload(self) -> dict:
        changes = {}
        for field in ("term_end", "amount", "rank", "description"):
            value = self.cleaned_data.get(field)
            if value is not None and value != "":
                changes[field] = (
                    value.isoformat()
                    if field == "term_end"
                    else (str(value) if field == "amount" else value)
                )
        return {"right": self.cleaned_data["right"].pk, "changes": changes}

    def clean(self):
        cleaned = super().clean()
        if not any(
            cleaned.get(field) not in (None, "")
            for field in ("term_end", "amount", "rank", "description")
        ):
            raise ValidationError(_("Give at least one new value."))
        return cleaned


class RestrictionForm(HoldersMixin, LodgeForm):
    description = forms.CharField(
        label=_("Grounds (court and case number, objection, claim)"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_holder_fields()

    def payload(self) -> dict:
        return {**self.holders_payload(), "description": self.cleaned_data["description"]}


class SplitForm(LodgeForm):
    children = forms.CharField(
        label=_("Child parcels (GeoJSON geometries in EPSG:4490, a list or a FeatureCollection)"),
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    land_use = forms.ModelChoiceField(
        queryset=LandUseClass.objects.filter(parent__isnull=False),
        label=_("Land use of the children"),
        required=False,
    )

    def clean_children(self):
        text = self.cleaned_data["children"]
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(_("Not JSON: %(error)s"), params={"error": error}) from error
        if isinstance(data, dict) and data.get("type") == "FeatureCollection":
            data = [feature.get("geometry") for feature in data.get("features", [])]
        if not isinstance(data, list) or len(data) < 2:
            raise ValidationError(_("Give at least two child geometries."))
        return data

    def payload(self) -> dict:
        land_use = self.cleaned_data.get("land_use")
        return {
            "children": [
                {"geometry": json.dumps(geometry), "land_use": land_use.code if land_use else ""}
                for geometry in self.cleaned_data["children"]
            ]
        }


class MergeForm(LodgeForm):
    others = forms.CharField(label=_("Unit codes of the other parcels (comma-separated)"))
    name = forms.CharField(label=_("Name of the merged parcel"), required=False)

    def clean_others(self):
        codes = [code.strip() for code in self.cleaned_data["others"].split(",") if code.strip()]
        titles = list(Title.objects.filter(parcel__unit_code__in=codes))
        missing = sorted(set(codes) - {title.parcel.unit_code for title in titles})
        if missing:
            raise ValidationError(
                _("No title for unit code(s) %(codes)s."), params={"codes": ", ".join(missing)}
            )
        return titles

    def payload(self) -> dict:
        return {"name": self.cleaned_data.get("name") or ""}


class ChangeOfUseForm(LodgeForm):
    """转变用途: the parcel's new current use; the plan decides whether a reason is needed."""

    land_use = forms.ModelChoiceField(
        queryset=LandUseClass.objects.filter(parent__isnull=False), label=_("New land use")
    )
    override_reason = forms.CharField(
        label=_("Reason, if the plan does not allow this use"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def payload(self) -> dict:
        return {
            "land_use": self.cleaned_data["land_use"].code,
            "override_reason": self.cleaned_data["override_reason"],
        }


# What the desk offers to lodge: its key in the URL → the act type and its form.
LODGE_FORMS = {
    ActType.FIRST.value: (ActType.FIRST, FirstForm),
    ActType.TRANSFER.value: (ActType.TRANSFER, TransferForm),
    ActType.CHANGE.value: (ActType.CHANGE, ChangeForm),
    "change_of_use": (ActType.CHANGE, ChangeOfUseForm),
    ActType.CORRECTION.value: (ActType.CORRECTION, ChangeForm),
    ActType.CANCELLATION.value: (ActType.CANCELLATION, CancellationForm),
    ActType.SEIZURE.value: (ActType.SEIZURE, RestrictionForm),
    ActType.OBJECTION.value: (ActType.OBJECTION, RestrictionForm),
    ActType.ADVANCE_NOTICE.value: (ActType.ADVANCE_NOTICE, RestrictionForm),
    ActType.SPLIT.value: (ActType.SPLIT, SplitForm),
    ActType.MERGE.value: (ActType.MERGE, MergeForm),
}


class DecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("examine", "examine"), ("approve", "approve"), ("reject", "reject")]
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CertificateCheckForm(forms.Form):
    number = forms.CharField(label=_("Certificate number"), max_length=64)
    journal_hash = forms.CharField(
        label=_("Hash printed on the certificate"),
        max_length=64,
        min_length=64,
        help_text=_("64 hexadecimal characters."),
    )

    def clean_journal_hash(self):
        value = self.cleaned_data["journal_hash"].strip().lower()
        if any(char not in "0123456789abcdef" for char in value):
            raise ValidationError(_("The hash has characters other than 0-9 and a-f."))
        return value
