"""Parties (LADM LA_Party): agencies in their hierarchy, enterprises and persons."""

from django.contrib.gis.db import models
from django.db.models import Q

from registry.models.spatial import Provenance, SecurityLevel


class PartyKind(models.TextChoices):
    AGENCY = "agency", "agency 机关单位"
    ENTERPRISE = "enterprise", "enterprise 企业"
    PERSON = "person", "natural person 自然人"
    STATE = "state", "the State 国家"


class Party(Provenance):
    kind = models.CharField(max_length=12, choices=PartyKind.choices)
    name = models.CharField(max_length=200)
    identifier = models.CharField(
        max_length=32,
        blank=True,
        help_text="Unified social credit code (统一社会信用代码) or identity document number.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "parties"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "identifier"],
                condition=~Q(identifier=""),
                name="party_identifier_unique_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AgencyLevel(models.TextChoices):
    CENTRAL = "central", "central 中央"
    PROVINCIAL = "provincial", "provincial 省级"
    MUNICIPAL = "municipal", "municipal 市级"
    COUNTY = "county", "county/district 县区级"


class Agency(models.Model):
    """A government agency (机关单位): a party with a place in the hierarchy and a staff
    establishment (编制) by rank."""

    party = models.OneToOneField(Party, primary_key=True, on_delete=models.PROTECT)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    level = models.CharField(max_length=12, choices=AgencyLevel.choices)
    seat_building = models.ForeignKey(
        "registry.Building",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="seated_agencies",
        help_text="The building the agency's head office sits in.",
    )
    clearance = models.PositiveSmallIntegerField(
        choices=SecurityLevel.choices,
        default=SecurityLevel.PUBLIC,
        help_text="Highest classification of premises the agency may occupy.",
    )

    class Meta:
        ordering = ["party__name"]
        verbose_name_plural = "agencies"
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=models.F("party")), name="agency_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.party.name


class StaffRank(models.TextChoices):
    """Ranks of the 2014 office-space standard (党政机关办公用房建设标准)."""

    MINISTER = "minister", "minister 正部级"
    VICE_MINISTER = "vice_minister", "vice-minister 副部级"
    DIRECTOR_GENERAL = "director_general", "director-general 正司局级"
    DEPUTY_DIRECTOR_GENERAL = "deputy_director_general", "deputy director-general 副司局级"
    DIVISION = "division", "division 处级"
    BELOW_DIVISION = "below_division", "below division 处级以下"


class StaffEstablishment(Provenance):
    """Authorised headcount (编制) of one rank in one agency."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="establishment")
    rank = models.CharField(max_length=32, choices=StaffRank.choices)
    headcount = models.PositiveIntegerField()

    class Meta:
        ordering = ["agency", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "rank"], name="establishment_one_per_rank"),
        ]

    def __str__(self) -> str:
        return f"{self.agency}: {self.headcount} × {self.get_rank_display()}"
