"""Coverage on real data: the HSY population grid and the OSM footways of Helsinki centre
(../shared/data), with the demo's shelters, checked against an independent computation with
geopandas (straight line) and networkx (walking)."""

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from django.db import connection

from gis_layers.coverage import CoverageOptions, execute_run, start_run
from gis_layers.imports.pipeline import run_import
from registry.models import SecurityLevel, Shelter

pytestmark = [pytest.mark.django_db, pytest.mark.shared_data]
GRID = "helsinki_population_grid_2020.gpkg"
UTM = 32635  # Helsinki's UTM zone, where the run measures too


@pytest.fixture
def helsinki(shared_data):
    folder = shared_data / "helsinki_centre"
    assert run_import(kind_name="population", path=folder / GRID).written["inserted"] == 92
    roads = run_import(kind_name="roads", path=folder / "helsinki_osm_layers.gpkg", layer="roads")
    assert roads.written["inserted"] > 2000
    cells = gpd.read_file(folder / GRID).to_crs(UTM)
    shelters = [
        (shelter.location.x, shelter.location.y, shelter.capacity_persons)
        for shelter in Shelter.objects.filter(
            valid_to__isnull=True, shelter_type="personnel",
            classification=SecurityLevel.PUBLIC, condition__in=["good", "fair", "poor"],
        )
    ]  # fmt: skip
    points = gpd.GeoSeries([shapely.Point(x, y) for x, y, _ in shelters], crs=4490).to_crs(UTM)
    return {"folder": folder, "cells": cells, "shelters": points}


def run(mode: str):
    options = CoverageOptions(population_source=GRID, mode=mode, leave_out_conditions=[])
    done = execute_run(start_run(user=None, clearance=SecurityLevel.PUBLIC, options=options).pk)
    assert done.status == "done", done.message
    assert done.summary["crs"] == f"EPSG:{UTM}"
    return next(row for row in done.summary["totals"]["night"] if row["district"] == "all")


def test_straight_line_totals_match_buffers_in_geopandas(helsinki):
    cells, shelters = helsinki["cells"], helsinki["shelters"]
    reach = shapely.union_all(shelters.buffer(200, quad_segs=64).to_numpy())
    covered = cells.geometry.centroid.within(reach)
    expected = cells.loc[covered, "population"].sum()
    assert expected > 0  # the demo's shelters reach part of the grid
    totals = run("straight")
    assert totals["population"] == pytest.approx(71_724, rel=1e-6)
    assert totals["within_reach"] == pytest.approx(expected, rel=0.005)


def test_walking_totals_match_networkx(helsinki):
    cells, shelters = helsinki["cells"], helsinki["shelters"]
    roads = gpd.read_file(helsinki["folder"] / "helsinki_osm_layers.gpkg", layer="roads")
    # The register's network is every walkable line it holds: the demo's and the import.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_AsBinary(ST_Transform(geom, %s)) FROM gis_layers_roadsegment WHERE walkable",
            [UTM],
        )
        lines = [shapely.from_wkb(bytes(row[0])) for row in cursor.fetchall()]
    assert len(lines) >= len(roads)
    graph = nx.Graph()
    for line in lines:
        coords = np.round(shapely.get_coordinates(line), 2)
        for a, b in zip(coords[:-1], coords[1:], strict=True):
            if tuple(a) != tuple(b):
                length = float(np.hypot(*(b - a)))
                key = (tuple(a), tuple(b))
                if not graph.has_edge(*key) or graph.edges[key]["weight"] > length:
                    graph.add_edge(*key, weight=length)
    nodes = np.array(list(graph.nodes))

    def nearest_node(point):
        distances = np.hypot(nodes[:, 0] - point.x, nodes[:, 1] - point.y)
        index = int(np.argmin(distances))
        return tuple(nodes[index]), float(distances[index])

    expected = 0.0
    centroids = cells.geometry.centroid
    shelter_nodes = [nearest_node(point) for point in shelters]
    for centroid, people in zip(centroids, cells["population"], strict=True):
        node, connector = nearest_node(centroid)
        walks = nx.single_source_dijkstra_path_length(graph, node, cutoff=200, weight="weight")
        if any(
            connector + walks.get(target, np.inf) + link <= 200 for target, link in shelter_nodes
        ):
            expected += people
    totals = run("walking")
    assert totals["within_reach"] == pytest.approx(expected, rel=0.005)
    assert totals["within_reach"] <= run("straight")["within_reach"]
