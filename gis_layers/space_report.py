"""The office-space report and redistribution plan: loads the register's use allocations,
the space inventory, the agencies and their records, and one standard version, and runs
:mod:`gis_layers.analysis.space` and :mod:`gis_layers.analysis.redistribution` on them.
Shared by ``/space/``, its exports and ``manage.py space_redistribution``; lodging the
plan turns it into use-allocation acts through the register's own services."""

import dataclasses
import datetime
from dataclasses import dataclass

import pandas as pd
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext as _
from pyproj import CRS, Transformer

from gis_layers.analysis.redistribution import (
    NewBuilding,
    Plan,
    PlanSettings,
    allocation_changes,
    new_building_scenario,
    redistribution_plan,
)
from gis_layers.analysis.sentences import Sentence
from gis_layers.analysis.space import (
    Standard,
    StandardMismatch,
    agency_balance,
    building_vacancy,
    input_problems,
    reconcile,
    rollup,
)
from gis_layers.metric import metric_epsg
from gis_layers.report_cache import cache_key, cached_report
from gis_layers.wording import in_reader_language
from registry.errors import RegisterError
from registry.models import (
    ActStatus,
    ActType,
    Building,
    OfficeSpaceStandard,
    RegistrationAct,
    Title,
)
from registry.selectors import clearance_of, space_blocks_hidden_from
from registry.services.acts import lodge_act, record_audit, title_of

STORAGE_SRID = 4490
# Every table the report reads (for gis_layers.report_cache; the clearance is read per request).
INPUTS = (
    "registry_agency",
    "registry_agencyspacerecord",
    "registry_allocatedblock",
    "registry_building",
    "registry_officespacecap",
    "registry_officespacestandard",
    "registry_party",
    "registry_right",
    "registry_rightholder",
    "registry_shelter",
    "registry_spaceblock",
    "registry_staffestablishment",
    "registry_title",
)


class SpaceInputError(ValueError):
    """The inputs cannot give a figure (no standard in force, a rank without a cap...)."""


@dataclass
class SpaceInputs:
    """Everything the analysis reads, as frames (see :mod:`gis_layers.analysis.space`)."""

    standard: Standard
    standard_id: int
    agencies: pd.DataFrame
    staff: pd.DataFrame
    blocks: pd.DataFrame
    allocations: pd.DataFrame  # current blocks of current rights held by agencies
    rights: pd.DataFrame
    allocated: pd.DataFrame  # every block every current right lists, for the reconciliation
    buildings: pd.DataFrame
    records: pd.DataFrame
    crs: CRS


def _rows(sql: str, params=()) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def load_standard(standard_id: int | None = None) -> tuple[Standard, int]:
    """The standard in force, whole: never a mixture. One asked for by its id must be that
    one: superseded versions are kept for history only, and the 1999 standard's lower caps
    (处级 9, 处以下 6 m²) must not be used in a computation (DESIGN.md §6)."""
    standards = OfficeSpaceStandard.objects.prefetch_related("caps")
    chosen = (
        standards.filter(pk=standard_id).first()
        if standard_id is not None
        else standards.filter(in_force=True).first()
    )
    if chosen is None:
        raise SpaceInputError(
            _("No office-space standard %(id)s exists.") % {"id": standard_id}
            if standard_id is not None
            else _("No office-space standard is in force: mark one in force in the admin.")
        )
    if not chosen.in_force:
        raise SpaceInputError(
            _(
                "%(name)s is not in force and is kept for history only: computations use "
                "the standard in force."
            )
            % {"name": chosen.name}
        )
    return (
        Standard(
            name=chosen.name,
            year=chosen.year,
            caps={cap.rank: cap.cap_m2_per_person for cap in chosen.caps.all()},
            use_coefficient=chosen.use_coefficient,
        ),
        chosen.pk,
    )


def load_inputs(*, clearance: int, standard_id: int | None = None) -> SpaceInputs:
    """The current inventory, allocations, agencies and records as seen at ``clearance``
    (without :func:`space_blocks_hidden_from`); building points in one metric CRS (the UTM
    zone of the buildings with space, as pyproj estimates it)."""
    standard, chosen_id = load_standard(standard_id)
    agencies = _rows(
        "SELECT a.party_id AS agency_id, p.name, a.parent_id, a.clearance, a.seat_building_id, "
        "p.is_synthetic FROM registry_agency a JOIN registry_party p ON p.id = a.party_id "
        "ORDER BY a.party_id"
    ).astype({"parent_id": "Int64", "seat_building_id": "Int64"})
    staff = _rows(
        "SELECT agency_id, rank, headcount FROM registry_staffestablishment ORDER BY agency_id"
    )
    hidden = list(space_blocks_hidden_from(clearance=clearance).values_list("pk", flat=True))
    every_block = _rows(
        "SELECT id AS block_id, building_id, label, floor, kind, area_m2, area_basis, "
        "(valid_to IS NULL) AS valid FROM registry_spaceblock ORDER BY building_id, floor, label"
    )
    every_block["area_m2"] = every_block["area_m2"].astype(float)
    blocks = every_block[~every_block["block_id"].isin(hidden)].reset_index(drop=True)
    rights = _rows(
        "SELECT r.id AS right_id, t.building_id, h.party_id AS holder_id, p.name AS holder_name, "
        "EXISTS (SELECT 1 FROM registry_agency a WHERE a.party_id = h.party_id) "
        "AS holder_is_agency FROM registry_right r JOIN registry_title t ON t.id = r.title_id "
        "JOIN registry_rightholder h ON h.right_id = r.id JOIN registry_party p ON p.id = h.party_id "
        "WHERE r.kind = 'use_allocation' AND r.valid_to IS NULL ORDER BY r.id"
    ).astype({"building_id": "Int64"})
    every_listed = _rows(
        "SELECT ab.right_id, ab.block_id FROM registry_allocatedblock ab "
        "JOIN registry_right r ON r.id = ab.right_id "
        "WHERE r.kind = 'use_allocation' AND r.valid_to IS NULL ORDER BY ab.right_id, ab.block_id"
    )
    allocated = every_listed[~every_listed["block_id"].isin(hidden)]
    agency_rights = rights.loc[rights["holder_is_agency"], ["right_id", "building_id", "holder_id"]]
    held = every_listed.merge(agency_rights, on="right_id").rename(
        columns={"holder_id": "agency_id"}
    )
    # Current blocks only: a retired block is vacant for nobody and used by nobody.
    held = held[held["block_id"].isin(every_block.loc[every_block["valid"], "block_id"])]
    allocations = held[~held["block_id"].isin(hidden)]
    # A right listing only hidden blocks goes with them: the reconciliation would otherwise
    # report it as listing none, and so point at what is hidden.
    only_hidden = set(every_listed["right_id"]) - set(allocated["right_id"])
    rights = rights[~rights["right_id"].isin(only_hidden)]
    buildings = _rows(
        "SELECT b.id AS building_id, COALESCE(NULLIF(b.name, ''), 'building ' || b.id) AS name, "
        "b.premises_classification, b.gross_floor_area_m2, "
        "ST_X(ST_PointOnSurface(b.footprint)) AS lon, ST_Y(ST_PointOnSurface(b.footprint)) AS lat "
        "FROM registry_building b WHERE b.valid_to IS NULL AND (b.id IN "
        "(SELECT building_id FROM registry_spaceblock WHERE NOT id = ANY(%s)) OR b.id IN "
        "(SELECT seat_building_id FROM registry_agency WHERE seat_building_id IS NOT NULL)) "
        "ORDER BY b.id",
        [hidden],
    )
    crs = _metric_crs(buildings)
    x, y = Transformer.from_crs(STORAGE_SRID, crs, always_xy=True).transform(
        buildings["lon"].to_numpy(float), buildings["lat"].to_numpy(float)
    )
    buildings["x"], buildings["y"] = x, y
    records = _rows(
        "SELECT DISTINCT ON (agency_id, building_id) agency_id, building_id, area_m2 "
        "FROM registry_agencyspacerecord ORDER BY agency_id, building_id, recorded_on DESC"
    )
    return SpaceInputs(
        standard=standard,
        standard_id=chosen_id,
        agencies=agencies,
        staff=staff,
        blocks=blocks,
        allocations=allocations[["right_id", "block_id", "agency_id"]],
        rights=rights,
        allocated=allocated,
        buildings=buildings,
        records=records,
        crs=crs,
    )


def _metric_crs(buildings: pd.DataFrame) -> CRS:
    if buildings.empty:
        return CRS.from_epsg(3857)
    lon, lat = float(buildings["lon"].median()), float(buildings["lat"].median())
    return CRS.from_epsg(metric_epsg(lon, lat))


def _number(value, digits: int = 1):
    """A JSON-friendly number: None for NaN/NA (unknown), rounded otherwise."""
    if value is None or pd.isna(value):
        return None
    return round(float(value), digits)


def _lon_lat(inputs: SpaceInputs) -> dict[int, tuple[float, float]]:
    return {
        int(row.building_id): (float(row.lon), float(row.lat))
        for row in inputs.buildings.itertuples()
    }


def plan_settings(
    *, max_distance_m: float | None = None, split_penalty_m: float | None = None
) -> PlanSettings:
    defaults = PlanSettings()
    return PlanSettings(
        max_distance_m=defaults.max_distance_m if max_distance_m is None else max_distance_m,
        split_penalty_m=defaults.split_penalty_m if split_penalty_m is None else split_penalty_m,
    )


def make_plan(inputs: SpaceInputs, settings: PlanSettings) -> Plan:
    try:
        return redistribution_plan(
            agencies=inputs.agencies,
            staff=inputs.staff,
            blocks=inputs.blocks,
            allocations=inputs.allocations,
            buildings=inputs.buildings,
            standard=inputs.standard,
            settings=settings,
        )
    except StandardMismatch as error:
        raise SpaceInputError(in_reader_language(error.sentence)) from error


def _plan_dict(plan: Plan, inputs: SpaceInputs, *, new_building: NewBuilding | None = None):
    agency_names = inputs.agencies.set_index("agency_id")["name"].to_dict()
    building_names = inputs.buildings.set_index("building_id")["name"].to_dict()
    points = _lon_lat(inputs)
    seats = inputs.agencies.set_index("agency_id")["seat_building_id"].to_dict()
    if new_building is not None:
        building_names[new_building.building_id] = new_building.name
        points[new_building.building_id] = _new_building_lon_lat(new_building, inputs)
    labels = inputs.blocks.set_index("block_id")["label"].to_dict()
    given = plan.assigned.groupby(["building_id", "agency_id"])
    flows = []
    for row in plan.flows.itertuples():
        key = (int(row.building_id), int(row.agency_id))
        rooms = given.get_group(key) if key in given.groups else plan.assigned.iloc[0:0]
        flows.append(
            {
                "building_id": key[0],
                "building": building_names.get(key[0], ""),
                "agency_id": key[1],
                "agency": agency_names.get(key[1], ""),
                "area_m2": _number(row.area_m2),
                "distance_m": _number(row.distance_m, 0),
                "rooms": [labels.get(int(b), str(b)) for b in rooms["block_id"]],
                "rooms_m2": _number(rooms["use_m2"].sum()),
                "from": points.get(key[0]),
                "to": points.get(int(seats[key[1]])) if not pd.isna(seats.get(key[1])) else None,
            }
        )
    released = [
        {
            "building_id": int(row.building_id),
            "building": building_names.get(int(row.building_id), ""),
            "agency_id": int(row.agency_id),
            "agency": agency_names.get(int(row.agency_id), ""),
            "room": labels.get(int(row.block_id), ""),
            "area_m2": _number(row.use_m2),
        }
        for row in plan.released.itertuples()
    ]
    current = inputs.allocations.merge(inputs.blocks[["block_id", "building_id"]], on="block_id")
    acts = [
        {
            "building_id": building,
            "building": building_names.get(building, ""),
            "allocations": [
                {
                    "agency_id": agency,
                    "agency": agency_names.get(agency, ""),
                    "blocks": blocks,
                    "rooms": [labels.get(b, str(b)) for b in blocks],
                }
                for agency, blocks in entries
            ],
        }
        for building, entries in allocation_changes(current, plan.released, plan.assigned).items()
    ]
    return {
        "status": plan.status,
        "objective": _number(plan.objective, 3),
        "bound": _number(plan.bound, 3),
        "gap": _number(plan.gap, 6),
        "solve_seconds": _number(plan.solve_seconds, 3),
        "size": plan.size,
        "reasons": [reason.as_json() for reason in plan.reasons],
        "skipped": [line.as_json() for line in plan.skipped],
        "flows": flows,
        "released": released,
        "acts": acts if new_building is None else [],
        "handed_back": [
            {"building_id": b, "building": building_names.get(b, "")} for b in plan.handed_back
        ],
    }


def _new_building_lon_lat(new: NewBuilding, inputs: SpaceInputs) -> tuple[float, float]:
    lon, lat = Transformer.from_crs(inputs.crs, STORAGE_SRID, always_xy=True).transform(
        new.x, new.y
    )
    return float(lon), float(lat)


def new_building_at(
    inputs: SpaceInputs,
    *,
    lon: float,
    lat: float,
    use_area_m2: float,
    premises_classification: int = 0,
    name: str = "",
) -> NewBuilding:
    """A planned building at longitude/latitude (EPSG:4490) in the inputs' metric CRS."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise SpaceInputError(_("The new building's position must be longitude, latitude."))
    if use_area_m2 <= 0:
        raise SpaceInputError(_("The new building's use area must be positive (m²)."))
    x, y = Transformer.from_crs(STORAGE_SRID, inputs.crs, always_xy=True).transform(lon, lat)
    return NewBuilding(
        name=name or _("new building"),
        x=float(x),
        y=float(y),
        use_area_m2=use_area_m2,
        premises_classification=premises_classification,
        building_id=-1,
    )


def _clearance_given(user, clearance: int | None) -> int:
    """The user's clearance, or ``clearance`` for a caller without a user (the command)."""
    if user is not None:
        return clearance_of(user=user)
    if clearance is None:
        raise TypeError("the office-space report needs a user, or a clearance when there is none")
    return clearance


def space_report(
    *,
    user,
    clearance: int | None = None,
    standard_id: int | None = None,
    settings: PlanSettings | None = None,
    new_building: dict | None = None,
) -> dict:
    """Every figure of ``/space/`` and ``space_redistribution``, as plain data, at the
    user's clearance (or ``clearance`` for the command, which has no user).

    ``new_building``: ``{"lon", "lat", "use_area_m2", "premises_classification", "name"}``
    adds the "build new, hand back old" scenario.
    """
    clearance = _clearance_given(user, clearance)
    settings = settings or PlanSettings()
    inputs = load_inputs(clearance=clearance, standard_id=standard_id)
    try:
        balance = agency_balance(
            inputs.agencies, inputs.staff, inputs.blocks, inputs.allocations, inputs.standard
        )
    except StandardMismatch as error:
        raise SpaceInputError(in_reader_language(error.sentence)) from error
    vacancy = building_vacancy(
        inputs.buildings,
        inputs.blocks[inputs.blocks["valid"]],
        inputs.allocations,
        use_coefficient=inputs.standard.use_coefficient,
    )
    points = _lon_lat(inputs)
    agencies = inputs.agencies.set_index("agency_id")
    parents = agencies["name"].to_dict()
    agency_rows = []
    for agency_id, row in balance.iterrows():
        seat = agencies.at[agency_id, "seat_building_id"]
        agency_rows.append(
            {
                "agency_id": int(agency_id),
                "name": row["name"],
                "parent": parents.get(row["parent_id"]) if not pd.isna(row["parent_id"]) else "",
                "staff": int(row["staff"]),
                "entitlement_m2": _number(row["entitlement_m2"]),
                "office_m2": _number(row["office_m2"]),
                "other_m2": _number(row["other_m2"]),
                "over_m2": _number(row["over_m2"]),
                "over_share": _number(row["over_share"], 4),
                "deficit_m2": _number(row["deficit_m2"]),
                "seat": points.get(int(seat)) if not pd.isna(seat) else None,
                "is_synthetic": bool(agencies.at[agency_id, "is_synthetic"]),
            }
        )
    classification = inputs.buildings.set_index("building_id")["premises_classification"]
    building_rows = [
        {
            "building_id": int(building_id),
            "name": row["name"],
            "total_m2": _number(row["total_m2"]),
            "allocated_m2": _number(row["allocated_m2"]),
            "vacant_m2": _number(row["vacant_m2"]),
            "vacant_share": _number(row["vacant_share"], 4),
            "vacant_office_m2": _number(row["vacant_office_m2"]),
            "blocks": int(row["blocks"]),
            "blocks_without_area": int(row["blocks_without_area"]),
            "premises_classification": int(classification.get(building_id, 0)),
            "point": points.get(int(building_id)),
        }
        for building_id, row in vacancy.iterrows()
    ]
    rollups = [
        {
            "agency_id": int(agency_id),
            "name": row["name"],
            "agencies": int(row["agencies"]),
            "staff": int(row["staff"]),
            "entitlement_m2": _number(row["entitlement_m2"]),
            "office_m2": _number(row["office_m2"]),
            "over_m2": _number(row["over_m2"]),
            "deficit_m2": _number(row["deficit_m2"]),
            "net_m2": _number(row["net_m2"]),
            "without_staff_figures": int(row["without_staff_figures"]),
        }
        for agency_id, row in rollup(balance).iterrows()
    ]
    mismatches = reconcile(
        rights=inputs.rights,
        allocated=inputs.allocated,
        blocks=inputs.blocks,
        buildings=inputs.buildings,
        agencies=inputs.agencies,
        records=inputs.records,
        use_coefficient=inputs.standard.use_coefficient,
    )
    problems = input_problems(inputs.agencies, inputs.staff, inputs.blocks, inputs.buildings)
    plan = make_plan(inputs, settings)
    report = {
        "standard": {
            "id": inputs.standard_id,
            "name": inputs.standard.name,
            "year": inputs.standard.year,
            "use_coefficient": inputs.standard.use_coefficient,
            "caps": inputs.standard.caps,
        },
        "settings": {
            "max_distance_m": settings.max_distance_m,
            "split_penalty_m": settings.split_penalty_m,
            "min_deficit_m2": settings.min_deficit_m2,
        },
        "totals": {
            "agencies": len(agency_rows),
            "entitlement_m2": _number(balance["entitlement_m2"].sum()),
            "office_m2": _number(balance["office_m2"].sum()),
            "over_m2": _number(balance["over_m2"].sum()),
            "deficit_m2": _number(balance["deficit_m2"].sum()),
            "vacant_m2": _number(vacancy["vacant_m2"].sum()),
            "vacant_office_m2": _number(vacancy["vacant_office_m2"].sum()),
        },
        "problems": [
            {
                "subject": p.subject,
                "id": p.subject_id,
                "where": p.where,
                "message": p.message.as_json(),
            }
            for p in problems
        ],
        "agencies": agency_rows,
        "rollups": rollups,
        "buildings": building_rows,
        "mismatches": [
            {
                "kind": m.kind,
                "where": m.where.as_json() if isinstance(m.where, Sentence) else m.where,
                "detail": m.detail.as_json(),
            }
            for m in mismatches
        ],
        "plan": _plan_dict(plan, inputs),
        "scenario": None,
    }
    if new_building:
        new = new_building_at(inputs, **new_building)
        try:
            scenario = new_building_scenario(
                agencies=inputs.agencies,
                staff=inputs.staff,
                blocks=inputs.blocks[inputs.blocks["valid"]],
                allocations=inputs.allocations,
                buildings=inputs.buildings,
                standard=inputs.standard,
                new_building=new,
                settings=settings,
            )
        except StandardMismatch as error:
            raise SpaceInputError(in_reader_language(error.sentence)) from error
        report["scenario"] = {
            "new_building": {**new_building, "name": new.name},
            **_plan_dict(scenario, inputs, new_building=new),
        }
    return report


def cached_space_report(
    *,
    user=None,
    clearance: int | None = None,
    standard_id: int | None = None,
    settings: PlanSettings | None = None,
    new_building: dict | None = None,
) -> dict:
    """:func:`space_report`, kept until the register changes under it: one kept report per
    clearance and settings (and language, for a new building's name)."""
    clearance = _clearance_given(user, clearance)
    settings = settings or PlanSettings()
    key = cache_key(
        "space",
        clearance=clearance,
        standard_id=standard_id,
        settings=dataclasses.asdict(settings),
        new_building=new_building,
        language=translation.get_language() if new_building else None,
    )
    return cached_report(
        key,
        inputs=INPUTS,
        compute=lambda: space_report(
            user=None,
            clearance=clearance,
            standard_id=standard_id,
            settings=settings,
            new_building=new_building,
        ),
    )


PLAN_CSV_COLUMNS = [
    "action", "building_id", "building", "agency_id", "agency", "area_m2", "distance_m", "rooms",
]  # fmt: skip


def plan_rows(report: dict) -> list[list]:
    """The plan as CSV rows: rooms reclaimed, then space given (and handed-back buildings)."""
    plan = report["plan"]
    rows = [
        ["reclaim", r["building_id"], r["building"], r["agency_id"], r["agency"], r["area_m2"],
         "", r["room"]]
        for r in plan["released"]
    ]  # fmt: skip
    rows += [
        ["give", f["building_id"], f["building"], f["agency_id"], f["agency"], f["area_m2"],
         f["distance_m"], " ".join(f["rooms"])]
        for f in plan["flows"]
    ]  # fmt: skip
    if report.get("scenario"):
        rows += [
            ["hand_back", h["building_id"], h["building"], "", "", "", "", ""]
            for h in report["scenario"]["handed_back"]
        ]
        rows += [
            ["scenario_move", f["building_id"], f["building"], f["agency_id"], f["agency"],
             f["area_m2"], f["distance_m"], ""]
            for f in report["scenario"]["flows"]
        ]  # fmt: skip
    return rows


# --- lodging ---------------------------------------------------------------------------


def lodge_plan(
    *,
    user,
    effective_date: datetime.date,
    standard_id: int | None = None,
    settings: PlanSettings | None = None,
) -> list[RegistrationAct]:
    """Lodge the current plan as use-allocation acts, one per building whose allocations it
    changes, each then examined and approved like any act. Refused as a whole, before any act
    is lodged, when the plan is infeasible or a building already has one pending."""
    settings = settings or PlanSettings()
    if not user.has_perm("registry.lodge_act"):
        raise RegisterError(
            _("%(user)s may not lodge registration acts") % {"user": user.get_username()},
            rule="not_allowed",
        )
    inputs = load_inputs(clearance=clearance_of(user=user), standard_id=standard_id)
    plan = make_plan(inputs, settings)
    if not plan.feasible:
        raise SpaceInputError(
            " ".join(map(in_reader_language, plan.reasons)) or _("The plan has no solution.")
        )
    report = _plan_dict(plan, inputs)
    if not report["acts"]:
        raise SpaceInputError(_("The plan changes no allocation: there is nothing to lodge."))
    buildings = Building.objects.in_bulk([act["building_id"] for act in report["acts"]])
    titles = {}
    for act in report["acts"]:
        building = buildings[act["building_id"]]
        if building.parcel_id is None:
            raise SpaceInputError(
                _("%(building)s sits on no parcel, so no registration office can take the act.")
                % {"building": building}
            )
        title = Title.objects.filter(building=building).first()
        pending = (
            RegistrationAct.objects.filter(
                act_type=ActType.ALLOCATION,
                status__in=[ActStatus.LODGED, ActStatus.EXAMINED],
                titles=title,
            ).first()
            if title
            else None
        )
        if pending is not None:
            raise SpaceInputError(
                _(
                    "A use-allocation act for %(building)s is already pending (%(number)s): decide it first."
                )
                % {"building": building, "number": pending.number}
            )
        titles[building.pk] = title
    lodged = []
    for act in report["acts"]:
        title = titles[act["building_id"]] or title_of(buildings[act["building_id"]])
        lodged.append(
            lodge_act(
                act_type=ActType.ALLOCATION,
                titles=[title],
                payload={
                    # The blocks the lodger sees; the register keeps those hidden from them
                    # (see registry.services.acts, allocation).
                    "allocations": [
                        {"party": entry["agency_id"], "blocks": sorted(entry["blocks"])}
                        for entry in act["allocations"]
                    ],
                    "description": _("redistribution plan under %(standard)s")
                    % {"standard": inputs.standard.name},
                },
                effective_date=effective_date,
                lodged_by=user,
            )
        )
    record_audit(
        user=user,
        action="lodge_plan",
        object_type="space_plan",
        object_id=str(inputs.standard_id),
        detail={"acts": [act.number for act in lodged], "objective": report["objective"]},
    )
    return lodged
