"""Who may call which endpoint of the register's API: every role of ``registry.roles.Role``
and an anonymous visitor against every endpoint, one test case each.

planner: reads titles, cannot lodge · registrar: lodges and examines, cannot approve ·
registration supervisor: approves and rejects, cannot lodge · civil-defence officer: no
title access · auditor and administrator: read only · anonymous: nothing.
"""

from dataclasses import dataclass, field

import pytest
from django.test import Client

from registry.models import ActStatus, RegistrationAct
from registry.roles import Role
from registry.services.acts import examine_act, lodge_act
from tests.registry import factories
from tests.registry.register import day, holders, land_use_right, parcel_with_title, party, user

pytestmark = pytest.mark.django_db

TITLE_READERS = frozenset(
    {Role.PLANNER, Role.REGISTRAR, Role.SUPERVISOR, Role.AUDITOR, Role.ADMINISTRATOR}
)
ACT_READERS = frozenset({Role.REGISTRAR, Role.SUPERVISOR, Role.AUDITOR, Role.ADMINISTRATOR})
EVERY_ROLE = frozenset(Role)


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # placeholders: {title} {unit_code} {lodged} {examined}
    allowed: frozenset[Role]
    success: int = 200
    permission: str = ""  # named in the refusal's message
    body: dict = field(default_factory=dict)
    json_refusal: bool = True


ENDPOINTS = [
    Endpoint("search", "GET", "/api/titles/?q={unit_code}", TITLE_READERS, permission="view_title"),
    Endpoint("title", "GET", "/api/titles/{title}/", TITLE_READERS, permission="view_title"),
    Endpoint(
        "title-as-of",
        "GET",
        "/api/titles/{title}/?as_of=2024-06-01",
        TITLE_READERS,
        permission="view_title",
    ),
    Endpoint("chain", "GET", "/api/titles/{title}/chain/", TITLE_READERS, permission="view_title"),
    # A parcel is a spatial unit every role may see on the map; its lineage is the register's.
    Endpoint("parcel", "GET", "/api/parcels/{unit_code}/", EVERY_ROLE, permission="view_parcel"),
    Endpoint(
        "parcel-at-point",
        "GET",
        "/api/parcels/at/?lon={lon}&lat={lat}",
        EVERY_ROLE,
        permission="view_parcel",
    ),
    Endpoint(
        "lineage",
        "GET",
        "/api/parcels/{unit_code}/lineage/",
        TITLE_READERS,
        permission="view_parcellineage",
    ),
    Endpoint(
        "queue", "GET", "/api/acts/?status=lodged", ACT_READERS, permission="view_registrationact"
    ),
    Endpoint("act", "GET", "/api/acts/{lodged}/", ACT_READERS, permission="view_registrationact"),
    Endpoint(
        "lodge",
        "POST",
        "/api/acts/",
        frozenset({Role.REGISTRAR}),
        success=201,
        permission="lodge_act",
    ),
    Endpoint(
        "examine",
        "POST",
        "/api/acts/{lodged}/examine/",
        frozenset({Role.REGISTRAR}),
        permission="lodge_act",
    ),
    Endpoint(
        "approve",
        "POST",
        "/api/acts/{examined}/approve/",
        frozenset({Role.SUPERVISOR}),
        permission="decide_act",
    ),
    Endpoint(
        "reject",
        "POST",
        "/api/acts/{examined}/reject/",
        frozenset({Role.SUPERVISOR}),
        permission="decide_act",
        body={"reason": "deed not notarised"},
    ),
    Endpoint("schema", "GET", "/api/schema/", EVERY_ROLE, json_refusal=False),
    Endpoint("docs", "GET", "/api/docs/", EVERY_ROLE, json_refusal=False),
]


@pytest.fixture
def scene() -> dict:
    """A title with a land-use right, an act lodged on it and another examined by the
    registrar (so that the supervisor, who did not examine it, may decide it)."""
    _, title = parcel_with_title(geom=factories.square(x=116.95))
    land_use_right(title, party("A"))
    title.refresh_from_db()
    registrar = user(Role.REGISTRAR)

    def objection(name: str):
        return lodge_act(
            act_type="objection",
            titles=[title],
            payload={**holders(party(name)), "description": "boundary dispute"},
            effective_date=day("2024-06-01"),
            lodged_by=registrar,
        )

    lodged, examined = objection("Objector 1"), objection("Objector 2")
    examine_act(act=examined, examiner=registrar)
    return {
        "title": title,
        "placeholders": {
            "title": title.pk,
            "unit_code": title.parcel.unit_code,
            "lon": 116.95025,
            "lat": 39.91025,
            "lodged": lodged.pk,
            "examined": examined.pk,
        },
        "lodge": {
            "act_type": "objection",
            "titles": [title.pk],
            "based_on_versions": {str(title.pk): title.version},
            "effective_date": "2024-06-01",
            "payload": {**holders(party("Objector 3")), "description": "boundary"},
        },
    }


def state_of_the_acts() -> list[tuple[int, str]]:
    return sorted(RegistrationAct.objects.values_list("id", "status"))


CASES = [
    pytest.param(role, endpoint, id=f"{role.value if role else 'anonymous'}-{endpoint.name}")
    for endpoint in ENDPOINTS
    for role in [*Role, None]
]


@pytest.mark.parametrize(("role", "endpoint"), CASES)
def test_role_matrix(scene, role: Role | None, endpoint: Endpoint):
    client = Client()
    if role is not None:
        client.force_login(user(role))
    path = endpoint.path.format(**scene["placeholders"])
    before = state_of_the_acts()
    if endpoint.method == "GET":
        response = client.get(path)
    else:
        body = scene["lodge"] if endpoint.name == "lodge" else endpoint.body
        response = client.post(path, body, content_type="application/json")

    if role in endpoint.allowed:
        assert response.status_code == endpoint.success, response.content[:500]
        return

    if role is None:
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 403
    if endpoint.json_refusal:
        refusal = response.json()
        if role is None:
            assert refusal["rule"] == "not_authenticated"
        else:
            assert refusal["rule"] == "not_allowed"
            assert f"registry.{endpoint.permission}" in refusal["message"]
    assert state_of_the_acts() == before


def test_the_matrix_covers_every_endpoint_of_the_api():
    from tests.registry.test_api import API_PATHS

    covered = {
        endpoint.path.split("?")[0]
        .replace("{title}", "{title_id}")
        .replace("{lodged}", "{act_id}")
        .replace("{examined}", "{act_id}")
        for endpoint in ENDPOINTS
    }
    assert set(API_PATHS) <= covered


def test_an_allowed_approval_registers_and_a_refused_one_leaves_the_act_examined(scene):
    act_id = scene["placeholders"]["examined"]
    refused = Client()
    refused.force_login(user(Role.ADMINISTRATOR))  # reads the register, decides nothing
    assert refused.post(f"/api/acts/{act_id}/approve/").status_code == 403
    assert RegistrationAct.objects.get(pk=act_id).status == ActStatus.EXAMINED
    allowed = Client()
    allowed.force_login(user(Role.SUPERVISOR))
    assert allowed.post(f"/api/acts/{act_id}/approve/").status_code == 200
    assert RegistrationAct.objects.get(pk=act_id).status == ActStatus.REGISTERED
