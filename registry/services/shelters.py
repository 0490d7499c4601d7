"""Write-side operations on the shelter inventory."""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry.errors import InvalidApplication, NotAllowed
from registry.models import Condition, Shelter, ShelterInspection
from registry.selectors import clearance_of
from registry.services.acts import record_audit


@transaction.atomic(durable=True)
def record_inspection(
    *,
    shelter: Shelter,
    inspected_on: datetime.date,
    inspector: str,
    condition: str,
    findings: str,
    user,
) -> ShelterInspection:
    """Record an inspection; the latest inspection sets the shelter's condition.

    Refused, with nothing written, when the user may not record inspections or see the
    shelter, the date is in the future or before the shelter existed, or the condition or
    inspector is missing.
    """
    label = shelter.name
    if not user.has_perm("registry.add_shelterinspection"):
        raise NotAllowed(
            _("%(user)s may not record shelter inspections") % {"user": user.get_username()},
            title=label,
        )
    if shelter.classification > clearance_of(user=user):
        raise NotAllowed(_("no such shelter"))
    if inspected_on > timezone.localdate():
        raise InvalidApplication(
            _("inspection date %(date)s is in the future") % {"date": inspected_on}, title=label
        )
    if inspected_on < shelter.valid_from:
        raise InvalidApplication(
            _("inspection date %(date)s is before the shelter existed (%(valid_from)s)")
            % {"date": inspected_on, "valid_from": shelter.valid_from},
            title=label,
        )
    if condition not in Condition.values:
        raise InvalidApplication(
            _("unknown condition %(condition)s") % {"condition": repr(condition)}, title=label
        )
    if not inspector.strip():
        raise InvalidApplication(_("name the inspector"), title=label)
    shelter = Shelter.objects.select_for_update().get(pk=shelter.pk)
    inspection = ShelterInspection.objects.create(
        shelter=shelter,
        inspected_on=inspected_on,
        inspector=inspector.strip(),
        condition=condition,
        findings=findings.strip(),
        recorded_by=user,
    )
    # There is one at least: the inspection just recorded.
    latest = shelter.inspections.order_by("-inspected_on", "-id")[0]
    if latest.pk == inspection.pk and shelter.condition != condition:
        Shelter.objects.filter(pk=shelter.pk).update(condition=condition)
    record_audit(
        user=user,
        action="inspect_shelter",
        object_type="shelter",
        object_id=shelter.pk,
        detail={"inspected_on": inspected_on.isoformat(), "condition": condition},
    )
    return inspection
