"""``/space/``: office space against the standard, vacancy, the reconciliation and the
redistribution plan, with its exports and the registrar's button that lodges it as
use-allocation acts. Planners, registrars, auditors and administrators only."""

import csv
import io
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from gis_layers.charts import bar_chart
from gis_layers.maps import DEFICIT_COLOUR, space_map
from gis_layers.space_report import (
    PLAN_CSV_COLUMNS,
    SpaceInputError,
    cached_space_report,
    lodge_plan,
    plan_rows,
    plan_settings,
)
from gis_layers.wording import space_report_in_reader_language
from registry.errors import RegisterError
from registry.models import OfficeSpaceStandard, SecurityLevel
from registry.services.acts import record_audit

EXPORT_FORMATS = {"csv": "text/csv", "json": "application/json", "html": "text/html"}


class SpacePlanForm(forms.Form):
    standard = forms.ModelChoiceField(
        label=gettext_lazy("Standard"),
        # Superseded versions are kept for history only (space_report.load_standard).
        queryset=OfficeSpaceStandard.objects.filter(in_force=True),
        required=False,
        empty_label=gettext_lazy("the one in force"),
    )
    max_distance_m = forms.FloatField(
        label=gettext_lazy("Farthest from the seat (m)"),
        required=False,
        min_value=0,
        max_value=100_000,
    )
    split_penalty_m = forms.FloatField(
        label=gettext_lazy("Penalty per extra building (m)"),
        required=False,
        min_value=0,
        max_value=100_000,
    )
    new_lon = forms.FloatField(
        label=gettext_lazy("New building: longitude"), required=False, min_value=-180, max_value=180
    )
    new_lat = forms.FloatField(
        label=gettext_lazy("latitude"), required=False, min_value=-90, max_value=90
    )
    new_area_m2 = forms.FloatField(
        label=gettext_lazy("office use area (m²)"), required=False, min_value=1
    )
    new_classification = forms.TypedChoiceField(
        label=gettext_lazy("classification"),
        choices=SecurityLevel.choices,
        coerce=int,
        required=False,
        # Django hands back any empty_value as given; the stubs allow only text or None.
        empty_value=0,  # type: ignore[arg-type]
    )

    def clean(self):
        data = super().clean()
        given = [data.get(name) is not None for name in ("new_lon", "new_lat", "new_area_m2")]
        if any(given) and not all(given):
            raise forms.ValidationError(
                _("A new building needs its longitude, latitude and office use area together.")
            )
        return data

    def report_options(self) -> dict:
        data = self.cleaned_data
        options = {
            "standard_id": data["standard"].pk if data.get("standard") else None,
            "settings": plan_settings(
                max_distance_m=data.get("max_distance_m"),
                split_penalty_m=data.get("split_penalty_m"),
            ),
        }
        if data.get("new_lon") is not None:
            options["new_building"] = {
                "lon": data["new_lon"],
                "lat": data["new_lat"],
                "use_area_m2": data["new_area_m2"],
                "premises_classification": data.get("new_classification") or 0,
            }
        return options


class LodgeForm(forms.Form):
    effective_date = forms.DateField(
        label=gettext_lazy("Effective date"),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": gettext_lazy("Enter the date as YYYY-MM-DD.")},
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def charts_for(report: dict) -> dict:
    over = sorted(
        (a for a in report["agencies"] if (a["over_m2"] or 0) > 0), key=lambda a: -a["over_m2"]
    )
    short = sorted(
        (a for a in report["agencies"] if (a["deficit_m2"] or 0) > 0),
        key=lambda a: -a["deficit_m2"],
    )
    vacant = sorted(report["buildings"], key=lambda b: -(b["vacant_m2"] or 0))
    return {
        "over": bar_chart([(a["name"][:28], a["over_m2"]) for a in over[:12]], unit="m²"),
        "deficit": bar_chart(
            [(a["name"][:28], a["deficit_m2"]) for a in short[:12]],
            unit="m²",
            colours={a["name"][:28].split(" ")[0]: DEFICIT_COLOUR for a in short[:12]},
        ),
        "vacant": bar_chart(
            [(b["name"][:28], b["vacant_m2"] or 0) for b in vacant[:12]], unit="m²"
        ),
    }


# The reconciliation's kinds of mismatch, and what the left-out inputs are, as the page names
# them; the codes stay in the page's markup.
MISMATCH_NAMES = {
    "not_a_building": gettext_lazy("allocation on a title that is no building"),
    "holder_not_agency": gettext_lazy("held by no agency"),
    "allocation_without_blocks": gettext_lazy("allocation without blocks"),
    "block_in_other_building": gettext_lazy("block in another building"),
    "retired_block_allocated": gettext_lazy("retired block allocated"),
    "block_allocated_twice": gettext_lazy("block allocated twice"),
    "block_without_area": gettext_lazy("block without area"),
    "inventory_exceeds_building": gettext_lazy("inventory larger than the building"),
    "allocation_without_record": gettext_lazy("allocation the agency does not record"),
    "record_without_allocation": gettext_lazy("record without allocation"),
    "area_differs": gettext_lazy("areas differ"),
}
LEFT_OUT_SUBJECTS = {"agency": gettext_lazy("Agency"), "block": gettext_lazy("Space block")}


def _context(report: dict, *, with_map: bool) -> dict:
    context = {
        "report": report,
        "mismatches": [
            {**m, "name": MISMATCH_NAMES.get(m["kind"], m["kind"])} for m in report["mismatches"]
        ],
        "problems": [
            {**p, "subject_name": LEFT_OUT_SUBJECTS.get(p["subject"], p["subject"])}
            for p in report["problems"]
        ],
        "charts": charts_for(report),
        "plan": report["plan"],
        "security_levels": SecurityLevel.choices,  # the premises' classification by name
    }
    if with_map:
        flows = report["plan"]["flows"]
        handed_back = []
        if report["scenario"]:
            flows = flows + report["scenario"]["flows"]
            handed_back = report["scenario"]["handed_back"]
        context["map"] = space_map(
            buildings=report["buildings"],
            agencies=report["agencies"],
            flows=flows,
            handed_back=handed_back,
        )
    return context


def render_report_html(report: dict) -> str:
    """The report as a standalone page (exports and the command): tables and charts."""
    return render_to_string("gis_layers/space.html", _context(report, with_map=False))


@login_required
@permission_required("registry.view_space_analysis", raise_exception=True)
@require_GET
def space_page(request):
    return _render_space_page(request, LodgeForm(initial={"effective_date": timezone.localdate()}))


def _render_space_page(request, lodge_form: LodgeForm, *, status: int = 200):
    """The page for the plan the query asks for (400 when the query is bad), with
    ``lodge_form`` under the acts the plan would lodge."""
    form = SpacePlanForm(request.GET or None)
    context: dict[str, Any] = {"form": form, "lodge_form": lodge_form}
    if form.is_bound and not form.is_valid():
        return render(request, "gis_layers/space.html", context, status=400)
    try:
        report = cached_space_report(
            user=request.user, **(form.report_options() if form.is_bound else {})
        )
    except SpaceInputError as error:
        context["error"] = str(error)
        return render(request, "gis_layers/space.html", context, status=400)
    context.update(_context(space_report_in_reader_language(report), with_map=True))
    context["query"] = request.GET.urlencode()
    return render(request, "gis_layers/space.html", context, status=status)


@login_required
@permission_required("registry.view_space_analysis", raise_exception=True)
@require_GET
def space_export(request, fmt: str):
    if fmt not in EXPORT_FORMATS:
        return HttpResponse(
            _("Unknown format “%(fmt)s”: choose csv, json or html.") % {"fmt": fmt},
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    form = SpacePlanForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return HttpResponse(
            json.dumps(form.errors, ensure_ascii=False),
            status=400,
            content_type="application/json; charset=utf-8",
        )
    try:
        report = cached_space_report(
            user=request.user, **(form.report_options() if form.is_bound else {})
        )
    except SpaceInputError as error:
        return HttpResponse(str(error), status=400, content_type="text/plain; charset=utf-8")
    record_audit(
        user=request.user,
        action="export",
        object_type="space_plan",
        object_id=str(report["standard"]["id"]),
        detail={"format": fmt, "query": request.GET.urlencode()},
    )
    body = export_text(space_report_in_reader_language(report), fmt)
    response = HttpResponse(body, content_type=f"{EXPORT_FORMATS[fmt]}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="space-plan.{fmt}"'
    return response


def export_text(report: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(PLAN_CSV_COLUMNS)
        writer.writerows(plan_rows(report))
        return buffer.getvalue()
    return render_report_html(report)


@login_required
@permission_required("registry.lodge_act", raise_exception=True)
@require_POST
def space_lodge(request):
    form = LodgeForm(request.POST)
    if not form.is_valid():
        # The page again, with the date as given and what is wrong with it beside the button.
        return _render_space_page(request, form, status=400)
    try:
        acts = lodge_plan(user=request.user, effective_date=form.cleaned_data["effective_date"])
    except (SpaceInputError, RegisterError) as error:
        messages.error(request, str(error))
        return redirect("space")
    messages.success(
        request,
        _("Lodged %(count)d use-allocation acts for examination: %(numbers)s")
        % {"count": len(acts), "numbers": ", ".join(act.number for act in acts)},
    )
    return redirect("space")
