"""Synthetic titles for the demo parcels, registered through the register's own services so
that every one has its acts, journal entries and certificates.

Government parcels get the State's ownership and a land-use right allocated (划拨) to the
agency seated there; a seeded sample of other parcels gets granted (出让) rights held by
made-up persons and enterprises, and a little history: transfers, mortgages, a seizure, an
objection and one parcel split. All parties are marked synthetic.
"""

import datetime
from dataclasses import dataclass, field

import numpy as np
from django.contrib.gis.geos import Polygon

from gis_layers.demo.synthetic import SEED
from gis_layers.models import DatasetLoad
from registry.models import Agency, Parcel, Party, PartyKind, RightKind
from registry.roles import Role
from registry.services.acts import approve_act, examine_act, lodge_act, title_of
from registry.services.users import create_user_with_role

DATASET = "demo_titles"
ATTRIBUTION = "Titles, parties and registration history: synthetic (seeded) demo data."
SAMPLE_OF_OTHER_PARCELS = 40
FIRST_REGISTRATION = datetime.date(2021, 1, 4)


@dataclass
class TitlesReport:
    dataset: str = DATASET
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


class DemoClerks:
    """The demo's registration office: one clerk lodges and examines, another approves."""

    def __init__(self):
        # Service accounts without a password: their names stand on the demo acts.
        self.clerk = create_user_with_role(
            username="demo-registration-clerk", password=None, role=Role.REGISTRAR
        )
        self.supervisor = create_user_with_role(
            username="demo-registration-supervisor", password=None, role=Role.SUPERVISOR
        )
        self.registered = 0

    def register(self, act_type: str, titles, payload: dict, on: datetime.date) -> None:
        for title in titles:
            title.refresh_from_db()
        act = lodge_act(
            act_type=act_type,
            titles=titles,
            payload=payload,
            effective_date=on,
            lodged_by=self.clerk,
        )
        examine_act(act=act, examiner=self.clerk, note="demo")
        approve_act(act=act, approver=self.supervisor)
        self.registered += 1


def _party(kind: str, name: str) -> Party:
    party, _ = Party.objects.get_or_create(
        kind=kind, name=name, defaults={"is_synthetic": True, "source": "synthetic demo party"}
    )
    return party


def _holders(party: Party) -> dict:
    return {"holders": [{"party": party.pk, "parts": 1}], "share_denominator": 1}


def _day(rng: np.random.Generator, start: datetime.date, spread_days: int) -> datetime.date:
    return start + datetime.timedelta(days=int(rng.integers(1, spread_days)))


def load_demo_titles(*, progress=lambda step: None) -> TitlesReport:
    """Register the demo titles once; a second run changes nothing."""
    if DatasetLoad.objects.filter(dataset=DATASET).exists():
        return TitlesReport(skipped=True)
    rng = np.random.default_rng(SEED + 2)
    clerks = DemoClerks()
    state = _party(PartyKind.STATE, "The State 国家 (demo)")
    people = [_party(PartyKind.PERSON, f"Demo person {n}") for n in range(1, 9)]
    companies = [_party(PartyKind.ENTERPRISE, f"Demo enterprise {n} Ltd") for n in range(1, 5)]
    banks = [_party(PartyKind.ENTERPRISE, name) for name in ("Demo Bank A", "Demo Bank B")]
    court = _party(PartyKind.ENTERPRISE, "Demo District People's Court")

    seats: dict[int, Party] = {}
    for agency in Agency.objects.filter(seat_building__parcel__isnull=False).select_related(
        "party", "seat_building"
    ):
        # The filter keeps only agencies seated in a building on a parcel.
        assert agency.seat_building is not None and agency.seat_building.parcel_id is not None
        seats[agency.seat_building.parcel_id] = agency.party
    others = list(
        Parcel.objects.filter(valid_to__isnull=True)
        .exclude(pk__in=seats)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    sample = sorted(
        rng.choice(others, size=min(SAMPLE_OF_OTHER_PARCELS, len(others)), replace=False).tolist()
    )
    progress("demo titles: first registrations")
    granted = []
    for parcel in Parcel.objects.filter(pk__in=[*seats, *sample]).order_by("id"):
        title = title_of(parcel)
        if title.rights.exists():
            continue
        clerks.register(
            "first",
            [title],
            {"right": {"kind": RightKind.STATE_OWNERSHIP, **_holders(state)}},
            FIRST_REGISTRATION,
        )
        if parcel.pk in seats:
            right = {
                "kind": RightKind.LAND_USE_RIGHT,
                "land_use_right_type": "allocated",
                **_holders(seats[parcel.pk]),
            }
        else:
            holder = (
                people[int(rng.integers(len(people)))]
                if rng.random() < 0.6
                else companies[int(rng.integers(len(companies)))]
            )
            right = {
                "kind": RightKind.LAND_USE_RIGHT,
                "land_use_right_type": "granted",
                "term_end": "2071-01-03",
                **_holders(holder),
            }
            granted.append((title, holder))
        clerks.register("first", [title], {"right": right}, _day(rng, FIRST_REGISTRATION, 30))

    progress("demo titles: transfers, mortgages, a seizure, an objection, a split")
    for title, holder in granted[:8]:
        buyer = (
            companies[int(rng.integers(len(companies)))]
            if holder.kind == PartyKind.PERSON
            else people[int(rng.integers(len(people)))]
        )
        land_use_right = title.rights.get(kind=RightKind.LAND_USE_RIGHT, valid_to__isnull=True)
        clerks.register(
            "transfer",
            [title],
            {"right": land_use_right.pk, "transferors": [holder.pk], **_holders(buyer)},
            _day(rng, datetime.date(2022, 1, 1), 700),
        )
    for number, (title, _) in enumerate(granted[8:12]):
        clerks.register(
            "first",
            [title],
            {
                "right": {
                    "kind": RightKind.MORTGAGE,
                    "amount": str(1_000_000 * (number + 1)),
                    "rank": 1,
                    **_holders(banks[number % 2]),
                }
            },
            _day(rng, datetime.date(2023, 1, 1), 300),
        )
    if len(granted) > 14:
        clerks.register(
            "seizure",
            [granted[12][0]],
            {**_holders(court), "description": "(2024)赫0101执0042号 (demo)"},
            datetime.date(2024, 9, 2),
        )
        clerks.register(
            "objection",
            [granted[13][0]],
            {**_holders(people[0]), "description": "boundary disputed by neighbour (demo)"},
            datetime.date(2024, 10, 15),
        )
        _split_in_halves(clerks, granted[14][0], datetime.date(2025, 3, 3))
    report = TitlesReport(counts={"acts": clerks.registered, "titles": len(seats) + len(sample)})
    DatasetLoad.objects.create(
        dataset=DATASET, version="1", counts=report.counts, attribution=ATTRIBUTION
    )
    return report


def _split_in_halves(clerks: DemoClerks, title, on: datetime.date) -> None:
    """Split a parcel along the meridian through its centroid."""
    parcel = title.parcel
    x_min, y_min, x_max, y_max = parcel.geom.extent
    middle = parcel.geom.centroid.x
    halves = [
        parcel.geom.intersection(Polygon.from_bbox(box))
        for box in (
            (x_min - 1, y_min - 1, middle, y_max + 1),
            (middle, y_min - 1, x_max + 1, y_max + 1),
        )
    ]
    children = [{"geometry": half.geojson, "land_use": parcel.land_use_id} for half in halves]
    clerks.register("split", [title], {"children": children}, on)
