from django.conf import settings
from django.db import models

from registry.models.spatial import SecurityLevel


class Clearance(models.Model):
    """A user's security clearance: shelters classified above it are invisible to them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE
    )
    level = models.PositiveSmallIntegerField(
        choices=SecurityLevel.choices, default=SecurityLevel.PUBLIC
    )

    def __str__(self) -> str:
        return f"{self.user}: {self.get_level_display()}"
