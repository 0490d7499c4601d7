"""Uploading a layer: the file is checked (a dry run) and its report shown; only when the
user confirms is it imported, all or nothing. Views are thin: they check the role, keep the
upload, and call :func:`run_import`. The full report of the check, and then of the import,
can be downloaded by the user who uploaded the file, for a day.

A page with script sends the file ahead (:func:`send`), showing its bytes going, and the form
then names the file sent instead of carrying it; without script the form carries the file."""

import contextlib
import datetime
import functools
import hashlib
import pathlib
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from gis_layers.imports.errors import FORM_FIELDS, ImportRefusal, worded_for
from gis_layers.imports.pipeline import WRITABLE_KINDS, run_import
from gis_layers.imports.preview import CHECK_COLOURS, CHECK_STATUS_NAMES
from gis_layers.imports.progress import ProgressFile, ProgressState
from gis_layers.imports.schema import KIND_LABELS
from gis_layers.maps import import_check_map
from gis_layers.selectors import current_parcels_within

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


# The token naming one upload: the name of its folders, and part of its URL. The page names
# the work it sends (its progress id) in the same form.
TOKEN = re.compile(r"[0-9a-f]{32}")
# How long an upload waits for confirmation, and a report for download, before either is
# deleted: a check whose rows were rejected, or that nobody confirmed, must not stay forever.
PENDING_LIFETIME = datetime.timedelta(days=1)
REPORT_CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}
SHOWN_FINDINGS = 500
# Rows read between two counts of the page's progress: a fifth of the command's chunk, so that
# the bar moves about twice a second.
PAGE_CHUNK = 10_000


def may_import(user, kind: str) -> bool:
    return any(user.has_perm(permission) for permission in PERMISSIONS_OF_KIND[kind])


def _require_an_import_role(user) -> None:
    if not any(may_import(user, kind) for kind in WRITABLE_KINDS):
        raise PermissionDenied


def _too_large() -> str:
    return _("The file is larger than %(mb)d MB.") % {
        "mb": settings.LANDLEDGER_UPLOAD_MAX_BYTES // 2**20
    }


class FileForm(forms.Form):
    """A file to import: within the size limit, of a format the import reads."""

    file = forms.FileField(label=gettext_lazy("File"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload is None:  # the upload form's file, where it names a file sent ahead
            return None
        if upload.size > settings.LANDLEDGER_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(_too_large())
        name = pathlib.PurePath(upload.name.replace("\\", "/")).name
        if not name.lower().endswith(UPLOAD_SUFFIXES):
            raise forms.ValidationError(
                _("Give one of: %(suffixes)s.") % {"suffixes": ", ".join(UPLOAD_SUFFIXES)}
            )
        # Only letters, digits, dots, dashes and underscores reach the disk: never a path.
        upload.safe_name = re.sub(r"[^\w.\-]", "_", name)[-120:]
        return upload


class UploadForm(FileForm):
    """What to import and how: the file itself, or the token of the file the page sent
    ahead (``sent``), which must be the user's own and still waiting."""

    field_order = ["kind", "file"]
    kind = forms.ChoiceField(
        label=gettext_lazy("Layer"), choices=[(kind, KIND_LABELS[kind]) for kind in WRITABLE_KINDS]
    )
    file = forms.FileField(label=gettext_lazy("File"), required=False)
    sent = forms.CharField(required=False, widget=forms.HiddenInput)
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

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    @property
    def max_bytes(self) -> int:
        """The largest file the server takes, for the page's script to refuse a larger one
        before sending it."""
        return settings.LANDLEDGER_UPLOAD_MAX_BYTES

    def sending_sentences(self) -> dict[str, str]:
        """The words of the page's script while it sends the file ahead, in the active
        language, by the name of the form's data attribute that carries each; the script
        fills in the values named ``%(name)s``, ``%(name)d`` or ``%(name)02d``."""
        return {
            "sending": _(
                "Sending the file: %(sent)s of %(total)s MB, %(rate)s MB a second, about "
                "%(left)s left."
            ),
            "send-failed": _("The file could not be sent: %(why)s"),
            "connection-lost": _("the connection to the server was lost."),
            # Said before sending a file the server would refuse by its size.
            "too-large": _too_large(),
            "seconds": _("%(seconds)d s"),
            "minutes": _("%(minutes)d min %(seconds)02d s"),
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("sent"):
            cleaned["sent_path"] = _sent_file(self.user, cleaned["sent"])
            if cleaned["sent_path"] is None:
                raise forms.ValidationError(
                    _("The file sent ahead is no longer waiting; choose it again.")
                )
        elif cleaned.get("file") is None and "file" not in self.errors:
            self.add_error("file", forms.Field.default_error_messages["required"])
        return cleaned


# Room for the form's other fields and the multipart boundaries around the file.
UPLOAD_FORM_OVERHEAD = 64 * 1024


def _declared_size(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large_to_read(request) -> bool:
    """Whether the request says it is larger than any upload may be: refused before Django
    reads the body, so that an oversized upload never reaches the disk."""
    return _declared_size(request) > settings.LANDLEDGER_UPLOAD_MAX_BYTES + UPLOAD_FORM_OVERHEAD


def _uploads_root() -> pathlib.Path:
    return pathlib.Path(settings.LANDLEDGER_UPLOAD_DIR)


def _reports_root() -> pathlib.Path:
    # Beside the upload folder, not in it: that folder holds only what users sent.
    return _uploads_root().parent / "upload-reports"


def _pending_dir(user, token: str) -> pathlib.Path:
    return _uploads_root() / str(user.pk) / token


def _report_base(user, token: str) -> pathlib.Path:
    """Where the report of ``user``'s upload ``token`` is kept, as ``.csv`` and ``.html``:
    under the user's own folder, so that only they can download it."""
    return _reports_root() / str(user.pk) / token / "report"


def _progress_root() -> pathlib.Path:
    return _uploads_root().parent / "upload-progress"


def _progress_path(user, progress_id: str) -> pathlib.Path:
    """Where the progress of the work the page named ``progress_id`` is kept: under the
    user's own folder, so that only they can ask for it."""
    return _progress_root() / str(user.pk) / f"{progress_id}.json"


def _delete_expired_uploads() -> None:
    """Delete every user's pending uploads, reports and progress files older than
    :data:`PENDING_LIFETIME` (a progress file outlives its work only if the server was
    killed)."""
    expired_before = time.time() - PENDING_LIFETIME.total_seconds()
    for root in (_uploads_root(), _reports_root(), _progress_root()):
        for entry in root.glob("*/*"):
            # Another request may be deleting the same entry.
            with contextlib.suppress(FileNotFoundError):
                if TOKEN.fullmatch(entry.stem) and entry.stat().st_mtime < expired_before:
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink()


@contextlib.contextmanager
def _progress_of(request) -> Iterator[dict]:
    """:func:`run_import`'s progress callbacks for the work the page sent, recorded under the
    id it gave (its ``progress`` field) for :func:`progress` to answer; none when it gave
    none (a browser without script)."""
    progress_id = request.POST.get("progress", "")
    if not TOKEN.fullmatch(progress_id):
        yield {}
        return
    recorder = ProgressFile(_progress_path(request.user, progress_id))
    try:
        yield recorder.callbacks()
    finally:
        recorder.remove()


def _sent_file(user, token: str) -> pathlib.Path | None:
    """The file ``user`` sent ahead as ``token``, or None: another user's token, or a file no
    longer waiting, finds nothing under this user's folder."""
    if not TOKEN.fullmatch(token):
        return None
    folder = _pending_dir(user, token)
    files = list(folder.iterdir()) if folder.is_dir() else []
    return files[0] if len(files) == 1 else None


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


def _report_context(report, *, token: str, user) -> dict:
    """What the page shows of the report, with its map; the whole of it is kept for
    download."""
    rows = report.rows()
    context = {
        "summary": report.summary(),
        "rows": [
            {**row, "shown_action": CHECK_STATUS_NAMES[row["action"]]}
            for row in rows[:SHOWN_FINDINGS]
        ],
        "more": max(0, len(rows) - SHOWN_FINDINGS),
        "rejected": bool(report.rejected),
        "report_token": token,
    }
    preview = report.preview
    if preview is not None and preview.extent is not None:
        parcels = (
            current_parcels_within(preview.extent) if user.has_perm("registry.view_parcel") else []
        )
        context["map"] = import_check_map(preview=preview, parcels=parcels)
        context["preview"] = preview
        context["check_colours"] = CHECK_COLOURS
    return context


def _refusing_oversized_bodies(too_large: Callable[[HttpRequest], HttpResponse]):
    """An upload view that answers ``too_large(request)`` to a body declared larger than any
    upload may be, before anything reads it. Django's CSRF check reads a POST's body (for
    its token field): it would stream the whole upload to a temporary file first. So the
    size is checked here, and the CSRF token right after, as the middleware would have."""

    def decorator(view):
        protected = csrf_protect(view)

        @csrf_exempt
        @functools.wraps(view)
        def checked(request, *args, **kwargs):
            if request.method == "POST" and _too_large_to_read(request):
                return too_large(request)
            return protected(request, *args, **kwargs)

        return checked

    return decorator


def _upload_page_too_large(request) -> HttpResponse:
    messages.error(request, _too_large())
    form = UploadForm(user=request.user)
    return render(request, "gis_layers/import.html", {"form": form}, status=413)


@login_required
@require_http_methods(["GET", "POST"])
@_refusing_oversized_bodies(_upload_page_too_large)
def upload(request):
    """Step 1: upload and check (nothing is written)."""
    _require_an_import_role(request.user)
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["kind"]
        if not may_import(request.user, kind):
            raise PermissionDenied
        # Each new upload first deletes the pending uploads and reports, anyone's, that have
        # waited longer than PENDING_LIFETIME: nothing else ever would.
        _delete_expired_uploads()
        if form.cleaned_data.get("sent_path"):
            path = form.cleaned_data["sent_path"]
            token = path.parent.name
        else:
            token, path = _keep(form.cleaned_data["file"], request.user)
        options = {
            "kind_name": kind,
            "layer": form.cleaned_data["layer"] or None,
            "crs": form.cleaned_data["crs"] or None,
            "repair_invalid": form.cleaned_data["invalid"] == "repair",
        }
        try:
            # With the user: the check rejects what their clearance would not let them write.
            # Refusals name the form's fields, not the command's options.
            with worded_for(FORM_FIELDS), _progress_of(request) as progress:
                report = run_import(
                    path=path,
                    dry_run=True,
                    user=request.user,
                    with_preview=True,
                    chunk_size=PAGE_CHUNK,
                    **options,
                    **progress,
                )
        except ImportRefusal as refusal:
            shutil.rmtree(path.parent, ignore_errors=True)
            messages.error(
                request, _("Refused, nothing written: %(why)s") % {"why": refusal.message}
            )
        else:
            if report.rejected:
                # It can never be confirmed: only its report is kept.
                shutil.rmtree(path.parent, ignore_errors=True)
            else:
                request.session[f"import-{token}"] = {**options, "path": str(path)}
            report.write(_report_base(request.user, token))
            context.update(
                _report_context(report, token=token, user=request.user),
                token=token,
                file_name=path.name,
            )
    return render(request, "gis_layers/import.html", context)


@login_required
@require_POST
@_refusing_oversized_bodies(lambda request: JsonResponse({"error": _too_large()}, status=413))
def send(request):
    """Step 0, for a page with script: the file alone, sent ahead of the form so that the page
    can show how much of it has gone (a browser tells a script that, not a form). Answers
    the token (``sent``) that the form then names instead of the file, or the ``error``."""
    _require_an_import_role(request.user)
    form = FileForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"error": " ".join(form.errors["file"])}, status=400)
    _delete_expired_uploads()
    token, _path = _keep(form.cleaned_data["file"], request.user)
    return JsonResponse({"sent": token})


@login_required
@require_POST
def confirm(request, token: str):
    """Step 2: import the checked file, as the user confirmed, all or nothing."""
    pending = request.session.pop(f"import-{token}", None)
    if pending is None or not TOKEN.fullmatch(token):
        messages.error(request, _("That upload is no longer waiting; upload the file again."))
        return redirect("gis_layers:import")
    if not may_import(request.user, pending["kind_name"]):
        raise PermissionDenied
    path = pathlib.Path(pending.pop("path"))
    if not path.exists():  # waited longer than PENDING_LIFETIME
        messages.error(request, _("That upload is no longer waiting; upload the file again."))
        return redirect("gis_layers:import")
    try:
        with worded_for(FORM_FIELDS), _progress_of(request) as progress:
            report = run_import(
                path=path,
                user=request.user,
                with_preview=True,
                chunk_size=PAGE_CHUNK,
                **pending,
                **progress,
            )
    except ImportRefusal as refusal:
        messages.error(request, _("Refused, nothing written: %(why)s") % {"why": refusal.message})
        return redirect("gis_layers:import")
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    # The import's report replaces the check's.
    report.write(_report_base(request.user, token))
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
        {
            "form": UploadForm(user=request.user),
            **_report_context(report, token=token, user=request.user),
            "file_name": path.name,
            "done": True,
        },
    )


def _grouped(number: float) -> str:
    return formats.number_format(round(number), force_grouping=True)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return _("%(seconds)d s") % {"seconds": seconds}
    return _("%(minutes)d min %(seconds)02d s") % {
        "minutes": seconds // 60,
        "seconds": seconds % 60,
    }


def _progress_message(state: ProgressState, now: float) -> str:
    elapsed = {"elapsed": _duration(now - state.stage_started)}
    if state.stage == "reading":
        rate, left = state.rows_per_second(now), state.seconds_left_reading(now)
        if rate is None or left is None:
            return _("Reading and checking the rows: %(read)s so far.") % {
                "read": _grouped(state.rows_read)
            }
        return _(
            "Reading and checking the rows: %(read)s of %(declared)s, %(rate)s rows a second, "
            "about %(left)s left."
        ) % {
            "read": _grouped(state.rows_read),
            "declared": _grouped(state.rows_declared),
            "rate": _grouped(rate),
            "left": _duration(left),
        }
    if state.stage == "checking":
        return (
            _(
                "Checking the rows against the register and against each other (duplicates, "
                "overlaps): %(elapsed)s so far."
            )
            % elapsed
        )
    if state.stage == "writing":
        return _("Writing the rows into the register: %(elapsed)s so far.") % elapsed
    return _("Committing, while the register makes its last checks: %(elapsed)s so far.") % elapsed


@require_safe
def progress(request):
    """How far the check or import the requesting user's page sent has got, which the page
    asks while that request is working: its stage, the share of the file's rows read (when
    the file declares how many it holds) and a sentence saying so. Before the work begins,
    and once it is over, there is nothing to say (``stage`` null)."""
    _require_an_import_role(request.user)
    progress_id = request.GET.get("id", "")
    if not TOKEN.fullmatch(progress_id):
        return JsonResponse({"error": _("Give the work's id: 32 hexadecimal digits.")}, status=400)
    state = ProgressFile.read(_progress_path(request.user, progress_id))
    if state is None or not state.stage:
        return JsonResponse({"stage": None, "fraction": None, "message": None})
    return JsonResponse(
        {
            "stage": state.stage,
            "fraction": state.fraction_read if state.stage == "reading" else None,
            "message": _progress_message(state, time.time()),
        }
    )


@login_required
@require_safe
def download_report(request, token: str, report_format: str):
    """The full report, as CSV or HTML, of the check or import of the requesting user's
    upload ``token``; another user's token finds nothing, since each user's reports are
    under their own folder."""
    _require_an_import_role(request.user)
    if not TOKEN.fullmatch(token) or report_format not in REPORT_CONTENT_TYPES:
        raise Http404
    path = _report_base(request.user, token).with_suffix(f".{report_format}")
    if not path.is_file():
        raise Http404
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"import-report-{token[:8]}.{report_format}",
        content_type=REPORT_CONTENT_TYPES[report_format],
    )
