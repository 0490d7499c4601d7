from gis_layers.models import DatasetLoad
from registry.models import Building, Parcel, SecurityLevel
from registry.selectors import clearance_of, shelters_visible_to

# The keys of DatasetLoad.counts and .repaired that count shelters of every classification,
# or their inspections.
ALL_SHELTERS_KEYS = {"shelters", "inspections"}


def demo_inventory(*, user) -> dict:
    """Counts of what is loaded, with shelters limited to the user's clearance."""
    return {
        "parcels": Parcel.objects.count(),
        "buildings": Building.objects.count(),
        "shelters": shelters_visible_to(user=user).count(),
        "datasets": [
            {
                "dataset": load.dataset,
                "loaded_at": load.loaded_at,
                "counts": dataset_counts_shown(load.counts, user=user),
                "repaired": dataset_counts_shown(load.repaired, user=user),
            }
            for load in DatasetLoad.objects.all()
        ],
    }


def dataset_counts_shown(counts: dict, *, user) -> dict:
    """A dataset load's counts as ``user`` may see them. Its counts of shelters (and their
    inspections) were taken over all classifications: only a user cleared for the highest
    sees them, for anyone else they would give away how many are hidden."""
    if clearance_of(user=user) >= max(SecurityLevel):
        return counts
    return {key: value for key, value in counts.items() if key not in ALL_SHELTERS_KEYS}
