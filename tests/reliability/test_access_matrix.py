"""The role matrix and shelter clearance, re-checked on every surface at once: a shelter of
each classification, every role and an anonymous visitor, through the shelter page, the
map's popup, vector tiles, the OGC API (item and search) and the web export.

A user sees a shelter exactly when their role may view shelters and their clearance reaches
its classification (registry.roles); anyone else gets no trace of it, on any surface.
"""

import json

import pytest
from django.test import Client

from registry.models import SecurityLevel, Shelter
from registry.roles import ROLE_CLEARANCE, ROLE_PERMISSIONS, Role
from tests.gis_layers.test_tiles import decode, tile_of
from tests.registry import factories
from tests.registry.register import user

pytestmark = pytest.mark.django_db
# Far from the demo and from other tests' shelters: a tile and a box of their own.
ORIGIN = (103.5, 30.5)


@pytest.fixture
def shelters() -> dict[SecurityLevel, Shelter]:
    made = {}
    for number, level in enumerate(SecurityLevel):
        shelter = factories.shelter(
            name=f"Matrix shelter {level.name}",
            classification=level,
            location=factories.Point(ORIGIN[0] + number * 0.0002, ORIGIN[1], srid=4490),
        )
        shelter.save()
        made[level] = shelter
    return made


# The shelter page is the inventory's (inspections); every other surface is the shelter's.
SURFACE_PERMISSION = {"shelter page": "registry.view_shelterinspection"}


def may_see(role: Role | None, level: SecurityLevel, surface: str = "") -> bool:
    if role is None:
        return False
    permission = SURFACE_PERMISSION.get(surface, "registry.view_shelter")
    return permission in ROLE_PERMISSIONS[role] and ROLE_CLEARANCE[role] >= level


def client_of(role: Role | None) -> Client:
    client = Client()
    if role is not None:
        client.force_login(user(role, f"matrix-{role.value}"))
    return client


def seen_on_each_surface(client: Client, shelter: Shelter, tile_ids: set, box_ids: set, export):
    ok = {200}
    return {
        "shelter page": client.get(f"/shelters/{shelter.pk}/").status_code in ok,
        "map popup": client.get(f"/map/popup/shelters/{shelter.pk}/").status_code in ok,
        "OGC item": client.get(
            f"/ogc/collections/shelters/items/{shelter.pk}", {"f": "json"}
        ).status_code
        in ok,
        "OGC search": shelter.pk in box_ids,
        "vector tile": shelter.pk in tile_ids,
        "export": shelter.name in export,
    }


@pytest.mark.parametrize(
    "role", [None, *Role], ids=lambda role: role.value if role else "anonymous"
)
def test_each_surface_shows_a_shelter_exactly_to_those_cleared_for_it(shelters, role):
    client = client_of(role)
    x, y = tile_of(*ORIGIN, 16)
    tile = client.get(f"/tiles/shelters/16/{x}/{y}.pbf")
    tile_ids = (
        {f["id"] for f in decode(tile).get("shelters", {"features": []})["features"]}
        if tile.status_code == 200
        else set()
    )
    box = f"{ORIGIN[0] - 0.01},{ORIGIN[1] - 0.01},{ORIGIN[0] + 0.01},{ORIGIN[1] + 0.01}"
    found = client.get("/ogc/collections/shelters/items", {"f": "json", "bbox": box})
    box_ids = (
        {feature["id"] for feature in found.json()["features"]}
        if found.status_code == 200
        else set()
    )
    exported = client.post("/layers/export/", {"kind": "shelters", "format": "geojson"})
    export = (
        b"".join(exported.streaming_content).decode()
        if exported.status_code == 200 and exported.streaming
        else exported.content.decode(errors="replace")
        if exported.status_code == 200
        else ""
    )
    if exported.status_code == 200:
        json.loads(export)  # a real GeoJSON answer, so that absence means something
    wrong = []
    for level, shelter in shelters.items():
        for surface, seen in seen_on_each_surface(
            client, shelter, tile_ids, box_ids, export
        ).items():
            if seen != may_see(role, level, surface):
                wrong.append(f"{surface}: {level.name} {'shown' if seen else 'hidden'}")
    assert wrong == []
    # Every role that may view shelters sees at least the public one: the checks can fail.
    assert any(may_see(role, level) for level in SecurityLevel) == (
        role is not None and "registry.view_shelter" in ROLE_PERMISSIONS[role]
    )
