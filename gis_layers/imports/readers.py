"""Opening an input file and streaming its features in chunks of GeoDataFrames.

Vector formats are read through GDAL (pyogrio) as Arrow batches, so a file of a million
features is never held in memory whole; a population GeoTIFF is read by rasterio in blocks.
"""

import codecs
import pathlib
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyarrow
import pyogrio
import pyproj
import shapely
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gis_layers.imports.archives import (
    extract_zip,
    find_dataset,
    missing_shapefile_parts,
    named_together,
)
from gis_layers.imports.errors import ImportRefusal

# Column names GDAL's CSV driver looks for coordinates and WKT under (English and Chinese).
CSV_X = "X_POSSIBLE_NAMES=lon,lng,long,longitude,x,经度,东经"
CSV_Y = "Y_POSSIBLE_NAMES=lat,latitude,y,纬度,北纬"
CSV_WKT = "GEOM_POSSIBLE_NAMES=wkt,geometry,geom,the_geom,几何"
pyogrio.set_gdal_config_options(
    {
        # A ring that does not close is an error in the file, not something to close silently.
        "OGR_GEOMETRY_ACCEPT_UNCLOSED_RING": "NO",
        # FlatGeobuf's own Arrow reader gives features without geometry offsets that break
        # the Arrow array (the next features' geometries are read from the wrong bytes);
        # GDAL's generic Arrow reader gets them right.
        "OGR_FLATGEOBUF_STREAM_BASE_IMPL": "YES",
    }
)
OSM_LAYER_OF_GEOMETRY = {"Point": "points", "LineString": "lines", "MultiPolygon": "multipolygons"}
# What GDAL and Arrow raise for a file they cannot read (pyogrio's errors are RuntimeErrors).
READ_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyarrow.ArrowException,
    OSError,
)


# --- the format a file's name promises --------------------------------------------------
#
# GDAL picks the driver from a file's content, not its name: a "survey.geojson" holding an
# OGR VRT definition is read as VRT, which can read any file on the server or fetch URLs,
# and a GDAL pipeline (GDALG) is JSON like GeoJSON. So the first bytes are checked against
# the format the suffix names before GDAL sees the file, and where GDAL has a prefix that
# forces a driver ("CSV:path") it is used; after opening, the driver GDAL chose must be the
# format's. The magic numbers of the binary formats hold a NUL within their first bytes, and
# the drivers that recognise text (VRT, GDALG, WFS, GML...) stop reading a header there.

HEAD_BYTES = 64 * 1024  # read for the checks: far more than any format's signature needs
LEADING_WHITESPACE = b" \t\r\n"


def _shown(head: bytes) -> str:
    """The file's first bytes as a reader can take them in: its text where it is text, else
    the bytes in hexadecimal."""
    if not head:
        return _("nothing: the file is empty")
    text = head[:20].decode("utf-8", errors="replace")
    if text.isprintable():
        return _("the text '%(text)s'") % {"text": text}
    return _("the bytes %(bytes)s") % {"bytes": head[:20].hex(" ")}


def _starting_with(*magics: bytes, expected: Promise) -> Callable[[bytes], str | None]:
    """``expected``: what the format starts with, in the active language."""

    def problem(head: bytes) -> str | None:
        if head.startswith(magics):
            return None
        return _("%(expected)s, and this file starts with %(start)s") % {
            "expected": expected,
            "start": _shown(head),
        }

    return problem


def _text_after_bom(head: bytes) -> bytes:
    return head.removeprefix(codecs.BOM_UTF8).lstrip(LEADING_WHITESPACE)


def _geojson_problem(head: bytes) -> str | None:
    if _text_after_bom(head).startswith(b"{"):
        return None
    return _("GeoJSON is JSON text starting with '{', and this file starts with %(start)s") % {
        "start": _shown(head)
    }


def _csv_problem(head: bytes) -> str | None:
    if b"<OGRVRTDataSource" in head:
        return _("it holds an OGR VRT definition ('<OGRVRTDataSource'), not rows of values")
    if _text_after_bom(head).startswith(b"<"):
        return _("it is markup (it starts with '<'), not rows of values")
    return None


def _osm_pbf_problem(head: bytes) -> str | None:
    # A 4-byte block length, then the block's header: field 1 (0x0a), 9 bytes, "OSMHeader".
    if head[4:15] == b"\x0a\x09OSMHeader":
        return None
    return _(
        "an OSM PBF file starts with an 'OSMHeader' block, and this file starts with %(start)s"
    ) % {"start": _shown(head)}


@dataclass(frozen=True)
class Format:
    """What a file's suffix promises: the format (as messages name it, in the active
    language), the GDAL driver that must read it, what is wrong with the file's first bytes
    for it (None: nothing), the prefix that makes GDAL use that driver alone, for the formats
    that have one, and whether the file states how many features it holds (a FlatGeobuf in
    its header, a GeoPackage in gpkg_ogr_contents): reading must then find them all."""

    name: str | Promise
    driver: str
    problem: Callable[[bytes], str | None]
    driver_prefix: str = ""
    is_raster: bool = False
    declares_feature_count: bool = False


FORMATS = {
    ".gpkg": Format(
        gettext_lazy("a GeoPackage"),
        "GPKG",
        _starting_with(
            b"SQLite format 3\x00", expected=gettext_lazy("a GeoPackage is an SQLite database")
        ),
        declares_feature_count=True,
    ),
    ".shp": Format(
        gettext_lazy("a Shapefile"),
        "ESRI Shapefile",
        _starting_with(
            (9994).to_bytes(4, "big"),
            expected=gettext_lazy("a .shp file starts with the file code 9994"),
        ),
    ),
    ".fgb": Format(
        # FlatGeobuf, GeoJSON and CSV go by these names in every language.
        "FlatGeobuf",
        "FlatGeobuf",
        _starting_with(
            b"fgb\x03", expected=gettext_lazy("FlatGeobuf starts with the bytes 'fgb\\x03'")
        ),
        declares_feature_count=True,
    ),
    ".geojson": Format("GeoJSON", "GeoJSON", _geojson_problem, driver_prefix="GeoJSON:"),
    ".json": Format("GeoJSON", "GeoJSON", _geojson_problem, driver_prefix="GeoJSON:"),
    ".csv": Format("CSV", "CSV", _csv_problem, driver_prefix="CSV:"),
    ".pbf": Format(gettext_lazy("an OSM PBF file"), "OSM", _osm_pbf_problem),
    **dict.fromkeys(
        (".tif", ".tiff"),
        Format(
            gettext_lazy("a GeoTIFF"),
            "GTiff",
            _starting_with(
                b"II*\x00",
                b"MM\x00*",
                b"II+\x00",
                b"MM\x00+",
                expected=gettext_lazy("a TIFF starts with II* or MM*"),
            ),
            is_raster=True,
        ),
    ),
}


def check_content(dataset: pathlib.Path, file_format: Format, *, path: pathlib.Path) -> None:
    """Refuse ``dataset`` unless its first bytes are those of ``file_format``. ``path``: the
    file as the user named it (an archive, perhaps), for the message."""
    with dataset.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    problem = file_format.problem(head)
    if problem is not None:
        raise ImportRefusal(
            _("%(file)s is not %(format)s: %(problem)s")
            % {"file": dataset.name, "format": file_format.name, "problem": problem},
            path=str(path),
        )


def _check_driver(
    info: dict, dataset: pathlib.Path, file_format: Format, *, path: pathlib.Path
) -> None:
    if info.get("driver") != file_format.driver:
        raise ImportRefusal(
            _("%(file)s is not %(format)s: GDAL reads it as %(driver)s")
            % {"file": dataset.name, "format": file_format.name, "driver": info.get("driver")},
            path=str(path),
        )


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
    driver: str = ""  # the GDAL driver that reads it, and no other
    gdal_name: str = ""  # what GDAL opens: the dataset, behind its driver's prefix if any
    # feature_count is what the file itself declares, so reading fewer means a damaged file.
    feature_count_is_declared: bool = False


# --- text encodings ---------------------------------------------------------------------

# Tried in this order; GB18030 is a superset of GBK and reads it.
TEXT_ENCODINGS = ("utf-8", "gb18030")
ENCODING_NAMES = {"utf-8": "UTF-8", "gb18030": "GBK"}
DECODE_BLOCK_BYTES = 1 << 20
# GDAL's name for each encoding, for a shapefile's ENCODING open option.
SHAPEFILE_ENCODINGS = {"utf-8": "UTF-8", "gb18030": "CP936"}


def _undecodable_offset(handle, encoding: str, start: int, end: int | None) -> int | None:
    """The offset in the file of the first byte in [start, end) (end None: to the end of the
    file) that does not decode as ``encoding``; None when all of them do. A block at a time,
    so that memory stays bounded whatever the size of the file."""
    handle.seek(start)
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = start
    while True:
        size = DECODE_BLOCK_BYTES if end is None else min(DECODE_BLOCK_BYTES, end - offset)
        block = handle.read(size) if size > 0 else b""
        # Bytes of a character cut at the previous block's end wait in the decoder.
        waiting = len(decoder.getstate()[0])
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            return offset - waiting + error.start
        if not block:
            return None
        offset += len(block)


def _shapefile_part(shapefile: pathlib.Path, suffix: str) -> pathlib.Path | None:
    """The file beside ``shapefile`` with its name and ``suffix`` in any case, or None."""
    return next(
        (
            part
            for part in shapefile.parent.iterdir()
            if part.stem == shapefile.stem and part.suffix.lower() == suffix
        ),
        None,
    )


def _dbf_text_ranges(dbf: pathlib.Path) -> list[tuple[int, int | None]]:
    """The byte ranges of a DBF that hold text: each field's name (the first 11 bytes of its
    32-byte descriptor) and the records, from the end of the header to the end of the file."""
    with dbf.open("rb") as handle:
        header = handle.read(32)
    header_length = int.from_bytes(header[8:10], "little")
    names = [(start, start + 11) for start in range(32, header_length - 32 + 1, 32)]
    return [*names, (header_length, None)]


def detect_encoding(dataset: pathlib.Path, *, path: pathlib.Path) -> str | None:
    """The text encoding of a CSV or of a shapefile's DBF without a .cpg: "utf-8" when all of
    its text decodes as UTF-8, else "gb18030" (which reads GBK) when all of it decodes as
    that; None when the format says it itself (.cpg, GPKG, GeoJSON). Otherwise refuse, since
    guessing would corrupt names. ``path``: the file as the user named it, for the message."""
    suffix = dataset.suffix.lower()
    if suffix == ".shp":
        if _shapefile_part(dataset, ".cpg") is not None:
            return None
        text_file = _shapefile_part(dataset, ".dbf")
        # A shapefile without its .dbf was refused before its encoding is asked for.
        assert text_file is not None
        ranges = _dbf_text_ranges(text_file)
    elif suffix == ".csv":
        text_file, ranges = dataset, [(0, None)]
    else:
        return None
    failures = {}
    with text_file.open("rb") as handle:
        for encoding in TEXT_ENCODINGS:
            failures[encoding] = next(
                (
                    offset
                    for start, end in ranges
                    if (offset := _undecodable_offset(handle, encoding, start, end)) is not None
                ),
                None,
            )
            if failures[encoding] is None:
                return encoding
    where = ", ".join(
        _("%(encoding)s fails at byte %(offset)s")
        % {"encoding": ENCODING_NAMES[encoding], "offset": offset}
        for encoding, offset in failures.items()
    )
    raise ImportRefusal(
        _("the text of %(file)s is neither UTF-8 nor GBK (%(where)s); convert the file to UTF-8")
        % {"file": text_file.name, "where": where},
        path=str(path),
    )


def _as_utf8(
    dataset: pathlib.Path, encoding: str | None, scratch: pathlib.Path
) -> tuple[pathlib.Path, dict]:
    """GDAL streams only UTF-8 to Arrow: a GBK CSV is transcoded into ``scratch``; a
    shapefile is recoded by GDAL itself, told its encoding (ENCODING open option), since
    without a .cpg GDAL would not read even UTF-8 names as UTF-8. Returns the file to read
    and the open options."""
    if encoding is None:
        return dataset, {}
    if dataset.suffix.lower() == ".shp":
        return dataset, {"ENCODING": SHAPEFILE_ENCODINGS[encoding]}
    if encoding == "utf-8":
        return dataset, {}
    target = scratch / f"{dataset.stem}.utf8.csv"
    with (
        dataset.open("r", encoding=encoding, newline="") as source,
        target.open("w", encoding="utf-8", newline="") as copy,
    ):
        for block in iter(lambda: source.read(1 << 20), ""):
            copy.write(block)
    return target, {}


# --- opening and reading ----------------------------------------------------------------


@contextmanager
def open_source(path: pathlib.Path, *, layer: str | None, kind_geometry: str) -> Iterator[Source]:
    """Open ``path`` (extracting a zip safely first) and describe it; refuse what cannot be read."""
    if not path.exists():
        raise ImportRefusal(_("no such file"), path=str(path))
    with tempfile.TemporaryDirectory(prefix="landledger-import-") as scratch:
        dataset = path
        if path.suffix.lower() == ".zip":
            dataset = find_dataset(extract_zip(path, into=pathlib.Path(scratch)))
        suffix = dataset.suffix.lower()
        file_format = FORMATS.get(suffix)
        if file_format is None:
            raise ImportRefusal(
                _(
                    "unknown format %(suffix)s; give a .gpkg, .shp (or zipped), .geojson, .fgb,"
                    " .csv, .osm.pbf or .tif file"
                )
                % {"suffix": repr(suffix)},
                path=str(path),
            )
        # Before anything opens it: GDAL would choose its driver by the content.
        check_content(dataset, file_format, path=path)
        if file_format.is_raster:
            yield _raster_source(path, dataset, file_format)
            return
        if suffix == ".shp":
            missing = missing_shapefile_parts(dataset, dataset.parent.iterdir())
            if missing:
                raise ImportRefusal(
                    _(
                        "the Shapefile %(file)s is missing %(missing)s (a Shapefile is several"
                        " files with the same name; keep them together, next to the .shp)"
                    )
                    % {
                        "file": dataset.name,
                        "missing": named_together(missing),
                    },
                    path=str(path),
                )
        if suffix == ".pbf" and layer is None:
            layer = OSM_LAYER_OF_GEOMETRY.get(kind_geometry)
        encoding = detect_encoding(dataset, path=path)
        dataset, encoding_options = _as_utf8(dataset, encoding, pathlib.Path(scratch))
        gdal_name = f"{file_format.driver_prefix}{dataset}"
        open_options = {**_open_options(dataset), **encoding_options}
        try:
            info = pyogrio.read_info(gdal_name, layer=layer, **open_options)
        except pyogrio.errors.DataLayerError as error:
            if layer is None:
                raise ImportRefusal(
                    _("GDAL cannot read it (%(error)s)") % {"error": error}, path=str(path)
                ) from error
            layers = [name for name, _geometry_type in pyogrio.list_layers(gdal_name)]
            raise ImportRefusal(
                _("no layer %(layer)s; the file has %(layers)s")
                % {"layer": repr(layer), "layers": layers},
                path=str(path),
            ) from error
        except IndexError as error:
            # pyogrio's answer when GDAL opens the file but finds no layer in it to default
            # to, as in a FlatGeobuf cut short within its header.
            raise ImportRefusal(
                _(
                    "GDAL finds no layer of features in %(file)s: the file is empty, cut short"
                    " or damaged"
                )
                % {"file": dataset.name},
                path=str(path),
            ) from error
        except READ_ERRORS as error:
            raise ImportRefusal(
                _("GDAL cannot read it (%(error)s)") % {"error": error}, path=str(path)
            ) from error
        _check_driver(info, dataset, file_format, path=path)
        crs = pyproj.CRS.from_user_input(info["crs"]) if info.get("crs") else None
        yield Source(
            path=path,
            dataset=dataset,
            layer=layer,
            open_options=open_options,
            declared_crs=crs,
            feature_count=int(info.get("features") or 0),
            fields=[str(name) for name in info["fields"]],
            driver=file_format.driver,
            gdal_name=gdal_name,
            feature_count_is_declared=file_format.declares_feature_count,
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
    try:
        with pyogrio.open_arrow(
            source.gdal_name,
            layer=source.layer,
            batch_size=chunk_size,
            use_pyarrow=True,
            **source.open_options,
        ) as (meta, reader):
            geometry_column = meta["geometry_name"] or "wkb_geometry"
            for batch in reader:
                # Values are converted lazily, so text that is not UTF-8 (a GeoPackage must
                # hold UTF-8) would fail later, far from the file; full validation finds it here.
                batch.validate(full=True)
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
    except READ_ERRORS as error:
        raise _unreadable(source, first_row, error) from error
    _check_all_read(source, read=first_row - 1)


def _check_all_read(source: Source, *, read: int) -> None:
    """Refuse a file that declares more features than could be read from it: GDAL ends a
    FlatGeobuf cut short between two features, or within its spatial index, without an
    error, and the features after the cut would be silently left out."""
    if source.feature_count_is_declared and read < source.feature_count:
        raise ImportRefusal(
            _(
                "%(file)s declares %(declared)s features but only %(read)s could be read: the"
                " file is cut short or damaged"
            )
            % {"file": source.dataset.name, "declared": source.feature_count, "read": read},
            path=str(source.path),
        )


def _unreadable(source: Source, first_row: int, error: Exception) -> ImportRefusal:
    """The refusal of a file that stops being readable part way: a damaged file, or a value
    that is not what its column's type says (text that is not UTF-8 in a GeoPackage)."""
    return ImportRefusal(
        _(
            "cannot read %(file)s from row %(row)s on (%(error)s); the file is damaged or holds"
            " values its format does not allow"
        )
        % {"file": source.dataset.name, "row": first_row, "error": error},
        path=str(source.path),
    )


def _raster_source(path: pathlib.Path, dataset: pathlib.Path, file_format: Format) -> Source:
    import rasterio

    try:
        # The driver named: GDAL would otherwise read whatever the content looks like.
        with rasterio.open(dataset, driver=file_format.driver) as raster:
            crs = pyproj.CRS.from_user_input(raster.crs.to_wkt()) if raster.crs else None
            count = raster.width * raster.height
    except rasterio.errors.RasterioIOError as error:
        raise ImportRefusal(
            _("rasterio cannot read it (%(error)s)") % {"error": error}, path=str(path)
        ) from error
    return Source(
        path=path,
        dataset=dataset,
        layer=None,
        open_options={},
        declared_crs=crs,
        feature_count=count,
        fields=["residents"],
        is_raster=True,
        driver=file_format.driver,
    )


def _raster_chunks(source: Source, *, chunk_size: int) -> Iterator[gpd.GeoDataFrame]:
    """Each cell of band 1 holding people (> 0, not nodata) as its square footprint."""
    import rasterio

    first_row = 1
    try:
        with rasterio.open(source.dataset, driver=source.driver) as raster:
            nodata = raster.nodata
            rows_per_block = max(1, chunk_size // max(raster.width, 1))
            for top in range(0, raster.height, rows_per_block):
                first_row = top * raster.width + 1
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
                        "source_id": [
                            f"r{top + r}c{c}" for r, c in zip(rows, columns, strict=True)
                        ],
                        "_row": (top + rows) * raster.width + columns + 1,
                    },
                    geometry=cells,
                )
    except (*READ_ERRORS, rasterio.errors.RasterioError) as error:
        raise _unreadable(source, first_row, error) from error
