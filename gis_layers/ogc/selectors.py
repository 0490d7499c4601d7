"""Reads the OGC API needs that ``registry.selectors`` has no batched form of.

``holders_as_of`` answers for one title at a time (two queries each); a page of up to 10,000
parcels needs the same rows for all its parcels in one query.
"""

import datetime

from registry.models import EXCLUSIVE_KINDS, Right, RightHolder
from registry.selectors import in_force_on

# The rights whose holders hold the parcel itself: ownership and land-use right (not
# mortgagees, lessees or the court behind a seizure).
HOLDING_KINDS = tuple(EXCLUSIVE_KINDS)


def holders_of_parcels(
    *, parcel_ids: list[int], on: datetime.date, kinds=HOLDING_KINDS
) -> dict[int, list[dict]]:
    """For each parcel id, the rows ``holders_as_of(title=<its title>, on=on, kinds=kinds)``
    gives (right, kind, party, party_id, share as "parts/denominator"), in the same order;
    parcels without a title or without such rights are absent. One query."""
    rights = Right.objects.filter(in_force_on(on), kind__in=kinds, title__parcel_id__in=parcel_ids)
    shares = (
        RightHolder.objects.filter(right__in=rights)
        .order_by("right__kind", "right__rank", "right_id", "party__name", "party_id")
        .values_list(
            "right__title__parcel_id",
            "right_id",
            "right__kind",
            "party__name",
            "party_id",
            "share_parts",
            "right__share_denominator",
        )
    )
    holders: dict[int, list[dict]] = {}
    for parcel_id, right_id, kind, party, party_id, parts, denominator in shares:
        holders.setdefault(parcel_id, []).append(
            {
                "right": right_id,
                "kind": kind,
                "party": party,
                "party_id": party_id,
                "share": f"{parts}/{denominator}",
            }
        )
    return holders
