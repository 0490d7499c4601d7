import csv
import io
import json
import re

import pytest
from django.core.management import call_command

from gis_layers.planning import conforms, planned_use_of
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
        # FARs as a planner reads them: to two places (an area-weighted 2.5 is not 2.4999…).
        for row in district["underused"]:
            assert row["far"] == round(row["far"], 2)
            assert row["permitted_far"] == round(row["permitted_far"], 2)


def test_csv_and_html_formats(demo):
    assert report("csv").startswith("district,measure,class,area_m2")
    assert "<svg" in report("html")


def test_page_needs_a_role_that_sees_parcels(client, demo):
    assert client.get("/landuse/").status_code == 302
    client.force_login(user(Role.SUPERVISOR, "landuse-supervisor"))
    assert client.get("/landuse/").status_code == 200


def test_the_pages_charts_speak_the_readers_language(client, demo):
    """Bars named in the reader's language, coloured alike in both."""
    client.force_login(user(Role.PLANNER, "landuse-reader"))
    chinese = client.get("/landuse/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    english = client.get("/landuse/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for zh, en, colour in [
        ("符合", "conforming", "#1a9641"),
        ("不符合", "non-conforming", "#d7191c"),
        ("无规划", "no plan", "#bbbbbb"),
    ]:
        for page, label in ((chinese, zh), (english, en)):
            assert re.search(f'font-size="11">{label}</text><rect [^>]*fill="{colour}"', page)
    # The holders' kinds, and the parcels with none yet.
    assert 'font-size="11">agency 机关单位</text>' in chinese
    assert 'font-size="11">未登记</text>' in chinese
    assert 'font-size="11">unregistered 未登记</text>' in english


def test_conformity_by_class_agrees_with_the_plan_parcel_by_parcel(demo):
    """Each class's row against planning.py, which asks PostGIS about one parcel at a time
    (geodesic areas): the same verdicts, counted apart from the report."""
    data = json.loads(report("json"))
    for district in data["districts"]:
        expected: dict[str, dict[str, float]] = {}
        for parcel in Parcel.objects.filter(district__code=district["code"], valid_to__isnull=True):
            plan = planned_use_of(parcel)
            part = (
                "no_plan"
                if plan is None
                else ("conforming" if conforms(parcel.land_use_id, plan[0]) else "nonconforming")
            )
            row = expected.setdefault(parcel.land_use_id, {})
            row[f"{part}_parcels"] = row.get(f"{part}_parcels", 0) + 1
            row[f"{part}_m2"] = row.get(f"{part}_m2", 0.0) + parcel.area_m2
        rows = {row["class"]: row for row in district["conformity_by_class"]}
        assert set(rows) == set(expected)
        for code, row in rows.items():
            for part in ("conforming", "nonconforming", "no_plan"):
                assert row[f"{part}_parcels"] == expected[code].get(f"{part}_parcels", 0), code
                assert row[f"{part}_m2"] == pytest.approx(
                    expected[code].get(f"{part}_m2", 0.0), abs=0.1
                )
            assert row["parcels"] == sum(
                expected[code].get(f"{p}_parcels", 0)
                for p in ("conforming", "nonconforming", "no_plan")
            )
            planned = row["conforming_m2"] + row["nonconforming_m2"]
            if planned:
                assert row["nonconforming_pct"] == pytest.approx(
                    100 * row["nonconforming_m2"] / planned, abs=0.051
                )
            else:
                assert row["nonconforming_pct"] is None  # no plan: no share, not 0 %
        for total in ("conforming_m2", "nonconforming_m2", "no_plan_m2"):
            assert sum(row[total] for row in rows.values()) == pytest.approx(
                district[total], abs=0.05 * len(rows)
            )
    demo_rows = [row for d in data["districts"] for row in d["conformity_by_class"]]
    assert any(row["nonconforming_parcels"] for row in demo_rows)
    assert any(row["no_plan_parcels"] for row in demo_rows)


def test_csv_holds_the_conformity_table_by_class(demo):
    data = json.loads(report("json"))
    rows = list(csv.DictReader(io.StringIO(report("csv"))))
    for district in data["districts"]:
        for row in district["conformity_by_class"]:
            lines = {
                line["measure"]: line
                for line in rows
                if line["district"] == district["code"]
                and line["class"] == row["class"]
                and line["measure"].startswith("conformity_by_class.")
            }
            assert float(lines["conformity_by_class.all"]["area_m2"]) == row["area_m2"]
            assert int(lines["conformity_by_class.all"]["parcels"]) == row["parcels"]
            for part in ("conforming", "nonconforming", "no_plan"):
                line = lines[f"conformity_by_class.{part}"]
                assert float(line["area_m2"]) == row[f"{part}_m2"]
                assert int(line["parcels"]) == row[f"{part}_parcels"]
            percent = lines["conformity_by_class.nonconforming"]["percent"]
            assert (float(percent) if percent else None) == row["nonconforming_pct"]


def test_html_report_holds_the_conformity_table_by_class(demo):
    data = json.loads(report("json"))
    html = report("html")
    for district in data["districts"]:
        for row in district["conformity_by_class"]:
            assert f'<tr data-class="{row["class"]}">' in html


def test_a_district_spread_over_two_utm_zones_is_measured_in_each():
    import geopandas as gpd
    from shapely.geometry import box

    from gis_layers.landuse_report import metric_groups

    parcels = gpd.GeoDataFrame(
        {"parcel_id": [1, 2, 3]},
        geometry=[box(24.94, 60.17, 24.95, 60.18), box(105.0, 35.0, 105.01, 35.01),
                  box(24.96, 60.17, 24.97, 60.18)],
        crs=4490,
    )  # fmt: skip
    groups = {crs.to_epsg(): list(positions) for crs, positions in metric_groups(parcels)}
    assert groups == {32635: [0, 2], 32648: [1]}


@pytest.mark.parametrize("command", ["landuse_report", "shelter_coverage", "space_redistribution"])
def test_a_report_command_refuses_an_output_it_cannot_write_before_computing(command, tmp_path):
    from django.core.management.base import CommandError

    from gis_layers.models import CoverageRun

    runs = CoverageRun.objects.count()
    for output, reason in [
        (tmp_path / "missing" / "report.json", "no folder .*missing to write report.json into"),
        (tmp_path, "is a folder; give the path of a file in it"),
    ]:
        with pytest.raises(CommandError, match=f"argument --output: .*{reason}"):
            call_command(command, "--output", str(output), stdout=io.StringIO())
    assert CoverageRun.objects.count() == runs  # refused before a coverage run was started


def test_parcels_are_measured_in_the_deployments_metric_crs_where_one_is_set(demo, settings):
    import geopandas as gpd

    from gis_layers.landuse_report import metric_groups

    parcels = gpd.GeoDataFrame(
        geometry=gpd.GeoSeries.from_wkt(
            [p.geom.wkt for p in Parcel.objects.filter(district__code="990101")[:5]]
        ),
        crs=4490,
    )
    assert [crs.to_epsg() for crs, _ in metric_groups(parcels)] == [32635]  # Helsinki: UTM 35N
    settings.LANDLEDGER_METRIC_EPSG = 4548
    ((crs, positions),) = metric_groups(parcels)
    assert crs.to_epsg() == 4548 and list(positions) == [0, 1, 2, 3, 4]
