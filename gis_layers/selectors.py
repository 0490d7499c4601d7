from gis_layers.models import DatasetLoad
from registry.models import Building, Parcel
from registry.selectors import shelters_visible_to


def demo_inventory(*, user) -> dict:
    """Counts of what is loaded, with shelters limited to the user's clearance."""
    return {
        "parcels": Parcel.objects.count(),
        "buildings": Building.objects.count(),
        "shelters": shelters_visible_to(user=user).count(),
        "datasets": list(DatasetLoad.objects.all()),
    }
