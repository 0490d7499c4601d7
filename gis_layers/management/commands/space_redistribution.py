import datetime

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gis_layers.management.commands.shelter_coverage import LEVELS
from gis_layers.management.reports import add_report_arguments, write_report
from gis_layers.space_report import SpaceInputError, lodge_plan, plan_settings, space_report
from gis_layers.space_views import export_text
from gis_layers.wording import space_report_in_reader_language
from registry.errors import RegisterError


def _new_building(value: str) -> dict:
    parts = value.split(",")
    try:
        lon, lat, area = (float(part) for part in parts[:3])
        level = int(parts[3]) if len(parts) > 3 else 0
    except ValueError as error:
        raise CommandError(
            f"--new-building {value!r}: give LON,LAT,AREA_M2[,CLASSIFICATION], e.g. "
            "24.94,60.17,3000"
        ) from error
    if len(parts) < 3 or len(parts) > 4:
        raise CommandError(f"--new-building {value!r}: give LON,LAT,AREA_M2[,CLASSIFICATION]")
    return {"lon": lon, "lat": lat, "use_area_m2": area, "premises_classification": level}


class Command(BaseCommand):
    help = (
        "Office space against the standard and the redistribution plan (idle and reclaimed "
        "over-standard space to agencies below it); optionally the build-new-hand-back-old "
        "scenario, and lodging the plan as use-allocation acts."
    )

    def add_arguments(self, parser):
        add_report_arguments(parser)
        parser.add_argument(
            "--standard",
            type=int,
            help="id of the standard in force (the default; superseded ones are refused)",
        )
        parser.add_argument("--max-distance", type=float, help="metres from an agency's seat")
        parser.add_argument("--split-penalty", type=float, help="metres per extra building")
        parser.add_argument(
            "--new-building", help="LON,LAT,AREA_M2[,CLASSIFICATION]: the scenario's building"
        )
        parser.add_argument(
            "--clearance",
            choices=list(LEVELS),
            help="count civil-defence space of shelters classified up to this level (default: "
            "public only; with --lodge-as, that user's clearance)",
        )
        parser.add_argument(
            "--lodge-as", metavar="USERNAME", help="lodge the plan as use-allocation acts"
        )
        parser.add_argument(
            "--effective-date", type=datetime.date.fromisoformat, help="YYYY-MM-DD (default today)"
        )

    def handle(self, *args, **options):
        for name in ("max_distance", "split_penalty"):
            if options[name] is not None and options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} must not be negative")
        settings = plan_settings(
            max_distance_m=options["max_distance"], split_penalty_m=options["split_penalty"]
        )
        lodger = None
        if options["lodge_as"]:
            if options["clearance"]:
                raise CommandError(
                    "--clearance with --lodge-as: the plan is lodged at the user's clearance"
                )
            lodger = get_user_model().objects.filter(username=options["lodge_as"]).first()
            if lodger is None:
                raise CommandError(f"--lodge-as: no user {options['lodge_as']!r}")
        try:
            # The report shows the plan that is lodged: the lodging user's, when there is one.
            report = space_report(
                user=lodger,
                clearance=LEVELS[options["clearance"] or "public"],
                standard_id=options["standard"],
                settings=settings,
                new_building=_new_building(options["new_building"])
                if options["new_building"]
                else None,
            )
        except SpaceInputError as error:
            raise CommandError(str(error)) from error
        report = space_report_in_reader_language(report)
        text = export_text(report, options["format"])
        write_report(self.stdout, text, options["output"])
        plan = report["plan"]
        if plan["reasons"]:
            raise CommandError("no feasible plan: " + " ".join(plan["reasons"]))
        if lodger is not None:
            try:
                acts = lodge_plan(
                    user=lodger,
                    effective_date=options["effective_date"] or datetime.date.today(),
                    standard_id=options["standard"],
                    settings=settings,
                )
            except (SpaceInputError, RegisterError) as error:
                raise CommandError(str(error)) from error
            self.stderr.write(
                f"lodged {len(acts)} use-allocation acts: {', '.join(a.number for a in acts)}"
            )
