"""Synthetic inspection histories for the demo's shelters (seeded), so that the inventory's
share in good order and its overdue list have something to show."""

import datetime

import numpy as np
from django.db import transaction

from gis_layers.models import DatasetLoad
from registry.models import Condition, Shelter, ShelterInspection

DATASET = "demo_inspections"
SEED = 20260107
INSPECTORS = ["Civil-defence office, inspection team 1", "Civil-defence office, inspection team 2"]
FINDINGS = {
    Condition.GOOD: "Doors, seals and ventilation in order.",
    Condition.FAIR: "Minor seepage at the entrance; ventilation filters due for replacement.",
    Condition.POOR: "Blast door seal perished; standing water in the plant room.",
    Condition.DANGEROUS: "Structural cracking in the roof slab; closed to the public.",
}


def load_demo_inspections(*, progress=lambda step: None):
    from gis_layers.demo.titles import TitlesReport  # the same report shape

    if DatasetLoad.objects.filter(dataset=DATASET).exists():
        return TitlesReport(dataset=DATASET, skipped=True)
    progress("demo inspections: synthetic histories")
    rng = np.random.default_rng(SEED)
    # Dated back from the day of loading: one shelter in five is overdue (last seen more
    # than a year ago), the rest were seen within the year.
    today = datetime.date.today()
    records = []
    for shelter in Shelter.objects.filter(is_synthetic=True).order_by("id"):
        last = int(rng.integers(400, 700)) if rng.random() < 0.2 else int(rng.integers(10, 330))
        earlier = [
            last + int(rng.integers(300, 420)) * step for step in range(1, int(rng.integers(1, 3)))
        ]
        for index, days_ago in enumerate([last, *earlier]):
            records.append(
                ShelterInspection(
                    shelter=shelter,
                    inspected_on=today - datetime.timedelta(days=days_ago),
                    inspector=INSPECTORS[index % 2],
                    # The latest inspection found the shelter as it is recorded; earlier
                    # ones found it in good order.
                    condition=shelter.condition if index == 0 else Condition.GOOD,
                    findings=FINDINGS[shelter.condition if index == 0 else Condition.GOOD],
                )
            )
    with transaction.atomic():
        ShelterInspection.objects.bulk_create(records)
        DatasetLoad.objects.create(
            dataset=DATASET,
            version="1",
            counts={"inspections": len(records)},
            attribution="Shelter inspections: synthetic demo data.",
        )
    return TitlesReport(dataset=DATASET, counts={"inspections": len(records)})
