"""Titles and their rights, restrictions and responsibilities (LADM BAUnit and RRR).

A title is the unit rights are registered on: one parcel, building or shelter. Rights are
never edited in place: an act that ends a right sets its ``valid_to`` and ``cancelled_by``,
and an act that changes one ends it and registers the changed right, so the register on
any past date can be read back.
"""

from django.db import models
from django.db.models import Q

from registry.models.parties import Party


class Title(models.Model):
    """The basic administrative unit (LADM BAUnit): exactly one parcel, building or shelter."""

    parcel = models.OneToOneField(
        "registry.Parcel", null=True, blank=True, on_delete=models.PROTECT, related_name="title"
    )
    building = models.OneToOneField(
        "registry.Building", null=True, blank=True, on_delete=models.PROTECT, related_name="title"
    )
    shelter = models.OneToOneField(
        "registry.Shelter", null=True, blank=True, on_delete=models.PROTECT, related_name="title"
    )
    version = models.PositiveIntegerField(
        default=1, help_text="Raised by every registered act; acts lodged on an older one conflict."
    )
    is_open = models.BooleanField(default=True, help_text="False once split, merged or closed.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(parcel__isnull=False, building__isnull=True, shelter__isnull=True)
                    | Q(parcel__isnull=True, building__isnull=False, shelter__isnull=True)
                    | Q(parcel__isnull=True, building__isnull=True, shelter__isnull=False)
                ),
                name="title_exactly_one_unit",
                violation_error_message="A title is on exactly one parcel, building or shelter.",
            ),
        ]

    def __str__(self) -> str:
        return self.unit_label

    @property
    def unit(self):
        return self.parcel or self.building or self.shelter

    @property
    def unit_label(self) -> str:
        if self.parcel:
            return self.parcel.unit_code
        if self.building_id:
            return f"building {self.building_id}"
        return f"shelter {self.shelter_id}"


class RightKind(models.TextChoices):
    STATE_OWNERSHIP = "state_ownership", "state ownership 国家所有权"
    LAND_USE_RIGHT = "land_use_right", "land-use right 建设用地使用权"
    BUILDING_OWNERSHIP = "building_ownership", "building ownership 房屋所有权"
    USE_ALLOCATION = "use_allocation", "use allocation 使用调配"
    LEASE = "lease", "lease 租赁"
    EASEMENT = "easement", "easement 地役权"
    MORTGAGE = "mortgage", "mortgage 抵押权"
    SEIZURE = "seizure", "seizure 查封"
    OBJECTION = "objection", "objection 异议"
    ADVANCE_NOTICE = "advance_notice", "advance notice 预告登记"


# At most one current right of each of these kinds per title.
EXCLUSIVE_KINDS = [
    RightKind.STATE_OWNERSHIP,
    RightKind.LAND_USE_RIGHT,
    RightKind.BUILDING_OWNERSHIP,
]
# Rights whose holders change by transfer registration.
TRANSFERABLE_KINDS = [RightKind.LAND_USE_RIGHT, RightKind.BUILDING_OWNERSHIP]
# Rights that are shown as a 登记证明 (proof of registration) rather than a title certificate.
RESTRICTION_KINDS = [
    RightKind.MORTGAGE,
    RightKind.SEIZURE,
    RightKind.OBJECTION,
    RightKind.ADVANCE_NOTICE,
    RightKind.EASEMENT,
]


class LandUseRightType(models.TextChoices):
    ALLOCATED = "allocated", "allocated 划拨"
    GRANTED = "granted", "granted 出让"


class Right(models.Model):
    """A right, restriction or responsibility on a title, in force from ``valid_from`` until
    the day before ``valid_to`` (legal time); ``recorded_at`` is when it was entered."""

    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="rights")
    kind = models.CharField(max_length=20, choices=RightKind.choices)
    land_use_right_type = models.CharField(
        max_length=10, choices=LandUseRightType.choices, blank=True, default=""
    )
    term_end = models.DateField(null=True, blank=True, help_text="End of a granted or leased term.")
    amount = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True, help_text="Secured amount, CNY."
    )
    rank = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Mortgage rank.")
    description = models.TextField(blank=True, help_text="Terms, court and case number, grounds.")
    share_denominator = models.PositiveIntegerField(
        default=1, help_text="Holders' shares are parts of this; they must add up to it."
    )
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    recorded_at = models.DateTimeField(db_default=models.functions.Now(), editable=False)
    registered_by = models.ForeignKey(
        "registry.RegistrationAct", on_delete=models.PROTECT, related_name="rights_registered"
    )
    cancelled_by = models.ForeignKey(
        "registry.RegistrationAct",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rights_cancelled",
    )
    holders: "models.ManyToManyField[Party, RightHolder]" = models.ManyToManyField(
        Party, through="RightHolder", related_name="rights"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["title", "kind"],
                condition=Q(valid_to__isnull=True, kind__in=EXCLUSIVE_KINDS),
                name="right_one_current_exclusive_kind_per_title",
                violation_error_message="The title already has a current right of this kind.",
            ),
            models.UniqueConstraint(
                fields=["title", "rank"],
                condition=Q(valid_to__isnull=True, kind=RightKind.MORTGAGE),
                name="right_mortgage_rank_unique",
                violation_error_message="A current mortgage of this rank already exists.",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="right_interval_ordered",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True, cancelled_by__isnull=True)
                | Q(valid_to__isnull=False, cancelled_by__isnull=False),
                name="right_ended_by_an_act",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RightKind.MORTGAGE)
                | Q(amount__gt=0, rank__isnull=False, rank__gte=1),
                name="right_mortgage_amount_and_rank",
            ),
            models.CheckConstraint(
                condition=Q(kind=RightKind.LAND_USE_RIGHT) & ~Q(land_use_right_type="")
                | ~Q(kind=RightKind.LAND_USE_RIGHT) & Q(land_use_right_type=""),
                name="right_land_use_right_type",
            ),
            models.CheckConstraint(
                condition=~Q(land_use_right_type=LandUseRightType.GRANTED)
                | Q(term_end__isnull=False),
                name="right_granted_has_term",
            ),
            models.CheckConstraint(condition=Q(share_denominator__gte=1), name="right_denominator"),
        ]
        indexes = [models.Index(fields=["title", "valid_from", "valid_to"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.title}"


class RightHolder(models.Model):
    """A party's share of a right: ``share_parts`` / ``right.share_denominator``.

    A deferred database trigger checks, at commit, that every right's shares add up to one.
    """

    right = models.ForeignKey(Right, on_delete=models.PROTECT, related_name="shares")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="shares")
    share_parts = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["right", "party"]
        constraints = [
            models.UniqueConstraint(fields=["right", "party"], name="rightholder_once_per_right"),
            models.CheckConstraint(
                condition=Q(share_parts__gte=1), name="rightholder_share_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.party}: {self.share_parts}/{self.right.share_denominator}"
