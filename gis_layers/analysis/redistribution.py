"""Redistribution of office space (余量调剂): idle space and reclaimed over-standard space
moved to agencies below the standard, and the "build new, hand back old" scenario (建新交旧).

The plan is made in three exact steps, each a mixed-integer programme solved by HiGHS
(:func:`scipy.optimize.milp`):

1. **Reclaim.** Each agency above the standard gives back whole office rooms: the largest
   total that keeps it at or above its entitlement, rooms outside its seat building first
   (a knapsack per agency, solved together).
2. **Flows.** Idle office space (vacant rooms and the reclaimed ones) per building goes to
   the agencies in deficit, in m² of use area. Each agency's deficit is met in full, from
   buildings within ``max_distance_m`` of its seat whose premises classification its clearance
   allows. The cost is, per agency, the mean distance in metres of its new space from its
   seat, plus ``split_penalty_m`` for every building it is newly spread into (none for its
   seat or a building where it already holds space). Variables: the area ``y`` from building
   to agency and a binary ``z`` saying whether the agency gets space there at all.
3. **Rooms.** In each building the flows become whole rooms: each room to at most one
   agency, the rooms' total as close as can be to each flow (least absolute deviation; the
   best found within a few seconds per building, see :func:`rooms_for_flows`).

Distances are straight lines between building points in a metric CRS (metres). The
objective, the best bound HiGHS proved and their relative gap are reported; a plan that
cannot meet every deficit is not made, and the reasons say which agency and why.

Pure functions on pandas frames (the inputs of :mod:`gis_layers.analysis.space`); no Django.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, linprog, milp
from scipy.sparse import csr_array
from scipy.sparse import vstack as sparse_vstack
from scipy.spatial import cKDTree

from gis_layers.analysis.sentences import Sentence
from gis_layers.analysis.space import OFFICE, Standard, agency_balance, use_area

# Tolerance on areas, m²: below this a deficit or a shortfall is rounding.
AREA_EPSILON_M2 = 0.01
# Seconds HiGHS may spend choosing the rooms of one building (see rooms_for_flows).
ROOMS_TIME_LIMIT_S = 2.0
# Reclaiming prefers rooms outside the seat building by this much per room (m²): enough to
# break ties, never enough to reclaim less area.
OUTSIDE_SEAT_PREFERENCE_M2 = 1e-3


@dataclass(frozen=True)
class PlanSettings:
    """``max_distance_m``: farthest a building may be from an agency's seat (metres);
    ``split_penalty_m``: cost of spreading an agency into one more building, in metres of
    mean distance; ``min_deficit_m2``: deficits below this are not planned for;
    ``time_limit_s`` and ``mip_rel_gap`` are handed to HiGHS (0 gap: solve to optimality)."""

    max_distance_m: float = 3000.0
    split_penalty_m: float = 500.0
    min_deficit_m2: float = 1.0
    time_limit_s: float = 60.0
    mip_rel_gap: float = 0.0


@dataclass(frozen=True)
class NewBuilding:
    """A building to be built: position (metric CRS), office use area (m²), classification."""

    name: str
    x: float
    y: float
    use_area_m2: float
    premises_classification: int = 0
    building_id: int = -1


@dataclass
class Plan:
    """A redistribution plan, or the statement of why none exists.

    ``status`` is ``optimal``, ``feasible`` (stopped at the time limit with a gap),
    ``infeasible`` (``reasons`` say which agency and why) or ``nothing_to_do``.
    ``objective`` and ``bound`` are in metres (see the module's docstring); ``gap`` is
    (objective - bound) / |objective|.
    ``flows``: ``building_id``, ``agency_id``, ``area_m2``, ``distance_m``;
    ``released``: rooms reclaimed (``block_id``, ``building_id``, ``agency_id`` giving it back,
    ``use_m2``); ``assigned``: rooms given (``block_id``, ``building_id``, ``agency_id``,
    ``use_m2``); ``skipped``: agencies in deficit left out and why; ``handed_back``: buildings
    handed back in the new-building scenario.
    """

    status: str
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    solve_seconds: float = 0.0
    flows: pd.DataFrame = field(default_factory=lambda: _empty_flows())
    released: pd.DataFrame = field(default_factory=lambda: _empty_rooms())
    assigned: pd.DataFrame = field(default_factory=lambda: _empty_rooms())
    reasons: list[Sentence] = field(default_factory=list)
    skipped: list[Sentence] = field(default_factory=list)
    handed_back: list[int] = field(default_factory=list)
    size: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step

    @property
    def feasible(self) -> bool:
        return self.status in ("optimal", "feasible", "nothing_to_do")


def _empty_flows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "building_id": pd.Series(dtype=int),
            "agency_id": pd.Series(dtype=int),
            "area_m2": pd.Series(dtype=float),
            "distance_m": pd.Series(dtype=float),
        }
    )


def _empty_rooms() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "block_id": pd.Series(dtype=int),
            "building_id": pd.Series(dtype=int),
            "agency_id": pd.Series(dtype=int),
            "use_m2": pd.Series(dtype=float),
        }
    )


# --- step 1: reclaim -------------------------------------------------------------------


def reclaim_rooms(
    held: pd.DataFrame, over_m2: pd.Series, seat_of: pd.Series, *, time_limit_s: float = 60.0
) -> pd.DataFrame:
    """The office rooms each agency above the standard gives back.

    Parameters
    ----------
    held
        Office rooms held: ``block_id``, ``building_id``, ``agency_id``, ``use_m2``.
    over_m2
        Over-standard area per agency (index ``agency_id``); only positive ones give back.
    seat_of
        Seat building per agency (index ``agency_id``; NA when unknown).

    Returns
    -------
    The rooms given back (columns of ``held``): per agency the largest total area not above
    its over-standard area, rooms outside the seat building preferred on ties.
    """
    over = over_m2[over_m2 > AREA_EPSILON_M2]
    rooms = held[held["agency_id"].isin(over.index)].reset_index(drop=True)
    rooms = rooms[rooms["use_m2"] <= rooms["agency_id"].map(over) + AREA_EPSILON_M2]
    rooms = rooms.reset_index(drop=True)
    if rooms.empty:
        return _empty_rooms()
    rooms["outside"] = rooms["building_id"] != rooms["agency_id"].map(seat_of)
    rooms["size"] = rooms["use_m2"].round(2)
    # Rooms of one agency alike in area and in being outside its seat are interchangeable:
    # count them per class (integers) instead of choosing each, the same optimum without the
    # symmetry.
    classes = rooms.groupby(["agency_id", "size", "outside"], sort=True).size()
    class_agency = classes.index.get_level_values(0).to_numpy()
    class_size = classes.index.get_level_values(1).to_numpy(float)
    class_outside = classes.index.get_level_values(2).to_numpy(float)
    counts = np.zeros(len(classes), dtype=int)
    # One small knapsack per agency: independent problems, each proved optimal on its own
    # (together in one programme, HiGHS would have to close one global gap over all).
    for agency in np.unique(class_agency):
        mine = np.flatnonzero(class_agency == agency)
        result = milp(
            c=-(class_size[mine] + OUTSIDE_SEAT_PREFERENCE_M2 * class_outside[mine]),
            constraints=LinearConstraint(
                class_size[mine][np.newaxis, :], -np.inf, float(over[agency]) + AREA_EPSILON_M2
            ),
            integrality=np.ones(len(mine)),
            bounds=Bounds(0, classes.to_numpy(float)[mine]),
            options={"time_limit": time_limit_s, "mip_rel_gap": 0.0},
        )
        if result.x is not None:
            counts[mine] = np.rint(result.x).astype(int)
    taken = dict(zip(classes.index, counts, strict=True))
    chosen = [
        group.index[: taken[key]]
        for key, group in rooms.groupby(["agency_id", "size", "outside"], sort=True)
        if taken[key] > 0
    ]
    if not chosen:
        return _empty_rooms()
    picked = rooms.loc[np.concatenate(chosen)]
    return picked[["block_id", "building_id", "agency_id", "use_m2"]].reset_index(drop=True)


# --- step 2: flows ---------------------------------------------------------------------


@dataclass
class _Network:
    """Buildings offering space, agencies needing it and the allowed pairs between them."""

    building_ids: np.ndarray
    supply: np.ndarray
    agency_ids: np.ndarray
    demand: np.ndarray
    pair_building: np.ndarray  # index into building_ids
    pair_agency: np.ndarray  # index into agency_ids
    distance: np.ndarray
    penalised: np.ndarray  # True where the agency would be spread into a new building


def candidate_pairs(
    building_xy: np.ndarray,
    building_class: np.ndarray,
    agency_xy: np.ndarray,
    agency_clearance: np.ndarray,
    *,
    max_distance_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(building index, agency index, distance in m) of every pair within ``max_distance_m``
    whose premises classification the agency's clearance allows."""
    if len(building_xy) == 0 or len(agency_xy) == 0:
        empty = np.array([], dtype=int)
        return empty, empty, np.array([], dtype=float)
    tree = cKDTree(building_xy)
    near = tree.query_ball_point(agency_xy, r=max_distance_m)
    agency_index = np.repeat(np.arange(len(agency_xy)), [len(found) for found in near])
    building_index = np.fromiter(
        (index for found in near for index in found), dtype=int, count=len(agency_index)
    )
    allowed = building_class[building_index] <= agency_clearance[agency_index]
    building_index, agency_index = building_index[allowed], agency_index[allowed]
    distance = np.hypot(*(building_xy[building_index] - agency_xy[agency_index]).T)
    order = np.lexsort((building_index, agency_index))
    return building_index[order], agency_index[order], distance[order]


def _solve_flows(
    network: _Network,
    *,
    settings: PlanSettings,
    scale: np.ndarray,
    hand_back: dict | None = None,
) -> tuple[OptimizeResult, dict[str, int], float]:
    """Build and solve the flow programme; ``scale`` (per agency, m²) turns area × distance
    into mean distance. ``hand_back`` (scenario) adds a binary per candidate building:
    ``{"building": index into building_ids, "supply_lost": m², "rehouse": (agency index,
    m²) pairs per candidate, "value": objective reward per candidate}``."""
    pairs = len(network.pair_building)
    upper = np.minimum(
        network.supply[network.pair_building],
        (network.demand + (hand_back["rehouse_total"] if hand_back else 0))[network.pair_agency],
    )
    candidates = len(hand_back["building"]) if hand_back else 0
    columns = 2 * pairs + candidates
    cost = np.concatenate(
        [
            network.distance / scale[network.pair_agency],
            settings.split_penalty_m * network.penalised.astype(float),
            -hand_back["value"] if hand_back else np.array([]),
        ]
    )
    y = np.arange(pairs)
    z = pairs + y
    rows, cols, vals = [], [], []
    # Supply: sum of y out of a building <= supply (times 1 - h when it may be handed back).
    rows.append(network.pair_building)
    cols.append(y)
    vals.append(np.ones(pairs))
    if hand_back:
        rows.append(hand_back["building"])
        cols.append(2 * pairs + np.arange(candidates))
        vals.append(network.supply[hand_back["building"]])
    supply = csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(network.building_ids), columns),
    )
    # Demand: sum of y into an agency = deficit (+ what it must leave in handed-back buildings).
    rows, cols, vals = [network.pair_agency], [y], [np.ones(pairs)]
    if hand_back:
        for candidate, (agency_index, area) in enumerate(hand_back["rehouse"]):
            rows.append(agency_index)
            cols.append(np.full(len(agency_index), 2 * pairs + candidate))
            vals.append(-area)
    demand = csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(network.agency_ids), columns),
    )
    # Linking: y <= upper * z.
    link = csr_array(
        (
            np.concatenate([np.ones(pairs), -upper]),
            (np.concatenate([y, y]), np.concatenate([y, z])),
        ),
        shape=(pairs, columns),
    )
    constraints = [
        LinearConstraint(supply, -np.inf, network.supply),
        LinearConstraint(demand, network.demand, network.demand),
        LinearConstraint(link, -np.inf, 0.0),
    ]
    integrality = np.concatenate([np.zeros(pairs), np.ones(pairs + candidates)])
    lower = np.zeros(columns)
    high = np.concatenate([upper, np.ones(pairs + candidates)])
    size = {
        "variables": columns,
        "binaries": pairs + candidates,
        "constraints": len(network.building_ids) + len(network.agency_ids) + pairs,
        "pairs": pairs,
    }
    if columns == 0:
        # Nothing can move anywhere while there is demand: infeasible without asking HiGHS.
        return OptimizeResult(x=None, status=2, fun=None), size, 0.0
    started = time.perf_counter()
    result = milp(
        c=cost,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(lower, high),
        options={"time_limit": settings.time_limit_s, "mip_rel_gap": settings.mip_rel_gap},
    )
    return result, size, time.perf_counter() - started


def _outcome(result) -> tuple[str, float | None, float | None, float | None]:
    """Status, objective, bound and gap from a HiGHS result."""
    if result.x is None:
        return ("infeasible" if result.status == 2 else "failed"), None, None, None
    objective = float(result.fun)
    bound = getattr(result, "mip_dual_bound", None)
    bound = objective if bound is None or not np.isfinite(bound) else float(bound)
    gap = getattr(result, "mip_gap", None)
    if gap is None or not np.isfinite(gap):
        gap = abs(objective - bound) / max(abs(objective), 1e-9)
    return ("optimal" if result.status == 0 else "feasible"), objective, bound, float(gap)


def diagnose(
    network: _Network,
    *,
    names: dict[int, str],
    building_names: dict[int, str],
    agency_reach: dict[int, Sentence],
    settings: PlanSettings,
) -> list[Sentence]:
    """Why no plan meets every deficit: per agency when it alone cannot be served (no
    building in reach, or too little idle space in reach), else the agencies that compete for
    the same buildings and how much they are short together (from the maximal flow)."""
    reasons = []
    need_total, idle_total = float(network.demand.sum()), float(network.supply.sum())
    if idle_total + AREA_EPSILON_M2 < need_total:
        reasons.append(
            Sentence(
                "The agencies in deficit need %(need)s m² in all; idle and reclaimed office "
                "space comes to only %(idle)s m².",
                {"need": f"{need_total:,.1f}", "idle": f"{idle_total:,.1f}"},
            )
        )
    reachable = np.zeros(len(network.agency_ids))
    np.add.at(reachable, network.pair_agency, network.supply[network.pair_building])
    alone = set()
    for index, agency_id in enumerate(network.agency_ids):
        name, need = names.get(agency_id, str(agency_id)), network.demand[index]
        values = {
            "agency": name,
            "need": f"{need:,.1f}",
            "reach": f"{settings.max_distance_m:,.0f}",
        }
        if not np.any(network.pair_agency == index):
            nearest = agency_reach.get(agency_id)
            reasons.append(
                Sentence(
                    "%(agency)s needs %(need)s m², but no building with idle space lies within "
                    "%(reach)s m of its seat and is cleared for it (%(nearest)s).",
                    {**values, "nearest": nearest},
                )
                if nearest is not None
                else Sentence(
                    "%(agency)s needs %(need)s m², but no building with idle space lies within "
                    "%(reach)s m of its seat and is cleared for it.",
                    values,
                )
            )
            alone.add(index)
        elif reachable[index] + AREA_EPSILON_M2 < need:
            reasons.append(
                Sentence(
                    "%(agency)s needs %(need)s m², but the buildings within %(reach)s m cleared "
                    "for it have only %(idle)s m² idle.",
                    {**values, "idle": f"{reachable[index]:,.1f}"},
                )
            )
            alone.add(index)
    if alone:
        return reasons
    # Every agency could be served alone: they compete. The maximal flow shows who is short.
    pairs = len(network.pair_building)
    upper = np.minimum(network.supply[network.pair_building], network.demand[network.pair_agency])
    y = np.arange(pairs)
    supply = csr_array(
        (np.ones(pairs), (network.pair_building, y)), shape=(len(network.building_ids), pairs)
    )
    demand = csr_array(
        (np.ones(pairs), (network.pair_agency, y)), shape=(len(network.agency_ids), pairs)
    )
    result = linprog(
        -np.ones(pairs),
        A_ub=sparse_vstack([supply, demand], format="csr"),
        b_ub=np.concatenate([network.supply, network.demand]),
        bounds=list(zip(np.zeros(pairs), upper, strict=True)),
        method="highs",
    )
    if result.x is None:
        return [
            *reasons,
            Sentence("The plan has no solution and the maximal flow could not be found."),
        ]
    served = np.zeros(len(network.agency_ids))
    np.add.at(served, network.pair_agency, result.x)
    short = np.flatnonzero(served + AREA_EPSILON_M2 < network.demand)
    if short.size:
        # The buildings the short agencies can reach, and everyone drawing on them.
        contested = np.unique(network.pair_building[np.isin(network.pair_agency, short)])
        competing = np.unique(network.pair_agency[np.isin(network.pair_building, contested)])
        buildings = sorted(
            building_names.get(network.building_ids[i], str(network.building_ids[i]))
            for i in contested
        )
        who = ", ".join(
            names.get(network.agency_ids[i], str(network.agency_ids[i])) for i in competing
        )
        missing = float((network.demand[short] - served[short]).sum())
        reasons.append(
            Sentence(
                "%(agencies)s compete for the idle space of %(buildings)s: together they stay "
                "%(missing)s m² short of the standard, however the space is shared.",
                {"agencies": who, "buildings": ", ".join(buildings), "missing": f"{missing:,.1f}"},
            )
        )
    return reasons


# --- step 3: rooms ---------------------------------------------------------------------


def rooms_for_flows(
    flows: pd.DataFrame, pool: pd.DataFrame, *, time_limit_s: float = ROOMS_TIME_LIMIT_S
) -> pd.DataFrame:
    """Whole rooms for each flow: in every building, each pool room to at most one agency,
    minimising the sum over agencies of |rooms' area - flow|.

    Rooms of the same area are interchangeable, so the programme counts rooms per area
    class and agency (integers up to the class's size) rather than choosing each room: the
    same optimum without the symmetry that makes room-by-room search slow. The rooms of a
    class are then handed out in the inventory's order.

    Proving that no other choice of rooms comes closer can take HiGHS long where the best
    deviation is above zero (the relaxation's bound stays at zero), so each building gets
    ``time_limit_s``: the best choice found by then is kept, and the deviation shows in the
    report as the difference between each flow and its rooms' area.

    ``pool``: ``block_id``, ``building_id``, ``use_m2``. Returns ``block_id``,
    ``building_id``, ``agency_id``, ``use_m2`` of the rooms given.
    """
    given = []
    for building_id, here in flows.groupby("building_id"):
        rooms = pool[pool["building_id"] == building_id].sort_values("block_id")
        if rooms.empty:
            continue
        agencies, target = here["agency_id"].to_numpy(), here["area_m2"].to_numpy()
        sizes = rooms["use_m2"].round(2)
        classes, counts = np.unique(sizes.to_numpy(), return_counts=True)
        n_classes, n_agencies = len(classes), len(agencies)
        # Columns: n[class, agency] (class-major), then under[agency], over[agency].
        n_count = n_classes * n_agencies
        columns = n_count + 2 * n_agencies
        class_of = np.repeat(np.arange(n_classes), n_agencies)
        agency_of = np.tile(np.arange(n_agencies), n_classes)
        available = csr_array(
            (np.ones(n_count), (class_of, np.arange(n_count))), shape=(n_classes, columns)
        )
        balance = csr_array(
            (
                np.concatenate([classes[class_of], np.ones(n_agencies), -np.ones(n_agencies)]),
                (
                    np.concatenate([agency_of, np.arange(n_agencies), np.arange(n_agencies)]),
                    np.concatenate(
                        [
                            np.arange(n_count),
                            n_count + np.arange(n_agencies),
                            n_count + n_agencies + np.arange(n_agencies),
                        ]
                    ),
                ),
            ),
            shape=(n_agencies, columns),
        )
        result = milp(
            c=np.concatenate([np.zeros(n_count), np.ones(2 * n_agencies)]),
            constraints=[
                LinearConstraint(available, -np.inf, counts),
                LinearConstraint(balance, target, target),
            ],
            integrality=np.concatenate([np.ones(n_count), np.zeros(2 * n_agencies)]),
            bounds=Bounds(0, np.concatenate([counts[class_of], np.full(2 * n_agencies, np.inf)])),
            options={"time_limit": time_limit_s},
        )
        if result.x is None:
            continue
        taken = np.rint(result.x[:n_count]).astype(int)
        queues = {size: list(group.itertuples()) for size, group in rooms.groupby(sizes.to_numpy())}
        for column in np.flatnonzero(taken):
            queue = queues[classes[class_of[column]]]
            for _ in range(taken[column]):
                room = queue.pop(0)
                given.append(
                    {
                        "block_id": int(room.block_id),
                        "building_id": int(building_id),
                        "agency_id": int(agencies[agency_of[column]]),
                        "use_m2": float(room.use_m2),
                    }
                )
    return pd.DataFrame(given) if given else _empty_rooms()


# --- the plan --------------------------------------------------------------------------


def _held_office_rooms(
    blocks: pd.DataFrame, allocations: pd.DataFrame, standard: Standard
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(office rooms held by agencies, vacant office rooms), with their use area; rooms
    without area are in neither."""
    measured = blocks.assign(use_m2=use_area(blocks, use_coefficient=standard.use_coefficient))
    office = measured[(measured["kind"] == OFFICE) & measured["use_m2"].notna()]
    if "valid" in office:
        office = office[office["valid"]]
    held = office.merge(allocations[["block_id", "agency_id"]], on="block_id")
    vacant = office[~office["block_id"].isin(allocations["block_id"])]
    columns = ["block_id", "building_id", "use_m2"]
    return held[[*columns, "agency_id"]], vacant[columns]


def _positions(agencies: pd.DataFrame, buildings: pd.DataFrame) -> pd.DataFrame:
    by_id = buildings.set_index("building_id")
    seat = agencies.set_index("agency_id")["seat_building_id"]
    known = seat.notna() & seat.isin(by_id.index)
    frame = pd.DataFrame(index=seat.index)
    frame["x"] = np.nan
    frame["y"] = np.nan
    frame.loc[known, "x"] = by_id.loc[seat[known].astype(int), "x"].to_numpy()
    frame.loc[known, "y"] = by_id.loc[seat[known].astype(int), "y"].to_numpy()
    return frame


def _network(
    *,
    supply: pd.Series,
    demand: pd.Series,
    agencies: pd.DataFrame,
    buildings: pd.DataFrame,
    occupied: set[tuple[int, int]],
    settings: PlanSettings,
    extra_buildings: Sequence[NewBuilding] = (),
) -> _Network:
    by_id = buildings.set_index("building_id")
    building_ids = supply.index.to_numpy(dtype=int)
    xy = np.column_stack(
        [
            by_id["x"].reindex(building_ids).to_numpy(float),
            by_id["y"].reindex(building_ids).to_numpy(float),
        ]
    )
    classes = np.array(by_id["premises_classification"].reindex(building_ids), dtype=float)
    for new in extra_buildings:
        mask = building_ids == new.building_id
        xy[mask] = [new.x, new.y]
        classes[mask] = new.premises_classification
    positions = _positions(agencies, buildings).reindex(demand.index)
    clearance = agencies.set_index("agency_id")["clearance"].reindex(demand.index)
    pair_building, pair_agency, distance = candidate_pairs(
        xy,
        classes,
        positions[["x", "y"]].to_numpy(float),
        clearance.to_numpy(float),
        max_distance_m=settings.max_distance_m,
    )
    agency_ids = demand.index.to_numpy(dtype=int)
    seat = agencies.set_index("agency_id")["seat_building_id"].reindex(agency_ids)
    penalised = np.array(
        [
            not (
                building_ids[b] == seat.iloc[a]
                or (int(agency_ids[a]), int(building_ids[b])) in occupied
            )
            for b, a in zip(pair_building, pair_agency, strict=True)
        ],
        dtype=bool,
    )
    return _Network(
        building_ids=building_ids,
        supply=supply.to_numpy(float),
        agency_ids=agency_ids,
        demand=demand.to_numpy(float),
        pair_building=pair_building,
        pair_agency=pair_agency,
        distance=distance,
        penalised=penalised,
    )


def _reach_notes(
    demand: pd.Series,
    supply: pd.Series,
    agencies: pd.DataFrame,
    buildings: pd.DataFrame,
    extra_buildings: Sequence[NewBuilding] = (),
) -> dict[int, Sentence]:
    """Per agency, the nearest building with idle space and why it is out of reach."""
    by_id = buildings.set_index("building_id")
    points = {
        int(b): (by_id.at[b, "x"], by_id.at[b, "y"], by_id.at[b, "premises_classification"])
        for b in supply.index
        if b in by_id.index
    }
    for new in extra_buildings:
        points[new.building_id] = (new.x, new.y, new.premises_classification)
    names = by_id["name"].to_dict()
    positions = _positions(agencies, buildings)
    clearance = agencies.set_index("agency_id")["clearance"]
    notes = {}
    for agency_id in demand.index:
        x, y = positions.at[agency_id, "x"], positions.at[agency_id, "y"]
        if not points or np.isnan(x):
            continue
        nearest = min(points, key=lambda b: np.hypot(points[b][0] - x, points[b][1] - y))
        bx, by, level = points[nearest]
        values = {
            "building": names.get(nearest) or f"building {nearest}",
            "distance": f"{np.hypot(bx - x, by - y):,.0f}",
        }
        if level > clearance[agency_id]:
            notes[int(agency_id)] = Sentence(
                "the nearest, %(building)s, is %(distance)s m away and classified %(level)s, "
                "above the agency's clearance %(clearance)s",
                {**values, "level": int(level), "clearance": int(clearance[agency_id])},
            )
        else:
            notes[int(agency_id)] = Sentence(
                "the nearest, %(building)s, is %(distance)s m away", values
            )
    return notes


def _deficits(
    balance: pd.DataFrame, agencies: pd.DataFrame, buildings: pd.DataFrame, settings
) -> tuple[pd.Series, list[Sentence]]:
    """Deficits to plan for, and the agencies in deficit left out (with why)."""
    deficit = balance["deficit_m2"].where(balance["has_staff_figures"], 0.0).fillna(0.0)
    deficit = deficit[deficit >= settings.min_deficit_m2]
    positions = _positions(agencies, buildings).reindex(deficit.index)
    unplaced = positions["x"].isna()
    skipped = [
        Sentence(
            "%(agency)s is %(deficit)s m² below the standard but has no seat building, so no "
            "distance can be measured: left out of the plan.",
            {"agency": balance.at[agency_id, "name"], "deficit": f"{deficit[agency_id]:,.1f}"},
        )
        for agency_id in deficit[unplaced].index
    ]
    return deficit[~unplaced], skipped


def redistribution_plan(
    *,
    agencies: pd.DataFrame,
    staff: pd.DataFrame,
    blocks: pd.DataFrame,
    allocations: pd.DataFrame,
    buildings: pd.DataFrame,
    standard: Standard,
    settings: PlanSettings = PlanSettings(),
) -> Plan:
    """Reclaim over-standard rooms, move idle space to the agencies in deficit, and choose
    the rooms (see the module's docstring). Never a partial plan: when some deficit cannot be
    met the plan is ``infeasible`` with its reasons."""
    started = time.perf_counter()
    balance = agency_balance(agencies, staff, blocks, allocations, standard)
    held, vacant = _held_office_rooms(blocks, allocations, standard)
    seat_of = agencies.set_index("agency_id")["seat_building_id"]
    step = time.perf_counter()
    released = reclaim_rooms(
        held, balance["over_m2"].fillna(0.0), seat_of, time_limit_s=settings.time_limit_s
    )
    timings = {"reclaim": time.perf_counter() - step}
    pool = pd.concat([vacant, released[["block_id", "building_id", "use_m2"]]], ignore_index=True)
    supply = pool.groupby("building_id")["use_m2"].sum()
    supply = supply[supply > AREA_EPSILON_M2]
    demand, skipped = _deficits(balance, agencies, buildings, settings)
    if demand.empty:
        return Plan(
            status="nothing_to_do",
            objective=0.0,
            bound=0.0,
            gap=0.0,
            released=released,
            skipped=skipped,
            solve_seconds=time.perf_counter() - started,
        )
    occupied = set(zip(held["agency_id"].astype(int), held["building_id"].astype(int), strict=True))
    network = _network(
        supply=supply,
        demand=demand,
        agencies=agencies,
        buildings=buildings,
        occupied=occupied,
        settings=settings,
    )
    result, size, timings["flows"] = _solve_flows(network, settings=settings, scale=network.demand)
    status, objective, bound, gap = _outcome(result)
    if result.x is None:
        names = balance["name"].to_dict()
        building_names = buildings.set_index("building_id")["name"].to_dict()
        return Plan(
            status=status,
            released=released,
            skipped=skipped,
            size=size,
            solve_seconds=time.perf_counter() - started,
            reasons=diagnose(
                network,
                names=names,
                building_names=building_names,
                agency_reach=_reach_notes(demand, supply, agencies, buildings),
                settings=settings,
            ),
        )
    flows = _flows_from(result.x, network)
    step = time.perf_counter()
    assigned = rooms_for_flows(flows, pool)
    timings["rooms"] = time.perf_counter() - step
    return Plan(
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        flows=flows,
        released=released,
        assigned=assigned,
        skipped=skipped,
        size=size,
        timings=timings,
        solve_seconds=time.perf_counter() - started,
    )


def _flows_from(x: np.ndarray, network: _Network) -> pd.DataFrame:
    pairs = len(network.pair_building)
    used = np.flatnonzero(x[:pairs] > AREA_EPSILON_M2)
    return pd.DataFrame(
        {
            "building_id": network.building_ids[network.pair_building[used]].astype(int),
            "agency_id": network.agency_ids[network.pair_agency[used]].astype(int),
            "area_m2": np.round(x[used], 2),
            "distance_m": np.round(network.distance[used], 1),
        }
    )


def new_building_scenario(
    *,
    agencies: pd.DataFrame,
    staff: pd.DataFrame,
    blocks: pd.DataFrame,
    allocations: pd.DataFrame,
    buildings: pd.DataFrame,
    standard: Standard,
    new_building: NewBuilding,
    hand_back_value_m_per_m2: float = 10.0,
    settings: PlanSettings = PlanSettings(),
) -> Plan:
    """建新交旧: with ``new_building`` added, which old buildings to hand back.

    Handing back a building frees its whole use area (rewarded at
    ``hand_back_value_m_per_m2`` metres of objective per m²) but its occupants' office rooms
    must be rehoused, like a deficit, in the new building or in idle space elsewhere, within
    reach and clearance; deficits are met as in :func:`redistribution_plan`. A building's
    service, equipment and ancillary space is taken as provided for in the new building's
    design and is not planned room by room. ``flows`` give the moves in m² (the new
    building's are to ``new_building.building_id``); ``handed_back`` the buildings given up.
    """
    started = time.perf_counter()
    balance = agency_balance(agencies, staff, blocks, allocations, standard)
    held, vacant = _held_office_rooms(blocks, allocations, standard)
    seat_of = agencies.set_index("agency_id")["seat_building_id"]
    released = reclaim_rooms(
        held, balance["over_m2"].fillna(0.0), seat_of, time_limit_s=settings.time_limit_s
    )
    kept = held[~held["block_id"].isin(released["block_id"])]
    pool = pd.concat([vacant, released[["block_id", "building_id", "use_m2"]]], ignore_index=True)
    supply = pool.groupby("building_id")["use_m2"].sum()
    supply.loc[new_building.building_id] = new_building.use_area_m2
    deficit, skipped = _deficits(balance, agencies, buildings, settings)
    # Everyone housed in a building that could be handed back may have to move.
    occupants = kept.groupby(["building_id", "agency_id"])["use_m2"].sum()
    placed = _positions(agencies, buildings)["x"].notna()
    movable = {agency for _, agency in occupants.index if placed.get(agency, False)}
    candidates = sorted(
        {
            building
            for building, agency in occupants.index
            if all(placed.get(a, False) for a in occupants.loc[building].index)
        }
        | set(supply.index.drop(new_building.building_id))
    )
    demand = deficit.reindex(sorted(set(deficit.index) | movable), fill_value=0.0)
    supply = supply.reindex(sorted(set(supply.index) | set(candidates)), fill_value=0.0)
    occupied = set(zip(kept["agency_id"].astype(int), kept["building_id"].astype(int), strict=True))
    network = _network(
        supply=supply,
        demand=demand,
        agencies=agencies,
        buildings=buildings,
        occupied=occupied,
        settings=settings,
        extra_buildings=[new_building],
    )
    building_index = {int(b): i for i, b in enumerate(network.building_ids)}
    agency_index = {int(a): i for i, a in enumerate(network.agency_ids)}
    measured = blocks.assign(use_m2=use_area(blocks, use_coefficient=standard.use_coefficient))
    whole = measured.groupby("building_id")["use_m2"].sum()
    rehouse, value, rehouse_total = [], [], np.zeros(len(network.agency_ids))
    for building in candidates:
        if building in occupants.index.get_level_values(0):
            here = occupants.loc[building]
            index = np.array([agency_index[int(a)] for a in here.index], dtype=int)
            area = here.to_numpy(float)
        else:
            index, area = np.array([], dtype=int), np.array([], dtype=float)
        rehouse.append((index, area))
        np.add.at(rehouse_total, index, area)
        value.append(hand_back_value_m_per_m2 * float(whole.get(building, 0.0)))
    hand_back = {
        "building": np.array([building_index[b] for b in candidates], dtype=int),
        "rehouse": rehouse,
        "rehouse_total": rehouse_total,
        "value": np.array(value),
    }
    # Mean distance over everything the agency might have to receive.
    scale = np.maximum(network.demand + rehouse_total, AREA_EPSILON_M2)
    result, size, _ = _solve_flows(network, settings=settings, scale=scale, hand_back=hand_back)
    status, objective, bound, gap = _outcome(result)
    if result.x is None:
        return Plan(
            status=status,
            skipped=skipped,
            size=size,
            solve_seconds=time.perf_counter() - started,
            reasons=diagnose(
                network,
                names=balance["name"].to_dict(),
                building_names={
                    **buildings.set_index("building_id")["name"].to_dict(),
                    new_building.building_id: new_building.name,
                },
                agency_reach=_reach_notes(
                    demand, supply, agencies, buildings, extra_buildings=[new_building]
                ),
                settings=settings,
            ),
        )
    pairs = len(network.pair_building)
    chosen = result.x[2 * pairs :] > 0.5
    return Plan(
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        flows=_flows_from(result.x, network),
        released=released,
        skipped=skipped,
        handed_back=[b for b, c in zip(candidates, chosen, strict=True) if c],
        size=size,
        solve_seconds=time.perf_counter() - started,
    )


def allocation_changes(
    allocations: pd.DataFrame, released: pd.DataFrame, assigned: pd.DataFrame
) -> dict[int, list[tuple[int, list[int]]]]:
    """The plan as use-allocation acts: per building, each agency whose rooms there change
    and its complete new list of rooms (empty when it gives up all it had there).

    ``allocations``: ``block_id``, ``agency_id``, ``building_id`` of every current
    allocation (all kinds of space, since the act states an agency's whole allocation).
    """
    now = {
        (int(b), int(a)): set(group["block_id"].astype(int))
        for (b, a), group in allocations.groupby(["building_id", "agency_id"])
    }
    after = {key: set(rooms) for key, rooms in now.items()}
    for row in released.itertuples():
        after[(int(row.building_id), int(row.agency_id))].discard(int(row.block_id))
    for row in assigned.itertuples():
        after.setdefault((int(row.building_id), int(row.agency_id)), set()).add(int(row.block_id))
    changes: dict[int, list[tuple[int, list[int]]]] = {}
    for (building, agency), rooms in sorted(after.items()):
        if rooms != now.get((building, agency), set()):
            changes.setdefault(building, []).append((agency, sorted(rooms)))
    return changes
