from django.core.management.base import BaseCommand

from config.terminal import progress_bar
from gis_layers.demo.loader import DEMO_STEPS, load_demo


class Command(BaseCommand):
    help = (
        "Load the demo districts (Helsinki centre from OSM, Prague Bubeneč from momepy). "
        "Districts already loaded are skipped, so running it twice changes nothing."
    )

    def handle(self, *args, **options):
        with progress_bar(self.stderr, total=DEMO_STEPS, desc="load_demo", unit="step") as bar:

            def progress(step: str) -> None:
                bar.set_postfix_str(step)
                bar.update(1)

            reports = load_demo(progress=progress)
            bar.update(bar.total - bar.n)
        for report in reports:
            if report.skipped:
                self.stdout.write(f"{report.dataset}: already loaded, nothing changed")
                continue
            counts = ", ".join(f"{count} {name}" for name, count in report.counts.items())
            repaired = ", ".join(f"{name} {count}" for name, count in report.repaired.items())
            self.stdout.write(f"{report.dataset}: loaded {counts}")
            if repaired:
                self.stdout.write(f"  invalid geometries repaired (make_valid): {repaired}")
            dropped = ", ".join(
                f"{name} {count}" for name, count in report.dropped.items() if count
            )
            if dropped:
                self.stdout.write(f"  dropped: {dropped}")
        self.stdout.write(
            "Agencies, staff, shelters, office space, estimated floors and population are synthetic "
            "(seeded) and marked so in the data."
        )
