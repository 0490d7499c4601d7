"""Read-side queries of the register. Keyword-only; every query that can reveal a shelter
takes the user and applies their clearance."""

from django.db.models import QuerySet

from registry.models import Clearance, SecurityLevel, Shelter

NO_CLEARANCE = -1


def clearance_of(*, user) -> int:
    """The highest shelter classification the user may see; -1 for anonymous users."""
    if not user.is_authenticated or not user.is_active:
        return NO_CLEARANCE
    if user.is_superuser:
        return SecurityLevel.CONFIDENTIAL
    level = Clearance.objects.filter(user=user).values_list("level", flat=True).first()
    return SecurityLevel.PUBLIC if level is None else level


def shelters_visible_to(*, user) -> QuerySet[Shelter]:
    """Shelters at or below the user's clearance; none for anonymous users."""
    return Shelter.objects.filter(classification__lte=clearance_of(user=user))
