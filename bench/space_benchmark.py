"""Office-space redistribution: a plan for 2,000 agencies in 500 buildings, timed, with the
optimality gap HiGHS proves, beside a greedy reference measured in the same run.

Usage (from the repository root; needs no database, the plan is pure analysis)::

    .venv/bin/python bench/space_benchmark.py --agencies 2000 --buildings 500 --seeds 1 2 3

For each seed a synthetic city is generated: ``--buildings`` office buildings scattered over a
square of ``--side-km`` (5 % of the premises secret, 5 % internal), each with office rooms of
12-36 m² and one or two suites per floor; ``--agencies`` agencies seated in them (10 % cleared
to secret), with staff by rank drawn as in the demo and scaled down, holding rooms in their
seat building up to 0.6-1.4 times their entitlement under the 2014 standard, so that some are
over the standard, some below it, and some rooms stay vacant. Then
:func:`gis_layers.analysis.redistribution.redistribution_plan` makes the plan (reclaim,
flows by HiGHS, rooms), within ``--max-distance`` metres, with ``--time-limit`` seconds for
HiGHS; the reference is a greedy plan (each agency in deficit, largest first, takes idle space
from the nearest cleared buildings), whose objective is measured with the same cost. Medians
over the seeds are written to the section "Space redistribution" of ``docs/benchmarks.md``.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from doc_sections import (  # noqa: E402  (a module beside this script)
    load_average,
    memory_gib,
    operating_system,
    recorded_command,
    replace_section,
)

REPOSITORY = Path(__file__).resolve().parent.parent
if str(REPOSITORY) not in sys.path:
    # Run as a file, the script's own folder is on the path, not the repository root.
    sys.path.insert(0, str(REPOSITORY))

from gis_layers.analysis.redistribution import (  # noqa: E402
    AREA_EPSILON_M2,
    PlanSettings,
    candidate_pairs,
    redistribution_plan,
)
from gis_layers.analysis.space import Standard, agency_balance  # noqa: E402
from gis_layers.demo.synthetic import staff_establishment  # noqa: E402

DOC = REPOSITORY / "docs" / "benchmarks.md"
SECTION_HEADING = "## Space redistribution"
STANDARD_2014 = Standard(
    name="2014",
    year=2014,
    caps={
        "minister": 54, "vice_minister": 42, "director_general": 24,
        "deputy_director_general": 18, "division": 12, "below_division": 9,
    },
    use_coefficient=0.65,
)  # fmt: skip
ROOM_SIZES = np.array([12.0, 18.0, 24.0, 30.0, 36.0])


def synthetic_city(*, agencies: int, buildings: int, side_km: float, seed: int):
    """Frames for the analysis (see :mod:`gis_layers.analysis.space`)."""
    rng = np.random.default_rng(seed)
    side = side_km * 1000.0
    building_ids = np.arange(1, buildings + 1)
    classes = rng.choice([0, 1, 2], size=buildings, p=[0.9, 0.05, 0.05])
    frame_buildings = pd.DataFrame(
        {
            "building_id": building_ids,
            "name": [f"Building {b}" for b in building_ids],
            "premises_classification": classes,
            "x": rng.uniform(0, side, buildings),
            "y": rng.uniform(0, side, buildings),
            "gross_floor_area_m2": np.nan,
        }
    )
    agency_ids = np.arange(1, agencies + 1)
    # A fifth of the buildings seat no agency: space that only redistribution can fill.
    seated_in = rng.choice(building_ids, size=int(buildings * 0.8), replace=False)
    seats = rng.choice(seated_in, size=agencies)
    clearance = np.where(rng.random(agencies) < 0.1, 2, 0)
    # A classified seat needs a cleared agency.
    clearance = np.maximum(clearance, classes[seats - 1])
    frame_agencies = pd.DataFrame(
        {
            "agency_id": agency_ids,
            "name": [f"Agency {a}" for a in agency_ids],
            "parent_id": pd.array([pd.NA] * agencies, dtype="Int64"),
            "clearance": clearance,
            "seat_building_id": pd.array(seats, dtype="Int64"),
        }
    )
    staff_rows = []
    for agency in agency_ids:
        for rank, count in staff_establishment(rng, ministerial=rng.random() < 0.02).items():
            staff_rows.append((agency, rank, max(int(count) // 4, 1)))
    staff = pd.DataFrame(staff_rows, columns=["agency_id", "rank", "headcount"])
    entitled = (
        (staff["headcount"] * staff["rank"].map(STANDARD_2014.caps))
        .groupby(staff["agency_id"])
        .sum()
    )
    rooms, allocations, block_id = [], [], 1
    for building in building_ids:
        here = agency_ids[seats == building]
        need = float(entitled.reindex(here).sum()) if len(here) else 0.0
        capacity = need * rng.uniform(0.7, 1.3) + rng.uniform(200, 800)
        areas = []
        while sum(areas) < capacity:
            areas.append(
                float(rng.choice(ROOM_SIZES))
                if rng.random() < 0.85
                else float(rng.uniform(80, 250))
            )
        ids = list(range(block_id, block_id + len(areas)))
        block_id += len(areas)
        rooms += [
            (i, building, f"R{i}", 1, "office", a, "use") for i, a in zip(ids, areas, strict=True)
        ]
        free = list(zip(ids, areas, strict=True))
        for agency in here:
            target, held = entitled[agency] * rng.uniform(0.6, 1.4), 0.0
            while free and held < target:
                room, area = free.pop()
                allocations.append((agency, room, agency))
                held += area
    blocks = pd.DataFrame(
        rooms,
        columns=["block_id", "building_id", "label", "floor", "kind", "area_m2", "area_basis"],
    ).assign(valid=True)
    allocations = pd.DataFrame(allocations, columns=["right_id", "block_id", "agency_id"])
    return frame_agencies, staff, blocks, allocations, frame_buildings


def greedy_plan(agencies, staff, blocks, allocations, buildings, settings: PlanSettings):
    """The reference: agencies in deficit, largest first, take idle office space (vacant
    rooms only: no reclaiming) from the nearest cleared buildings in reach. Returns the
    objective under the plan's own cost (mean distance per agency plus the split penalty),
    or None when some agency is left short."""
    balance = agency_balance(agencies, staff, blocks, allocations, STANDARD_2014)
    vacant = blocks[~blocks["block_id"].isin(allocations["block_id"])]
    supply = vacant.groupby("building_id")["area_m2"].sum()
    demand = balance["deficit_m2"][balance["deficit_m2"] >= settings.min_deficit_m2]
    demand = demand.sort_values(ascending=False)
    where = buildings.set_index("building_id")
    seats = agencies.set_index("agency_id")["seat_building_id"].reindex(demand.index).astype(int)
    xy = where.loc[supply.index, ["x", "y"]].to_numpy()
    pb, pa, distance = candidate_pairs(
        xy,
        where.loc[supply.index, "premises_classification"].to_numpy(float),
        where.loc[seats.to_numpy(), ["x", "y"]].to_numpy(),
        agencies.set_index("agency_id")["clearance"].reindex(demand.index).to_numpy(float),
        max_distance_m=settings.max_distance_m,
    )
    left = supply.to_numpy(float).copy()
    building_ids = supply.index.to_numpy()
    total = 0.0
    for index, need in enumerate(demand.to_numpy()):
        mine = np.flatnonzero(pa == index)
        mine = mine[np.argsort(distance[mine])]
        remaining = need
        for pair in mine:
            if remaining <= AREA_EPSILON_M2:
                break
            take = min(left[pb[pair]], remaining)
            if take <= AREA_EPSILON_M2:
                continue
            left[pb[pair]] -= take
            remaining -= take
            total += distance[pair] * take / need
            if building_ids[pb[pair]] != seats.iloc[index]:
                total += settings.split_penalty_m
        if remaining > AREA_EPSILON_M2:
            return None
    return total


def run(seed: int, args) -> dict:
    frames = synthetic_city(
        agencies=args.agencies, buildings=args.buildings, side_km=args.side_km, seed=seed
    )
    agencies, staff, blocks, allocations, buildings = frames
    settings = PlanSettings(
        max_distance_m=args.max_distance,
        split_penalty_m=args.split_penalty,
        time_limit_s=args.time_limit,
        mip_rel_gap=args.mip_rel_gap,
    )
    started = time.perf_counter()
    plan = redistribution_plan(
        agencies=agencies,
        staff=staff,
        blocks=blocks,
        allocations=allocations,
        buildings=buildings,
        standard=STANDARD_2014,
        settings=settings,
    )
    total = time.perf_counter() - started
    started = time.perf_counter()
    greedy = greedy_plan(agencies, staff, blocks, allocations, buildings, settings)
    greedy_seconds = time.perf_counter() - started
    balance = agency_balance(agencies, staff, blocks, allocations, STANDARD_2014)
    result = {
        "seed": seed,
        "status": plan.status,
        "objective": plan.objective,
        "bound": plan.bound,
        "gap": plan.gap,
        "seconds": total,
        "flow_seconds": plan.timings.get("flows", float("nan")),
        "reclaim_seconds": plan.timings.get("reclaim", float("nan")),
        "rooms_seconds": plan.timings.get("rooms", float("nan")),
        "greedy_objective": greedy,
        "greedy_seconds": greedy_seconds,
        "rooms": len(blocks),
        "in_deficit": int((balance["deficit_m2"] >= settings.min_deficit_m2).sum()),
        "over": int((balance["over_m2"] > 0).sum()),
        "released": len(plan.released),
        "flows": len(plan.flows),
        **plan.size,
    }
    print(
        f"seed {seed}: {plan.status}, objective {plan.objective}, gap {plan.gap}, "
        f"{total:.1f} s (reclaim {result['reclaim_seconds']:.1f} s, flows "
        f"{result['flow_seconds']:.1f} s, rooms {result['rooms_seconds']:.1f} s), greedy {greedy}",
        flush=True,
    )
    if plan.reasons:
        print("  " + "\n  ".join(plan.reasons[:5]), flush=True)
    return result


def _median(values) -> float:
    values = [v for v in values if v is not None and not np.isnan(v)]
    return statistics.median(values) if values else float("nan")


def section(results: list[dict], args, command: str, host: dict) -> str:
    solved = [r for r in results if r["objective"] is not None]
    ratios = [
        r["greedy_objective"] / r["objective"]
        for r in solved
        if r["greedy_objective"] is not None and r["objective"]
    ]
    greedy_failed = sum(r["greedy_objective"] is None for r in results)
    rows = "\n".join(
        f"| {r['seed']} | {r['rooms']:,} | {r['in_deficit']} / {r['over']} | {r['pairs']:,} | "
        f"{r['binaries']:,} | {r['status']} | {r['seconds']:.1f} | {r['flow_seconds']:.1f} | "
        f"{r['gap'] if r['gap'] is not None else float('nan'):.2e} | "
        f"{(r['greedy_objective'] / r['objective']) if r['greedy_objective'] and r['objective'] else float('nan'):.2f} | "
        f"{r['greedy_seconds']:.2f} |"
        for r in results
    )
    return f"""{SECTION_HEADING}

Command, from the repository root (pure analysis: no database):

```sh
{command}
```

A synthetic city per seed: {args.agencies:,} agencies seated in {args.buildings} office
buildings over {args.side_km:g} km × {args.side_km:g} km (5 % of the premises secret, 5 %
internal; 10 % of the agencies cleared to secret), rooms of 12-36 m² and some suites, each
agency holding rooms in its seat up to 0.6-1.4 times its entitlement under the 2014 standard.
The plan reclaims over-standard rooms, solves the flows with HiGHS (`scipy.optimize.milp`,
relative gap target {args.mip_rel_gap:g}, time limit {args.time_limit:g} s) within
{args.max_distance:,.0f} m of each seat with {args.split_penalty:,.0f} m per extra building, and
turns flows into rooms. The reference, run side by side on the same city, is a greedy plan:
agencies in deficit, largest first, take vacant rooms' area from the nearest cleared
buildings (no reclaiming), costed with the same objective.
Status `feasible` means HiGHS stopped at the time limit; the gap is then what it had
proved by that time (the plan's objective against the best bound).

Machine: {host["cpus"]} CPUs, {host["memory"]}, {host["system"]}, Python {host["python"]},
SciPy {host["scipy"]} (HiGHS); load average {host["load"]}.

| seed | rooms | agencies in deficit / over | allowed pairs | binaries | status | plan s | HiGHS flows s | gap | greedy ÷ plan objective | greedy s |
|---|---|---|---|---|---|---|---|---|---|---|
{rows}

Medians over {len(results)} seeds: the whole plan **{_median([r["seconds"] for r in results]):.1f} s**
(of which HiGHS on the flows {_median([r["flow_seconds"] for r in results]):.1f} s, reclaiming
{_median([r["reclaim_seconds"] for r in results]):.2f} s, rooms
{_median([r["rooms_seconds"] for r in results]):.2f} s), optimality gap
**{_median([r["gap"] for r in solved]):.2e}**; the greedy reference costs
{_median(ratios):.2f} × the plan's objective (on the {len(ratios)} cities where it meets every
deficit; it left agencies short on {greedy_failed}) in {_median([r["greedy_seconds"] for r in results]):.2f} s.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=2000)
    parser.add_argument("--buildings", type=int, default=500)
    parser.add_argument("--side-km", type=float, default=12.0)
    parser.add_argument("--max-distance", type=float, default=2000.0)
    parser.add_argument("--split-penalty", type=float, default=500.0)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--mip-rel-gap", type=float, default=1e-4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--summary", type=Path, help="also write the results here, as JSON")
    args = parser.parse_args()
    load_at_start = load_average()
    results = [run(seed, args) for seed in args.seeds]
    import platform

    import scipy

    host = {
        "cpus": str(__import__("os").cpu_count()),
        "memory": memory_gib(),
        "system": operating_system(),
        "python": platform.python_version(),
        "scipy": scipy.__version__,
        "load": f"{load_at_start} at the start, {load_average()} at the end",
    }
    command = recorded_command("bench/space_benchmark.py", sys.argv[1:])
    text = section(results, args, command.strip(), host)
    print(text)
    if args.summary:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(json.dumps(results, indent=1, default=float))
    if not args.no_write:
        replace_section(text, heading=SECTION_HEADING, doc=DOC)


if __name__ == "__main__":
    main()
