from django.core.management.base import BaseCommand, CommandError

from config.terminal import progress_bar
from gis_layers.coverage import MODES, CoverageError, CoverageOptions, execute_run, start_run
from gis_layers.coverage_report import render_report
from gis_layers.management.reports import add_report_arguments, write_report
from gis_layers.models import CoverageRun
from registry.models import Condition, SecurityLevel, ShelterType

LEVELS = {level.name.lower(): level.value for level in SecurityLevel}


class Command(BaseCommand):
    help = (
        "Who can reach a shelter with room for them, night and day, by district; what leaving "
        "shelters out would cost; where new shelters would cover the most people."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--mode",
            choices=MODES,
            default="straight",
            help="straight-line distance, or walking along the street network",
        )
        parser.add_argument(
            "--types",
            nargs="+",
            choices=ShelterType.values,
            default=[ShelterType.PERSONNEL],
            help="shelter types that take people in",
        )
        parser.add_argument(
            "--leave-out-condition",
            nargs="*",
            choices=Condition.values,
            default=[Condition.POOR],
            help="what-if: leave out shelters in this condition",
        )
        parser.add_argument(
            "--leave-out",
            nargs="*",
            type=int,
            default=[],
            metavar="SHELTER_ID",
            help="what-if: leave out these shelters",
        )
        parser.add_argument("--population-source", default="", help="only cells from this source")
        parser.add_argument("--sites", type=int, default=0, help="recommend this many new sites")
        parser.add_argument("--area-per-person", type=float, default=0.0, help="m² per person")
        parser.add_argument(
            "--personnel-radius",
            type=float,
            default=0.0,
            metavar="M",
            help="service radius of personnel shelters in metres (default: configured, 200)",
        )
        parser.add_argument(
            "--other-radius",
            type=float,
            default=0.0,
            metavar="M",
            help="service radius of the other shelter types in metres (default: configured, 500)",
        )
        parser.add_argument(
            "--decay",
            type=float,
            nargs=3,
            default=[],
            metavar=("FIRST", "SECOND", "THIRD"),
            help="E2SFCA weights over the thirds of the radius (default: configured, 1 0.68 0.22)",
        )
        parser.add_argument(
            "--clearance",
            choices=list(LEVELS),
            default="public",
            help="include classified shelters up to this level (default: public only)",
        )
        add_report_arguments(parser)

    def handle(self, *args, **options):
        try:
            run = start_run(
                user=None,
                clearance=LEVELS[options["clearance"]],
                options=CoverageOptions(
                    mode=options["mode"],
                    shelter_types=options["types"],
                    leave_out_conditions=options["leave_out_condition"],
                    leave_out_shelters=options["leave_out"],
                    population_source=options["population_source"],
                    sites=options["sites"],
                    area_per_person_m2=options["area_per_person"],
                    personnel_radius_m=options["personnel_radius"],
                    other_radius_m=options["other_radius"],
                    decay=options["decay"],
                ),
            )
        except CoverageError as error:
            raise CommandError(str(error)) from error
        with progress_bar(self.stderr, total=100, unit="%", desc="coverage") as bar:

            def step(done: float, message: str) -> None:
                bar.set_postfix_str(message)
                bar.update(round(done * 100) - bar.n)

            run = execute_run(run.pk, step=step)
            bar.update(100 - bar.n)
        if run.status != CoverageRun.Status.DONE:
            raise CommandError(f"coverage run {run.pk} failed: {run.message}")
        text = render_report(run, options["format"])
        write_report(self.stdout, text, options["output"])
