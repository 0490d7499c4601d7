import json
from collections.abc import Callable

from django.db import connection

from gis_layers.imports.preview import COORDINATE_DECIMALS, simplified_sql
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


# Current parcels drawn beside a checked file: enough for the blocks around a survey.
PARCELS_BESIDE_A_FILE = 2_000


def current_parcels_within(
    extent: tuple[float, float, float, float], *, limit: int = PARCELS_BESIDE_A_FILE
) -> list[dict]:
    """Current parcels whose boxes meet ``extent`` (min lon, min lat, max lon, max lat, in
    EPSG:4490) as GeoJSON features with their ``unit_code``: at most ``limit`` of them, the
    nearest the extent's centre, simplified as the file's rows beside them are."""
    min_x, min_y, max_x, max_y = extent
    with connection.cursor() as cursor:
        # Nearest first by the index's distance operator: a file over a whole city meets
        # more parcels than are drawn, and the index yields the nearest without sorting all.
        cursor.execute(
            f"SELECT unit_code, ST_AsGeoJSON({simplified_sql('geom')}, %s) FROM registry_parcel "
            "WHERE valid_to IS NULL AND geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490) "
            "ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4490) LIMIT %s",
            [
                COORDINATE_DECIMALS,
                *extent,
                (min_x + max_x) / 2,
                (min_y + max_y) / 2,
                limit,
            ],
        )
        rows = cursor.fetchall()
    return [
        {"type": "Feature", "geometry": json.loads(outline), "properties": {"unit_code": code}}
        for code, outline in rows
    ]
