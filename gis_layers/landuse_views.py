"""``/landuse/``: land by current use, planned use and holder type per district, with charts;
non-conforming and under-used parcels."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy

from gis_layers.charts import bar_chart
from gis_layers.landuse_report import NO_PLAN, cached_landuse_report
from gis_layers.map_views import map_config
from gis_layers.maps import CONFORMITY_COLOURS, LAND_USE_COLOURS, planner_map
from gis_layers.models import PlannedUseClass
from registry.models import LandUseClass, PartyKind

# The holder of a parcel's land as the report names its kind: a party's kind, or none yet.
HOLDER_KINDS = {**dict(PartyKind.choices), "unregistered": gettext_lazy("unregistered 未登记")}
MAP_LAYERS = ("conformity", "underused")  # the analysis layers /landuse/ can open its map with


def _names(model) -> dict[str, str]:
    zh = translation.get_language().startswith("zh")
    return {
        code: zh_name if zh else en_name
        for code, zh_name, en_name in model.objects.values_list("code", "name_zh", "name_en")
    }


def charts_for(district: dict) -> dict:
    current_names, planned_names = _names(LandUseClass), _names(PlannedUseClass)
    return {
        "current": bar_chart(
            [
                (f"{code} {current_names.get(code, '')}", area / 10_000)
                for code, area in district["by_current_use"].items()
            ],
            unit="ha",
            colours=LAND_USE_COLOURS,
        ),
        "planned": bar_chart(
            [
                (
                    gettext("no plan")
                    if code == NO_PLAN
                    else f"{code} {planned_names.get(code, '')}".strip(),
                    area / 10_000,
                )
                for code, area in district["by_planned_use"].items()
            ],
            unit="ha",
        ),
        "holders": bar_chart(
            [
                (HOLDER_KINDS.get(kind, kind), area / 10_000)
                for kind, area in district["by_holder_type"].items()
            ],
            unit="ha",
        ),
        "conformity": bar_chart(
            [
                (gettext("conforming"), district["conforming_m2"] / 10_000, "conforming"),
                (gettext("non-conforming"), district["nonconforming_m2"] / 10_000, "nonconforming"),
                (gettext("no plan"), district["no_plan_m2"] / 10_000, "no_plan"),
            ],
            unit="ha",
            colours=CONFORMITY_COLOURS,
        ),
    }


def for_page(district: dict) -> dict:
    """A district of the report as the page (and the report's HTML) shows it: its charts, and
    the names of the classes in the conformity table."""
    names = _names(LandUseClass)
    rows = [{**row, "name": names.get(row["class"], "")} for row in district["conformity_by_class"]]
    return {**district, "charts": charts_for(district), "conformity_rows": rows}


@login_required
@permission_required("registry.view_parcel", raise_exception=True)
def landuse_page(request):
    # One of the analysis layers on the map (the other one in its layer control); it opens
    # over the demo's Helsinki centre, like the planners' map. Checked before the report is
    # computed: a bad address costs nothing.
    shown = request.GET.get("map", "conformity")
    if shown not in MAP_LAYERS:
        return HttpResponseBadRequest(
            f"map={shown!r} is not one of {', '.join(MAP_LAYERS)}", content_type="text/plain"
        )
    report = cached_landuse_report()
    districts = [for_page(district) for district in report["districts"]]
    landuse_map = planner_map(config=map_config(request.user, visible={shown}))
    return render(
        request,
        "gis_layers/landuse.html",
        {"districts": districts, "map": landuse_map, "shown": shown},
    )
