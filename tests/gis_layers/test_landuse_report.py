import io
import json

import pytest
from django.core.management import call_command

from registry.models import Parcel
from registry.roles import Role
from tests.registry.register import user

pytestmark = pytest.mark.django_db


def report(fmt: str) -> str:
    out = io.StringIO()
    call_command("landuse_report", "--format", fmt, stdout=out)
    return out.getvalue()


def test_report_covers_every_current_parcel_area_once(demo):
    data = json.loads(report("json"))
    for district in data["districts"]:
        parcels = Parcel.objects.filter(district__code=district["code"], valid_to__isnull=True)
        total = sum(parcel.area_m2 for parcel in parcels)
        assert district["parcels"] == parcels.count()
        assert sum(district["by_current_use"].values()) == pytest.approx(total, rel=1e-6)
        assert district["conforming_m2"] + district["nonconforming_m2"] + district[
            "no_plan_m2"
        ] == pytest.approx(total, rel=1e-6)
        assert sum(district["by_holder_type"].values()) == pytest.approx(total, rel=1e-6)


def test_csv_and_html_formats(demo):
    assert report("csv").startswith("district,measure,class,area_m2")
    assert "<svg" in report("html")


def test_page_needs_a_role_that_sees_parcels(client, demo):
    assert client.get("/landuse/").status_code == 302
    client.force_login(user(Role.SUPERVISOR, "landuse-supervisor"))
    assert client.get("/landuse/").status_code == 200
