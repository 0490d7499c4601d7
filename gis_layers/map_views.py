"""The planners' map page, its popups and its search. Thin views: check the role, ask one
selector, render."""

import datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Min, Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from gis_layers.analysis.landuse import UNDERUSED_SHARE
from gis_layers.exports import MAX_SELECTED
from gis_layers.maps import planner_map
from gis_layers.models import ZoningArea
from gis_layers.tiles import LAYERS as TILE_LAYERS
from gis_layers.tiles import TRANSFERS_PERMISSION
from registry.models import (
    ActStatus,
    ActType,
    Building,
    Condition,
    LandUseClass,
    Parcel,
    RegistrationAct,
    ShelterType,
    Title,
)
from registry.selectors import holders_as_of, in_force_on, search_titles, shelters_visible_to

LAYER_LABELS = {
    "parcels": ("Parcels", "宗地"),
    "buildings": ("Buildings", "房屋"),
    "shelters": ("Shelters", "人防工程"),
    "zoning": ("Zoning", "规划用途"),
    "conformity": ("Conformity to the plan", "规划符合性"),
    "coverage": (
        "Population: covered, short of places, uncovered",
        "人口：已覆盖、位置不足、未覆盖",
    ),
    "catchments": ("Shelter catchments by load", "人防工程服务范围（负荷）"),
    "underused": ("Under-used parcels", "低效用地"),
}
VISIBLE_AT_START = {"parcels", "buildings", "shelters"}


def _label(english: str, chinese: str) -> str:
    return chinese if translation.get_language().startswith("zh") else english


def _changes_legend(user) -> dict:
    """The change view's legend, for users who may see parcels (map.js offers the view only
    with it). Transfers are registration acts: the tiles hold them, and the legend names them,
    only for users who may read the acts."""
    if not user.has_perm("registry.view_parcel"):
        return {}
    kinds = [["new", _("new parcel")], ["retired", _("retired parcel")]]
    if user.has_perm(TRANSFERS_PERMISSION):
        kinds.append(["transferred", _("transferred")])
    return {"changes": {"title": _("Changes between the dates"), "items": kinds}}


def map_config(user, *, visible: set[str] = VISIBLE_AT_START, run=None) -> dict:
    """What map.js needs. With a coverage ``run``, its layers come in and every tile asks
    for that run; without, they stay out."""
    zh = translation.get_language().startswith("zh")
    first = Parcel.objects.aggregate(first=Min("valid_from"))["first"] or datetime.date(2020, 1, 1)
    today = datetime.date.today()
    return {
        "centre": [60.1705, 24.9425],
        "zoom": 16,
        "tileUrl": "/tiles/__layer__/{z}/{x}/{y}.pbf",
        "popupUrl": "/map/popup/__layer__/__fid__/",
        "searchUrl": "/map/search/",
        "exportUrl": "/layers/export/",
        "maxSelected": MAX_SELECTED,
        "today": today.isoformat(),
        "firstDate": first.isoformat(),
        "changesFrom": (today - datetime.timedelta(days=730)).isoformat(),
        "layers": [
            {
                "name": name,
                "label": _label(*LAYER_LABELS[name]),
                "visible": name in visible,
            }
            for name, spec in TILE_LAYERS.items()
            if user.has_perm(spec.permission) and (run is not None or not spec.per_run)
        ],
        "tileQuery": f"run={run.pk}" if run is not None else "",
        # A list, not an object: JavaScript would put "10" before "01".
        "landUseNames": [
            [code, name_zh if zh else name_en]
            for code, name_zh, name_en in LandUseClass.objects.filter(parent__isnull=True)
            .order_by("code")
            .values_list("code", "name_zh", "name_en")
        ],
        # What the colours of the analysis layers mean, shown while the layer is on the map.
        "legends": {
            "conformity": {
                "title": _label(*LAYER_LABELS["conformity"]),
                "items": [
                    ["conforming", _("conforming")],
                    ["nonconforming", _("non-conforming")],
                    ["no_plan", _("no plan")],
                ],
            },
            "underused": {
                "title": _("Floor-area ratio (FAR) against the plan"),
                "items": [
                    [
                        "underused",
                        _("under-used: FAR below %(percent)s%% of what the plan permits")
                        % {"percent": round(100 * UNDERUSED_SHARE)},
                    ],
                    ["used", _("FAR at least that")],
                    ["no_data", _("no building data (FAR unknown, not 0)")],
                    ["no_limit", _("the plan sets no FAR")],
                ],
            },
            # Shelters: the marker's shape by type (map.js draws the shapes), its colour by
            # condition.
            "shelters": {
                "title": _label(*LAYER_LABELS["shelters"]),
                "shapes": [[value, str(label)] for value, label in ShelterType.choices],
                "items": [[value, str(label)] for value, label in Condition.choices],
            },
            **_changes_legend(user),
        },
        "text": {
            "legend": _("Current land use (GB/T 21010)"),
            "search": _("unit code, address or holder"),
            "go": _("Find"),
            "nothing": _("Nothing found."),
            "asOf": _("Register as of"),
            "changes": _("Changes between"),
            "show": _("show"),
            "changesDates": _("Give two dates, the first not after the second."),
            "exportView": _("Export this view"),
            "selectMode": _("select by clicking"),
            "selectHint": _("Shift-click features to select them for export."),
            "selected": _("%(count)s selected:"),
            "exportSelection": _("Export the selection"),
            "clearSelection": _("Clear"),
            "selectionFull": _(
                "At most %(max)d features can be selected; export the view for more."
            )
            % {"max": MAX_SELECTED},
            "residents": _("Residents (night)"),
            "daytime": _("Daytime population"),
            "nearest": _("Nearest usable shelter"),
            "placesPerPerson": _("Places per person in reach"),
            "places": _("Places"),
            "catchment": _("Persons in catchment (night)"),
            "load": _("Load night / day"),
            "popupFailed": _("The details could not be loaded; click again to retry."),
        },
    }


@login_required
@require_GET
def map_page(request):
    if not any(request.user.has_perm(layer.permission) for layer in TILE_LAYERS.values()):
        raise PermissionDenied  # a role that may see none of the map's layers
    return render(
        request, "gis_layers/map.html", {"map": planner_map(config=map_config(request.user))}
    )


# The layers whose features the server describes in a popup; the map asks for a parcel's
# popup from the layers drawn over parcels (changes, conformity, under-used) and shows the
# coverage layers' own figures without asking.
POPUP_LAYERS = ("parcels", "buildings", "shelters", "zoning")


def _refusal(status: int, message: str) -> HttpResponse:
    """A refused popup: the map shows the answer in the popup, so the reason is its text."""
    return HttpResponse(
        format_html('<div class="landledger-popup">{}</div>', message), status=status
    )


@login_required
@require_GET
def popup(request, layer: str, fid: int):
    """What a click on a feature shows: only what the user's role may see."""
    if layer not in POPUP_LAYERS:
        return _refusal(
            404,
            _("no popup for the layer %(layer)s; layers with popups: %(layers)s")
            % {"layer": repr(layer), "layers": ", ".join(POPUP_LAYERS)},
        )
    if not request.user.has_perm(TILE_LAYERS[layer].permission):
        # As if there were no such layer: the role may not know what it holds.
        return _refusal(404, _("your role may not see the %(layer)s layer") % {"layer": layer})
    text = request.GET.get("as_of") or ""
    try:
        on = datetime.date.fromisoformat(text) if text else datetime.date.today()
    except ValueError:
        return _refusal(
            400, _("as_of=%(text)s is not a date; give it as YYYY-MM-DD") % {"text": repr(text)}
        )
    context = {"layer": layer, "on": on}
    if layer == "parcels":
        parcel = Parcel.objects.select_related("land_use", "district").filter(pk=fid).first()
        title = Title.objects.filter(parcel=parcel).first() if parcel else None
        context.update(parcel=parcel, title=title)
        if title is not None and request.user.has_perm("registry.view_right"):
            context["holders"] = holders_as_of(title=title, on=on)
        context["title_link"] = title is not None and request.user.has_perm("registry.view_title")
        if title is not None:
            # Acts not yet registered show as pending until they are: all of them to the
            # roles that may read acts; to the others only changes of land use, which the map
            # is about (a seizure or a mortgage lodged is not theirs to know).
            pending = RegistrationAct.objects.filter(
                act_titles__title=title, status__in=[ActStatus.LODGED, ActStatus.EXAMINED]
            ).order_by("lodged_at")
            if not request.user.has_perm("registry.view_registrationact"):
                pending = pending.filter(act_type=ActType.CHANGE, payload__has_key="land_use")
            context["pending"] = pending
    elif layer == "buildings":
        context["building"] = Building.objects.select_related("parcel").filter(pk=fid).first()
    elif layer == "shelters":
        # A classified shelter the user may not see does not exist for them.
        context["shelter"] = shelters_visible_to(user=request.user).filter(pk=fid).first()
    elif layer == "zoning":
        context["zone"] = ZoningArea.objects.filter(pk=fid).first()
    if not any(context.get(key) for key in ("parcel", "building", "shelter", "zone")):
        return _refusal(
            404, _("no feature %(fid)s in the %(layer)s layer") % {"fid": fid, "layer": layer}
        )
    return render(request, "gis_layers/popup.html", context)


@login_required
@require_GET
def search(request):
    """Current parcels by unit code, name or address, and titled ones by holder: label and
    extent of each, for the map to fly to."""
    query = request.GET.get("q", "").strip()
    if len(query) < 2 or not request.user.has_perm("registry.view_parcel"):
        return JsonResponse({"results": []})
    today = datetime.date.today()
    parcels = Parcel.objects.filter(in_force_on(today)).filter(
        Q(unit_code__icontains=query) | Q(address__icontains=query) | Q(name__icontains=query)
    )
    if request.user.has_perm("registry.view_title"):
        by_holder = search_titles(query=query, user=request.user).values("parcel")
        parcels = parcels | Parcel.objects.filter(in_force_on(today), pk__in=by_holder)
    results = [
        {
            "label": f"{parcel.unit_code} {parcel.name or parcel.address}".strip(),
            "bbox": list(parcel.geom.extent),
            "id": parcel.pk,
        }
        for parcel in parcels.distinct().order_by("unit_code")[:20]
    ]
    return JsonResponse({"results": results})
