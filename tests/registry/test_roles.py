import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.test import Client

from gis_layers.models import DatasetLoad
from registry.auth import DEMO_ACCOUNTS_GROUP
from registry.models import Parcel, SecurityLevel, Shelter
from registry.roles import Role
from registry.selectors import shelters_visible_to
from registry.services.users import create_user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_users(demo):
    out = io.StringIO()
    call_command("create_demo_users", stdout=out)
    role_names = [role.value for role in Role]
    accounts = get_user_model().objects.filter(username__in=role_names)
    return {user.username: user for user in accounts}, out.getvalue()


def test_one_demo_account_per_role_is_printed_as_demo_only(demo_users):
    users, output = demo_users
    assert set(users) == {role.value for role in Role}
    assert "DEMO ONLY" in output
    for role in Role:
        assert role.value in output
    for role in Role:
        groups = {group.name for group in users[role.value].groups.all()}
        assert groups == {role.value, DEMO_ACCOUNTS_GROUP}


def test_create_demo_users_twice_keeps_one_account_per_role(demo_users):
    before = get_user_model().objects.count()
    call_command("create_demo_users", stdout=io.StringIO())
    assert get_user_model().objects.count() == before


def test_demo_accounts_are_refused_in_production(settings):
    from django.core.management.base import CommandError

    settings.LANDLEDGER_DEMO_ACCOUNTS_ALLOWED = False
    with pytest.raises(CommandError, match="refused when DEBUG is off"):
        call_command("create_demo_users", stdout=io.StringIO())


def test_demo_accounts_cannot_log_in_in_production_nor_keep_a_session(demo_users, settings):
    """Their password is published: a database that once served the demo must not let them in
    once DEBUG is off, however the server is started."""

    def log_in(username: str, password: str) -> Client:
        browser = Client(HTTP_HOST="127.0.0.1")
        browser.post("/accounts/login/", {"username": username, "password": password})
        return browser

    browser = log_in("planner", "demo")
    assert browser.get("/map/").status_code == 200
    settings.LANDLEDGER_DEMO_ACCOUNTS_ALLOWED = False
    assert browser.get("/map/").status_code == 302  # the open session no longer counts
    assert log_in("planner", "demo").get("/map/").status_code == 302
    # An account of the same role made for a person logs in.
    create_user_with_role(username="a-planner", password="long enough 123", role=Role.PLANNER)
    assert log_in("a-planner", "long enough 123").get("/map/").status_code == 200


@pytest.mark.parametrize(
    ("role", "highest_visible"),
    [
        (Role.PLANNER, SecurityLevel.PUBLIC),
        (Role.REGISTRAR, SecurityLevel.PUBLIC),
        (Role.CIVIL_DEFENCE, SecurityLevel.SECRET),
        (Role.AUDITOR, SecurityLevel.CONFIDENTIAL),
    ],
)
def test_shelters_are_limited_to_the_users_clearance(demo_users, role, highest_visible):
    users, _ = demo_users
    visible = shelters_visible_to(user=users[role.value])
    assert visible.count() == Shelter.objects.filter(classification__lte=highest_visible).count()
    assert Shelter.objects.filter(classification__gt=SecurityLevel.PUBLIC).exists()


def test_anonymous_user_sees_no_shelter(demo):
    assert shelters_visible_to(user=AnonymousUser()).count() == 0


def test_planner_admin_lists_only_public_shelters_and_cannot_open_a_secret_one(client, demo_users):
    users, _ = demo_users
    client.force_login(users["planner"])
    public_count = Shelter.objects.filter(classification=SecurityLevel.PUBLIC).count()
    listing = client.get("/admin/registry/shelter/")
    assert listing.status_code == 200
    assert f"{public_count} shelters" in listing.content.decode()
    secret = Shelter.objects.filter(classification=SecurityLevel.SECRET).first()
    page = client.get(f"/admin/registry/shelter/{secret.pk}/change/", follow=True)
    assert secret.name not in page.content.decode() or "doesn’t exist" in page.content.decode()
    assert f'/shelter/{secret.pk}/change/"' not in listing.content.decode()


def test_planner_cannot_change_a_parcel_in_the_admin(client, demo_users):
    users, _ = demo_users
    client.force_login(users["planner"])
    parcel = Parcel.objects.first()
    response = client.post(f"/admin/registry/parcel/{parcel.pk}/change/", {"name": "changed"})
    assert response.status_code == 403
    parcel.refresh_from_db()
    assert parcel.name != "changed"


def test_landing_page_says_what_each_role_can_do(client, demo_users):
    users, _ = demo_users
    client.force_login(users["registrar"])
    page = client.get("/").content.decode()
    for role in Role:
        assert role.value in page
    assert "your role" in page
    assert "OpenStreetMap contributors" in page


def test_landing_page_counts_of_all_shelters_only_for_users_cleared_for_all(client, demo_users):
    """The datasets table gives each load's counts; those of shelters and inspections were
    taken over every classification, and would show the uncleared how many are hidden."""
    users, _ = demo_users
    assert DatasetLoad.objects.filter(counts__has_key="shelters").exists()
    # The demo has shelters a planner is not cleared for.
    assert Shelter.objects.filter(classification__gt=SecurityLevel.PUBLIC).exists()
    for role, sees_all in [
        (Role.PLANNER, False),
        (Role.CIVIL_DEFENCE, False),
        (Role.AUDITOR, True),
    ]:
        client.force_login(users[role.value])
        page = client.get("/").content.decode()
        datasets = page.split('id="datasets"')[1].split("</table>")[0]
        assert ("shelters: " in datasets) is sees_all, role
        assert ("inspections: " in datasets) is sees_all, role
        assert "buildings: " in datasets  # the other counts stay


def test_anonymous_user_is_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert client.get("/admin/registry/parcel/").status_code == 302
