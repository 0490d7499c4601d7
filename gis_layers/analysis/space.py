"""Office space against the standard: entitlement and use per agency, vacancy per building,
roll-ups by parent agency, and the three-way reconciliation of the register, the space
inventory and the agencies' own records.

Pure functions on pandas frames; areas in m², distances in metres. No Django imports.

Inputs (one row per item; ``*_id`` are integers):

- ``agencies``: ``agency_id``, ``name``, ``parent_id`` (NA at the top), ``clearance``,
  ``seat_building_id`` (NA when unknown)
- ``staff``: ``agency_id``, ``rank``, ``headcount``
- ``blocks``: ``block_id``, ``building_id``, ``label``, ``floor``, ``kind``, ``area_m2``
  (NaN when not surveyed), ``area_basis`` (``use`` or ``gross``)
- ``allocations``: the blocks of current use-allocation rights: ``right_id``, ``block_id``,
  ``agency_id``
- ``buildings``: ``building_id``, ``name``, ``premises_classification``, ``x``, ``y`` (metric
  CRS), ``gross_floor_area_m2``
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gis_layers.analysis.sentences import Sentence

OFFICE = "office"
# Areas that differ by less than this are the same (m², and share of the larger).
AREA_TOLERANCE_M2 = 1.0
AREA_TOLERANCE_SHARE = 0.02


@dataclass(frozen=True)
class Standard:
    """One version of an office-space standard: office-room use area per person by rank
    (m²) and the use area per m² of gross floor area. A computation takes exactly one."""

    name: str
    year: int
    caps: dict[str, float]
    use_coefficient: float


class StandardMismatch(ValueError):
    """Staff hold a rank the chosen standard gives no cap for; ``sentence`` says which."""

    def __init__(self, sentence: Sentence):
        self.sentence = sentence
        super().__init__(str(sentence))


@dataclass(frozen=True)
class InputProblem:
    """Bad input that is left out of the figures: ``subject`` ('agency' or 'block'), the
    ``where`` (its name or label) and ``message`` (why)."""

    subject: str
    subject_id: int
    where: str
    message: Sentence


def use_area(blocks: pd.DataFrame, *, use_coefficient: float) -> pd.Series:
    """Each block's use area in m²: as surveyed for ``use``, gross area × coefficient for
    ``gross``; NaN where the block has no area."""
    area = blocks["area_m2"].astype(float)
    return area.where(blocks["area_basis"] == "use", area * use_coefficient)


def input_problems(
    agencies: pd.DataFrame, staff: pd.DataFrame, blocks: pd.DataFrame, buildings: pd.DataFrame
) -> list[InputProblem]:
    """Agencies without staff figures and blocks without area, each named with the reason
    it is left out."""
    problems = []
    headcount = staff.groupby("agency_id")["headcount"].sum()
    for row in agencies.itertuples():
        if headcount.get(row.agency_id, 0) <= 0:
            problems.append(
                InputProblem(
                    "agency",
                    int(row.agency_id),
                    str(row.name),
                    Sentence(
                        "no staff figures (编制): no entitlement can be computed, so it is "
                        "neither over standard nor in deficit"
                    ),
                )
            )
    names = buildings.set_index("building_id")["name"] if len(buildings) else pd.Series()
    for row in blocks[blocks["area_m2"].isna()].itertuples():
        problems.append(
            InputProblem(
                "block",
                int(row.block_id),
                f"{names.get(row.building_id, f'building {row.building_id}')} {row.label}",
                Sentence("no area surveyed: left out of every area figure and of the plan"),
            )
        )
    return problems


def entitlements(staff: pd.DataFrame, standard: Standard) -> pd.Series:
    """Office-room entitlement per agency (m² use area): Σ over ranks of headcount × cap.

    Raises
    ------
    StandardMismatch
        When staff hold a rank the standard has no cap for: the figure would otherwise need
        a cap from another standard, and standards are never mixed.
    """
    ranks = set(staff.loc[staff["headcount"] > 0, "rank"])
    missing = sorted(ranks - set(standard.caps))
    if missing:
        raise StandardMismatch(
            Sentence(
                "the standard %(standard)s (%(year)s) gives no cap for the rank(s) %(ranks)s; "
                "add them to that standard, never from another one",
                {"standard": standard.name, "year": standard.year, "ranks": ", ".join(missing)},
            )
        )
    caps = staff["rank"].map(standard.caps).astype(float)
    return (staff["headcount"] * caps).groupby(staff["agency_id"]).sum()


def agency_balance(
    agencies: pd.DataFrame,
    staff: pd.DataFrame,
    blocks: pd.DataFrame,
    allocations: pd.DataFrame,
    standard: Standard,
) -> pd.DataFrame:
    """Per agency: staff, entitlement, office-room area used, other space used, and the
    difference.

    Returns
    -------
    DataFrame indexed by ``agency_id`` with ``name``, ``parent_id``, ``staff``,
    ``entitlement_m2``, ``office_m2`` (office rooms allocated to it, use area), ``other_m2``
    (service, equipment, ancillary), ``over_m2`` (office area beyond the entitlement),
    ``over_share`` (``over_m2`` / ``office_m2``), ``deficit_m2`` (entitlement not met) and
    ``has_staff_figures``. Agencies without staff figures have NaN entitlement, over and
    deficit: unknown, not zero.
    """
    headcount = staff.groupby("agency_id")["headcount"].sum()
    entitled = entitlements(staff, standard)
    used = _allocated_use(blocks, allocations, standard.use_coefficient)
    office = used[used["kind"] == OFFICE].groupby("agency_id")["use_m2"].sum()
    other = used[used["kind"] != OFFICE].groupby("agency_id")["use_m2"].sum()
    table = agencies.set_index("agency_id")[["name", "parent_id"]].copy()
    table["staff"] = headcount.reindex(table.index, fill_value=0).astype(int)
    table["has_staff_figures"] = table["staff"] > 0
    table["entitlement_m2"] = entitled.reindex(table.index).where(table["has_staff_figures"])
    table["office_m2"] = office.reindex(table.index, fill_value=0.0)
    table["other_m2"] = other.reindex(table.index, fill_value=0.0)
    difference = table["office_m2"] - table["entitlement_m2"]
    table["over_m2"] = difference.clip(lower=0)
    table["deficit_m2"] = (-difference).clip(lower=0)
    table["over_share"] = np.where(
        table["office_m2"] > 0, table["over_m2"] / table["office_m2"].where(lambda v: v > 0), 0.0
    )
    table.loc[~table["has_staff_figures"], "over_share"] = np.nan
    return table


def _allocated_use(
    blocks: pd.DataFrame, allocations: pd.DataFrame, use_coefficient: float
) -> pd.DataFrame:
    """The allocated blocks with their agency and use area (blocks without area left out)."""
    measured = blocks.assign(use_m2=use_area(blocks, use_coefficient=use_coefficient))
    joined = allocations[["block_id", "agency_id"]].merge(
        measured[["block_id", "building_id", "kind", "use_m2"]], on="block_id"
    )
    return joined[joined["use_m2"].notna()]


def building_vacancy(
    buildings: pd.DataFrame,
    blocks: pd.DataFrame,
    allocations: pd.DataFrame,
    *,
    use_coefficient: float,
) -> pd.DataFrame:
    """Per building with space blocks: use area in total, allocated and vacant (allocated to
    nobody), the vacant share, vacant office-room area, and blocks without area.

    Returns
    -------
    DataFrame indexed by ``building_id`` with ``name``, ``total_m2``, ``allocated_m2``,
    ``vacant_m2``, ``vacant_share``, ``vacant_office_m2``, ``blocks``,
    ``blocks_without_area``.
    """
    measured = blocks.assign(use_m2=use_area(blocks, use_coefficient=use_coefficient))
    measured["allocated"] = measured["block_id"].isin(allocations["block_id"])
    surveyed = measured[measured["use_m2"].notna()]
    grouped = surveyed.groupby("building_id")
    table = pd.DataFrame(
        {
            "total_m2": grouped["use_m2"].sum(),
            "allocated_m2": surveyed[surveyed["allocated"]].groupby("building_id")["use_m2"].sum(),
            "vacant_office_m2": surveyed[~surveyed["allocated"] & (surveyed["kind"] == OFFICE)]
            .groupby("building_id")["use_m2"]
            .sum(),
        }
    )
    table = table.reindex(measured["building_id"].unique())
    table = table.fillna(0.0)
    table["vacant_m2"] = table["total_m2"] - table["allocated_m2"]
    table["vacant_share"] = (table["vacant_m2"] / table["total_m2"].where(lambda v: v > 0)).fillna(
        0.0
    )
    table["blocks"] = measured.groupby("building_id").size().reindex(table.index).astype(int)
    table["blocks_without_area"] = (
        measured[measured["use_m2"].isna()]
        .groupby("building_id")
        .size()
        .reindex(table.index, fill_value=0)
        .astype(int)
    )
    names = buildings.set_index("building_id")["name"]
    table.insert(0, "name", names.reindex(table.index))
    table.index.name = "building_id"
    return table.sort_index()


def rollup(balance: pd.DataFrame) -> pd.DataFrame:
    """Figures of every agency with subordinates, over itself and all agencies below it.

    Over-standard area and deficits are summed as they are (one agency's excess does not
    cancel another's deficit); ``net_m2`` is office area minus entitlement over the whole
    subtree. Agencies without staff figures add their office area but no entitlement.
    """
    parents = balance["parent_id"].dropna().astype(int)
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    rows = []
    for head in sorted(children):
        if head not in balance.index:
            continue
        subtree, stack = [], [head]
        while stack:
            node = stack.pop()
            if node in subtree:
                continue  # a cycle in the hierarchy: count each agency once
            subtree.append(node)
            stack.extend(children.get(node, []))
        part = balance.loc[subtree]
        rows.append(
            {
                "agency_id": head,
                "name": balance.at[head, "name"],
                "agencies": len(subtree),
                "staff": int(part["staff"].sum()),
                "entitlement_m2": float(part["entitlement_m2"].sum(min_count=1) or 0.0),
                "office_m2": float(part["office_m2"].sum()),
                "over_m2": float(part["over_m2"].sum()),
                "deficit_m2": float(part["deficit_m2"].sum()),
                "without_staff_figures": int((~part["has_staff_figures"]).sum()),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "agency_id", "name", "agencies", "staff", "entitlement_m2", "office_m2",
            "over_m2", "deficit_m2", "without_staff_figures",
        ],
    )  # fmt: skip
    table["net_m2"] = table["office_m2"] - table["entitlement_m2"]
    return table.set_index("agency_id")


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between the register, the space inventory and the agencies' records:
    ``kind`` (a stable code), ``where`` (what it is about) and ``detail``."""

    kind: str
    where: str | Sentence
    detail: Sentence


def reconcile(
    *,
    rights: pd.DataFrame,
    allocated: pd.DataFrame,
    blocks: pd.DataFrame,
    buildings: pd.DataFrame,
    agencies: pd.DataFrame,
    records: pd.DataFrame,
    use_coefficient: float,
) -> list[Mismatch]:
    """Every mismatch between the three sources of who uses which space.

    Parameters
    ----------
    rights
        Current use-allocation rights in the register: ``right_id``, ``building_id`` (NA
        when the title is not a building's), ``holder_id`` (party), ``holder_name``,
        ``holder_is_agency``.
    allocated
        The blocks those rights list: ``right_id``, ``block_id``.
    blocks
        The inventory, with ``valid`` (False for retired blocks).
    records
        The agencies' own records, latest per agency and building: ``agency_id``,
        ``building_id``, ``area_m2`` (use area).
    """
    found: list[Mismatch] = []
    building_names = buildings.set_index("building_id")["name"].to_dict()
    agency_names = agencies.set_index("agency_id")["name"].to_dict()

    def building(building_id) -> str:
        return building_names.get(building_id) or f"building {building_id}"

    def agency(agency_id) -> str:
        return agency_names.get(agency_id) or f"party {agency_id}"

    measured = blocks.assign(use_m2=use_area(blocks, use_coefficient=use_coefficient))
    by_block = measured.set_index("block_id")
    listed = allocated.merge(rights, on="right_id")
    counts = allocated.groupby("right_id").size()
    for right in rights.itertuples():
        label = Sentence("right %(right)s", {"right": right.right_id})
        if pd.isna(right.building_id):
            found.append(
                Mismatch(
                    "not_a_building",
                    label,
                    Sentence("a use allocation on a title that is no building"),
                )
            )
        if not right.holder_is_agency:
            found.append(
                Mismatch(
                    "holder_not_agency",
                    label,
                    Sentence("held by %(holder)s, not by an agency", {"holder": right.holder_name}),
                )
            )
        if counts.get(right.right_id, 0) == 0:
            found.append(
                Mismatch(
                    "allocation_without_blocks",
                    Sentence(
                        "right %(right)s (%(agency)s, %(building)s)",
                        {
                            "right": right.right_id,
                            "agency": agency(right.holder_id),
                            "building": building(right.building_id),
                        },
                    ),
                    Sentence(
                        "the register allocates space the inventory cannot place: no blocks listed"
                    ),
                )
            )
    for row in listed.itertuples():
        block = by_block.loc[row.block_id]
        where = f"{building(block['building_id'])} {block['label']}"
        if not pd.isna(row.building_id) and block["building_id"] != row.building_id:
            found.append(
                Mismatch(
                    "block_in_other_building",
                    where,
                    Sentence(
                        "right %(right)s on %(building)s lists it",
                        {"right": row.right_id, "building": building(row.building_id)},
                    ),
                )
            )
        if not block["valid"]:
            found.append(
                Mismatch(
                    "retired_block_allocated",
                    where,
                    Sentence("retired, still in right %(right)s", {"right": row.right_id}),
                )
            )
    twice = allocated.groupby("block_id")["right_id"].apply(sorted)
    for block_id, right_ids in twice[twice.map(len) > 1].items():
        block = by_block.loc[block_id]
        found.append(
            Mismatch(
                "block_allocated_twice",
                f"{building(block['building_id'])} {block['label']}",
                Sentence(
                    "listed by current rights %(rights)s",
                    {"rights": ", ".join(map(str, right_ids))},
                ),
            )
        )
    for row in measured[measured["area_m2"].isna() & measured["valid"]].itertuples():
        found.append(
            Mismatch(
                "block_without_area",
                f"{building(row.building_id)} {row.label}",
                Sentence("no area"),
            )
        )
    gross = measured.assign(
        gross_m2=np.where(
            measured["area_basis"] == "gross",
            measured["area_m2"],
            measured["area_m2"] / use_coefficient,
        )
    )
    gross_by_building = gross[gross["valid"]].groupby("building_id")["gross_m2"].sum()
    capacity = buildings.set_index("building_id")["gross_floor_area_m2"]
    for building_id, total in gross_by_building.items():
        limit = capacity.get(building_id)
        if limit is not None and not pd.isna(limit) and total > limit * (1 + AREA_TOLERANCE_SHARE):
            found.append(
                Mismatch(
                    "inventory_exceeds_building",
                    building(building_id),
                    Sentence(
                        "blocks come to %(total)s m² gross, the building has %(limit)s m²",
                        {"total": f"{total:,.0f}", "limit": f"{limit:,.0f}"},
                    ),
                )
            )
    # The register's area per agency and building, against the agency's own record.
    registered = (
        listed[listed["holder_is_agency"]]
        .merge(measured[["block_id", "use_m2"]], on="block_id")
        .groupby(["holder_id", "building_id"])["use_m2"]
        .sum()
    )
    registered.index = registered.index.set_names(["agency_id", "building_id"])
    recorded = records.groupby(["agency_id", "building_id"])["area_m2"].sum()
    for key in sorted(set(registered.index) | set(recorded.index)):
        agency_id, building_id = key
        agency_in_building = Sentence(
            "%(agency)s in %(building)s",
            {"agency": agency(agency_id), "building": building(building_id)},
        )
        in_register, in_record = registered.get(key), recorded.get(key)
        areas = {
            "register": "" if in_register is None else f"{in_register:,.1f}",
            "record": "" if in_record is None else f"{in_record:,.1f}",
        }
        if in_record is None:
            found.append(
                Mismatch(
                    "allocation_without_record",
                    agency_in_building,
                    Sentence(
                        "the register allocates %(register)s m²; the agency records none",
                        {"register": areas["register"]},
                    ),
                )
            )
        elif in_register is None:
            found.append(
                Mismatch(
                    "record_without_allocation",
                    agency_in_building,
                    Sentence(
                        "the agency records %(record)s m²; the register allocates none",
                        {"record": areas["record"]},
                    ),
                )
            )
        elif abs(in_register - in_record) > max(
            AREA_TOLERANCE_M2, AREA_TOLERANCE_SHARE * max(in_register, in_record)
        ):
            found.append(
                Mismatch(
                    "area_differs",
                    agency_in_building,
                    Sentence(
                        "the register allocates %(register)s m², the agency records %(record)s m²",
                        areas,
                    ),
                )
            )
    return found
