"""Uploading a layer: the file is checked (a dry run) and its report shown; only when the
user confirms is it imported, all or nothing. Views are thin: they check the role, keep the
upload, and call :func:`run_import`."""

import hashlib
import pathlib
import re
import secrets
import shutil

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from gis_layers.imports.errors import ImportRefusal
from gis_layers.imports.pipeline import WRITABLE_KINDS, run_import

UPLOAD_SUFFIXES = (".gpkg", ".geojson", ".json", ".fgb", ".csv", ".zip", ".tif", ".tiff", ".pbf")
# Who may import what: shelters are the civil-defence officers', the rest the registrars'.
PERMISSIONS_OF_KIND = {
    "shelters": ("registry.add_shelter",),
    **{
        kind: ("registry.lodge_act", "registry.add_parcel")
        for kind in WRITABLE_KINDS
        if kind != "shelters"
    },
}


def may_import(user, kind: str) -> bool:
    return any(user.has_perm(permission) for permission in PERMISSIONS_OF_KIND[kind])


class UploadForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Layer"), choices=[(kind, kind) for kind in WRITABLE_KINDS]
    )
    file = forms.FileField(label=gettext_lazy("File"))
    layer = forms.CharField(
        label=gettext_lazy("Layer in the file (GeoPackage, OSM)"), required=False
    )
    crs = forms.CharField(
        label=gettext_lazy("CRS, if the file has none"),
        required=False,
        help_text=gettext_lazy("EPSG:NNNN, gcj02 or bd09"),
    )
    invalid = forms.ChoiceField(
        label=gettext_lazy("Invalid geometries"),
        choices=[("repair", gettext_lazy("repair")), ("reject", gettext_lazy("reject"))],
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.LANDLEDGER_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)d MB.")
                % {"mb": settings.LANDLEDGER_UPLOAD_MAX_BYTES // 2**20}
            )
        name = pathlib.PurePath(upload.name.replace("\\", "/")).name
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise forms.ValidationError(
                _("Give one of: %(suffixes)s.") % {"suffixes": ", ".join(UPLOAD_SUFFIXES)}
            )
        # Only letters, digits, dots, dashes and underscores reach the disk: never a path.
        upload.safe_name = re.sub(r"[^\w.\-]", "_", name)[-120:]
        return upload


# Room for the form's other fields and the multipart boundaries around the file.
UPLOAD_FORM_OVERHEAD = 64 * 1024


def _declared_size(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _pending_dir(user, token: str) -> pathlib.Path:
    return pathlib.Path(settings.LANDLEDGER_UPLOAD_DIR) / str(user.pk) / token


def _keep(upload, user) -> tuple[str, pathlib.Path]:
    token = secrets.token_hex(16)
    folder = _pending_dir(user, token)
    folder.mkdir(parents=True)
    path = folder / upload.safe_name
    digest = hashlib.sha256()
    try:
        with path.open("wb") as handle:
            for chunk in upload.chunks():
                digest.update(chunk)
                handle.write(chunk)
    except OSError:
        # A full disk: keep no half-written file (config.resilience answers the request).
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return token, path


def _report_context(report) -> dict:
    return {
        "summary": report.summary(),
        "rows": report.rows()[:500],
        "more": max(0, len(report.rows()) - 500),
        "rejected": bool(report.rejected),
    }


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    """Step 1: upload and check (nothing is written)."""
    if not any(may_import(request.user, kind) for kind in WRITABLE_KINDS):
        raise PermissionDenied
    if _declared_size(request) > settings.LANDLEDGER_UPLOAD_MAX_BYTES + UPLOAD_FORM_OVERHEAD:
        # Refused before Django reads the body: an oversized upload never reaches the disk.
        limit_mb = settings.LANDLEDGER_UPLOAD_MAX_BYTES // 2**20
        messages.error(request, _("The file is larger than %(mb)d MB.") % {"mb": limit_mb})
        return render(request, "gis_layers/import.html", {"form": UploadForm()}, status=413)
    form = UploadForm(request.POST or None, request.FILES or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["kind"]
        if not may_import(request.user, kind):
            raise PermissionDenied
        token, path = _keep(form.cleaned_data["file"], request.user)
        options = {
            "kind_name": kind,
            "layer": form.cleaned_data["layer"] or None,
            "crs": form.cleaned_data["crs"] or None,
            "repair_invalid": form.cleaned_data["invalid"] == "repair",
        }
        try:
            report = run_import(path=path, dry_run=True, **options)
        except ImportRefusal as refusal:
            shutil.rmtree(path.parent, ignore_errors=True)
            messages.error(
                request, _("Refused, nothing written: %(why)s") % {"why": refusal.message}
            )
        else:
            request.session[f"import-{token}"] = {**options, "path": str(path)}
            context.update(_report_context(report), token=token, file_name=path.name)
    return render(request, "gis_layers/import.html", context)


@login_required
@require_http_methods(["POST"])
def confirm(request, token: str):
    """Step 2: import the checked file, as the user confirmed, all or nothing."""
    pending = request.session.pop(f"import-{token}", None)
    if pending is None or not re.fullmatch(r"[0-9a-f]{32}", token):
        messages.error(request, _("That upload is no longer waiting; upload the file again."))
        return redirect("gis_layers:import")
    if not may_import(request.user, pending["kind_name"]):
        raise PermissionDenied
    path = pathlib.Path(pending.pop("path"))
    try:
        report = run_import(path=path, user=request.user, **pending)
    except ImportRefusal as refusal:
        messages.error(request, _("Refused, nothing written: %(why)s") % {"why": refusal.message})
        return redirect("gis_layers:import")
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    if report.rejected:
        messages.error(request, _("Rows were rejected: nothing written."))
    else:
        messages.success(
            request,
            _("Imported %(file)s: %(inserted)d inserted, %(updated)d updated.")
            % {"file": path.name, **report.written},
        )
    return render(
        request,
        "gis_layers/import.html",
        {"form": UploadForm(), **_report_context(report), "file_name": path.name, "done": True},
    )
