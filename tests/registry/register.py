"""Helpers for tests of the register: users per role, parties, and acts taken end to end."""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Polygon

from registry.models import Party, RightKind
from registry.roles import Role
from registry.services.acts import approve_act, examine_act, lodge_act, title_of
from registry.services.users import create_user_with_role
from tests.registry import factories


def user(role: Role, name: str | None = None):
    username = name or f"test-{role.value}"
    existing = get_user_model().objects.filter(username=username).first()
    return existing or create_user_with_role(username=username, password="x", role=role)


def party(name: str, kind: str = "agency") -> Party:
    return Party.objects.create(kind=kind, name=name)


def holders(*parties, parts=None) -> dict:
    parts = parts or [1] * len(parties)
    return {
        "holders": [{"party": p.pk, "parts": n} for p, n in zip(parties, parts, strict=True)],
        "share_denominator": sum(parts),
    }


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def register(
    act_type, titles, payload, on="2024-01-01", *, lodger=None, examiner=None, approver=None
):
    """Lodge, examine and approve one act; returns the registered act."""
    lodger = lodger or user(Role.REGISTRAR)
    for title in titles:
        title.refresh_from_db()  # as a clerk opening the title now would see it
    act = lodge_act(
        act_type=act_type, titles=titles, payload=payload, effective_date=day(on), lodged_by=lodger
    )
    examine_act(act=act, examiner=examiner or lodger)
    return approve_act(act=act, approver=approver or user(Role.SUPERVISOR))


def parcel_with_title(**overrides):
    parcel = factories.parcel(**overrides)
    parcel.save()
    return parcel, title_of(parcel)


def land_use_right(title, *owners, on="2024-01-01", parts=None):
    register(
        "first",
        [title],
        {
            "right": {
                "kind": RightKind.LAND_USE_RIGHT,
                "land_use_right_type": "allocated",
                **holders(*owners, parts=parts),
            }
        },
        on,
    )
    title.refresh_from_db()
    return title.rights.get(kind=RightKind.LAND_USE_RIGHT, valid_to__isnull=True)


def transfer_chain(title):
    """A land-use right held by A from 2024-01-01, transferred to B on 2024-06-01 and to C on
    2025-01-01. Returns the three parties."""
    a, b, c = party("A"), party("B"), party("C")
    right = land_use_right(title, a, on="2024-01-01")
    register(
        "transfer", [title], {"right": right.pk, "transferors": [a.pk], **holders(b)}, "2024-06-01"
    )
    right_b = title.rights.get(valid_to__isnull=True, kind=RightKind.LAND_USE_RIGHT)
    register(
        "transfer",
        [title],
        {"right": right_b.pk, "transferors": [b.pk], **holders(c)},
        "2025-01-01",
    )
    return a, b, c


def halves(parcel) -> tuple[Polygon, Polygon]:
    """The parcel's square cut into west and east halves."""
    (x0, y0, x1, y1) = parcel.geom.extent
    middle = (x0 + x1) / 2
    west = Polygon.from_bbox((x0, y0, middle, y1))
    east = Polygon.from_bbox((middle, y0, x1, y1))
    return west, east


def split_in_halves(title, parcel, on="2024-06-01"):
    """Register a split of the title's square parcel into its west and east halves."""
    west, east = halves(parcel)
    children = [{"geometry": west.geojson}, {"geometry": east.geojson}]
    return register("split", [title], {"children": children}, on)
