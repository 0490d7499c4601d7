from collections.abc import Callable

from gis_layers.models import DatasetLoad
from registry.models import Building, Parcel, SecurityLevel
from registry.selectors import clearance_of, shelters_visible_to

# The keys of DatasetLoad.counts and .repaired that count shelters of every classification,
# or their inspections.
ALL_SHELTERS_KEYS = {"shelters", "inspections"}


def demo_inventory(*, user) -> dict:
    """Counts of what is in the register today (retired units are history, counted by no
    other page either), with shelters limited to the user's clearance."""
    shown = dataset_counts_for(user=user)
    return {
        "parcels": Parcel.objects.filter(valid_to__isnull=True).count(),
        "buildings": Building.objects.filter(valid_to__isnull=True).count(),
        "shelters": shelters_visible_to(user=user).filter(valid_to__isnull=True).count(),
        "datasets": [
            {
                "dataset": load.dataset,
                "loaded_at": load.loaded_at,
                "counts": shown(load.counts),
                "repaired": shown(load.repaired),
            }
            for load in DatasetLoad.objects.all()
        ],
    }


def dataset_counts_for(*, user) -> Callable[[dict], dict]:
    """What of a dataset load's counts ``user`` may see (the user's clearance read once, for
    every load). Its counts of shelters (and their inspections) were taken over all
    classifications: only a user cleared for the highest sees them, for anyone else they
    would give away how many are hidden."""
    if clearance_of(user=user) >= max(SecurityLevel):
        return dict
    return lambda counts: {
        key: value for key, value in counts.items() if key not in ALL_SHELTERS_KEYS
    }
