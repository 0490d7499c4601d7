"""Deciding a file's CRS, and the GCJ-02 / BD-09 offsets. Plain Python: no database."""

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer

from gis_layers.imports.crs import (
    ALLOWED_EPSG,
    CHINA_BOUNDS,
    SourceCrs,
    bd09_to_gcj02,
    bd09_to_wgs84,
    declared_differs,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    identify_epsg,
    remove_offset,
    resolve_crs,
    storage_transformer,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gis_layers.imports.errors import ImportRefusal

# --------------------------------------------------------------------------------------------
# A second implementation, scalar and written straight from the published formulas, that the
# vectorised one is checked against.
# --------------------------------------------------------------------------------------------

A = 6378245.0
EE = 0.00669342162296594323
X_PI = math.pi * 3000.0 / 180.0


def slow_out_of_china(lon: float, lat: float) -> bool:
    return lon < 72.004 or lon > 137.8347 or lat < 0.8293 or lat > 55.8271


def slow_transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def slow_transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def slow_wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if slow_out_of_china(lon, lat):
        return lon, lat
    d_lat = slow_transform_lat(lon - 105.0, lat - 35.0)
    d_lon = slow_transform_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = math.sin(rad_lat)
    magic = 1 - EE * magic * magic
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((A * (1 - EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lon + d_lon, lat + d_lat


def slow_gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def slow_one_step_gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """The widely copied approximate inverse: subtract the offset found at the GCJ-02 point."""
    g_lon, g_lat = slow_wgs84_to_gcj02(lon, lat)
    return 2 * lon - g_lon, 2 * lat - g_lat


WEST, SOUTH, EAST, NORTH = CHINA_BOUNDS
china_lon = st.floats(min_value=WEST, max_value=EAST)
china_lat = st.floats(min_value=SOUTH, max_value=NORTH)

# WGS 84 coordinates of the flagpole on Tiananmen Square, degrees.
TIANANMEN = (116.391275, 39.906217)
GEOD = Geod(ellps="WGS84")


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


# --------------------------------------------------------------------------------------------
# GCJ-02 and BD-09
# --------------------------------------------------------------------------------------------


def test_forward_transforms_match_the_published_reference_values():
    # The example pair printed in the README of the wandergis coordtransform libraries, the
    # de-facto reference implementation of these formulas.
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-9
    )
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-9
    )
    assert wgs84_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41662724378733, 39.922699552216216), abs=1e-9
    )


def test_iterative_inverses_agree_with_published_one_step_values_to_a_metre():
    # The published inverses are one-step approximations; the iterative ones are closer to
    # the truth, so they agree only to about 1e-5 degree (a metre).
    assert gcj02_to_wgs84(116.404, 39.915) == pytest.approx(
        (116.39775550083061, 39.91359571849836), abs=1e-5
    )
    assert bd09_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=1e-5
    )


def test_tiananmen_matches_the_slow_scalar_formulas():
    assert wgs84_to_gcj02(*TIANANMEN) == pytest.approx(slow_wgs84_to_gcj02(*TIANANMEN), abs=1e-9)
    gcj = slow_wgs84_to_gcj02(*TIANANMEN)
    assert gcj02_to_bd09(*gcj) == pytest.approx(slow_gcj02_to_bd09(*gcj), abs=1e-9)


@given(lon=china_lon, lat=china_lat)
def test_vectorised_forward_matches_the_slow_scalar_formulas(lon, lat):
    assert wgs84_to_gcj02(lon, lat) == pytest.approx(slow_wgs84_to_gcj02(lon, lat), abs=1e-9)
    assert gcj02_to_bd09(lon, lat) == pytest.approx(slow_gcj02_to_bd09(lon, lat), abs=1e-9)


@pytest.mark.parametrize(
    "place",
    [TIANANMEN, (116.3, 39.95), (116.55, 39.8), (116.2, 40.05)],
    ids=["tiananmen", "haidian", "yizhuang", "changping"],
)
def test_gcj02_offset_in_beijing_is_a_few_hundred_metres(place):
    shift = metres_between(place, wgs84_to_gcj02(*place))
    assert 100 < shift < 700


def test_bd09_lies_further_from_wgs84_than_gcj02_in_beijing():
    gcj_shift = metres_between(TIANANMEN, wgs84_to_gcj02(*TIANANMEN))
    bd_shift = metres_between(TIANANMEN, wgs84_to_bd09(*TIANANMEN))
    # BD-09 adds roughly another 0.0065 degree east and 0.006 degree north, about 800 m.
    assert bd_shift > gcj_shift + 500


@given(lon=china_lon, lat=china_lat)
def test_wgs84_to_gcj02_and_back_is_within_a_centimetre(lon, lat):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert back == pytest.approx((lon, lat), abs=1e-7)


@given(lon=china_lon, lat=china_lat)
def test_wgs84_to_bd09_and_back_is_within_a_centimetre(lon, lat):
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert back == pytest.approx((lon, lat), abs=1e-7)


@given(lon=china_lon, lat=china_lat)
def test_gcj02_to_bd09_and_back_is_within_a_centimetre(lon, lat):
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert back == pytest.approx((lon, lat), abs=1e-7)


@given(lon=china_lon, lat=china_lat)
def test_gcj02_to_wgs84_solves_the_slow_forward_formula(lon, lat):
    # Checked against the independent forward, so a mistake shared by the module's forward and
    # inverse would still show.
    wgs = gcj02_to_wgs84(lon, lat)
    if wgs != (lon, lat):
        assert slow_wgs84_to_gcj02(*wgs) == pytest.approx((lon, lat), abs=1e-9)
    else:
        # Returned as given: no point maps here, which happens only just inside the edge of
        # the bounds, where the offset pushes every point further in.
        distance_to_edge = min(lon - WEST, EAST - lon, lat - SOUTH, NORTH - lat)
        assert distance_to_edge < 0.02


def test_iterative_inverse_beats_the_one_step_approximation():
    gcj = wgs84_to_gcj02(*TIANANMEN)
    one_step = slow_one_step_gcj02_to_wgs84(*gcj)
    iterative = gcj02_to_wgs84(*gcj)
    assert max(abs(a - b) for a, b in zip(one_step, TIANANMEN, strict=True)) > 1e-6
    assert iterative == pytest.approx(TIANANMEN, abs=1e-9)


@pytest.mark.parametrize(
    "place",
    [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688), (139.6917, 35.6895)],
    ids=["paris", "new-york", "sydney", "tokyo"],
)
def test_gcj02_applies_no_offset_outside_china(place):
    assert wgs84_to_gcj02(*place) == place
    assert gcj02_to_wgs84(*place) == place


@pytest.mark.parametrize(
    "place",
    [
        (WEST + 1e-6, 30.0),
        (EAST - 1e-6, 45.0),
        (100.0, SOUTH + 1e-6),
        (120.0, NORTH - 1e-6),
        (WEST + 0.003, NORTH - 0.003),
    ],
    ids=["west", "east", "south", "north", "north-west-corner"],
)
def test_round_trip_holds_at_the_edges_of_the_bounds(place):
    # The offset can carry a point just inside the bounds to just outside them; the inverse
    # must still find the point inside.
    gcj = wgs84_to_gcj02(*place)
    assert gcj != place
    assert gcj02_to_wgs84(*gcj) == pytest.approx(place, abs=1e-9)


def test_arrays_broadcast_keep_their_shape_and_pass_nan_through():
    lon = np.array([[116.39, 121.47], [2.35, np.nan]])
    lat = np.array([[39.9, 31.23], [48.86, 30.0]])
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert g_lon.shape == g_lat.shape == (2, 2)
    for i, j in [(0, 0), (0, 1), (1, 0)]:
        assert (g_lon[i, j], g_lat[i, j]) == pytest.approx(
            slow_wgs84_to_gcj02(lon[i, j], lat[i, j]), abs=1e-9
        )
    assert np.isnan(g_lon[1, 1])
    back_lon, back_lat = gcj02_to_wgs84(g_lon, g_lat)
    np.testing.assert_allclose(back_lon[:1], lon[:1], atol=1e-9)
    assert np.isnan(back_lon[1, 1])
    # A scalar latitude broadcasts against an array of longitudes.
    b_lon, b_lat = wgs84_to_bd09(np.array([116.0, 117.0]), 40.0)
    assert b_lon.shape == b_lat.shape == (2,)


def test_scalars_come_back_as_floats_and_inputs_are_not_modified():
    assert all(type(value) is float for value in bd09_to_wgs84(116.404, 39.915))
    lon = np.array([116.39, 121.47])
    before = lon.copy()
    gcj02_to_wgs84(lon, np.array([39.9, 31.23]))
    np.testing.assert_array_equal(lon, before)


# --------------------------------------------------------------------------------------------
# remove_offset
# --------------------------------------------------------------------------------------------


def test_remove_offset_moves_every_vertex_of_an_array_of_geometries_and_keeps_missing_ones():
    wgs_square = shapely.box(116.39, 39.90, 116.40, 39.91)
    gcj_square = shapely.transform(
        wgs_square, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    )
    geometries = np.array([gcj_square, None, shapely.Point(*wgs84_to_gcj02(*TIANANMEN))])
    result = remove_offset(geometries, "gcj02")
    assert isinstance(result, np.ndarray)
    assert result[1] is None
    np.testing.assert_allclose(
        shapely.get_coordinates(result[0]), shapely.get_coordinates(wgs_square), atol=1e-9
    )
    assert (result[2].x, result[2].y) == pytest.approx(TIANANMEN, abs=1e-9)


def test_remove_offset_keeps_z_values():
    bd = wgs84_to_bd09(*TIANANMEN)
    result = remove_offset(np.array([shapely.Point(bd[0], bd[1], 44.5)]), "bd09")
    assert result[0].has_z
    assert (result[0].x, result[0].y, result[0].z) == pytest.approx((*TIANANMEN, 44.5), abs=1e-9)


def test_remove_offset_on_a_geoseries_keeps_index_and_name_and_sets_wgs84():
    gcj = wgs84_to_gcj02(*TIANANMEN)
    series = gpd.GeoSeries([shapely.Point(*gcj), None], index=[10, 20], name="where", crs=4326)
    result = remove_offset(series, "gcj02")
    assert isinstance(result, gpd.GeoSeries)
    assert list(result.index) == [10, 20]
    assert result.name == "where"
    assert result.crs.to_epsg() == 4326
    assert result.iloc[1] is None
    assert (result.iloc[0].x, result.iloc[0].y) == pytest.approx(TIANANMEN, abs=1e-9)


def test_remove_offset_without_an_offset_returns_the_input():
    geometries = np.array([shapely.Point(1, 2)])
    assert remove_offset(geometries, None) is geometries


def test_remove_offset_rejects_an_unknown_offset():
    with pytest.raises(ValueError, match="unknown offset"):
        remove_offset(np.array([shapely.Point(1, 2)]), "wgs84")


# --------------------------------------------------------------------------------------------
# The whitelist
# --------------------------------------------------------------------------------------------


def test_whitelist_holds_the_codes_the_register_needs():
    for code in [4326, 4490, 3857, 4479, 4480, 4548, 3879, 3067, 5514, 3035, 4258, 32650, 32750]:
        assert code in ALLOWED_EPSG


def test_whitelist_holds_every_cgcs2000_gauss_kruger_zone_and_nothing_else_from_that_range():
    zones = {code for code in ALLOWED_EPSG if 4491 <= code <= 4554}
    for code in zones:
        crs = CRS.from_epsg(code)
        assert crs.is_projected
        assert crs.geodetic_crs.to_epsg() == 4490
    # The PROJ database shipped with pyproj has all 64 (11 + 11 six-degree, 21 + 21 three).
    assert len(zones) == 64


def test_whitelist_leaves_out_local_chinese_datums():
    # Beijing 1954 and Xian 1980 and their Gauss-Krüger zones need local parameters.
    for code in [4214, 4610, 2435, 2385]:
        assert code not in ALLOWED_EPSG


def test_every_whitelisted_code_is_a_crs_pyproj_knows():
    assert all(isinstance(code, int) for code in ALLOWED_EPSG)
    for code in ALLOWED_EPSG:
        assert CRS.from_epsg(code).to_epsg() == code


def test_source_crs_cannot_carry_a_code_outside_the_whitelist():
    with pytest.raises(ValueError, match="ALLOWED_EPSG"):
        SourceCrs(2435)
    with pytest.raises(ValueError, match="EPSG:4326"):
        SourceCrs(4490, "gcj02")
    with pytest.raises(ValueError, match="unknown offset"):
        SourceCrs(4326, "wgs84")


# --------------------------------------------------------------------------------------------
# resolve_crs
# --------------------------------------------------------------------------------------------

PATH = "uploads/xicheng_parcels.shp"

# What ArcGIS writes into the .prj of a layer in CGCS2000 Gauss-Krüger CM 117E.
ESRI_PRJ_CM_117E = (
    'PROJCS["CGCS2000_3_Degree_GK_CM_117E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
    'PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],'
    'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",117.0],'
    'PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


def refusal(**kwargs) -> ImportRefusal:
    with pytest.raises(ImportRefusal) as caught:
        resolve_crs(path=PATH, **kwargs)
    assert caught.value.path == PATH
    assert PATH in str(caught.value)
    return caught.value


def test_no_declared_crs_and_no_override_is_refused_with_what_to_pass():
    error = refusal(declared=None, override=None)
    assert "xicheng_parcels.shp" in str(error)
    assert "--crs EPSG:" in error.message
    assert "gcj02" in error.message and "bd09" in error.message


def test_blank_override_counts_as_none():
    error = refusal(declared=None, override="  ")
    assert "declares no coordinate reference system" in error.message


def test_unknown_epsg_override_is_refused():
    error = refusal(declared=None, override="EPSG:999999")
    assert "EPSG:999999" in error.message
    assert "not a known EPSG code" in error.message


def test_known_but_unwhitelisted_override_is_refused_naming_it():
    error = refusal(declared=CRS.from_epsg(4326), override="EPSG:2435")
    assert "EPSG:2435 (Beijing 1954" in error.message
    assert "surveying authority" in error.message


@pytest.mark.parametrize(
    "junk",
    [
        "wgs84",
        "+proj=longlat +datum=WGS84 +nadgrids=@ntv2_0.gsb",
        'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]]]',
        "EPSG:4326; DROP TABLE parcels",
        "EPSG:-4326",
        "EPSG:43.26",
        "urn:ogc:def:crs:EPSG::4326",
        "4326\x00",
    ],
)
def test_override_other_than_an_integer_code_or_offset_name_is_refused(junk):
    error = refusal(declared=None, override=junk)
    assert "is not understood" in error.message
    assert "--crs EPSG:NNNN" in error.message


def test_declared_crs_outside_the_whitelist_is_refused_naming_it():
    error = refusal(declared=CRS.from_epsg(2385), override=None)
    assert "EPSG:2385" in error.message
    assert "Xian 1980" in error.message
    assert "--crs EPSG:NNNN" in error.message


def test_declared_crs_without_an_epsg_code_is_refused_describing_it():
    custom = CRS.from_proj4("+proj=tmerc +lon_0=117 +k=1 +x_0=500000 +ellps=GRS80 +units=m")
    error = refusal(declared=custom, override=None)
    assert "cannot be matched to an EPSG code" in error.message
    assert "Transverse Mercator" in error.message
    assert "--crs EPSG:NNNN" in error.message


def test_gcj02_override_is_wgs84_with_an_offset():
    assert resolve_crs(declared=None, override="gcj02", path=PATH) == SourceCrs(4326, "gcj02")
    assert resolve_crs(declared=None, override="GCJ-02", path=PATH) == SourceCrs(4326, "gcj02")
    assert resolve_crs(declared=None, override="BD09", path=PATH) == SourceCrs(4326, "bd09")


def test_declared_helsinki_gk25_is_accepted():
    assert resolve_crs(declared=CRS.from_epsg(3879), override=None, path=PATH) == SourceCrs(3879)


@pytest.mark.parametrize("text", ["EPSG:4548", "epsg:4548", " Epsg: 4548 ", "4548"])
def test_override_accepts_epsg_in_any_case_or_plain_digits(text):
    assert resolve_crs(declared=None, override=text, path=PATH) == SourceCrs(4548)


def test_override_wins_over_the_declared_crs_and_the_difference_is_reported():
    declared = CRS.from_epsg(4326)
    source = resolve_crs(declared=declared, override="EPSG:4490", path=PATH)
    assert source == SourceCrs(4490)
    assert declared_differs(declared=declared, source=source)


def test_override_wins_over_an_unacceptable_declared_crs():
    declared = CRS.from_epsg(2435)
    source = resolve_crs(declared=declared, override="EPSG:4548", path=PATH)
    assert source == SourceCrs(4548)
    assert declared_differs(declared=declared, source=source)


def test_same_or_no_declaration_does_not_differ():
    assert not declared_differs(declared=None, source=SourceCrs(4490))
    assert not declared_differs(declared=CRS.from_epsg(4490), source=SourceCrs(4490))
    # Web-map exports usually declare plain WGS 84; that is what the offset sits on.
    assert not declared_differs(declared=CRS.from_epsg(4326), source=SourceCrs(4326, "gcj02"))


def test_arcgis_prj_for_a_cgcs2000_zone_is_identified():
    source = resolve_crs(declared=CRS.from_wkt(ESRI_PRJ_CM_117E), override=None, path=PATH)
    assert source == SourceCrs(4548)


def test_compound_crs_is_identified_by_its_horizontal_part():
    compound = CRS.from_user_input("EPSG:4326+3855")
    assert identify_epsg(compound) == 4326
    assert resolve_crs(declared=compound, override=None, path=PATH) == SourceCrs(4326)


def test_rasterio_style_crs_with_to_wkt_is_accepted():
    class RasterioLikeCrs:
        def to_wkt(self) -> str:
            return CRS.from_epsg(4490).to_wkt()

    assert resolve_crs(declared=RasterioLikeCrs(), override=None, path=PATH) == SourceCrs(4490)


def test_unreadable_wkt_from_a_raster_is_refused():
    class BrokenRasterCrs:
        def to_wkt(self) -> str:
            return "LOCAL_CS[broken"

    error = refusal(declared=BrokenRasterCrs(), override=None)
    assert "cannot be read" in error.message
    assert "--crs EPSG:NNNN" in error.message


def test_declared_crs_as_text_is_a_programming_error():
    with pytest.raises(TypeError):
        resolve_crs(declared="EPSG:4326", override=None, path=PATH)


def test_source_crs_gives_the_pyproj_crs_and_a_label():
    assert SourceCrs(4548).crs == CRS.from_epsg(4548)
    assert SourceCrs(4548).describe() == "EPSG:4548"
    assert "gcj02" in SourceCrs(4326, "gcj02").describe()


@hypothesis_settings(max_examples=200)
@given(text=st.text(max_size=40))
def test_any_override_text_either_resolves_to_a_whitelisted_code_or_is_refused(text):
    try:
        source = resolve_crs(declared=None, override=text, path=PATH)
    except ImportRefusal as error:
        assert error.path == PATH
    else:
        assert source.epsg in ALLOWED_EPSG


# --------------------------------------------------------------------------------------------
# storage_transformer
# --------------------------------------------------------------------------------------------

# Prague Castle in S-JTSK / Krovak East North (EPSG:5514), metres.
PRAGUE_KROVAK = (-744_000.0, -1_043_000.0)


def test_storage_transformer_applies_the_datum_shift_that_a_direct_transformation_skips():
    stored = storage_transformer(5514).transform(*PRAGUE_KROVAK)
    via_wgs84 = Transformer.from_crs(5514, 4326, always_xy=True).transform(*PRAGUE_KROVAK)
    naive = Transformer.from_crs(5514, 4490, always_xy=True).transform(*PRAGUE_KROVAK)
    assert stored == pytest.approx(via_wgs84, abs=1e-12)
    # PROJ has no S-JTSK to CGCS2000 transformation and would ignore the datum shift.
    assert metres_between(stored, naive) > 50


def test_storage_transformer_from_a_cgcs2000_zone_is_the_plain_inverse_projection():
    easting_northing = Transformer.from_crs(4490, 4548, always_xy=True).transform(*TIANANMEN)
    stored = storage_transformer(4548).transform(*easting_northing)
    assert stored == pytest.approx(TIANANMEN, abs=1e-9)


def test_storage_transformer_never_falls_back_to_a_ballpark_datum_shift():
    for code in ALLOWED_EPSG - {4326}:
        assert "Ballpark" not in storage_transformer(code).description, code


def test_storage_transformer_refuses_codes_outside_the_whitelist():
    with pytest.raises(ValueError, match="ALLOWED_EPSG"):
        storage_transformer(2435)
