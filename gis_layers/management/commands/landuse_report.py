import csv
import io
import json
import pathlib

from django.core.management.base import BaseCommand
from django.template.loader import render_to_string

from gis_layers.landuse_report import landuse_report
from gis_layers.landuse_views import charts_for


class Command(BaseCommand):
    help = "Land by current use, planned use and holder type per district; conformity; under-used parcels."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["json", "csv", "html"], default="json")
        parser.add_argument(
            "--output", type=pathlib.Path, help="file to write (default: standard output)"
        )

    def handle(self, *args, format, output, **options):
        report = landuse_report()
        if format == "json":
            text = json.dumps(report, ensure_ascii=False, indent=2)
        elif format == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["district", "measure", "class", "area_m2"])
            for district in report["districts"]:
                for measure in ("by_current_use", "by_planned_use", "by_holder_type"):
                    for key, area in district[measure].items():
                        writer.writerow([district["code"], measure, key, area])
                for measure in ("conforming_m2", "nonconforming_m2", "no_plan_m2"):
                    writer.writerow([district["code"], measure, "", district[measure]])
            text = buffer.getvalue()
        else:
            districts = [
                {**district, "charts": charts_for(district)} for district in report["districts"]
            ]
            text = render_to_string("gis_layers/landuse.html", {"districts": districts})
        if output:
            output.write_text(text, encoding="utf-8")
            self.stdout.write(f"written: {output}")
        else:
            self.stdout.write(text)
