"""Layer pages and vector tiles. Views are thin: they parse the request, call one service
and answer."""

import datetime
import hashlib
import logging
import pathlib
import re
import tempfile
from collections.abc import Callable

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import FileResponse, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import parse_etags
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe

from gis_layers.coverage import runs_visible_to
from gis_layers.exports import (
    ACCEPTED_SUFFIXES,
    FORMATS,
    KIND_NAMES,
    LAYERS,
    MAX_SELECTED,
    ExportRefusal,
    download_name,
    export_layer,
    in_force_date,
    rows_to_export,
)
from gis_layers.imports.schema import KIND_LABELS
from gis_layers.models import CoverageRun
from gis_layers.tiles import LAYERS as TILE_LAYERS
from gis_layers.tiles import (
    TRANSFERS_PERMISSION,
    TileRequestError,
    changes_tile,
    draw,
    parse_address,
)
from registry.selectors import holds_permission

logger = logging.getLogger(__name__)
FEATURE_NUMBER = re.compile(r"[0-9]{1,18}")  # a positive bigint


class ExportForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Layer"),
        choices=[(kind, KIND_LABELS[kind]) for kind in KIND_NAMES],
        error_messages={
            "invalid_choice": format_lazy(
                "{} {}.", _("Unknown layer “%(value)s”: choose one of"), ", ".join(KIND_NAMES)
            )
        },
    )
    format = forms.ChoiceField(
        label=_("Format"),
        choices=[
            (fmt.key, format_lazy("{} ({})", fmt.label, fmt.suffix)) for fmt in FORMATS.values()
        ],
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
    # Features picked on the map (their numbers, as the tiles give them) and the layer they
    # were picked on; an export of the selection is of that layer only.
    ids = forms.CharField(required=False, widget=forms.HiddenInput)
    selection_of = forms.ChoiceField(
        required=False, choices=[(kind, kind) for kind in KIND_NAMES], widget=forms.HiddenInput
    )
    bbox = forms.CharField(
        label=_("Only within"),
        required=False,
        help_text=_("west,south,east,north in degrees (the map's view); empty: everywhere."),
    )

    def clean_bbox(self):
        text = self.cleaned_data["bbox"].strip()
        if not text:
            return None
        try:
            west, south, east, north = (float(part) for part in text.split(","))
        except ValueError as error:
            raise forms.ValidationError(_("Give four numbers: west,south,east,north.")) from error
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise forms.ValidationError(
                _("The box must lie within longitude/latitude, west < east, south < north.")
            )
        return (west, south, east, north)

    def clean_ids(self):
        text = self.cleaned_data["ids"].strip()
        if not text:
            return None
        parts = [part.strip() for part in text.split(",")]
        if not all(FEATURE_NUMBER.fullmatch(part) for part in parts):
            raise forms.ValidationError(
                _("The selection must be feature numbers separated by commas.")
            )
        if len(parts) > MAX_SELECTED:
            raise forms.ValidationError(
                _("At most %(max)d selected features can be exported at once; export the view.")
                % {"max": MAX_SELECTED}
            )
        return sorted({int(part) for part in parts})

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("ids") or not cleaned.get("kind"):
            return cleaned
        selected_in = cleaned.get("selection_of")
        if not selected_in:
            raise forms.ValidationError(
                _("The selection does not say which layer it was made on: select again.")
            )
        if selected_in != cleaned["kind"]:
            raise forms.ValidationError(
                _(
                    "The features were selected on the %(selected)s layer: export them as %(selected)s."
                )
                % {"selected": selected_in}
            )
        return cleaned

    def selected_count(self) -> int:
        """How many features the map's selection holds (0: none, or not readable)."""
        if self.is_bound and self.is_valid():
            return len(self.cleaned_data["ids"] or ())
        text = str(self["ids"].value() or "")
        return len([part for part in text.split(",") if part.strip()])


def _selection_exports_whole(form: ExportForm, user) -> bool:
    """Whether every selected feature would be exported; if not, the form says which are not.
    Features selected at another date, or retired ones picked on the change view, would
    otherwise be left out of the file unsaid."""
    ids, kind = form.cleaned_data["ids"], form.cleaned_data["kind"]
    layer = LAYERS[kind]
    if not ids or not user.has_perm(layer.permission):
        return True  # nothing selected; or refused by export_layer, which says why
    as_of = in_force_date(layer, form.cleaned_data["as_of"])
    found = set(
        rows_to_export(layer=layer, as_of=as_of, user=user, ids=ids).values_list("pk", flat=True)
    )
    missing = [pk for pk in ids if pk not in found]
    if missing:
        form.add_error(
            None,
            _(
                "%(missing)d of the %(count)d selected features are not among the %(kind)s "
                "you may see as in force on %(date)s (%(numbers)s): select again on the map "
                "at that date."
            )
            % {
                "missing": len(missing),
                "count": len(ids),
                "kind": kind,
                "date": as_of or timezone.localdate(),
                "numbers": ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else ""),
            },
        )
    return not missing


def _may_export_something(user) -> bool:
    return any(user.has_perm(layer.permission) for layer in LAYERS.values())


@login_required
@require_http_methods(["GET", "POST"])
def export(request):
    """The export form; a valid POST answers with the file as an attachment. Bad input
    re-shows the form with the reason (400); a layer the user may not view is refused (403)."""
    if not _may_export_something(request.user):
        raise PermissionDenied
    # The map opens the form with its view as the box (?bbox=...).
    form = ExportForm(
        request.POST if request.method == "POST" else None, initial=request.GET.dict()
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and _selection_exports_whole(form, request.user)
    ):
        kind, as_of = form.cleaned_data["kind"], form.cleaned_data["as_of"]
        fmt = FORMATS[form.cleaned_data["format"]]
        with tempfile.TemporaryDirectory(prefix="landledger-export-") as scratch:
            path = pathlib.Path(scratch) / download_name(kind=kind, fmt=fmt, as_of=as_of)
            try:
                result = export_layer(
                    kind=kind,
                    path=path,
                    as_of=as_of,
                    user=request.user,
                    bbox=form.cleaned_data["bbox"],
                    ids=form.cleaned_data["ids"],
                )
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
    return render(
        request,
        "gis_layers/export.html",
        {"form": form, "selected": form.selected_count()},
        status=status,
    )


# --- vector tiles --------------------------------------------------------------------------


def _tile_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _date_parameter(request, name: str) -> datetime.date | None:
    text = request.GET.get(name, "")
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as error:
        raise TileRequestError(f"{name}={text!r} is not a date YYYY-MM-DD") from error


def _held_etags(request) -> list[str]:
    """The entity-tags of the copies the client holds (``If-None-Match``, RFC 9110 13.1.2),
    unquoted and weak or not alike: the header takes the weak comparison, and proxies that
    compress a response mark its ETag weak (``W/"..."``). ``*`` stays ``*``: any copy."""
    held = parse_etags(request.headers.get("If-None-Match", ""))
    return [tag if tag == "*" else tag.removeprefix("W/")[1:-1] for tag in held]


class TileResponse(HttpResponse):
    """A tile's response that keeps a tile just rendered in the cache once the server has
    sent it (WSGI servers close a response after its last byte): the client does not wait for
    the write. Django's ``request_finished``, which returns the database connection, comes
    after it. A write that fails is logged; the tile is only rendered again next time."""

    def __init__(self, *args, keep: Callable[[], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.keep = keep

    def close(self) -> None:
        keep, self.keep = self.keep, None  # once, however often the server closes
        try:
            if keep is not None:
                keep()
        except DatabaseError:
            logger.warning("a tile just rendered could not be kept in the cache", exc_info=True)
        finally:
            super().close()


def _tile_response(
    held: list[str], data: bytes, etag: str, *, keep: Callable[[], None] | None = None
) -> HttpResponse:
    """The tile, or 304 where the client holds it (``held``: its ``If-None-Match``);
    ``keep`` runs once it is sent (:class:`TileResponse`)."""
    if etag in held or "*" in held:
        response = TileResponse(status=304, keep=keep)
    else:
        # Also for HEAD: the server sends the headers of this answer without its body.
        response = TileResponse(data, content_type="application/vnd.mapbox-vector-tile", keep=keep)
    response["ETag"] = f'"{etag}"'
    # Tiles depend on the user's clearance: never shared caches, always revalidated.
    response["Cache-Control"] = "private, no-cache"
    return response


@require_safe
def vector_tile(request, layer: str, z: str, x: str, y: str):
    """``/tiles/{layer}/{z}/{x}/{y}.pbf`` for the layers the user may see."""
    spec = TILE_LAYERS.get(layer)
    if spec is None:
        return _tile_error(404, f"no layer {layer!r}; layers: {', '.join(TILE_LAYERS)}, changes")
    if not request.user.is_authenticated:
        return _tile_error(401, "log in to see the map's layers")
    if not holds_permission(user=request.user, permission=spec.permission):
        return _tile_error(403, f"your role may not see the {layer} layer")
    held = _held_etags(request)
    try:
        zoom, column, row = parse_address(z, x, y)
        drawn = draw(
            layer=spec,
            z=zoom,
            x=column,
            y=row,
            as_of=_date_parameter(request, "as_of"),
            user=request.user,
            run=_run_parameter(request) if spec.per_run else None,
            # The usual single tag spares reading a cached tile the client holds; with a
            # list the tile is read, and the answer is still 304 where one matches.
            held_etag=held[0] if len(held) == 1 else None,
        )
    except CoverageRun.DoesNotExist:
        return _tile_error(404, "no such coverage run")
    except TileRequestError as error:
        return _tile_error(400, str(error))
    return _tile_response(held, drawn.data, drawn.etag, keep=drawn.keep)


def _run_parameter(request) -> int:
    """The ``run`` of a per-run layer, if the user is cleared for its shelters."""
    try:
        run = int(request.GET.get("run", ""))
    except ValueError:
        raise TileRequestError("give run=N, the number of a coverage run") from None
    return runs_visible_to(user=request.user).get(pk=run).pk


@require_safe
def changes_vector_tile(request, z: str, x: str, y: str):
    """``/tiles/changes/{z}/{x}/{y}.pbf?from=D1&to=D2``: parcels new, retired or transferred.
    Transfers are registration acts: users who may not read the acts get the new and retired
    parcels only."""
    if not request.user.is_authenticated:
        return _tile_error(401, "log in to see the map's layers")
    if not holds_permission(user=request.user, permission="registry.view_parcel"):
        return _tile_error(403, "your role may not see the parcels layer")
    try:
        zoom, column, row = parse_address(z, x, y)
        since, until = _date_parameter(request, "from"), _date_parameter(request, "to")
        if since is None or until is None:
            raise TileRequestError("give both from= and to= dates (YYYY-MM-DD)")
        data = changes_tile(
            z=zoom,
            x=column,
            y=row,
            since=since,
            until=until,
            with_transfers=holds_permission(user=request.user, permission=TRANSFERS_PERMISSION),
        )
    except TileRequestError as error:
        return _tile_error(400, str(error))
    return _tile_response(_held_etags(request), data, hashlib.sha256(data).hexdigest()[:32])
