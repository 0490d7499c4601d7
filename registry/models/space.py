"""Office space: the inventory of space blocks in office buildings, the versioned national
standards they are measured against, and the agencies' own records of the space they use.

How a block's use is registered
-------------------------------
The register's unit is the building: a use allocation (使用调配) is a right of kind
``use_allocation`` on the building's title, held by one agency. The blocks it covers are
listed in :class:`AllocatedBlock`, rows registered by the same act as the right and never
changed after it (a reallocation ends the right and registers a new one with its new blocks,
as every change in the register does). So the register says *who* holds space in a building
and the inventory says *which rooms*: one act registers both, the journal seals both, and a
block is vacant exactly when no current use-allocation right lists it. Registering a right
per block instead would make every room a title of its own, with its own version, and turn a
reallocation of forty rooms into forty acts.

A database trigger checks at commit that no block is listed by two current use allocations.
"""

from django.contrib.gis.db import models
from django.db.models import Q

from registry.models.parties import StaffRank
from registry.models.spatial import Provenance, TemporalUnit


class SpaceKind(models.TextChoices):
    """Kinds of space of the 2014 standard (党政机关办公用房建设标准)."""

    OFFICE = "office", "office room 办公室用房"
    SERVICE = "service", "service 服务用房"
    EQUIPMENT = "equipment", "equipment 设备用房"
    ANCILLARY = "ancillary", "ancillary 附属用房"
    CIVIL_DEFENCE = "civil_defence", "ancillary: civil-defence space 附属用房（人防）"


class AreaBasis(models.TextChoices):
    USE = "use", "use area 使用面积"
    GROSS = "gross", "gross floor area 建筑面积"


class SpaceBlock(Provenance, TemporalUnit):
    """A room or block of space in a building: its floor, kind and area in m².

    ``area_m2`` is measured on ``area_basis``: a room surveyed on its own gives its use area;
    a floor plate known only by its gross area is converted to use area by the standard's
    coefficient when it is compared with the caps. An empty area means "not surveyed": the
    block is reported, never counted as zero.
    """

    building = models.ForeignKey(
        "registry.Building", on_delete=models.PROTECT, related_name="space_blocks"
    )
    label = models.CharField(max_length=40, help_text="Room or block number, e.g. '3F-301'.")
    floor = models.SmallIntegerField(help_text="Floor; negative below ground.")
    kind = models.CharField(max_length=16, choices=SpaceKind.choices)
    area_m2 = models.FloatField(null=True, blank=True, help_text="Empty when not surveyed.")
    area_basis = models.CharField(max_length=8, choices=AreaBasis.choices, default=AreaBasis.USE)

    class Meta:
        ordering = ["building", "floor", "label"]
        constraints = [
            models.UniqueConstraint(fields=["building", "label"], name="spaceblock_label_unique"),
            models.CheckConstraint(
                condition=Q(area_m2__isnull=True) | Q(area_m2__gt=0),
                name="spaceblock_area_positive",
                violation_error_message="area_m2 must be positive (or empty if not surveyed).",
            ),
            models.CheckConstraint(
                condition=Q(floor__range=(-10, 200)), name="spaceblock_floor_plausible"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="spaceblock_interval_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.building} {self.label}"


class AllocatedBlock(models.Model):
    """A block covered by a use-allocation right (registered with the right; never edited)."""

    right = models.ForeignKey(
        "registry.Right", on_delete=models.PROTECT, related_name="allocated_blocks"
    )
    block = models.ForeignKey(SpaceBlock, on_delete=models.PROTECT, related_name="allocations")

    class Meta:
        ordering = ["right", "block"]
        constraints = [
            models.UniqueConstraint(fields=["right", "block"], name="allocatedblock_once"),
        ]

    def __str__(self) -> str:
        return f"right {self.right_id}: block {self.block_id}"


class OfficeSpaceStandard(models.Model):
    """One version of an office-space standard: per-person caps by rank and the coefficient
    from gross floor area to use area. At most one is in force; older ones are kept for
    history and never mixed into a computation (which takes exactly one version)."""

    name = models.CharField(max_length=120)
    year = models.PositiveSmallIntegerField()
    in_force = models.BooleanField(default=False)
    use_coefficient = models.FloatField(
        help_text="Use area per m² of gross floor area for basic office space (e.g. 0.65)."
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-year", "name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "year"], name="officestandard_unique"),
            models.UniqueConstraint(
                fields=["in_force"],
                condition=Q(in_force=True),
                name="officestandard_one_in_force",
                violation_error_message="Only one office-space standard can be in force.",
            ),
            models.CheckConstraint(
                condition=Q(use_coefficient__gt=0) & Q(use_coefficient__lte=1),
                name="officestandard_coefficient_range",
                violation_error_message="The coefficient is a share: above 0, at most 1.",
            ),
        ]
        permissions = [
            ("view_space_analysis", "Can see office-space figures and the redistribution plan")
        ]

    def __str__(self) -> str:
        state = "in force" if self.in_force else "not in force"
        return f"{self.name} ({self.year}, {state})"


class OfficeSpaceCap(models.Model):
    """The office-room use area per person for one rank under one standard version."""

    standard = models.ForeignKey(OfficeSpaceStandard, on_delete=models.CASCADE, related_name="caps")
    rank = models.CharField(max_length=32, choices=StaffRank.choices)
    cap_m2_per_person = models.FloatField()

    class Meta:
        ordering = ["standard", "-cap_m2_per_person"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "rank"], name="officecap_one_per_rank"),
            models.CheckConstraint(condition=Q(cap_m2_per_person__gt=0), name="officecap_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.standard}: {self.get_rank_display()} {self.cap_m2_per_person} m²"


class AgencySpaceRecord(Provenance):
    """What an agency's own records say it occupies in a building (use area, m²), as of a
    date: the third leg of the reconciliation with the register and the inventory."""

    agency = models.ForeignKey(
        "registry.Agency", on_delete=models.CASCADE, related_name="space_records"
    )
    building = models.ForeignKey(
        "registry.Building", on_delete=models.PROTECT, related_name="agency_space_records"
    )
    area_m2 = models.FloatField()
    recorded_on = models.DateField()

    class Meta:
        ordering = ["agency", "building"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "building", "recorded_on"], name="agencyspacerecord_unique"
            ),
            models.CheckConstraint(condition=Q(area_m2__gte=0), name="agencyspacerecord_area"),
        ]

    def __str__(self) -> str:
        return f"{self.agency}: {self.area_m2} m² in {self.building} ({self.recorded_on})"
