"""Compute the land-use report and the office-space report (at every clearance users hold)
where the register changed since they were kept, so that the next planner to open
``/landuse/`` or ``/space/`` does not wait for them: about a minute each with a million
parcels. Run it after loading data, and every few minutes from a scheduler; when nothing
changed it only looks."""

import time

from django.core.management.base import BaseCommand

from gis_layers.landuse_report import cached_landuse_report
from gis_layers.space_report import SpaceInputError, cached_space_report
from registry.models import Clearance, SecurityLevel


def clearances_in_use() -> list[int]:
    """Every clearance a user may hold: public (users without one), those granted, and the
    highest (superusers)."""
    granted = set(Clearance.objects.values_list("level", flat=True).distinct())
    return sorted({SecurityLevel.PUBLIC, SecurityLevel.CONFIDENTIAL, *granted})


class Command(BaseCommand):
    help = (
        "Compute the land-use and office-space reports that the register changed under, and "
        "keep them for /landuse/ and /space/."
    )

    def handle(self, *args, **options):
        started = time.perf_counter()
        cached_landuse_report()
        self.stdout.write(f"land use: ready ({time.perf_counter() - started:.1f} s)")
        for clearance in clearances_in_use():
            started = time.perf_counter()
            label = SecurityLevel(clearance).label
            try:
                cached_space_report(clearance=clearance)
            except SpaceInputError as error:  # no standard in force: the page says the same
                self.stdout.write(f"office space at clearance {label}: not computed: {error}")
                continue
            self.stdout.write(
                f"office space at clearance {label}: ready ({time.perf_counter() - started:.1f} s)"
            )
