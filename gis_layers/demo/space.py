"""Synthetic office space for the demo: space blocks in the Helsinki centre's office
buildings, a few subordinate agencies, use allocations registered through the register's own
acts (lodged, examined, approved, journaled), and the agencies' own space records with a few
disagreements for the reconciliation to find. Everything made here is marked synthetic."""

import datetime
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.db.models import Q

from gis_layers.demo import synthetic
from gis_layers.demo.sources import HELSINKI
from gis_layers.demo.titles import DemoClerks
from gis_layers.models import DatasetLoad
from registry.models import (
    ActType,
    Agency,
    AgencySpaceRecord,
    Building,
    Party,
    PartyKind,
    RightKind,
    SecurityLevel,
    SpaceBlock,
    StaffEstablishment,
)
from registry.services.acts import title_of

DATASET = "demo_space"
ATTRIBUTION = (
    "Office space blocks, subordinate agencies, use allocations, agencies' space records and "
    "premises classifications: synthetic (seeded) demo data."
)
ALLOCATED_ON = datetime.date(2024, 1, 2)
RECORDED_ON = datetime.date(2025, 12, 31)
MIN_GROSS_FLOOR_AREA_M2 = 800.0
SOURCE = "synthetic: demo office space"
CAPS_2014 = {
    "minister": 54, "vice_minister": 42, "director_general": 24,
    "deputy_director_general": 18, "division": 12, "below_division": 9,
}  # fmt: skip


@dataclass
class SpaceReport:
    dataset: str = DATASET
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


def load_demo_space(*, progress=lambda step: None) -> SpaceReport:
    """Load the demo's office space once; a second run changes nothing."""
    if DatasetLoad.objects.filter(dataset=DATASET).exists():
        return SpaceReport(skipped=True)
    rng = np.random.default_rng(synthetic.SEED + 4)
    progress("demo office space: blocks and subordinate agencies (synthetic)")
    with transaction.atomic():
        buildings = _office_buildings()
        if not buildings:
            return SpaceReport(skipped=True)
        blocks = _write_blocks(buildings, rng)
        children = _subordinate_agencies(rng)
        classified = _classify_premises(buildings, rng)
    progress("demo office space: use allocations registered as acts")
    plan = _allocation_plan(buildings, blocks, rng)
    clerks = DemoClerks()
    for building, entries in plan.items():
        title = title_of(building)
        if title.rights.filter(kind=RightKind.USE_ALLOCATION, valid_to__isnull=True).exists():
            continue
        clerks.register(
            ActType.ALLOCATION,
            [title],
            {
                "allocations": [
                    {"party": agency.pk, "blocks": [block.pk for block in chosen]}
                    for agency, chosen in entries
                ],
                "description": "demo allocation (synthetic)",
            },
            ALLOCATED_ON,
        )
    records = _agency_records(plan, rng)
    report = SpaceReport(
        counts={
            "office_buildings": len(buildings),
            "space_blocks": sum(len(b) for b in blocks.values()),
            "subordinate_agencies": children,
            "allocation_acts": clerks.registered,
            "agency_records": records,
            "classified_premises": classified,
        }
    )
    DatasetLoad.objects.create(
        dataset=DATASET, version="1", counts=report.counts, attribution=ATTRIBUTION
    )
    return report


def _office_buildings() -> list[Building]:
    seats = Agency.objects.filter(seat_building__isnull=False).values_list(
        "seat_building_id", flat=True
    )
    return list(
        Building.objects.filter(
            valid_to__isnull=True,
            parcel__district__code=HELSINKI.division_code,
            gross_floor_area_m2__gte=MIN_GROSS_FLOOR_AREA_M2,
        )
        .filter(Q(use="office") | Q(pk__in=seats))
        .order_by("id")
    )


def _write_blocks(buildings: list[Building], rng: np.random.Generator) -> dict[int, list]:
    """Blocks per building; a building that already has blocks keeps them."""
    result = {}
    for building in buildings:
        existing = list(SpaceBlock.objects.filter(building=building).order_by("floor", "label"))
        # Drawn even when the blocks exist, so that the draws after it stay the same.
        public_shelter = (
            building.shelters.exists()
            and not building.shelters.filter(classification__gt=SecurityLevel.PUBLIC).exists()
        )
        # _office_buildings() selects only buildings with a floor area above the minimum.
        assert building.gross_floor_area_m2 is not None
        specs = synthetic.space_blocks(
            building.gross_floor_area_m2,
            building.floors_above or 1,
            rng,
            civil_defence=public_shelter,
        )
        if existing:
            result[building.pk] = existing
            continue
        result[building.pk] = SpaceBlock.objects.bulk_create(
            [
                SpaceBlock(
                    building=building,
                    valid_from=building.valid_from,
                    is_synthetic=True,
                    source=SOURCE,
                    **spec,
                )
                for spec in specs
            ]
        )
    # Two rooms were never surveyed: the page names them rather than counting them as zero.
    unsurveyed = [blocks[-1] for blocks in list(result.values())[:2] if blocks]
    for block in unsurveyed:
        if block.kind != "office" and block.area_m2 is not None:
            block.area_m2 = None
            block.save(update_fields=["area_m2"])
    return result


def _subordinate_agencies(rng: np.random.Generator) -> int:
    """Bureaus under some of the seated agencies, housed in their parent's seat; one of them
    without staff figures yet."""
    parents = list(
        Agency.objects.filter(seat_building__isnull=False, parent__isnull=False)
        .select_related("party")
        .order_by("party_id")
    )
    made = 0
    for number, parent in enumerate(parents[:6], start=1):
        party, created = Party.objects.get_or_create(
            kind=PartyKind.AGENCY,
            name=f"{parent.party.name}: bureau {number} (demo)",
            defaults={"is_synthetic": True, "source": "synthetic subordinate agency"},
        )
        staff = synthetic.staff_establishment(rng, ministerial=False)
        if not created:
            continue
        agency = Agency.objects.create(
            party=party,
            parent=parent,
            level=parent.level,
            seat_building=parent.seat_building,
            clearance=parent.clearance,
        )
        if number != 3:
            StaffEstablishment.objects.bulk_create(
                [
                    StaffEstablishment(
                        agency=agency, rank=rank, headcount=max(count // 3, 1), is_synthetic=True
                    )
                    for rank, count in staff.items()
                    if rank not in ("minister", "vice_minister")
                ]
            )
        made += 1
    return made


def _classify_premises(buildings: list[Building], rng: np.random.Generator) -> int:
    """One office building that is no public agency's seat becomes secret premises."""
    public_seats = set(
        Agency.objects.filter(clearance=SecurityLevel.PUBLIC).values_list(
            "seat_building_id", flat=True
        )
    )
    candidates = [b for b in buildings if b.pk not in public_seats]
    if not candidates:
        return 0
    chosen = candidates[int(rng.integers(len(candidates)))]
    Building.objects.filter(pk=chosen.pk).update(premises_classification=SecurityLevel.SECRET)
    return 1


def _entitlement(agency: Agency) -> float:
    return float(sum(CAPS_2014[row.rank] * row.headcount for row in agency.establishment.all()))


def _allocation_plan(
    buildings: list[Building], blocks: dict[int, list], rng: np.random.Generator
) -> dict[Building, list[tuple[Agency, list[SpaceBlock]]]]:
    """Who holds which blocks: each seated agency takes office blocks of its seat building
    up to its entitlement times a factor between 0.6 and 1.6 (some end up over the standard,
    some below it), its bureaus next; the head agency also takes the service, equipment and
    ancillary space. The rest stays vacant."""
    by_id = {building.pk: building for building in buildings}
    agencies = (
        Agency.objects.filter(seat_building_id__in=by_id)
        .select_related("party")
        .prefetch_related("establishment")
        .order_by("parent_id", "party_id")
    )
    plan: dict[Building, list[tuple[Agency, list[SpaceBlock]]]] = {}
    free = {pk: [b for b in blocks[pk] if b.area_m2 is not None] for pk in blocks}
    for agency in agencies:
        # The query selects agencies by their seat building.
        assert agency.seat_building_id is not None
        building = by_id[agency.seat_building_id]
        factor = float(rng.uniform(0.6, 1.6))
        target = _entitlement(agency) * factor
        taken, area = [], 0.0
        for block in list(free[building.pk]):
            if block.kind != "office" or area >= target:
                continue
            use = block.area_m2 * (synthetic.USE_COEFFICIENT if block.area_basis == "gross" else 1)
            taken.append(block)
            area += use
            free[building.pk].remove(block)
        if not plan.get(building):
            extras = [b for b in free[building.pk] if b.kind != "office"]
            taken += extras
            for block in extras:
                free[building.pk].remove(block)
        if taken:
            plan.setdefault(building, []).append((agency, taken))
    return plan


def _agency_records(plan: dict, rng: np.random.Generator) -> int:
    """Each agency's own record of its space per building: the register's figure, except a
    few that disagree, one that is missing and one for a building it holds nothing in."""
    rows = []
    entries = [(building, agency, chosen) for building, items in plan.items()
               for agency, chosen in items]  # fmt: skip
    for number, (building, agency, chosen) in enumerate(entries):
        area = sum(
            b.area_m2 * (synthetic.USE_COEFFICIENT if b.area_basis == "gross" else 1)
            for b in chosen
        )
        if number == 1:
            continue  # never reported
        if number in (2, 5):
            area *= float(rng.uniform(0.7, 0.85))  # an out-of-date record
        rows.append((agency, building, round(area, 1)))
    if len(entries) > 3 and entries[-1][0] != entries[0][0]:
        rows.append((entries[0][1], entries[-1][0], 120.0))
    for agency, building, area in rows:
        AgencySpaceRecord.objects.get_or_create(
            agency=agency,
            building=building,
            recorded_on=RECORDED_ON,
            defaults={"area_m2": area, "is_synthetic": True, "source": "synthetic agency return"},
        )
    return len(rows)
