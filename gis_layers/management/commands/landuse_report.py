import csv
import io
import json

from django.core.management.base import BaseCommand
from django.template.loader import render_to_string

from gis_layers.landuse_report import landuse_report
from gis_layers.landuse_views import for_page
from gis_layers.management.reports import add_report_arguments, write_report


class Command(BaseCommand):
    help = "Land by current use, planned use and holder type per district; conformity; under-used parcels."

    def add_arguments(self, parser):
        add_report_arguments(parser)

    def handle(self, *args, format, output, **options):
        report = landuse_report()
        if format == "json":
            text = json.dumps(report, ensure_ascii=False, indent=2)
        elif format == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            # One row per figure: the area, and for the conformity table by class also the
            # parcels and (for the non-conforming part) the percent of the planned area.
            writer.writerow(["district", "measure", "class", "area_m2", "parcels", "percent"])
            for district in report["districts"]:
                code = district["code"]
                for measure in ("by_current_use", "by_planned_use", "by_holder_type"):
                    for key, area in district[measure].items():
                        writer.writerow([code, measure, key, area, "", ""])
                for measure in ("conforming_m2", "nonconforming_m2", "no_plan_m2"):
                    writer.writerow([code, measure, "", district[measure], "", ""])
                for row in district["conformity_by_class"]:
                    writer.writerow(
                        [
                            code,
                            "conformity_by_class.all",
                            row["class"],
                            row["area_m2"],
                            row["parcels"],
                            "",
                        ]
                    )
                    for part in ("conforming", "nonconforming", "no_plan"):
                        percent = row["nonconforming_pct"] if part == "nonconforming" else None
                        writer.writerow(
                            [
                                code,
                                f"conformity_by_class.{part}",
                                row["class"],
                                row[f"{part}_m2"],
                                row[f"{part}_parcels"],
                                "" if percent is None else percent,
                            ]
                        )
            text = buffer.getvalue()
        else:
            districts = [for_page(district) for district in report["districts"]]
            text = render_to_string("gis_layers/landuse.html", {"districts": districts})
        write_report(self.stdout, text, output)
