"""Reads the OGC API needs that ``registry.selectors`` has no batched form of.

``holders_as_of`` answers for one title at a time; a page of up to 10,000 parcels needs the
same rows for all its parcels in one query.
"""

import datetime

from registry.models import EXCLUSIVE_KINDS, Right
from registry.selectors import holders_by, in_force_on

# The rights whose holders hold the parcel itself: ownership and land-use right (not
# mortgagees, lessees or the court behind a seizure).
HOLDING_KINDS = tuple(EXCLUSIVE_KINDS)


def holders_of_parcels(
    *, parcel_ids: list[int], on: datetime.date, kinds=HOLDING_KINDS
) -> dict[int, list[dict]]:
    """For each parcel id, the rows ``holders_as_of(title=<its title>, on=on, kinds=kinds)``
    gives, in the same order; parcels without a title or without such rights are absent.
    One query."""
    rights = Right.objects.filter(in_force_on(on), kind__in=kinds, title__parcel_id__in=parcel_ids)
    return holders_by(rights, key="title__parcel_id")
