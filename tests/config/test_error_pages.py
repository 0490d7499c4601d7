"""Refusals and wrong methods answered with pages a person can read and leave, and no link
offered to a role that would only be refused by it."""

import re

import pytest

from registry.models import Shelter, Title
from registry.roles import Role
from tests.registry.register import user

pytestmark = pytest.mark.django_db


def as_role(client, role: Role):
    client.force_login(user(role, f"pages-{role.value}"))
    return client


def test_a_refusal_is_a_page_with_the_menu_and_a_way_back(client, demo):
    page = as_role(client, Role.PLANNER).get("/registry/audit/")
    assert page.status_code == 403
    text = page.content.decode()
    assert "Not for your role" in text and "pages-planner" in text
    assert 'href="/map/"' in text and 'href="/"' in text  # the menu, and the way back


def test_a_button_address_opened_as_a_page_says_so(client, demo):
    page = as_role(client, Role.REGISTRAR).get("/space/lodge/")
    assert page.status_code == 405 and page["Allow"] == "POST"
    assert "cannot be opened as a page (POST only)" in page.content.decode()
    # The API answers with its own body, untouched.
    api = client.get("/api/acts/1/examine/")
    assert api.status_code == 405 and "cannot be opened as a page" not in api.content.decode()


def links_on(client, url: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', client.get(url).content.decode()))


def test_pages_link_only_to_what_the_role_may_open(client, demo):
    as_role(client, Role.REGISTRAR)
    shelters = links_on(client, "/shelters/")
    assert "/shelters/coverage/" not in shelters
    assert not any(re.fullmatch(r"/shelters/\d+/", link) for link in shelters)
    as_role(client, Role.CIVIL_DEFENCE)
    shelters = links_on(client, "/shelters/")
    assert "/shelters/coverage/" in shelters
    assert any(re.fullmatch(r"/shelters/\d+/", link) for link in shelters)
    assert Shelter.objects.exists()
    title = Title.objects.filter(parcel__isnull=False, act_titles__isnull=False).first()
    as_role(client, Role.PLANNER)
    assert not any(
        link.startswith("/registry/acts/")
        for link in links_on(client, f"/registry/titles/{title.pk}/")
    )
    as_role(client, Role.REGISTRAR)
    assert any(
        link.startswith("/registry/acts/")
        for link in links_on(client, f"/registry/titles/{title.pk}/")
    )
