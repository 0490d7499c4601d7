"""Layer pages. Views are thin: they parse the form, call one service and answer."""

import pathlib
import tempfile

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.shortcuts import render
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from gis_layers.exports import (
    ACCEPTED_SUFFIXES,
    FORMATS,
    KIND_NAMES,
    LAYERS,
    ExportRefusal,
    download_name,
    export_layer,
)


class ExportForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Layer"),
        choices=[(kind, kind) for kind in KIND_NAMES],
        error_messages={
            "invalid_choice": format_lazy(
                "{} {}.", _("Unknown layer “%(value)s”: choose one of"), ", ".join(KIND_NAMES)
            )
        },
    )
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[(fmt.key, f"{fmt.label} ({fmt.suffix})") for fmt in FORMATS.values()],
        error_messages={
            "invalid_choice": format_lazy(
                "{} {}.", _("Unknown format “%(value)s”: choose one of"), ACCEPTED_SUFFIXES
            )
        },
    )
    as_of = forms.DateField(
        label=_("In force on"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Parcels, buildings and shelters in force on this day; empty: today."),
        error_messages={"invalid": _("Enter the date as YYYY-MM-DD.")},
    )


def _may_export_something(user) -> bool:
    return any(user.has_perm(layer.permission) for layer in LAYERS.values())


@login_required
@require_http_methods(["GET", "POST"])
def export(request):
    """The export form; a valid POST answers with the file as an attachment. Bad input
    re-shows the form with the reason (400); a layer the user may not view is refused (403)."""
    if not _may_export_something(request.user):
        raise PermissionDenied
    form = ExportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        kind, as_of = form.cleaned_data["kind"], form.cleaned_data["as_of"]
        fmt = FORMATS[form.cleaned_data["format"]]
        with tempfile.TemporaryDirectory(prefix="landledger-export-") as scratch:
            path = pathlib.Path(scratch) / download_name(kind=kind, fmt=fmt, as_of=as_of)
            try:
                result = export_layer(kind=kind, path=path, as_of=as_of, user=request.user)
            except ExportRefusal as refusal:
                form.add_error(None, str(refusal))
            else:
                # Opened before the scratch directory goes: the open file outlives its name.
                handle = result.path.open("rb")
                return FileResponse(
                    handle,
                    as_attachment=True,
                    filename=result.path.name,
                    content_type=fmt.content_type,
                )
    status = 400 if form.is_bound else 200
    return render(request, "gis_layers/export.html", {"form": form}, status=status)
