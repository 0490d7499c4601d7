"""Shelter coverage: who can reach a shelter with room for them, and where to build next.

Pure numpy/scipy on arrays of points in one metric CRS (distances in metres, population in
persons, capacity in places). No Django imports.

Every analysis starts from a :class:`Reach`: the (population cell, shelter) pairs within the
shelter's service radius and their distance, either in a straight line
(:func:`straight_line_reach`) or on foot along a street network (:class:`WalkingNetwork`).
:func:`coverage` turns a reach into per-cell and per-shelter figures, :func:`totals` sums them
by group, and :func:`maximal_covering` picks new sites.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

# Enhanced two-step floating catchment (Luo & Qi 2009): weight of a pair in the first, second
# and third of the service radius, as in PySAL ``access``; the default of every function that
# takes ``decay`` (a deployment may configure others: LANDLEDGER_E2SFCA_DECAY).
DECAY_WEIGHTS = (1.0, 0.68, 0.22)
Decay = tuple[float, float, float]

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Reach:
    """Pairs of population cell and shelter within the shelter's service radius.

    Attributes
    ----------
    cell, shelter
        Indices into the cell and shelter arrays the reach was computed for.
    distance_m
        Distance of each pair in metres (straight-line or walking).
    """

    cell: np.ndarray
    shelter: np.ndarray
    distance_m: np.ndarray

    def only_shelters(self, keep: np.ndarray) -> "Reach":
        """The pairs whose shelter is kept (``keep`` is a boolean mask over shelters)."""
        mask = keep[self.shelter]
        return Reach(self.cell[mask], self.shelter[mask], self.distance_m[mask])


def _empty_reach() -> Reach:
    return Reach(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, float))


def straight_line_reach(cell_xy: np.ndarray, shelter_xy: np.ndarray, radius_m: np.ndarray) -> Reach:
    """Pairs within each shelter's radius, by straight-line distance.

    Parameters
    ----------
    cell_xy, shelter_xy
        (n, 2) coordinates in metres.
    radius_m
        Service radius of each shelter in metres.
    """
    if len(cell_xy) == 0 or len(shelter_xy) == 0:
        return _empty_reach()
    # Built once and queried once: an unbalanced tree builds about three times faster.
    tree = cKDTree(cell_xy, balanced_tree=False, compact_nodes=False)
    neighbours = tree.query_ball_point(shelter_xy, r=radius_m, return_sorted=False, workers=-1)
    counts = np.fromiter(
        (len(found) for found in neighbours), dtype=np.int64, count=len(neighbours)
    )
    shelter = np.repeat(np.arange(len(shelter_xy)), counts)
    cell = np.fromiter(
        (index for found in neighbours for index in found), dtype=np.int64, count=counts.sum()
    )
    distance = np.hypot(*(cell_xy[cell] - shelter_xy[shelter]).T)
    # query_ball_point includes points on the boundary; so does the service radius.
    return Reach(cell, shelter, distance)


def nearest_straight_line(cell_xy: np.ndarray, shelter_xy: np.ndarray) -> np.ndarray:
    """Straight-line distance in metres from each cell to its nearest shelter (inf if none)."""
    if len(shelter_xy) == 0:
        return np.full(len(cell_xy), np.inf)
    distance, _ = cKDTree(shelter_xy).query(cell_xy, k=1, workers=-1)
    return np.asarray(distance, dtype=float)


class WalkingNetwork:
    """A street and footway network as an undirected graph of its vertices.

    Every vertex of every line is a node and every straight piece between two vertices an
    edge, so a point joins the network at the nearest vertex (a straight connector whose
    length is added to the walk). Lines that share a vertex (to the centimetre) are
    connected; lines that merely cross are not, as bridges and underpasses do not meet.
    """

    def __init__(self, lines: Sequence[np.ndarray]):
        """``lines``: one (n, 2) array of coordinates in metres per line."""
        lines = [np.asarray(line, dtype=float) for line in lines if len(line) >= 2]
        if not lines:
            raise ValueError("the walking network has no lines")
        vertices = np.concatenate(lines)
        keys = np.round(vertices, 2)
        self.node_xy, node_of_vertex = np.unique(keys, axis=0, return_inverse=True)
        node_of_vertex = node_of_vertex.ravel()
        starts = np.cumsum([0] + [len(line) for line in lines[:-1]])
        ends = starts + np.array([len(line) for line in lines])
        piece_start = np.concatenate(
            [np.arange(s, e - 1) for s, e in zip(starts, ends, strict=True)]
        )
        u, v = node_of_vertex[piece_start], node_of_vertex[piece_start + 1]
        length = np.hypot(*(vertices[piece_start + 1] - vertices[piece_start]).T)
        keep = u != v
        self.edge_count = int(keep.sum())
        self.graph = _undirected_graph(u[keep], v[keep], length[keep], len(self.node_xy))
        self._tree = cKDTree(self.node_xy)

    @property
    def node_count(self) -> int:
        return len(self.node_xy)

    def attach(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest node of each point and the connector length in metres."""
        connector, node = self._tree.query(xy, k=1)
        return np.asarray(node, dtype=np.int64), np.asarray(connector, dtype=float)

    def reach(
        self,
        cell_xy: np.ndarray,
        shelter_xy: np.ndarray,
        radius_m: np.ndarray,
        *,
        batch: int = 64,
        progress: Progress | None = None,
    ) -> Reach:
        """Pairs within each shelter's radius, by walking distance (connectors included)."""
        if len(cell_xy) == 0 or len(shelter_xy) == 0:
            return _empty_reach()
        cell_node, cell_connector = self.attach(cell_xy)
        shelter_node, shelter_connector = self.attach(shelter_xy)
        # Cells grouped by the node they join at, to expand reached nodes into cells.
        order = np.argsort(cell_node, kind="stable")
        cells_at = np.bincount(cell_node, minlength=self.node_count)
        first_at = np.concatenate([[0], np.cumsum(cells_at)[:-1]])
        parts = []
        for start in range(0, len(shelter_xy), batch):
            shelters = np.arange(start, min(start + batch, len(shelter_xy)))
            budget = radius_m[shelters] - shelter_connector[shelters]
            walks = dijkstra(
                self.graph,
                directed=False,
                indices=shelter_node[shelters],
                limit=max(float(budget.max()), 0.0),
            )
            row, node = np.nonzero(walks <= budget[:, None])
            counts = cells_at[node]
            row, node_walk = np.repeat(row, counts), np.repeat(walks[row, node], counts)
            offsets = np.repeat(first_at[node] - np.cumsum(counts) + counts, counts)
            cell = order[offsets + np.arange(counts.sum())]
            shelter = shelters[row]
            distance = node_walk + cell_connector[cell] + shelter_connector[shelter]
            within = distance <= radius_m[shelter]
            parts.append((cell[within], shelter[within], distance[within]))
            if progress:
                progress(shelters[-1] + 1, len(shelter_xy))
        return Reach(*(np.concatenate(column) for column in zip(*parts, strict=True)))

    def nearest(self, cell_xy: np.ndarray, shelter_xy: np.ndarray, *, limit_m: float) -> np.ndarray:
        """Walking distance in metres from each cell to its nearest shelter; inf beyond
        ``limit_m`` or where the network does not connect them."""
        if len(shelter_xy) == 0:
            return np.full(len(cell_xy), np.inf)
        cell_node, cell_connector = self.attach(cell_xy)
        shelter_node, shelter_connector = self.attach(shelter_xy)
        # One search from a virtual source joined to every shelter's node by its connector.
        source = self.node_count
        entry = pd.Series(shelter_connector).groupby(shelter_node).min()
        joined = _undirected_graph(
            np.full(len(entry), source), entry.index.to_numpy(), entry.to_numpy(), source + 1
        )
        graph = sparse.block_diag([self.graph, sparse.csr_matrix((1, 1))], format="csr") + joined
        walks = dijkstra(graph, directed=False, indices=source, limit=limit_m)
        distance = walks[cell_node] + cell_connector
        distance[distance > limit_m] = np.inf
        return distance


def _undirected_graph(u, v, length, size: int) -> sparse.csr_matrix:
    """A symmetric sparse graph keeping the shortest of parallel edges.

    A sparse matrix would add parallel edges up, and would read a zero length as no edge:
    lengths get a micrometre so that points sharing a node are still joined.
    """
    low, high = np.minimum(u, v), np.maximum(u, v)
    frame = pd.DataFrame({"low": low, "high": high, "length": np.asarray(length) + 1e-6})
    shortest = frame.groupby(["low", "high"], as_index=False)["length"].min()
    rows = np.concatenate([shortest["low"], shortest["high"]])
    cols = np.concatenate([shortest["high"], shortest["low"]])
    data = np.concatenate([shortest["length"], shortest["length"]])
    return sparse.csr_matrix((data, (rows, cols)), shape=(size, size))


def decay_weight(
    distance_m: np.ndarray, radius_m: np.ndarray, decay: Decay = DECAY_WEIGHTS
) -> np.ndarray:
    """E2SFCA weight of each pair: ``decay`` over thirds of the radius."""
    band = np.minimum((3 * np.asarray(distance_m) / np.asarray(radius_m)).astype(int), 2)
    return np.asarray(decay, dtype=float)[band]


@dataclass(frozen=True)
class Coverage:
    """Per-cell and per-shelter results of :func:`coverage`.

    Attributes
    ----------
    covered
        Per cell: some shelter is within its radius.
    access
        Per cell: places per person within reach, capacity-aware (E2SFCA score); a cell
        shares each shelter's places with everyone else in its catchment.
    with_place
        Per cell: persons with a place, ``population × min(1, access)``.
    catchment
        Per shelter: persons within its radius (a cell counts in every catchment it is in).
    load
        Per shelter: catchment ÷ capacity.
    places_per_person
        Per shelter: capacity ÷ its distance-weighted demand (E2SFCA first step); 0 where no
        one is within reach.
    """

    covered: np.ndarray
    access: np.ndarray
    with_place: np.ndarray
    catchment: np.ndarray
    load: np.ndarray
    places_per_person: np.ndarray

    @classmethod
    def of(cls, population, capacity, covered, access, catchment, ratio) -> "Coverage":
        """The figures that follow from coverage, access and catchments."""
        return cls(
            covered=covered,
            access=access,
            with_place=population * np.minimum(access, 1.0),
            catchment=catchment,
            load=catchment / capacity if len(capacity) else np.empty(0),
            places_per_person=ratio,
        )


def coverage(
    population: np.ndarray,
    capacity: np.ndarray,
    radius_m: np.ndarray,
    reach: Reach,
    *,
    decay: Decay = DECAY_WEIGHTS,
) -> Coverage:
    """Covered cells, capacity-aware access and shelter loads.

    Parameters
    ----------
    population
        Persons per cell.
    capacity
        Places per shelter (> 0).
    radius_m
        Service radius per shelter in metres (sets the decay bands).
    reach
        Pairs within reach, from :func:`straight_line_reach` or :meth:`WalkingNetwork.reach`.
    decay
        E2SFCA weights of the three bands of the radius.
    """
    shelters = len(capacity)
    demand = shelter_demand(reach, population[reach.cell], radius_m, shelters=shelters, decay=decay)
    ratio = places_per_person(capacity, demand)
    access, covered = cell_access(
        reach, reach.cell, ratio, radius_m, cells=len(population), decay=decay
    )
    catchment = np.bincount(reach.shelter, weights=population[reach.cell], minlength=shelters)
    return Coverage.of(population, capacity, covered, access, catchment, ratio)


def shelter_demand(
    reach: Reach,
    pair_population: np.ndarray,
    radius_m: np.ndarray,
    *,
    shelters: int,
    decay: Decay = DECAY_WEIGHTS,
) -> np.ndarray:
    """E2SFCA step 1's denominator: per shelter, the distance-weighted persons in reach
    (``pair_population`` holds the persons of each pair's cell)."""
    weight = decay_weight(reach.distance_m, radius_m[reach.shelter], decay)
    return np.bincount(reach.shelter, weights=pair_population * weight, minlength=shelters)


def places_per_person(capacity: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """E2SFCA step 1: places ÷ weighted demand; 0 where no one is within reach."""
    return np.divide(capacity, demand, out=np.zeros(len(capacity)), where=demand > 0)


def cell_access(
    reach: Reach,
    cell_position: np.ndarray,
    ratio: np.ndarray,
    radius_m: np.ndarray,
    *,
    cells: int,
    decay: Decay = DECAY_WEIGHTS,
) -> tuple[np.ndarray, np.ndarray]:
    """E2SFCA step 2 and coverage: per cell (``cell_position`` of each pair), the weighted
    sum of the ratios of the shelters in reach, and whether any is."""
    weight = decay_weight(reach.distance_m, radius_m[reach.shelter], decay)
    access = np.bincount(cell_position, weights=ratio[reach.shelter] * weight, minlength=cells)
    return access, np.bincount(cell_position, minlength=cells) > 0


TOTAL_COLUMNS = ["population", "within_reach", "with_place", "uncovered"]


def totals(population: np.ndarray, result: Coverage, group: np.ndarray) -> pd.DataFrame:
    """Persons in all, within reach of a shelter, with a place, and uncovered, per group
    (for example per district), with an ``all`` row last."""
    frame = pd.DataFrame(
        {
            "group": group,
            "population": population,
            "within_reach": np.where(result.covered, population, 0.0),
            "with_place": result.with_place,
        }
    )
    frame["uncovered"] = frame["population"] - frame["within_reach"]
    by_group = frame.groupby("group", sort=True)[TOTAL_COLUMNS].sum()
    by_group.loc["all"] = frame[TOTAL_COLUMNS].sum()
    return by_group


@dataclass(frozen=True)
class Siting:
    """Sites chosen by :func:`maximal_covering`.

    Attributes
    ----------
    chosen
        Candidate indices, in the order that adds most first.
    added
        Persons newly covered by each chosen site, given the ones before it.
    objective
        Persons newly covered by all chosen sites.
    bound
        Upper bound on the best possible objective (the solver's dual bound).
    gap
        ``(bound - objective) / bound``; 0 when proved optimal.
    greedy_objective
        What picking the best remaining site k times would cover, for comparison.
    """

    chosen: np.ndarray
    added: np.ndarray
    objective: float
    bound: float
    gap: float
    greedy_objective: float


def maximal_covering(
    population: np.ndarray,
    reach: Reach,
    *,
    candidates: int,
    k: int,
    time_limit_s: float = 60.0,
) -> Siting:
    """The ``k`` candidate sites that cover the most persons (maximal covering location
    problem, solved exactly by HiGHS within the time limit).

    Parameters
    ----------
    population
        Persons per cell still to cover (0 for cells already covered).
    reach
        Pairs of cell and candidate site within the candidate's radius.
    candidates
        Number of candidate sites (the reach's shelter indices run over them).
    """
    demand = population[reach.cell] > 0
    # Each (cell, site) pair once, only for cells with someone to cover.
    pair_keys = np.unique(np.column_stack([reach.cell[demand], reach.shelter[demand]]), axis=0)
    cells, cell_of_pair = np.unique(pair_keys[:, 0], return_inverse=True)
    site_of_pair = pair_keys[:, 1]
    k = min(k, candidates)
    if k == 0 or len(cells) == 0:
        return Siting(np.empty(0, np.int64), np.empty(0), 0.0, 0.0, 0.0, 0.0)
    weight = population[cells]
    # Variables: x (one per candidate, binary), then y (one per cell: covered or not).
    n_x, n_y = candidates, len(cells)
    objective = np.concatenate([np.zeros(n_x), -weight])
    # y_i - Σ x_j over candidates reaching i ≤ 0
    rows = np.concatenate([np.arange(n_y), cell_of_pair])
    cols = np.concatenate([n_x + np.arange(n_y), site_of_pair])
    data = np.concatenate([np.ones(n_y), -np.ones(len(site_of_pair))])
    covering = sparse.csr_matrix((data, (rows, cols)), shape=(n_y, n_x + n_y))
    budget = sparse.csr_matrix(np.concatenate([np.ones(n_x), np.zeros(n_y)])[None, :])
    solution = milp(
        objective,
        integrality=np.concatenate([np.ones(n_x), np.zeros(n_y)]),
        bounds=Bounds(0, 1),
        constraints=[LinearConstraint(covering, -np.inf, 0), LinearConstraint(budget, 0, k)],
        options={"time_limit": time_limit_s, "mip_rel_gap": 0.0},
    )
    if solution.x is None:
        raise RuntimeError(f"the siting solver found no solution: {solution.message}")
    chosen = np.flatnonzero(solution.x[:n_x] > 0.5)
    order, added = _greedy(weight, cell_of_pair, site_of_pair, allowed=chosen, k=len(chosen))
    value = float(added.sum())
    bound = float(-solution.mip_dual_bound) if solution.mip_dual_bound is not None else value
    bound = max(bound, value)
    _, greedy_added = _greedy(
        weight, cell_of_pair, site_of_pair, allowed=np.arange(candidates), k=k
    )
    return Siting(
        chosen=order,
        added=added,
        objective=value,
        bound=bound,
        gap=(bound - value) / bound if bound > 0 else 0.0,
        greedy_objective=float(greedy_added.sum()),
    )


def _greedy(weight, cell_of_pair, site_of_pair, *, allowed, k) -> tuple[np.ndarray, np.ndarray]:
    """Pick, k times among ``allowed``, the site adding the most uncovered weight."""
    remaining = weight.astype(float).copy()
    allowed_mask = np.zeros(int(site_of_pair.max(initial=-1)) + 1 or 1, bool)
    allowed_mask[allowed[allowed < len(allowed_mask)]] = True
    order, added = [], []
    for _ in range(k):
        gain = np.bincount(
            site_of_pair, weights=remaining[cell_of_pair], minlength=len(allowed_mask)
        )
        gain[~allowed_mask] = -1.0
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        order.append(best)
        added.append(gain[best])
        remaining[cell_of_pair[site_of_pair == best]] = 0.0
        allowed_mask[best] = False
    return np.asarray(order, dtype=np.int64), np.asarray(added, dtype=float)
