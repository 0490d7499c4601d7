"""Opening an input file and streaming its features in chunks of GeoDataFrames.

Vector formats are read through GDAL (pyogrio) as Arrow batches, so a file of a million
features is never held in memory whole; a population GeoTIFF is read by rasterio in blocks.
"""

import codecs
import pathlib
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import shapely

from gis_layers.imports.archives import extract_zip, find_dataset
from gis_layers.imports.errors import ImportRefusal

VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".csv", ".pbf"}
RASTER_SUFFIXES = {".tif", ".tiff"}
# Column names GDAL's CSV driver looks for coordinates and WKT under (English and Chinese).
CSV_X = "X_POSSIBLE_NAMES=lon,lng,long,longitude,x,经度,东经"
CSV_Y = "Y_POSSIBLE_NAMES=lat,latitude,y,纬度,北纬"
CSV_WKT = "GEOM_POSSIBLE_NAMES=wkt,geometry,geom,the_geom,几何"
# A ring that does not close is an error in the file, not something to close silently.
pyogrio.set_gdal_config_options({"OGR_GEOMETRY_ACCEPT_UNCLOSED_RING": "NO"})
OSM_LAYER_OF_GEOMETRY = {"Point": "points", "LineString": "lines", "MultiPolygon": "multipolygons"}


@dataclass
class Source:
    """An opened input: the dataset to read and what is known of it before reading."""

    path: pathlib.Path  # as the user named it (for messages)
    dataset: pathlib.Path  # the file GDAL reads (inside an extracted archive, perhaps)
    layer: str | None
    open_options: dict  # GDAL open options: CSV column names, a shapefile's encoding
    declared_crs: pyproj.CRS | None
    feature_count: int
    fields: list[str]
    is_raster: bool = False


def _text_encoding(sample: bytes) -> str:
    """UTF-8 when the bytes decode as UTF-8, else GB18030 (a superset of GBK) when they
    decode as that; otherwise refuse, since guessing would corrupt names."""
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.decode(sample, encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise UnicodeDecodeError("utf-8", sample, 0, len(sample), "neither UTF-8 nor GBK")


def _dbf_records(dbf: pathlib.Path, limit: int = 1_000_000) -> bytes:
    """The text part of a DBF: its field names and the first records (after the header)."""
    with dbf.open("rb") as handle:
        header = handle.read(32)
        header_length = int.from_bytes(header[8:10], "little")
        descriptors = handle.read(max(header_length - 32, 0))
        # Field names are the first 11 bytes of each 32-byte descriptor (NUL-padded).
        names = b" ".join(
            descriptors[i : i + 11].rstrip(b"\x00") for i in range(0, len(descriptors) - 1, 32)
        )
        return names + b" " + handle.read(limit).rstrip(b"\x1a")


def detect_encoding(dataset: pathlib.Path) -> str | None:
    """The text encoding of a CSV or of a shapefile's DBF without a .cpg: "utf-8" or
    "gb18030" (which reads GBK); None when the format says it itself (.cpg, GPKG, GeoJSON)."""
    suffix = dataset.suffix.lower()
    if suffix == ".shp":
        if dataset.with_suffix(".cpg").exists():
            return None
        sample = _dbf_records(dataset.with_suffix(".dbf"))
    elif suffix == ".csv":
        sample = dataset.read_bytes()[:1_000_000]
    else:
        return None
    try:
        # A sample cut mid-character must not look like a bad encoding: trim the tail.
        return _text_encoding(sample[:-4] if len(sample) >= 1_000_000 else sample)
    except UnicodeDecodeError as error:
        raise ImportRefusal(
            "text is neither UTF-8 nor GBK; convert the file to UTF-8", path=str(dataset)
        ) from error


def _as_utf8(
    dataset: pathlib.Path, encoding: str | None, scratch: pathlib.Path
) -> tuple[pathlib.Path, dict]:
    """GDAL streams only UTF-8 to Arrow: a GBK CSV is transcoded into ``scratch``; a GBK
    shapefile is recoded by GDAL itself (its ENCODING open option). Returns the file to read
    and the open options."""
    if encoding in (None, "utf-8"):
        return dataset, {}
    if dataset.suffix.lower() == ".shp":
        return dataset, {"ENCODING": "CP936"}
    target = scratch / f"{dataset.stem}.utf8.csv"
    with (
        dataset.open("r", encoding=encoding, newline="") as source,
        target.open("w", encoding="utf-8", newline="") as copy,
    ):
        for block in iter(lambda: source.read(1 << 20), ""):
            copy.write(block)
    return target, {}


@contextmanager
def open_source(path: pathlib.Path, *, layer: str | None, kind_geometry: str) -> Iterator[Source]:
    """Open ``path`` (extracting a zip safely first) and describe it; refuse what cannot be read."""
    if not path.exists():
        raise ImportRefusal("no such file", path=str(path))
    with tempfile.TemporaryDirectory(prefix="landledger-import-") as scratch:
        dataset = path
        if path.suffix.lower() == ".zip":
            dataset = find_dataset(extract_zip(path, into=pathlib.Path(scratch)))
        suffix = dataset.suffix.lower()
        if suffix in RASTER_SUFFIXES:
            yield _raster_source(path, dataset)
            return
        if suffix not in VECTOR_SUFFIXES:
            raise ImportRefusal(
                f"unknown format {suffix!r}; give a .gpkg, .shp (or zipped), .geojson, .fgb, .csv, "
                ".osm.pbf or .tif file",
                path=str(path),
            )
        if suffix == ".pbf" and layer is None:
            layer = OSM_LAYER_OF_GEOMETRY.get(kind_geometry)
        encoding = detect_encoding(dataset)
        dataset, encoding_options = _as_utf8(dataset, encoding, pathlib.Path(scratch))
        try:
            open_options = {**_open_options(dataset), **encoding_options}
            info = pyogrio.read_info(dataset, layer=layer, **open_options)
        except pyogrio.errors.DataLayerError as error:
            layers = [name for name, _ in pyogrio.list_layers(dataset)]
            raise ImportRefusal(
                f"no layer {layer!r}; the file has {layers}", path=str(path)
            ) from error
        except (pyogrio.errors.DataSourceError, OSError) as error:
            raise ImportRefusal(f"GDAL cannot read it ({error})", path=str(path)) from error
        crs = pyproj.CRS.from_user_input(info["crs"]) if info.get("crs") else None
        yield Source(
            path=path,
            dataset=dataset,
            layer=layer,
            open_options=open_options,
            declared_crs=crs,
            feature_count=int(info.get("features") or 0),
            fields=[str(name) for name in info["fields"]],
        )


def _open_options(dataset: pathlib.Path) -> dict:
    if dataset.suffix.lower() == ".csv":
        return {
            "X_POSSIBLE_NAMES": CSV_X.split("=", 1)[1],
            "Y_POSSIBLE_NAMES": CSV_Y.split("=", 1)[1],
            "GEOM_POSSIBLE_NAMES": CSV_WKT.split("=", 1)[1],
            "KEEP_GEOM_COLUMNS": "NO",
        }
    return {}


def read_chunks(source: Source, *, chunk_size: int) -> Iterator[gpd.GeoDataFrame]:
    """Features in order, ``chunk_size`` at a time, geometry as read (no CRS assumed), with
    column ``_row``: the 1-based feature number in the file, for the report."""
    if source.is_raster:
        yield from _raster_chunks(source, chunk_size=chunk_size)
        return
    with warnings.catch_warnings():
        # GDAL warns once per unreadable geometry; the report names each of those rows instead.
        warnings.simplefilter("ignore", RuntimeWarning)
        yield from _vector_chunks(source, chunk_size=chunk_size)


def _vector_chunks(source: Source, *, chunk_size: int) -> Iterator[gpd.GeoDataFrame]:
    first_row = 1
    with pyogrio.open_arrow(
        source.dataset,
        layer=source.layer,
        batch_size=chunk_size,
        use_pyarrow=True,
        **source.open_options,
    ) as (meta, reader):
        geometry_column = meta["geometry_name"] or "wkb_geometry"
        for batch in reader:
            table = batch.to_pandas()
            wkb = table.pop(geometry_column) if geometry_column in table else None
            geometries = (
                shapely.from_wkb(wkb.to_numpy(), on_invalid="ignore")
                if wkb is not None
                else np.full(len(table), None, dtype=object)
            )
            frame = gpd.GeoDataFrame(table, geometry=geometries)
            frame["_row"] = np.arange(first_row, first_row + len(frame))
            first_row += len(frame)
            yield frame


def _raster_source(path: pathlib.Path, dataset: pathlib.Path) -> Source:
    import rasterio

    try:
        with rasterio.open(dataset) as raster:
            crs = pyproj.CRS.from_user_input(raster.crs.to_wkt()) if raster.crs else None
            count = raster.width * raster.height
    except rasterio.errors.RasterioIOError as error:
        raise ImportRefusal(f"rasterio cannot read it ({error})", path=str(path)) from error
    return Source(
        path=path,
        dataset=dataset,
        layer=None,
        open_options={},
        declared_crs=crs,
        feature_count=count,
        fields=["residents"],
        is_raster=True,
    )


def _raster_chunks(source: Source, *, chunk_size: int) -> Iterator[gpd.GeoDataFrame]:
    """Each cell of band 1 holding people (> 0, not nodata) as its square footprint."""
    import rasterio

    with rasterio.open(source.dataset) as raster:
        nodata = raster.nodata
        rows_per_block = max(1, chunk_size // max(raster.width, 1))
        for top in range(0, raster.height, rows_per_block):
            window = rasterio.windows.Window(
                0, top, raster.width, min(rows_per_block, raster.height - top)
            )
            values = raster.read(1, window=window).astype("float64")
            rows, columns = np.nonzero(np.isfinite(values) & (values > 0) & (values != nodata))
            transform = raster.window_transform(window)
            cells = [
                shapely.box(
                    *rasterio.transform.array_bounds(
                        1, 1, transform @ rasterio.Affine.translation(c, r)
                    )
                )
                for r, c in zip(rows, columns, strict=True)
            ]
            yield gpd.GeoDataFrame(
                {
                    "residents": values[rows, columns],
                    "source_id": [f"r{top + r}c{c}" for r, c in zip(rows, columns, strict=True)],
                    "_row": (top + rows) * raster.width + columns + 1,
                },
                geometry=cells,
            )
