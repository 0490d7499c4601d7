from django.contrib.gis.db import models

from registry.codes import validate_division_code


class LandUseClass(models.Model):
    """A class of GB/T 21010-2017 (土地利用现状分类): first level (2 digits) or second (4)."""

    code = models.CharField(primary_key=True, max_length=4)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name_zh = models.CharField(max_length=40)
    name_en = models.CharField(max_length=80)

    class Meta:
        ordering = ["code"]
        verbose_name = "land-use class"
        verbose_name_plural = "land-use classes"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^([0-9]{2}|[0-9]{4})$"),
                name="landuseclass_code_two_or_four_digits",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh} / {self.name_en}"


class District(models.Model):
    """An administrative division (区/县) whose GB/T 2260 code opens every unit code in it."""

    code = models.CharField(max_length=6, unique=True, validators=[validate_division_code])
    name = models.CharField(max_length=100)
    name_local = models.CharField(max_length=100, blank=True)
    boundary = models.MultiPolygonField(srid=4490, null=True, blank=True)
    is_synthetic_code = models.BooleanField(
        default=False,
        help_text="The division code is made up for a district outside China (demo data).",
    )
    attribution = models.CharField(max_length=200, blank=True)
    certificate_province = models.CharField(
        max_length=2,
        default="",
        blank=True,
        help_text="Province abbreviation opening certificate numbers, e.g. 京.",
    )
    certificate_office = models.CharField(
        max_length=40,
        default="",
        blank=True,
        help_text="Office name in certificate numbers, e.g. 西城区.",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=r"^[0-9]{6}$"), name="district_code_six_digits"
            ),
            # Certificate numbers are unique only if the offices naming them are.
            models.UniqueConstraint(
                fields=["certificate_province", "certificate_office"],
                condition=~models.Q(certificate_office=""),
                name="district_certificate_office_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
