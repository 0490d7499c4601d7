"""Every page of the desk, and every decision on an act, refuses each role that must not
reach it; anonymous users reach nothing but the login page and the certificate check."""

import hashlib

import pytest

from registry.models import Certificate, RegistrationAct, SourceDocument
from registry.roles import Role
from tests.registry.register import land_use_right, parcel_with_title, party, user

pytestmark = pytest.mark.django_db
ANONYMOUS = "anonymous"
READERS = {Role.PLANNER, Role.REGISTRAR, Role.SUPERVISOR, Role.AUDITOR, Role.ADMINISTRATOR}
PAGES = {
    # page: the roles that may open it
    "desk": READERS,
    "title": READERS,
    "extract": READERS,
    # A title's acts and their deeds: not the planners', who read titles only.
    "act": READERS - {Role.PLANNER},
    "source": READERS - {Role.PLANNER},
    "certificate": READERS,
    "certificate_pdf": READERS,
    "lodge_form": {Role.REGISTRAR},
    "audit": {Role.AUDITOR},
    "verify": {*Role, ANONYMOUS},
    "home": set(Role),
}


@pytest.fixture
def register_objects():
    _, title = parcel_with_title()
    land_use_right(title, party("Holder"))
    certificate = Certificate.objects.get(right__title=title)
    deed = b"deed of the first registration"
    source = SourceDocument.objects.create(
        act_id=certificate.act_id,
        kind="deed",
        file_name="deed.txt",
        content_type="text/plain",
        content=deed,
        size_bytes=len(deed),
        sha256=hashlib.sha256(deed).hexdigest(),
    )
    return {
        "desk": "/registry/",
        "title": f"/registry/titles/{title.pk}/",
        "extract": f"/registry/titles/{title.pk}/extract/",
        "act": f"/registry/acts/{certificate.act_id}/",
        "source": f"/registry/acts/{certificate.act_id}/sources/{source.pk}/",
        "certificate": f"/registry/certificates/{certificate.pk}/",
        "certificate_pdf": f"/registry/certificates/{certificate.pk}/pdf/",
        "lodge_form": f"/registry/titles/{title.pk}/lodge/transfer/",
        "audit": "/registry/audit/",
        "verify": "/verify/",
        "home": "/",
    }


def as_role(client, role):
    if role != ANONYMOUS:
        client.force_login(user(role, f"matrix-{role.value}"))
    return client


@pytest.mark.parametrize("role", [*Role, ANONYMOUS], ids=str)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_is_refused_to_every_role_that_must_not_reach_it(client, register_objects, role, page):
    response = as_role(client, role).get(register_objects[page])
    if role in PAGES[page]:
        assert response.status_code == 200
    elif role == ANONYMOUS:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 403


DECISIONS = {"examine": {Role.REGISTRAR}, "approve": {Role.SUPERVISOR}, "reject": {Role.SUPERVISOR}}


@pytest.mark.parametrize("role", [*Role, ANONYMOUS], ids=str)
@pytest.mark.parametrize("action", sorted(DECISIONS))
def test_decision_is_refused_to_every_role_that_must_not_take_it(client, role, action):
    from registry.services.acts import examine_act, lodge_act
    from tests.registry.register import day, holders

    _, title = parcel_with_title()
    registrar = user(Role.REGISTRAR, "matrix-lodger")
    act = lodge_act(
        act_type="first",
        titles=[title],
        lodged_by=registrar,
        effective_date=day("2024-01-01"),
        payload={"right": {"kind": "state_ownership", **holders(party("State", "state"))}},
    )
    if action != "examine":
        examine_act(act=act, examiner=registrar)
    before = RegistrationAct.objects.get(pk=act.pk).status
    response = as_role(client, role).post(
        f"/registry/acts/{act.pk}/", {"action": action, "note": "why"}
    )
    after = RegistrationAct.objects.get(pk=act.pk).status
    if role in DECISIONS[action]:
        assert response.status_code == 302 and after != before
    else:
        assert response.status_code in (302, 403) and after == before
        if role == ANONYMOUS:
            assert response["Location"].startswith("/accounts/login/")
        else:
            assert response.status_code == 403
