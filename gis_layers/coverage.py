"""Shelter coverage runs: load population, shelters and streets from the database, run the
analysis in ``gis_layers.analysis.coverage``, and keep the results.

A run is started by :func:`start_run` and carried out by :func:`execute_run`, from the
``shelter_coverage`` command or, for the web, in a background thread so that a long run
never holds a request. It sees only shelters up to its clearance.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import shapely
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from gis_layers.analysis import coverage as analysis
from gis_layers.metric import metric_epsg
from gis_layers.models import CoverageRun
from registry.models import Condition, District, Shelter, ShelterType
from registry.selectors import clearance_of

logger = logging.getLogger(__name__)

MODES = ("straight", "walking")
PERIODS = ("night", "day")
# How far the walking search for a nearest shelter goes; cells beyond are "none in range".
NEAREST_WALK_LIMIT_M = 3000.0
# Service radii a run may take: from a building's own shelter to a district's evacuation point.
MIN_RADIUS_M, MAX_RADIUS_M = 10.0, 5000.0
# Imported cells are sourced "file name#row"; the file name names the grid they belong to.
DATASET_OF_CELL = "split_part(c.source, '#', 1)"
Step = Callable[[float, str], None]  # (share done 0–1, what is happening)


class CoverageError(ValueError):
    """The run cannot be carried out as asked; the message says why."""


@dataclass
class CoverageOptions:
    """What a run analyses. Shelters left out (by condition or by id) make the what-if."""

    mode: str = "straight"
    shelter_types: list[str] = field(default_factory=lambda: [ShelterType.PERSONNEL])
    leave_out_conditions: list[str] = field(default_factory=lambda: [Condition.POOR])
    leave_out_shelters: list[int] = field(default_factory=list)
    population_source: str = ""  # a grid: the source of its cells up to any "#"
    sites: int = 0
    candidate_points: list[list[float]] = field(default_factory=list)  # [lon, lat] in 4490
    area_per_person_m2: float = 0.0  # 0: the configured default
    personnel_radius_m: float = 0.0  # 0: the configured default
    other_radius_m: float = 0.0  # of the other shelter types; 0: the configured default
    decay: list[float] = field(default_factory=list)  # empty: the configured default

    def checked(self) -> "CoverageOptions":
        if self.mode not in MODES:
            raise CoverageError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        unknown = set(self.shelter_types) - set(ShelterType.values)
        if unknown or not self.shelter_types:
            raise CoverageError(
                f"shelter types must be among {', '.join(ShelterType.values)}"
                + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else "")
            )
        unknown = set(self.leave_out_conditions) - set(Condition.values)
        if unknown:
            raise CoverageError(f"unknown conditions: {', '.join(sorted(unknown))}")
        if not 0 <= self.sites <= 100:
            raise CoverageError("the number of sites to recommend must be between 0 and 100")
        if not self.area_per_person_m2:
            self.area_per_person_m2 = settings.LANDLEDGER_SHELTER_AREA_PER_PERSON_M2
        if self.area_per_person_m2 < 0.46:
            raise CoverageError("the area per person must be at least 0.46 m²")
        configured = settings.LANDLEDGER_SHELTER_RADIUS_M
        self.personnel_radius_m = self.personnel_radius_m or configured[ShelterType.PERSONNEL]
        self.other_radius_m = self.other_radius_m or configured["default"]
        for name, radius in (
            ("personnel", self.personnel_radius_m),
            ("other", self.other_radius_m),
        ):
            if not MIN_RADIUS_M <= radius <= MAX_RADIUS_M:
                raise CoverageError(
                    f"the {name} shelters' service radius must be between {MIN_RADIUS_M:g} and "
                    f"{MAX_RADIUS_M:g} m, not {radius:g}"
                )
        self.decay = list(self.decay or settings.LANDLEDGER_E2SFCA_DECAY)
        if not (
            len(self.decay) == 3
            and all(0 < weight <= 1 for weight in self.decay)
            and self.decay == sorted(self.decay, reverse=True)
        ):
            raise CoverageError(
                "the distance decay must be three weights between 0 and 1, none larger than "
                f"the one before (as 1, 0.68, 0.22), not {', '.join(map(str, self.decay))}"
            )
        for point in self.candidate_points:
            if len(point) != 2 or not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90):
                raise CoverageError(f"candidate site {point} is not a longitude, latitude pair")
        return self


def runs_visible_to(*, user):
    """Runs whose shelters the user is cleared to see."""
    return CoverageRun.objects.filter(clearance__lte=clearance_of(user=user))


def start_run(*, user, options: CoverageOptions, clearance: int | None = None) -> CoverageRun:
    """A pending run at the user's clearance (or ``clearance`` for the command, which has no
    user). Raises CoverageError for bad options."""
    options.checked()
    if user is not None:
        clearance = clearance_of(user=user)
    # A run without a user (the command's) is always given its clearance.
    assert clearance is not None
    return CoverageRun.objects.create(
        requested_by=user, clearance=clearance, parameters=asdict(options)
    )


def start_in_background(run: CoverageRun) -> None:
    """Carry the run out in a thread once the transaction that made it commits."""

    def work():
        try:
            execute_run(run.pk)
        finally:
            connection.close()

    transaction.on_commit(lambda: threading.Thread(target=work, daemon=True).start())


def execute_run(run_id: int, *, step: Step | None = None) -> CoverageRun:
    """Carry out a pending run; its progress is saved as it goes (visible to other
    connections) and its results in one transaction at the end. A failure is recorded on
    the run with its reason."""
    run = CoverageRun.objects.get(pk=run_id)

    def report(done: float, message: str) -> None:
        CoverageRun.objects.filter(pk=run_id).update(
            status=CoverageRun.Status.RUNNING, progress=done, message=message
        )
        if step:
            step(done, message)

    try:
        options = CoverageOptions(**run.parameters).checked()
        results = _analyse(options, clearance=run.clearance, report=report)
        with transaction.atomic():
            _store(run, results)
            CoverageRun.objects.filter(pk=run_id).update(
                status=CoverageRun.Status.DONE,
                progress=1.0,
                message="",
                summary=results["summary"],
                finished_at=timezone.now(),
            )
            # A shelter classified higher while the run computed raises its clearance, as
            # one classified higher later does (the trigger of gis_layers 0014).
            _rows("SELECT landledger_raise_coverage_run_clearance(%s, NULL)", [run_id])
    except CoverageError as error:
        _fail(run_id, str(error))
    except Exception as error:
        logger.exception("coverage run %s failed", run_id)
        _fail(run_id, f"the analysis stopped with an internal error ({type(error).__name__})")
    return CoverageRun.objects.get(pk=run_id)


def _fail(run_id: int, message: str) -> None:
    CoverageRun.objects.filter(pk=run_id).update(
        status=CoverageRun.Status.FAILED, message=message, finished_at=timezone.now()
    )


def _rows(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _load_cells(options: CoverageOptions) -> tuple[pd.DataFrame, int]:
    source_filter = f"AND {DATASET_OF_CELL} = %s" if options.population_source else ""
    params = [options.population_source] if options.population_source else []
    extent = _rows(
        "SELECT ST_X(ST_Centroid(ST_Extent(c.geom)::geometry)), ST_Y(ST_Centroid(ST_Extent(c.geom)::geometry)) "
        f"FROM gis_layers_populationcell c WHERE true {source_filter}",
        params,
    )[0]
    if extent[0] is None:
        raise CoverageError(
            "no population cells"
            + (f" from source {options.population_source!r}" if options.population_source else "")
            + ": import a population grid first (import_layer population PATH)"
        )
    srid = metric_epsg(*extent)
    cells = pd.DataFrame(
        _rows(
            "SELECT c.id, c.district_id, c.residents, ST_X(p.g), ST_Y(p.g) "
            f"FROM gis_layers_populationcell c, ST_Transform(ST_Centroid(c.geom), %s) p(g) "
            f"WHERE true {source_filter} ORDER BY c.id",
            [srid, *params],
        ),
        columns=["id", "district_id", "night", "x", "y"],
    )
    return cells, srid


def _daytime(cells: pd.DataFrame, srid: int, source: str) -> tuple[np.ndarray, dict]:
    """Residents plus each agency's staff in the cell holding its seat building; staff who
    cannot be placed (no current office on record, or an office outside the grid) are
    counted in the second value, not dropped silently."""
    offices = pd.DataFrame(
        _rows(
            "SELECT b.id, sum(e.headcount), ST_X(p.g), ST_Y(p.g) FROM registry_agency a "
            "JOIN registry_staffestablishment e ON e.agency_id = a.party_id "
            "LEFT JOIN registry_building b ON b.id = a.seat_building_id AND b.valid_to IS NULL "
            "LEFT JOIN LATERAL ST_Transform(ST_PointOnSurface(b.footprint), %s) p(g) ON true "
            "GROUP BY b.id, p.g",
            [srid],
        ),
        columns=["building", "staff", "x", "y"],
    )
    homeless = offices["building"].isna()
    unplaced = {
        "staff_without_office": {"staff": int(offices.loc[homeless, "staff"].sum())},
        "staff_outside_grid": {"buildings": 0, "staff": 0},
    }
    offices = offices[~homeless]
    day = cells["night"].to_numpy(dtype=float).copy()
    if offices.empty or cells.empty:
        return day, unplaced
    cell_ids = _cells_at(cells, offices[["x", "y"]].to_numpy(dtype=float), srid, source)
    inside = cell_ids >= 0
    np.add.at(day, cell_ids[inside], offices["staff"].to_numpy(dtype=float)[inside])
    unplaced["staff_outside_grid"] = {
        "buildings": int((~inside).sum()),
        "staff": int(offices["staff"][~inside].sum()),
    }
    return day, unplaced


def _cells_at(cells: pd.DataFrame, points: np.ndarray, srid: int, source: str) -> np.ndarray:
    """Index (into ``cells``) of the cell holding each point (metric coordinates); -1 where
    none does."""
    found = _rows(
        "SELECT DISTINCT ON (u.n) u.n, c.id FROM unnest(%s::float8[], %s::float8[]) "
        "WITH ORDINALITY u(x, y, n) JOIN gis_layers_populationcell c "
        "ON ST_Contains(c.geom, ST_Transform(ST_SetSRID(ST_MakePoint(u.x, u.y), %s), 4490)) "
        f"AND (%s = '' OR {DATASET_OF_CELL} = %s) ORDER BY u.n, c.id",
        [points[:, 0].tolist(), points[:, 1].tolist(), srid, source, source],
    )
    position = pd.Series(np.arange(len(cells)), index=cells["id"])
    result = np.full(len(points), -1)
    for ordinal, cell_id in found:
        result[ordinal - 1] = position[cell_id]
    return result


def _load_shelters(
    options: CoverageOptions, clearance: int, srid: int
) -> tuple[pd.DataFrame, list]:
    """Usable shelters of the chosen types up to the clearance, and the ones left out of the
    analysis with the reason (never counted silently)."""
    queryset = Shelter.objects.filter(
        valid_to__isnull=True,
        classification__lte=clearance,
        shelter_type__in=options.shelter_types,
    ).order_by("id")
    rows = _rows(
        "SELECT s.id, s.name, s.shelter_type, s.condition, s.capacity_persons, s.usable_area_m2, "
        "ST_X(s.location), ST_Y(s.location), ST_X(p.g), ST_Y(p.g) FROM registry_shelter s, "
        "ST_Transform(s.location, %s) p(g) WHERE s.id = ANY(%s) ORDER BY s.id",
        [srid, list(queryset.values_list("id", flat=True))],
    )
    frame = pd.DataFrame(
        rows,
        columns=["id", "name", "type", "condition", "capacity", "area", "lon", "lat", "x", "y"],
    )
    frame["places"] = np.minimum(
        frame["capacity"], np.floor(frame["area"] / options.area_per_person_m2)
    )
    frame["radius"] = np.where(
        frame["type"] == ShelterType.PERSONNEL, options.personnel_radius_m, options.other_radius_m
    )
    excluded = []

    def leave_out(mask, reason):
        for row in frame[mask].itertuples():
            excluded.append({"shelter": int(row.id), "name": row.name, "reason": reason(row)})
        return frame[~mask]

    frame = leave_out(
        (frame["lon"] == 0) & (frame["lat"] == 0),
        lambda row: "located at (0, 0): the position is missing",
    )
    frame = leave_out(
        frame["condition"] == Condition.DANGEROUS, lambda row: "condition dangerous: not usable"
    )
    frame = leave_out(
        frame["places"] <= 0,
        lambda row: f"no places (capacity {row.capacity}, usable area {row.area:g} m²)",
    )
    # The same works entered twice: same type within a metre of each other.
    key = (
        frame["type"]
        + ":"
        + frame["x"].round(0).astype(str)
        + ":"
        + frame["y"].round(0).astype(str)
    )
    first = frame.groupby(key)["id"].transform("min")
    frame = leave_out(
        frame["id"] != first, lambda row: f"duplicate of shelter {int(first[row.Index])}"
    )
    return frame.reset_index(drop=True), excluded


def _network(srid: int) -> analysis.WalkingNetwork:
    lines = _rows(
        "SELECT ST_AsBinary(ST_Transform(geom, %s)) FROM gis_layers_roadsegment WHERE walkable",
        [srid],
    )
    if not lines:
        raise CoverageError("walking mode needs a street network: import roads first")
    geometries = shapely.from_wkb([bytes(row[0]) for row in lines])
    return analysis.WalkingNetwork([shapely.get_coordinates(line) for line in geometries])


def _candidates(options: CoverageOptions, clearance: int, srid: int) -> pd.DataFrame:
    """Candidate sites: the user's points, else buildings on state-held parcels (held by the
    State or an agency) without a shelter the run may see."""
    if options.candidate_points:
        lon, lat = np.array(options.candidate_points, dtype=float).T
        rows = _rows(
            "SELECT NULL::bigint, 'site ' || n, u.lon, u.lat, ST_X(p.g), ST_Y(p.g) "
            "FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY u(lon, lat, n), "
            "ST_Transform(ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4490), %s) p(g) ORDER BY n",
            [lon.tolist(), lat.tolist(), srid],
        )
    else:
        rows = _rows(
            "SELECT b.id, COALESCE(NULLIF(b.name, ''), NULLIF(b.address, ''), 'building ' || b.id), "
            "ST_X(c.g), ST_Y(c.g), ST_X(p.g), ST_Y(p.g) FROM registry_building b "
            "JOIN registry_title t ON t.parcel_id = b.parcel_id, ST_PointOnSurface(b.footprint) c(g), "
            "ST_Transform(c.g, %s) p(g) WHERE b.valid_to IS NULL AND NOT b.is_underground "
            # A shelter above the run's clearance does not exist for it: leaving its building
            # out of the sites would give it away by its absence.
            "AND NOT EXISTS (SELECT 1 FROM registry_shelter s WHERE s.building_id = b.id AND s.valid_to IS NULL "
            "  AND s.classification <= %s) "
            "AND EXISTS (SELECT 1 FROM registry_right r JOIN registry_rightholder h ON h.right_id = r.id "
            "  JOIN registry_party pa ON pa.id = h.party_id WHERE r.title_id = t.id AND r.valid_to IS NULL "
            "  AND r.kind IN ('state_ownership', 'land_use_right') AND pa.kind IN ('state', 'agency')) "
            "ORDER BY b.id",
            [srid, clearance],
        )
    return pd.DataFrame(rows, columns=["building", "name", "lon", "lat", "x", "y"])


def _analyse(options: CoverageOptions, *, clearance: int, report: Step) -> dict:
    report(0.02, "loading population")
    cells, srid = _load_cells(options)
    day, unplaced_staff = _daytime(cells, srid, options.population_source)
    night = cells["night"].to_numpy(dtype=float)
    report(0.1, "loading shelters")
    shelters, excluded = _load_shelters(options, clearance, srid)
    cell_xy = cells[["x", "y"]].to_numpy()
    shelter_xy = shelters[["x", "y"]].to_numpy()
    radius = shelters["radius"].to_numpy(dtype=float)
    places = shelters["places"].to_numpy(dtype=float)
    network = None
    if options.mode == "walking":
        report(0.15, "building the walking network")
        network = _network(srid)

    def reach_of(xy, radii, share_from, share_to):
        if network is None:
            return analysis.straight_line_reach(cell_xy, xy, radii)
        span = share_to - share_from
        return network.reach(
            cell_xy,
            xy,
            radii,
            progress=lambda done, total: report(
                share_from + span * done / total, f"walking distances: {done} of {total} shelters"
            ),
        )

    def nearest_of(keep):
        if network is None:
            return analysis.nearest_straight_line(cell_xy, shelter_xy[keep])
        return network.nearest(cell_xy, shelter_xy[keep], limit_m=NEAREST_WALK_LIMIT_M)

    report(0.2, "distances from cells to shelters")
    reach = reach_of(shelter_xy, radius, 0.2, 0.6)
    nearest = nearest_of(np.ones(len(shelters), bool))
    report(0.6, "coverage and capacity")
    district_names = dict(District.objects.values_list("pk", "name"))
    group = cells["district_id"].map(district_names).fillna("(outside the districts)").to_numpy()
    # checked() let through exactly three weights.
    near, middle, far = options.decay
    decay = (near, middle, far)
    base = {period: analysis.coverage(population, places, radius, reach, decay=decay)
            for period, population in (("night", night), ("day", day))}  # fmt: skip

    left_out = shelters["condition"].isin(options.leave_out_conditions) | shelters["id"].isin(
        options.leave_out_shelters
    )
    what_if = None
    if left_out.any():
        kept_reach = reach.only_shelters(~left_out.to_numpy())
        what_if = {period: analysis.coverage(population, places, radius, kept_reach, decay=decay)
                   for period, population in (("night", night), ("day", day))}  # fmt: skip

    siting = None
    if options.sites:
        report(0.7, "choosing new sites")
        siting = _siting(options, clearance, srid, cell_xy, night, base["night"], reach_of)
    report(0.9, "saving results")

    def table(results):
        return {
            period: _records(analysis.totals(population, results[period], group))
            for period, population in (("night", night), ("day", day))
        }

    load = {period: base[period].load for period in PERIODS}
    summary = {
        "crs": f"EPSG:{srid}",
        "mode": options.mode,
        "personnel_radius_m": options.personnel_radius_m,
        "other_radius_m": options.other_radius_m,
        "decay": options.decay,
        "area_per_person_m2": options.area_per_person_m2,
        "counts": {
            "cells": len(cells),
            "shelters": len(shelters),
            "excluded_shelters": len(excluded),
        },
        "places": float(places.sum()),
        "totals": table(base),
        "what_if": None
        if what_if is None
        else {
            "left_out": shelters.loc[left_out, ["id", "name", "condition"]].to_dict("records"),
            "totals": table(what_if),
        },
        "overloaded": [
            {
                "shelter": int(row.id),
                "name": row.name,
                "places": float(row.places),
                "load_night": float(load["night"][i]),
                "load_day": float(load["day"][i]),
            }
            for i, row in enumerate(shelters.itertuples())
            if max(load["night"][i], load["day"][i]) > 1
        ],  # fmt: skip
        "siting": siting,
        "excluded_shelters": excluded,
        **unplaced_staff,
        "cells_outside_districts": int(cells["district_id"].isna().sum()),
    }
    return {
        "summary": _json_safe(summary),
        "cells": cells.assign(day=day, nearest=nearest),
        "base": base,
        "shelters": shelters,
        "reach": reach,
    }


def _siting(options, clearance, srid, cell_xy, night, base_night, reach_of) -> dict:
    candidates = _candidates(options, clearance, srid)
    if candidates.empty:
        return {"candidates": 0, "sites": [], "note": "no candidate sites"}
    radius = np.full(len(candidates), options.personnel_radius_m)
    reach = reach_of(candidates[["x", "y"]].to_numpy(), radius, 0.7, 0.85)
    uncovered = np.where(base_night.covered, 0.0, night)
    result = analysis.maximal_covering(
        uncovered, reach, candidates=len(candidates), k=options.sites
    )
    return {
        "candidates": len(candidates),
        "source": "user's points"
        if options.candidate_points
        else "buildings on state-held parcels without a shelter",
        "radius_m": float(radius[0]),
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "greedy_objective": result.greedy_objective,
        "sites": [
            {
                "building": None
                if pd.isna(candidates.at[i, "building"])
                else int(candidates.at[i, "building"]),
                "name": candidates.at[i, "name"],
                "lon": float(candidates.at[i, "lon"]),
                "lat": float(candidates.at[i, "lat"]),
                "added_night": float(added),
            }
            for i, added in zip(result.chosen, result.added, strict=True)
        ],  # fmt: skip
    }


def _records(table: pd.DataFrame) -> list[dict]:
    return [{"district": str(name), **{column: float(value) for column, value in row.items()}}
            for name, row in table.iterrows()]  # fmt: skip


def _json_safe(value):
    """Numbers as plain floats and ints, infinities as None, for the JSON field."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    return value


def _store(run: CoverageRun, results: dict) -> None:
    """Cells and shelters of the run in two set-based statements."""
    cells, base, shelters, reach = (results[key] for key in ("cells", "base", "shelters", "reach"))
    nearest = cells["nearest"].to_numpy()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO gis_layers_coveragecell (run_id, geom, district_id, night, day, nearest_m, "
            "covered, access_night, access_day) "
            "SELECT %s, c.geom, c.district_id, u.night, u.day, u.nearest, u.covered, u.an, u.ad "
            "FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[], %s::bool[], "
            "%s::float8[], %s::float8[]) u(id, night, day, nearest, covered, an, ad) "
            "JOIN gis_layers_populationcell c ON c.id = u.id",
            [
                run.pk,
                cells["id"].tolist(),
                cells["night"].astype(float).tolist(),
                cells["day"].astype(float).tolist(),
                [None if not np.isfinite(value) else float(value) for value in nearest],
                base["night"].covered.tolist(),
                base["night"].access.tolist(),
                base["day"].access.tolist(),
            ],
        )
        cell_ids = cells["id"].to_numpy()
        shelter_ids = shelters["id"].to_numpy()
        cursor.execute(
            "WITH pairs AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[]) u(shelter_id, cell_id)), "
            "areas AS (SELECT pairs.shelter_id, ST_Multi(ST_Union(c.geom)) AS area FROM pairs "
            "  JOIN gis_layers_populationcell c ON c.id = pairs.cell_id GROUP BY pairs.shelter_id) "
            "INSERT INTO gis_layers_coverageshelter (run_id, shelter_id, location, catchment_area, "
            "places, radius_m, catchment_night, catchment_day) "
            "SELECT %s, s.id, s.location, areas.area, u.places, u.radius, u.night, u.day "
            "FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[], %s::float8[]) "
            "u(id, places, radius, night, day) JOIN registry_shelter s ON s.id = u.id "
            "LEFT JOIN areas ON areas.shelter_id = u.id",
            [
                shelter_ids[reach.shelter].tolist(),
                cell_ids[reach.cell].tolist(),
                run.pk,
                shelter_ids.tolist(),
                shelters["places"].astype(float).tolist(),
                shelters["radius"].astype(float).tolist(),
                base["night"].catchment.tolist(),
                base["day"].catchment.tolist(),
            ],
        )


def population_grids() -> list[str]:
    """The population grids a run can choose from (see DATASET_OF_CELL)."""
    return [row[0] for row in _rows(
        f"SELECT DISTINCT {DATASET_OF_CELL} FROM gis_layers_populationcell c ORDER BY 1", []
    )]  # fmt: skip
