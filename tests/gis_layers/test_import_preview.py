"""A checked file's rows on a map: each drawn where it lies with what the check made of it,
rows the report names drawn first, and the register's parcels around them."""

import math
import re
from xml.etree import ElementTree

import pytest
import shapely
from django.core.management.base import CommandError

from gis_layers.imports import preview as preview_module
from gis_layers.imports.pipeline import run_import
from gis_layers.selectors import current_parcels_within
from registry.models import Parcel
from tests.gis_layers.test_import import imported, squares

pytestmark = pytest.mark.django_db


def statuses(preview) -> dict[int, str]:
    return {
        feature["properties"]["row"]: feature["properties"]["status"]
        for feature in preview.features
    }


def test_each_row_is_drawn_with_what_the_check_made_of_it(tmp_path):
    registered = tmp_path / "registered.gpkg"
    squares(1, start=1).to_file(registered)
    run_import(kind_name="parcels", path=registered)
    survey = squares(5, start=11)
    # Row 1 lies over the parcel already registered (checked in SQL); row 2's land use is
    # no class (checked in Python, its shape fine); row 3 crosses itself (repaired); row 4
    # has no finite coordinates; row 5 is as it should be.
    survey.loc[0, "geometry"] = shapely.affinity.translate(squares(1).geometry[0], 0.0001)
    survey.loc[1, "land_use"] = "9999"
    x0, y0, x1, y1 = survey.geometry[2].bounds
    survey.loc[2, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    survey.loc[3, "geometry"] = shapely.Polygon([(x0, y0), (math.inf, y0), (x1, y1), (x0, y0)])
    path = tmp_path / "survey.gpkg"
    survey.to_file(path)

    report = run_import(kind_name="parcels", path=path, dry_run=True, with_preview=True)

    preview = report.preview
    assert statuses(preview) == {1: "rejected", 2: "rejected", 3: "repaired", 5: "accepted"}
    assert (preview.with_geometry, preview.without_geometry) == (4, 1)
    assert preview.drawn_by_status == {"rejected": 2, "repaired": 1, "accepted": 1}
    reasons = {
        feature["properties"]["row"]: feature["properties"]["reasons"]
        for feature in preview.features
    }
    assert any("overlaps current parcel 990101009009GB00001W00000000" in r for r in reasons[1])
    assert any("'9999'" in r for r in reasons[2]) and reasons[5] == []
    # The row rejected in Python is drawn where the file has it, in the storage CRS.
    drawn = shapely.geometry.shape(
        next(f["geometry"] for f in preview.features if f["properties"]["row"] == 2)
    )
    assert drawn.equals_exact(survey.geometry[1], tolerance=1e-7)
    min_x, min_y, max_x, max_y = preview.extent
    assert (min_x, max_x) == pytest.approx(
        (survey.geometry[0].bounds[0], survey.geometry[4].bounds[2])
    )
    assert not Parcel.objects.filter(unit_code__in=list(survey.unit_code)).exists()
    beside = current_parcels_within(preview.extent)
    assert [parcel["properties"]["unit_code"] for parcel in beside] == [
        "990101009009GB00001W00000000"
    ]


def test_a_large_file_draws_the_rows_the_report_names_first(tmp_path, monkeypatch):
    monkeypatch.setattr(preview_module, "PREVIEW_FEATURES", 3)
    survey = squares(6, start=21)
    survey.loc[5, "land_use"] = "9999"  # rejected in Python: drawn whatever the order
    survey.loc[4, "geometry"] = survey.geometry[0]  # row 5 duplicates row 1: rejected in SQL
    survey.loc[4, "unit_code"] = survey.unit_code[0]
    path = tmp_path / "survey.gpkg"
    survey.to_file(path)

    preview = run_import(kind_name="parcels", path=path, dry_run=True, with_preview=True).preview

    assert statuses(preview) == {6: "rejected", 5: "rejected", 1: "accepted"}
    assert (preview.drawn, preview.with_geometry) == (3, 6)


@pytest.mark.parametrize("land_use", ["0801", "9999"], ids=["accepted", "rejected in Python"])
def test_rows_beyond_those_drawn_are_counted_and_framed(tmp_path, monkeypatch, land_use):
    """Rows past the limit, staged or rejected before staging, still count and bound the
    extent: the map is framed on the whole file, and the page says how many it left out."""
    monkeypatch.setattr(preview_module, "PREVIEW_FEATURES", 2)
    survey = squares(4, start=81)
    survey["land_use"] = land_use
    survey.loc[3, "geometry"] = shapely.affinity.translate(survey.geometry[3], 0.01, 0.01)
    path = tmp_path / "survey.gpkg"
    survey.to_file(path)

    preview = run_import(kind_name="parcels", path=path, dry_run=True, with_preview=True).preview

    assert sorted(statuses(preview)) == [1, 2]
    assert (preview.drawn, preview.with_geometry) == (2, 4)
    assert preview.extent[2:] == pytest.approx(survey.geometry[3].bounds[2:])


def test_no_preview_unless_asked(tmp_path):
    path = tmp_path / "survey.gpkg"
    squares(2, start=31).to_file(path)
    assert run_import(kind_name="parcels", path=path, dry_run=True).preview is None


def test_the_html_report_draws_the_rows_north_up_and_true_to_shape(tmp_path):
    survey = squares(3, start=51)
    survey.loc[1, "geometry"] = shapely.affinity.translate(survey.geometry[1], 0, 0.001)
    survey.loc[2, "land_use"] = "<9999>"
    path = tmp_path / "survey.gpkg"
    survey.to_file(path)
    with pytest.raises(CommandError):
        imported("parcels", path, report=tmp_path / "report")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    picture = ElementTree.fromstring(re.search(r"<svg.*</svg>", page, re.DOTALL).group(0))
    rows = picture.findall("{*}g")
    # The rejected row last: drawn over the others.
    assert [row.get("class") for row in rows] == [
        "check-accepted",
        "check-accepted",
        "check-rejected",
    ]
    first, north, rejected = rows
    # The reasons as a tooltip, the file's text in it escaped (the parser gives it back).
    assert rejected.find("{*}title").text.startswith("row 3: rejected\nland_use: '<9999>'")
    assert "&lt;9999&gt;" in page and "'<9999>'" not in page

    def corners(row) -> tuple[list[float], list[float]]:
        points = re.findall(r"([-\d.]+),([-\d.]+)", row.find(".//{*}path").get("d"))
        return [float(x) for x, _ in points], [float(y) for _, y in points]

    # A square of 0.0005° by 0.0005° at latitude 30° is 0.866 times as wide as it is tall.
    xs, ys = corners(first)
    assert (max(xs) - min(xs)) / (max(ys) - min(ys)) == pytest.approx(
        math.cos(math.radians(30)), rel=0.01
    )
    # East right: row 1's square is west of row 3's, at the same height; north up: row 2's,
    # moved north, is higher up (the picture's y runs down).
    assert max(xs) < min(corners(rejected)[0]) and ys == corners(rejected)[1]
    assert max(corners(north)[1]) < min(ys)
    assert "1 rejected" in page and "Drawn: 3 of the 3 rows with a geometry" in page


def test_a_file_spanning_far_apart_places_keeps_each_outline(tmp_path):
    """Each shape is simplified by its own size: two parcels 10° apart stay squares."""
    survey = squares(2, start=61)
    survey.loc[1, "geometry"] = shapely.affinity.translate(survey.geometry[1], 10, 0)
    path = tmp_path / "survey.gpkg"
    survey.to_file(path)

    preview = run_import(kind_name="parcels", path=path, dry_run=True, with_preview=True).preview

    for feature in preview.features:
        assert shapely.geometry.shape(feature["geometry"]).area == pytest.approx(
            0.0005**2, rel=0.01
        )
