"""``/shelters/``: the shelter inventory (完好率 by district, overdue inspections), each
shelter's inspections, and coverage runs with their map, totals and reports."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from gis_layers.coverage import (
    MODES,
    CoverageError,
    CoverageOptions,
    population_grids,
    runs_visible_to,
    start_in_background,
    start_run,
)
from gis_layers.coverage_report import context as report_context
from gis_layers.coverage_report import render_report
from gis_layers.map_views import map_config
from gis_layers.maps import planner_map
from gis_layers.models import CoverageRun
from registry.errors import RegisterError
from registry.models import Condition, Shelter, ShelterType
from registry.selectors import shelter_inventory, shelters_visible_to
from registry.services.shelters import record_inspection

REPORT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


@login_required
@permission_required("registry.view_shelter", raise_exception=True)
@require_GET
def inventory(request):
    return render(
        request,
        "gis_layers/shelters.html",
        {"inventory": shelter_inventory(user=request.user, on=timezone.localdate())},
    )


class InspectionForm(forms.Form):
    inspected_on = forms.DateField(
        label=_("Inspected on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    inspector = forms.CharField(label=_("Inspector"), max_length=200)
    condition = forms.ChoiceField(label=_("Condition found"), choices=Condition.choices)
    findings = forms.CharField(
        label=_("Findings"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


def _posted(request):
    """The data to bind a form to: a POST with no fields at all is still a submission, to be
    refused field by field, not shown as a blank form."""
    return request.POST if request.method == "POST" else None


def _form_status(form: forms.Form) -> int:
    """400 for a form sent back with its errors, so that a refusal is not taken for success."""
    return 400 if form.is_bound and form.errors else 200


@login_required
@permission_required("registry.view_shelterinspection", raise_exception=True)
@require_http_methods(["GET", "POST"])
def shelter_detail(request, pk: int):
    # A shelter above the user's clearance does not exist for them.
    shelter = get_object_or_404(shelters_visible_to(user=request.user), pk=pk)
    form = InspectionForm(_posted(request))
    if request.method == "POST":
        if not request.user.has_perm("registry.add_shelterinspection"):
            return HttpResponse(_("Your role may not record inspections."), status=403)
        if form.is_valid():
            try:
                record_inspection(shelter=shelter, user=request.user, **form.cleaned_data)
            except RegisterError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, _("Inspection recorded."))
                return redirect("shelter_detail", pk=pk)
    return render(
        request,
        "gis_layers/shelter_detail.html",
        {"shelter": shelter, "inspections": shelter.inspections.all(), "form": form},
        status=_form_status(form),
    )


class CoverageForm(forms.Form):
    mode = forms.ChoiceField(
        label=_("Distance"),
        choices=[(MODES[0], _("straight line")), (MODES[1], _("walking on the street network"))],
    )
    shelter_types = forms.MultipleChoiceField(
        label=_("Shelters that take people in"),
        choices=ShelterType.choices,
        initial=[ShelterType.PERSONNEL],
        widget=forms.CheckboxSelectMultiple,
    )
    leave_out_conditions = forms.MultipleChoiceField(
        label=_("What if shelters in this condition are left out"),
        choices=Condition.choices,
        initial=[Condition.POOR],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    # Quoted: Django's field classes take no type arguments at run time.
    leave_out_shelters: "forms.ModelMultipleChoiceField[Shelter]" = forms.ModelMultipleChoiceField(
        label=_("… and these shelters"), queryset=None, required=False
    )
    population_source = forms.ChoiceField(label=_("Population"), required=False)
    sites = forms.IntegerField(
        label=_("New sites to recommend"), min_value=0, max_value=50, initial=5
    )
    candidate_points = forms.CharField(
        label=_("Candidate sites (longitude, latitude per line; empty: basements of buildings on state-held parcels without a shelter)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["leave_out_shelters"].queryset = shelters_visible_to(user=user).filter(
            valid_to__isnull=True
        )
        self.fields["population_source"].choices = [("", _("all cells"))] + [
            (grid, grid) for grid in population_grids() if grid
        ]

    def clean_candidate_points(self) -> list[list[float]]:
        points = []
        for number, line in enumerate(self.cleaned_data["candidate_points"].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                lon, lat = (float(part) for part in line.replace(",", " ").split())
            except ValueError:
                raise forms.ValidationError(
                    _("line %(n)s: give a longitude and a latitude, e.g. 24.94, 60.17"),
                    params={"n": number},
                ) from None
            points.append([lon, lat])
        return points

    def options(self) -> CoverageOptions:
        data = self.cleaned_data
        return CoverageOptions(
            mode=data["mode"],
            shelter_types=data["shelter_types"],
            leave_out_conditions=data["leave_out_conditions"],
            leave_out_shelters=[shelter.pk for shelter in data["leave_out_shelters"]],
            population_source=data["population_source"] or "",
            sites=data["sites"] or 0,
            candidate_points=data["candidate_points"],
        )


@login_required
@permission_required("gis_layers.view_coveragerun", raise_exception=True)
@require_http_methods(["GET", "POST"])
def coverage(request):
    """The runs the user may see and a form to start one."""
    form = CoverageForm(_posted(request), user=request.user)
    if request.method == "POST":
        if not request.user.has_perm("gis_layers.add_coveragerun"):
            return HttpResponse(_("Your role may not start coverage runs."), status=403)
        if form.is_valid():
            try:
                run = start_run(user=request.user, options=form.options())
            except CoverageError as error:
                form.add_error(None, str(error))
            else:
                start_in_background(run)
                return redirect("coverage_run", pk=run.pk)
    runs = runs_visible_to(user=request.user)[:20]
    page = {"form": form, "runs": runs}
    if request.user.has_perm("gis_layers.add_coveragerun"):
        config = map_config(request.user, visible={"shelters", "buildings"})
        config["pickInto"] = "id_candidate_points"
        page["map"] = planner_map(config=config)
    return render(request, "gis_layers/coverage.html", page, status=_form_status(form))


def _visible_run(request, pk: int) -> CoverageRun:
    run = runs_visible_to(user=request.user).filter(pk=pk).first()
    if run is None:
        raise Http404("no such coverage run")
    return run


@login_required
@permission_required("gis_layers.view_coveragerun", raise_exception=True)
@require_GET
def coverage_run(request, pk: int):
    run = _visible_run(request, pk)
    page = report_context(run)
    if run.status == CoverageRun.Status.DONE:
        config = map_config(request.user, visible={"coverage", "catchments", "shelters"}, run=run)
        sites = (run.summary.get("siting") or {}).get("sites", [])
        config["sites"] = [[site["lat"], site["lon"]] for site in sites]
        config["legendTitle"] = gettext("Population cells")
        config["legend"] = [
            ["#d7191c", gettext("no shelter within reach")],
            ["#fdae61", gettext("shelters in reach short of places")],
            ["#1a9641", gettext("a place for everyone")],
            ["#ffeb3b", gettext("recommended new site")],
        ]
        page["map"] = planner_map(config=config)
    return render(request, "gis_layers/coverage_run.html", page)


@login_required
@permission_required("gis_layers.view_coveragerun", raise_exception=True)
@require_GET
def coverage_report(request, pk: int, fmt: str):
    run = _visible_run(request, pk)
    if fmt not in REPORT_TYPES:
        # Not Http404, whose message no visitor sees: this answer says what there is.
        return HttpResponse(
            gettext("No report in the format “%(fmt)s”: the formats are %(formats)s.")
            % {"fmt": fmt, "formats": ", ".join(REPORT_TYPES)},
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    if run.status != CoverageRun.Status.DONE:
        return HttpResponse(_("The run has not finished."), status=409)
    response = HttpResponse(render_report(run, fmt), content_type=REPORT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="coverage-{run.pk}.{fmt}"'
    return response
