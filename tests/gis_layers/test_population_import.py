"""Population: polygons with counts spread onto a grid by area, and the inputs refused."""

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from gis_layers.imports.errors import ImportRefusal
from gis_layers.imports.pipeline import run_import
from gis_layers.models import PopulationCell
from tests.gis_layers.test_import import refused

pytestmark = pytest.mark.django_db


def polygons(tmp_path):
    """Two blocks in UTM 50N (Beijing): 300 persons on 150 m × 100 m straddling two 100 m
    cells, 40 persons on a 100 m × 100 m block exactly in a third."""
    frame = gpd.GeoDataFrame(
        {"persons": [300.0, 40.0]},
        geometry=[
            shapely.box(448_000, 4_418_000, 448_150, 4_418_100),
            shapely.box(448_200, 4_418_000, 448_300, 4_418_100),
        ],
        crs=32650,
    )
    path = tmp_path / "blocks.geojson"
    frame.to_file(path)
    return path


def test_polygons_are_spread_onto_the_grid_by_area(tmp_path):
    path = polygons(tmp_path)
    report = run_import(
        kind_name="population", path=path, mapping={"residents": "persons"}, grid_m=100
    )
    assert report.written["inserted"] == 3
    assert "2 polygons spread by area onto 3 cells of 100 m" in report.notes
    cells = PopulationCell.objects.filter(source__startswith="blocks.geojson#grid:")
    by_column = {round(cell.geom.transform(32650, clone=True).centroid.x): cell for cell in cells}
    # 100 × 100 of 150 × 100 m of the first block in the first cell, the rest in the second.
    assert by_column[448_050].residents == pytest.approx(200)
    assert by_column[448_150].residents == pytest.approx(100)
    assert by_column[448_250].residents == pytest.approx(40)
    assert sum(cell.residents for cell in cells) == pytest.approx(340)
    assert np.median([cell.area_m2 for cell in cells]) == pytest.approx(10_000, rel=0.01)
    again = run_import(
        kind_name="population", path=path, mapping={"residents": "persons"}, grid_m=100
    )
    assert again.written == {"inserted": 0, "updated": 0}


def test_grid_is_only_for_population_polygons(tmp_path):
    with pytest.raises(ImportRefusal, match="--grid applies to population polygons"):
        run_import(kind_name="parcels", path=polygons(tmp_path), grid_m=100)


def test_raster_without_crs_is_refused_with_what_to_pass(tmp_path):
    path = tmp_path / "nocrs.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=3, height=2, count=1, dtype="float32",
        transform=from_origin(448_000, 4_418_200, 100, 100),
    ) as raster:  # fmt: skip
        raster.write(np.ones((1, 2, 3), dtype="float32"))
    refused("population", path, "--crs")
    assert not PopulationCell.objects.filter(source__startswith="nocrs.tif").exists()


def test_polygons_without_a_count_are_refused_naming_the_field(tmp_path):
    path = polygons(tmp_path)
    refused("population", path, "required field 'residents'")
    assert not PopulationCell.objects.filter(source__startswith="blocks.geojson").exists()
