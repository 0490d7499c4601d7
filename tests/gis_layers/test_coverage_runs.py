"""Coverage runs on a small town near Beijing, every figure against hand computation; the
command, the pages, the tiles, and clearance on each."""

import csv
import io
import json

import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import Point, Polygon
from django.core.management import CommandError, call_command
from django.db.models import Sum
from pyproj import Transformer

from gis_layers import coverage
from gis_layers.coverage import CoverageOptions, _candidates, execute_run, start_run
from gis_layers.metric import check_metric_crs
from gis_layers.models import CoverageCell, CoverageRun, CoverageShelter, PopulationCell
from registry.models import (
    Agency,
    Building,
    District,
    SecurityLevel,
    Shelter,
    StaffEstablishment,
)
from registry.roles import Role
from tests.gis_layers.test_tiles import tile_of
from tests.registry import factories
from tests.registry.register import party, user

pytestmark = pytest.mark.django_db

SOURCE = "line town grid"
TOWN = "朝阳区"
# UTM 50N, where the run measures; the town lies on one east-west line.
TO_STORAGE = Transformer.from_crs(32650, 4490, always_xy=True)
X0, Y0 = 448_000.0, 4_418_000.0
# Cells (50 m squares) centred 0, 150, 300 and 1000 m east, with 100, 50, 30, 20 residents;
# shelter A at 50 m with 60 places, B at 250 m with 100 places (200 m radius, as personnel
# shelters have). The same town as tests/gis_layers/test_coverage_analysis.py.
CELLS = [(0.0, 100.0), (150.0, 50.0), (300.0, 30.0), (1000.0, 20.0)]
RATIO_A, RATIO_B = 60 / 134, 100 / 64


def storage_point(east: float, north: float = 0.0) -> Point:
    lon, lat = TO_STORAGE.transform(X0 + east, Y0 + north)
    return Point(lon, lat, srid=4490)


def storage_square(east: float, side: float = 50.0) -> Polygon:
    half = side / 2
    corners = [(-half, -half), (half, -half), (half, half), (-half, half), (-half, -half)]
    return Polygon([storage_point(east + dx, dy).coords for dx, dy in corners], srid=4490)


@pytest.fixture
def town(db):
    district = District.objects.get_or_create(code="110105", defaults={"name": TOWN})[0]
    PopulationCell.objects.bulk_create(
        PopulationCell(
            geom=storage_square(east), residents=people, source=SOURCE, district=district
        )
        for east, people in CELLS
    )

    def shelter(name, east, places, **fields):
        fields = {"location": storage_point(east), "usable_area_m2": 10_000.0, **fields}
        return factories.shelter(name=name, capacity_persons=places, **fields)

    shelters = {"A": shelter("A", 50, 60), "B": shelter("B", 250, 100)}
    for item in shelters.values():
        item.save()
    return {"district": district, "shelters": shelters, "shelter": shelter}


def run_for(options: CoverageOptions, *, who=None, clearance: int = SecurityLevel.PUBLIC):
    run = start_run(user=who, clearance=clearance, options=options)
    return execute_run(run.pk)


def town_totals(run: CoverageRun, period: str = "night", scenario: str = "totals") -> dict:
    tables = run.summary[scenario] if scenario == "totals" else run.summary["what_if"]["totals"]
    return {row["district"]: row for row in tables[period]}[TOWN]


def options(**overrides) -> CoverageOptions:
    return CoverageOptions(**{"population_source": SOURCE, "leave_out_conditions": [], **overrides})


def test_totals_cells_and_shelters_against_hand_computation(town):
    run = run_for(options())
    assert run.status == "done", run.message
    totals = town_totals(run)
    assert totals["population"] == pytest.approx(200)
    assert totals["within_reach"] == pytest.approx(180)
    assert totals["with_place"] == pytest.approx(100 * RATIO_A + 50 + 30, rel=1e-6)
    assert totals["uncovered"] == pytest.approx(20)
    cells = {round(cell.night): cell for cell in CoverageCell.objects.filter(run=run)}
    assert cells[100].nearest_m == pytest.approx(50, abs=0.01)
    assert cells[20].nearest_m == pytest.approx(750, abs=0.01)
    assert not cells[20].covered and cells[50].covered
    assert cells[50].access_night == pytest.approx(0.68 * (RATIO_A + RATIO_B), rel=1e-6)
    shelters = {row.shelter.name: row for row in CoverageShelter.objects.filter(run=run)}
    assert shelters["A"].catchment_night == 150 and shelters["A"].load_night == 2.5
    assert shelters["B"].catchment_night == 80 and shelters["B"].load_night == 0.8
    # A's catchment is the two cells it serves: 2 × 50 m × 50 m.
    area = CoverageShelter.objects.filter(pk=shelters["A"].pk).values_list(
        "catchment_area", flat=True
    )[0]
    assert area.transform(32650, clone=True).area == pytest.approx(5000, rel=1e-3)
    assert "A" in {row["name"] for row in run.summary["overloaded"]}


def test_daytime_adds_agency_staff_at_their_offices(town):
    office = factories.building(footprint=factories.MultiPolygon(storage_square(1000, 20)))
    office.parcel = factories.parcel(geom=factories.MultiPolygon(storage_square(1000, 40)))
    office.parcel.save()
    office.save()
    agency = Agency.objects.create(
        party=party("Line town bureau"), level="county", seat_building=office
    )
    StaffEstablishment.objects.create(agency=agency, rank="division", headcount=4)
    StaffEstablishment.objects.create(agency=agency, rank="below_division", headcount=6)
    run = run_for(options())
    day = town_totals(run, "day")
    assert day["population"] == pytest.approx(210)
    assert day["uncovered"] == pytest.approx(30)
    # Every other agency (the demo's) works outside this grid or has no office on record:
    # listed, not lost.
    all_staff = StaffEstablishment.objects.aggregate(total=Sum("headcount"))["total"]
    unplaced = run.summary["staff_outside_grid"]["staff"]
    assert unplaced + run.summary["staff_without_office"]["staff"] == all_staff - 10


def test_what_if_leaving_out_poor_shelters_shows_the_drop(town):
    town["shelters"]["A"].condition = "poor"
    town["shelters"]["A"].save()
    run = run_for(options(leave_out_conditions=["poor"]))
    assert town_totals(run)["within_reach"] == pytest.approx(180)
    after = town_totals(run, scenario="what_if")
    assert after["within_reach"] == pytest.approx(80)
    assert after["with_place"] == pytest.approx(80)
    # The demo's poor shelters are left out too, far from this town.
    assert "A" in [row["name"] for row in run.summary["what_if"]["left_out"]]


def test_shelters_that_cannot_count_are_listed_not_counted(town):
    make = town["shelter"]
    make("no room", 1000, 0).save()
    make("at null island", 0, 50, location=Point(0, 0, srid=4490)).save()
    make("flooded", 1000, 50, condition="dangerous").save()
    twin = make("B again", 250, 100)
    twin.save()
    run = run_for(options())
    reasons = {row["name"]: row["reason"] for row in run.summary["excluded_shelters"]}
    assert reasons["no room"].startswith("no places")
    assert "(0, 0)" in reasons["at null island"]
    assert "dangerous" in reasons["flooded"]
    assert reasons["B again"] == f"duplicate of shelter {town['shelters']['B'].pk}"
    # None of them covers the cell at 1000 m or adds places.
    assert town_totals(run)["uncovered"] == pytest.approx(20)
    assert town_totals(run)["with_place"] == pytest.approx(100 * RATIO_A + 80, rel=1e-6)


def test_classified_shelters_count_only_in_runs_cleared_for_them(town):
    town["shelter"]("secret", 1000, 40, classification=SecurityLevel.INTERNAL).save()
    public = run_for(options(), who=user(Role.PLANNER, "coverage-planner"))
    cleared = run_for(options(), who=user(Role.CIVIL_DEFENCE, "coverage-officer"))
    assert public.clearance == SecurityLevel.PUBLIC
    assert town_totals(public)["uncovered"] == pytest.approx(20)
    assert town_totals(cleared)["uncovered"] == pytest.approx(0)
    assert "secret" not in json.dumps(public.summary)


def test_a_shelter_classified_higher_later_takes_its_runs_out_of_sight(client, town):
    make = town["shelter"]
    make("flooded", 1000, 50, condition="dangerous").save()
    planner = user(Role.PLANNER, "coverage-planner")
    held, left_out = run_for(options(), who=planner), run_for(options(), who=planner)
    Shelter.objects.filter(pk=town["shelters"]["B"].pk).update(classification=SecurityLevel.SECRET)
    Shelter.objects.filter(name="flooded").update(classification=SecurityLevel.INTERNAL)
    held.refresh_from_db()
    left_out.refresh_from_db()
    # Each run held both: B in its catchments, "flooded" in its list of shelters left out.
    assert held.clearance == left_out.clearance == SecurityLevel.SECRET
    client.force_login(planner)
    lon, lat = storage_point(250).coords
    x, y = tile_of(lon, lat, 15)
    assert client.get(f"/shelters/coverage/{held.pk}/").status_code == 404
    assert client.get(f"/tiles/catchments/15/{x}/{y}.pbf", {"run": held.pk}).status_code == 404
    # Only a classification raised counts: lowering it again leaves the runs where they are.
    Shelter.objects.filter(pk=town["shelters"]["B"].pk).update(classification=SecurityLevel.PUBLIC)
    held.refresh_from_db()
    assert held.clearance == SecurityLevel.SECRET


def test_a_run_finishing_after_a_shelter_was_classified_higher_follows_it(town, monkeypatch):
    computed = coverage._analyse

    def classified_meanwhile(*args, **kwargs):
        results = computed(*args, **kwargs)
        Shelter.objects.filter(pk=town["shelters"]["A"].pk).update(
            classification=SecurityLevel.INTERNAL
        )
        return results

    monkeypatch.setattr(coverage, "_analyse", classified_meanwhile)
    finished = run_for(options())
    assert finished.status == CoverageRun.Status.DONE
    assert finished.clearance == SecurityLevel.INTERNAL


def test_buildings_with_shelters_above_the_clearance_stay_candidate_sites(demo):
    public = _candidates(options(), SecurityLevel.PUBLIC, 32650)
    building = Building.objects.get(pk=int(public["building"].iloc[0]))
    factories.shelter(
        name="hidden", building=building, classification=SecurityLevel.SECRET,
        location=building.footprint.point_on_surface,
    ).save()  # fmt: skip
    assert building.pk in set(_candidates(options(), SecurityLevel.PUBLIC, 32650)["building"])
    assert building.pk not in set(_candidates(options(), SecurityLevel.SECRET, 32650)["building"])


def test_recommended_sites_cover_the_uncovered(town):
    far_east = TO_STORAGE.transform(X0 + 1000, Y0 + 30)
    useless = TO_STORAGE.transform(X0 + 100, Y0)
    run = run_for(options(sites=2, candidate_points=[list(useless), list(far_east)]))
    siting = run.summary["siting"]
    assert siting["candidates"] == 2
    assert siting["objective"] == pytest.approx(20) and siting["gap"] == 0
    # The site near covered cells adds nobody, so only one is recommended.
    assert [site["name"] for site in siting["sites"]] == ["site 2"]


def test_walking_is_never_shorter_than_straight(town):
    straight = run_for(options())
    walking = run_for(options(mode="walking"))
    assert walking.status == "done", walking.message
    for cell in CoverageCell.objects.filter(run=walking):
        twin = CoverageCell.objects.get(run=straight, geom=cell.geom)
        assert cell.nearest_m is None or cell.nearest_m >= twin.nearest_m - 0.01
    assert town_totals(walking)["within_reach"] <= town_totals(straight)["within_reach"]


def test_a_run_takes_its_radius_and_decay_and_records_them(town, settings):
    # The decay in force where the run does not give one: halves at a third of the radius.
    settings.LANDLEDGER_E2SFCA_DECAY = [1.0, 0.5, 0.25]
    run = run_for(options())
    assert run.parameters["decay"] == [1.0, 0.5, 0.25]
    assert run.parameters["personnel_radius_m"] == 200.0
    cells = {round(cell.night): cell for cell in CoverageCell.objects.filter(run=run)}
    # The cell at 150 m is 100 m from A and from B: in the second band of both. A's demand:
    # 100 × 1 + 50 × 0.5; B's: 50 × 0.5 + 30 × 1.
    assert cells[50].access_night == pytest.approx(0.5 * (60 / 125 + 100 / 55), rel=1e-6)
    # A personnel radius of 800 m reaches the cell at 1,000 m from B (750 m away).
    wide = run_for(options(personnel_radius_m=800.0))
    assert town_totals(wide)["within_reach"] == pytest.approx(200)
    assert wide.parameters["personnel_radius_m"] == 800.0
    assert wide.summary["personnel_radius_m"] == 800.0


def test_a_deployments_metric_crs_is_where_runs_measure(town, settings):
    """DESIGN.md §5: Beijing measures in EPSG:4548 (CGCS2000 Gauss-Krüger, CM 117°E); the
    town's figures stay those computed by hand."""
    settings.LANDLEDGER_METRIC_EPSG = 4548
    run = run_for(options())
    assert run.summary["crs"] == "EPSG:4548"
    totals = town_totals(run)
    assert totals["within_reach"] == pytest.approx(180)
    assert totals["with_place"] == pytest.approx(100 * RATIO_A + 50 + 30, rel=1e-6)
    for code, problem in [(4490, "is not a projected coordinate system in metres"),
                          (999999, "is not an EPSG code")]:  # fmt: skip
        settings.LANDLEDGER_METRIC_EPSG = code  # the system check says so as the server starts
        (error,) = check_metric_crs()
        assert error.msg == f"LANDLEDGER_METRIC_EPSG={code} {problem}"
    settings.LANDLEDGER_METRIC_EPSG = None
    assert check_metric_crs() == []


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"personnel_radius_m": 5}, "personnel shelters' service radius must be between 10 and 5000 m, not 5"),
        ({"other_radius_m": 9000}, "other shelters' service radius must be between 10 and 5000 m, not 9000"),
        ({"decay": [1, 0.7]}, "three weights between 0 and 1"),
        ({"decay": [1, 0.7, 0.8]}, "none larger than the one before"),
        ({"decay": [1.5, 0.7, 0.2]}, "not 1.5, 0.7, 0.2"),
    ],
)  # fmt: skip
def test_a_radius_or_decay_out_of_range_is_refused_before_the_run(town, given, message):
    with pytest.raises(coverage.CoverageError, match=message):
        start_run(user=None, clearance=0, options=options(**given))
    assert not CoverageRun.objects.exists()


def test_a_run_without_population_fails_with_the_reason(town):
    run = run_for(CoverageOptions(population_source="no such grid"))
    assert run.status == "failed"
    assert "no population cells from source 'no such grid'" in run.message


def test_the_command_writes_the_report_in_each_format(town, tmp_path):
    call_command("shelter_coverage", "--population-source", SOURCE, "--leave-out-condition",
                 "--format", "csv", "--output", str(tmp_path / "c.csv"), stdout=io.StringIO(),
                 stderr=io.StringIO())  # fmt: skip
    rows = list(csv.DictReader((tmp_path / "c.csv").open(encoding="utf-8")))
    town_row = next(r for r in rows if r["district"] == TOWN and r["period"] == "night")
    assert float(town_row["within_reach"]) == 180.0
    out = io.StringIO()
    call_command("shelter_coverage", "--population-source", SOURCE, "--format", "json",
                 stdout=out, stderr=io.StringIO())  # fmt: skip
    report = json.loads(out.getvalue())
    assert {row["district"] for row in report["totals"]["night"]} >= {TOWN, "all"}
    assert {"shelter", "load_night"} <= set(report["shelters"][0])
    call_command("shelter_coverage", "--population-source", SOURCE, "--format", "html",
                 "--output", str(tmp_path / "c.html"), stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    assert TOWN in (tmp_path / "c.html").read_text(encoding="utf-8")
    call_command("shelter_coverage", "--population-source", SOURCE, "--format", "json",
                 "--personnel-radius", "800", "--decay", "1", "0.5", "0.25",
                 "--output", str(tmp_path / "wide.json"), stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    wide = json.loads((tmp_path / "wide.json").read_text(encoding="utf-8"))
    assert {row["district"]: row for row in wide["totals"]["night"]}[TOWN]["within_reach"] == 200
    assert wide["parameters"]["decay"] == [1.0, 0.5, 0.25]


def test_the_command_refuses_bad_options_clearly(town):
    with pytest.raises(CommandError, match="no population cells from source 'nowhere'"):
        call_command("shelter_coverage", "--population-source", "nowhere",
                     stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    with pytest.raises(CommandError, match="between 0 and 100"):
        call_command(
            "shelter_coverage", "--sites", "500", stdout=io.StringIO(), stderr=io.StringIO()
        )


# --- pages, reports and tiles ---------------------------------------------------------------


def test_starting_a_run_from_the_page(client, town, django_capture_on_commit_callbacks):
    client.force_login(user(Role.PLANNER, "coverage-planner"))
    assert client.get("/shelters/coverage/").status_code == 200
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/shelters/coverage/",
            {"mode": "straight", "shelter_types": ["personnel"], "population_source": SOURCE,
             "sites": 1},
        )  # fmt: skip
    assert response.status_code == 302 and len(callbacks) == 1
    run = CoverageRun.objects.latest("id")
    assert client.get(response.url).context["run"].status == "pending"
    # The background thread's work, done here so that it sees this test's rows.
    execute_run(run.pk)
    page = client.get(response.url)
    assert page.status_code == 200
    assert b"Within reach" in page.content and b"landledgerMap" in page.content
    shown = " ".join(page.content.decode().split())
    assert (
        "Service radius: personnel shelters 200 m, other types 500 m; distance decay "
        "1.0 / 0.68 / 0.22 over the thirds of the radius; 1.0 m² of usable area per place."
    ) in shown
    for fmt in ("json", "csv", "html"):
        report = client.get(f"/shelters/coverage/{run.pk}/report.{fmt}")
        assert report.status_code == 200, fmt
    assert (
        json.loads(client.get(f"/shelters/coverage/{run.pk}/report.json").content)["run"] == run.pk
    )


def test_bad_candidate_points_are_refused_with_the_line(client, town):
    client.force_login(user(Role.PLANNER, "coverage-planner"))
    response = client.post(
        "/shelters/coverage/",
        {"mode": "straight", "shelter_types": ["personnel"], "sites": 1,
         "candidate_points": "116.4, 39.9\nnorth of the river"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "line 2: give a longitude and a latitude" in response.content.decode()


def test_runs_and_their_tiles_are_hidden_from_users_not_cleared(client, town):
    officer_run = run_for(options(), who=user(Role.CIVIL_DEFENCE, "coverage-officer"))
    public_run = run_for(options(), who=user(Role.PLANNER, "coverage-planner"))
    client.force_login(user(Role.PLANNER, "coverage-planner"))
    lon, lat = storage_point(150).coords
    x, y = tile_of(lon, lat, 15)
    assert client.get(f"/shelters/coverage/{officer_run.pk}/").status_code == 404
    assert client.get(f"/shelters/coverage/{officer_run.pk}/report.json").status_code == 404
    assert client.get(f"/tiles/coverage/15/{x}/{y}.pbf", {"run": officer_run.pk}).status_code == 404
    assert client.get(f"/tiles/coverage/15/{x}/{y}.pbf").status_code == 400
    response = client.get(f"/tiles/coverage/15/{x}/{y}.pbf", {"run": public_run.pk})
    features = mapbox_vector_tile.decode(response.content)["coverage"]["features"]
    assert sorted(f["properties"]["night"] for f in features) == [30.0, 50.0, 100.0]
    catchments = client.get(f"/tiles/catchments/15/{x}/{y}.pbf", {"run": public_run.pk})
    loads = {
        f["properties"]["load_night"]
        for f in mapbox_vector_tile.decode(catchments.content)["catchments"]["features"]
    }
    assert loads == {2.5, 0.8}


@pytest.mark.parametrize(
    "role, status",
    [(None, 302), (Role.REGISTRAR, 403), (Role.PLANNER, 200), (Role.CIVIL_DEFENCE, 200),
     (Role.AUDITOR, 200), (Role.ADMINISTRATOR, 200)],
)  # fmt: skip
def test_coverage_page_by_role(client, role, status):
    if role:
        client.force_login(user(role))
    assert client.get("/shelters/coverage/").status_code == status


def test_roles_that_only_read_cannot_start_runs(client, town):
    client.force_login(user(Role.AUDITOR))
    response = client.post(
        "/shelters/coverage/", {"mode": "straight", "shelter_types": ["personnel"]}
    )
    assert response.status_code == 403
