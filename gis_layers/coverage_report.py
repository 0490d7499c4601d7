"""A coverage run as a report: JSON, CSV and HTML, the same for the command and the page."""

import csv
import io
import json

from django.template.loader import render_to_string
from django.utils.translation import gettext, gettext_lazy

from gis_layers.charts import bar_chart
from gis_layers.coverage import PERIODS
from gis_layers.models import CoverageRun

MEASURES = [
    (gettext_lazy("within reach"), "within_reach"),
    (gettext_lazy("with a place"), "with_place"),
    (gettext_lazy("uncovered"), "uncovered"),
]
COVERAGE_COLOURS = {"within_reach": "#2b83ba", "with_place": "#1a9641", "uncovered": "#d7191c"}


def report_data(run: CoverageRun) -> dict:
    """The run's parameters and summary, with each shelter's catchment and load."""
    shelters = [
        {
            "shelter": row.shelter_id,
            "places": row.places,
            "radius_m": row.radius_m,
            "catchment_night": row.catchment_night,
            "catchment_day": row.catchment_day,
            "load_night": row.load_night,
            "load_day": row.load_day,
        }
        for row in run.shelters.order_by("shelter_id")
    ]
    return {
        "run": run.pk,
        "status": run.status,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "parameters": run.parameters,
        **run.summary,
        "shelters": shelters,
    }


def report_csv(run: CoverageRun) -> str:
    """One row per scenario, period and district: persons in all, within reach, with a place
    and uncovered."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = ["population", "within_reach", "with_place", "uncovered"]
    writer.writerow(["scenario", "period", "district", *columns])
    scenarios = [("all shelters", run.summary.get("totals") or {})]
    if run.summary.get("what_if"):
        scenarios.append(("without the shelters left out", run.summary["what_if"]["totals"]))
    for scenario, totals in scenarios:
        for period in PERIODS:
            for row in totals.get(period, []):
                writer.writerow(
                    [scenario, period, row["district"], *(round(row[c], 1) for c in columns)]
                )
    return buffer.getvalue()


def charts(run: CoverageRun) -> dict:
    """Per period, bars of persons within reach, with a place and uncovered by district."""
    result = {}
    for period, rows in (run.summary.get("totals") or {}).items():
        items = [
            (f"{measure} · {row['district']}", row[key], key)
            for row in rows
            if row["district"] != "all"
            for measure, key in MEASURES
        ]
        result[period] = bar_chart(items, unit=gettext("persons"), colours=COVERAGE_COLOURS)
    return result


def context(run: CoverageRun) -> dict:
    summary = run.summary or {}
    what_if = summary.get("what_if")
    drops = {}
    if what_if:
        for period, rows in summary["totals"].items():
            after = {row["district"]: row for row in what_if["totals"][period]}
            drops[period] = [
                {
                    "district": row["district"],
                    "within_reach": row["within_reach"] - after[row["district"]]["within_reach"],
                    "with_place": row["with_place"] - after[row["district"]]["with_place"],
                }
                for row in rows
            ]
    return {"run": run, "summary": summary, "charts": charts(run), "drops": drops}


def report_html(run: CoverageRun) -> str:
    return render_to_string("gis_layers/coverage_report.html", context(run))


def render_report(run: CoverageRun, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report_data(run), ensure_ascii=False, indent=2)
    if fmt == "csv":
        return report_csv(run)
    return report_html(run)
