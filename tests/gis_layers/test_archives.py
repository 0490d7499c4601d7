"""Safe extraction of uploaded zip archives. Crafted archives in tmp_path; no database."""

import os
import stat
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gis_layers.imports.archives import extract_zip, find_dataset
from gis_layers.imports.errors import ImportRefusal

MiB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes], **kwargs) -> Path:
    kwargs.setdefault("compression", zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path, "w", **kwargs) as zf:
        for name, data in members.items():
            # ZipInfo keeps the name exactly as given; ZipFile.write would clean it up.
            info = zipfile.ZipInfo(name)
            info.compress_type = zf.compression  # a bare ZipInfo would be stored uncompressed
            zf.writestr(info, data)
    return path


def snapshot(root: Path, *, skip: Path) -> dict[str, bytes]:
    """Every file under root except those under skip, with contents."""
    found = {}
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            path = Path(dirpath) / filename
            if not path.is_relative_to(skip):
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")) if folder.exists() else []


@pytest.fixture
def into(tmp_path) -> Path:
    return tmp_path / "upload" / "extracted"


def assert_refused(archive: Path, into: Path, *expected: str, **limits) -> ImportRefusal:
    """Extraction is refused naming the archive and each expected text, writes nothing in
    into, and nothing anywhere else under the test's folder."""
    root = archive.parent
    before = snapshot(root, skip=into)
    with pytest.raises(ImportRefusal) as caught:
        extract_zip(archive, into=into, **limits)
    error = caught.value
    assert error.path == str(archive)
    assert str(archive) in str(error)
    for text in expected:
        assert text in error.message
    assert snapshot(root, skip=into) == before
    assert [p for p in files_under(into) if p.is_file()] == []
    return error


# --------------------------------------------------------------------------------------------
# Archives that extract
# --------------------------------------------------------------------------------------------


@pytest.fixture
def parcels() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["110102001001", "110102001002"], "area_m2": [1520.5, 880.0]},
        geometry=[
            shapely.box(116.35, 39.91, 116.351, 39.911),
            shapely.box(116.352, 39.91, 116.353, 39.911),
        ],
        crs=4490,
    )


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, arcname=prefix + path.name)
    return archive


def test_zipped_shapefile_extracts_and_its_dataset_reads_back(tmp_path, into, parcels):
    source = tmp_path / "source"
    source.mkdir()
    parcels.to_file(source / "parcels.shp", engine="pyogrio")
    archive = zip_folder(source, tmp_path / "parcels.zip", prefix="parcels/")

    extracted = extract_zip(archive, into=into)

    assert sorted(p.name for p in extracted) == sorted(p.name for p in source.iterdir())
    assert all(p.is_file() and p.is_relative_to(into) for p in extracted)
    dataset = find_dataset(extracted, archive=archive)
    assert dataset == into / "parcels" / "parcels.shp"
    read = gpd.read_file(dataset, engine="pyogrio")
    assert read.crs.to_epsg() == 4490
    assert list(read["code"]) == list(parcels["code"])
    assert read.geometry.geom_equals(parcels.geometry).all()


def test_zipped_geopackage_extracts_and_is_found(tmp_path, into, parcels):
    source = tmp_path / "source"
    source.mkdir()
    parcels.to_file(source / "parcels.gpkg", layer="parcels", engine="pyogrio")
    archive = zip_folder(source, tmp_path / "parcels.zip")

    dataset = find_dataset(extract_zip(archive, into=into))

    assert dataset == into / "parcels.gpkg"
    assert len(gpd.read_file(dataset, engine="pyogrio")) == 2


def test_folders_are_created_but_only_files_are_returned(tmp_path, into):
    archive = make_zip(tmp_path / "a.zip", {"data/": b"", "data/empty/": b"", "data/x.csv": b"1"})
    extracted = extract_zip(archive, into=into)
    assert extracted == [into / "data" / "x.csv"]
    assert (into / "data" / "empty").is_dir()


def test_backslash_separators_from_windows_tools_become_folders(tmp_path, into):
    archive = make_zip(tmp_path / "a.zip", {"parcels\\parcels.csv": b"code\n1\n"})
    assert extract_zip(archive, into=into) == [into / "parcels" / "parcels.csv"]


def test_extracted_files_carry_no_permission_bits_from_the_archive(tmp_path, into):
    info = zipfile.ZipInfo("run.sh")
    info.external_attr = (stat.S_IFREG | 0o4777) << 16  # setuid, world-writable
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr(info, b"#!/bin/sh\n")
    (path,) = extract_zip(tmp_path / "a.zip", into=into)
    assert not path.stat().st_mode & (stat.S_ISUID | stat.S_IXUSR)


# --------------------------------------------------------------------------------------------
# Names that would land outside the folder
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil.txt", "'..'"),
        ("parcels/../../evil.txt", "'..'"),
        ("/abs.txt", "absolute path"),
        ("//server/share/abs.txt", "absolute path"),
        ("..\\win.txt", "'..'"),
        ("parcels\\..\\..\\win.txt", "'..'"),
        ("\\abs.txt", "absolute path"),
        ("C:/Windows/evil.txt", "absolute path"),
        ("C:\\Windows\\evil.txt", "absolute path"),
        ("C:evil.txt", "absolute path"),
        ("parcels/D:evil.txt", "drive letter"),
    ],
)
def test_member_names_that_escape_the_folder_are_refused(tmp_path, into, name, problem):
    # A harmless member first: the checks run before anything is written.
    archive = make_zip(tmp_path / "evil.zip", {"readme.txt": b"hello", name: b"pwned"})
    error = assert_refused(archive, into, problem)
    assert name in error.message or repr(name) in error.message
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "upload" / "evil.txt").exists()


def test_symlink_member_is_refused(tmp_path, into):
    info = zipfile.ZipInfo("parcels.shp")
    info.create_system = 3  # Unix, where the mode bits in external_attr mean something
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as zf:
        zf.writestr("readme.txt", b"hello")
        zf.writestr(info, b"/etc/passwd")
    assert_refused(tmp_path / "link.zip", into, "'parcels.shp'", "symbolic link")


def test_existing_files_in_the_folder_are_neither_overwritten_nor_removed(tmp_path, into):
    into.mkdir(parents=True)
    (into / "keep.txt").write_bytes(b"mine")
    archive = make_zip(tmp_path / "a.zip", {"new.txt": b"new", "keep.txt": b"theirs"})
    with pytest.raises(ImportRefusal, match="'keep.txt' cannot be written"):
        extract_zip(archive, into=into)
    assert (into / "keep.txt").read_bytes() == b"mine"
    assert not (into / "new.txt").exists()


def test_duplicate_member_names_are_refused(tmp_path, into):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate
        archive = make_zip(tmp_path / "dup.zip", {"a.csv": b"1"})
        with zipfile.ZipFile(archive, "a") as zf:
            zf.writestr("a.csv", b"2")
    assert_refused(archive, into, "'a.csv'", "more than once")


# --------------------------------------------------------------------------------------------
# Zip bombs and limits
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """200 MiB of zeros in an archive of about 200 KB, written by streaming."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("parcels.dbf", "w") as member:
            zeros = bytes(MiB)
            for _ in range(200):
                member.write(zeros)
    return path


def test_zip_bomb_is_refused_by_its_compression_ratio(bomb, tmp_path):
    assert bomb.stat().st_size < 300_000
    error = assert_refused(bomb, tmp_path / "out", "'parcels.dbf'", "zip bomb")
    assert f"{200 * MiB:,}" in error.message


def test_zip_bomb_is_refused_by_the_total_limit_even_with_a_lenient_ratio(bomb, tmp_path):
    error = assert_refused(
        bomb, tmp_path / "out", "more than the", max_total_bytes=100 * MiB, max_ratio=10_000
    )
    assert f"{200 * MiB:,} bytes" in error.message


def test_lowered_ratio_refuses_a_small_bomb(tmp_path, into):
    archive = make_zip(tmp_path / "small.zip", {"zeros.bin": bytes(2 * MiB)})
    assert_refused(archive, into, "'zeros.bin'", "more than 10 times", max_ratio=10)


def test_small_highly_compressible_files_are_not_taken_for_bombs(tmp_path, into):
    # A blank-padded .dbf compresses far beyond 200:1 but is too small to do harm.
    archive = make_zip(tmp_path / "padded.zip", {"parcels.dbf": b" " * (MiB // 2)})
    assert len(extract_zip(archive, into=into)) == 1


def test_declared_total_above_the_limit_is_refused(tmp_path, into):
    archive = make_zip(tmp_path / "big.zip", {f"part{i}.csv": os.urandom(1000) for i in range(3)})
    assert_refused(archive, into, "3,000 bytes", "more than the 2,500", max_total_bytes=2500)


def test_too_many_members_are_refused(tmp_path, into):
    archive = make_zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(6)})
    assert_refused(archive, into, "6 members", "more than the 5", max_members=5)


def patch_sizes(archive: Path, name: bytes, *, size: int, crc: int | None = None) -> None:
    """Rewrite the uncompressed size (and optionally CRC) of a member in both its local
    header and its central-directory record."""
    data = bytearray(archive.read_bytes())
    local = data.index(b"PK\x03\x04")
    while data[local + 30 : local + 30 + len(name)] != name:
        local = data.index(b"PK\x03\x04", local + 4)
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    for header, size_at, crc_at in [(local, 22, 14), (central, 24, 16)]:
        struct.pack_into("<I", data, header + size_at, size)
        if crc is not None:
            struct.pack_into("<I", data, header + crc_at, crc)
    archive.write_bytes(bytes(data))


def test_member_that_under_declares_its_size_is_refused(tmp_path, into):
    # Header says 1 KiB, the data inflate to 4 MiB: the ratio check on the header passes, and
    # the real stream has to be caught instead.
    archive = make_zip(tmp_path / "liar.zip", {"a.csv": b"ok", "zeros.bin": bytes(4 * MiB)})
    patch_sizes(archive, b"zeros.bin", size=1024)
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo("zeros.bin").file_size == 1024
    assert_refused(archive, into, "'zeros.bin'", "cannot be extracted")


def test_member_that_under_declares_its_size_with_a_matching_crc_writes_only_what_it_declares(
    tmp_path, into
):
    # With the CRC of the first 1 KiB forged as well, zipfile stops at the declared size and
    # finds nothing wrong; the lie cannot make the extraction write more than the header says.
    archive = make_zip(tmp_path / "liar.zip", {"zeros.bin": bytes(4 * MiB)})
    patch_sizes(archive, b"zeros.bin", size=1024, crc=zlib.crc32(bytes(1024)))
    (path,) = extract_zip(archive, into=into)
    assert path.stat().st_size == 1024


def test_stream_longer_than_its_header_is_refused_while_decompressing(tmp_path, into, monkeypatch):
    # zipfile itself stops reading at the declared size, so a decoder that keeps going is
    # simulated: the limit in the extraction loop must still hold.
    archive = make_zip(tmp_path / "a.zip", {"first.csv": b"1", "zeros.bin": bytes(1000)})
    real_open = zipfile.ZipFile.open

    class Overflowing:
        def __init__(self, stream):
            self.stream = stream
            self.extra = 10 * MiB

        def read(self, n=-1):
            data = self.stream.read(n)
            if data:
                return data
            if self.extra:
                self.extra -= MiB
                return bytes(MiB)
            return b""

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    def open_overflowing(self, name, *args, **kwargs):
        return Overflowing(real_open(self, name, *args, **kwargs))

    monkeypatch.setattr(zipfile.ZipFile, "open", open_overflowing)
    assert_refused(archive, into, "'first.csv'", "more than the 1 bytes its header declares")


def test_overlapping_members_are_refused(tmp_path, into):
    # Two central-directory records pointing at the same data: the trick behind the
    # non-recursive zip bombs, which keeps each member's own ratio modest.
    archive = make_zip(
        tmp_path / "overlap.zip", {"a.bin": os.urandom(50_000)}, compression=zipfile.ZIP_STORED
    )
    data = archive.read_bytes()
    start = data.index(b"PK\x01\x02")
    end = data.index(b"PK\x05\x06")
    record = data[start:end]
    eocd = bytearray(data[end:])
    struct.pack_into("<HHI", eocd, 8, 2, 2, 2 * len(record))  # entries on disk, total, size
    archive.write_bytes(data[:start] + record + record + bytes(eocd))
    assert_refused(archive, into, "overlap")


def test_corrupt_member_is_refused_and_members_already_written_are_removed(tmp_path, into):
    archive = make_zip(
        tmp_path / "corrupt.zip",
        {"first.csv": b"code\n1\n", "sub/second.csv": os.urandom(20_000)},
        compression=zipfile.ZIP_STORED,
    )
    data = bytearray(archive.read_bytes())
    at = data.index(b"sub/second.csv") + len(b"sub/second.csv") + 100
    data[at : at + 8] = bytes(8)  # damages the stored data, so its CRC no longer matches
    archive.write_bytes(bytes(data))
    assert_refused(archive, into, "'sub/second.csv'", "cannot be extracted")
    # Neither the folder nor its parent existed before, so both are gone again.
    assert not into.parent.exists()


# --------------------------------------------------------------------------------------------
# Encrypted members and files that are not zips
# --------------------------------------------------------------------------------------------


def _crc_step(crc: int, byte: int) -> int:
    # One step of the raw CRC-32 register, without zlib's pre- and post-inversion.
    return ~zlib.crc32(bytes([byte]), ~crc & 0xFFFFFFFF) & 0xFFFFFFFF


def zipcrypto_encrypt(plain: bytes, password: bytes, check_byte: int) -> bytes:
    """Traditional PKWARE encryption (APPNOTE 6.1), which zipfile can read but not write."""
    keys = [0x12345678, 0x23456789, 0x34567890]

    def update(byte: int) -> None:
        keys[0] = _crc_step(keys[0], byte)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = _crc_step(keys[2], keys[1] >> 24)

    for byte in password:
        update(byte)
    out = bytearray()
    for byte in os.urandom(11) + bytes([check_byte]) + plain:
        temp = (keys[2] | 2) & 0xFFFF
        out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
        update(byte)
    return bytes(out)


def write_encrypted_zip(path: Path, name: str, plain: bytes, password: bytes) -> Path:
    """A one-member archive, stored and ZipCrypto-encrypted, written header by header."""
    crc = zlib.crc32(plain)
    payload = zipcrypto_encrypt(plain, password, crc >> 24)
    encoded = name.encode()
    flags, method, when, day = 0x0001, 0, 0, 0x21  # encrypted, stored, 1980-01-01 00:00
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, flags, method, when, day, crc,
        len(payload), len(plain), len(encoded), 0,
    )  # fmt: skip
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, when, day, crc,
        len(payload), len(plain), len(encoded), 0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    body = local + encoded + payload
    directory = central + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(body), 0)
    path.write_bytes(body + directory + end)
    return path


def test_encrypted_member_is_refused(tmp_path, into):
    archive = write_encrypted_zip(tmp_path / "secret.zip", "parcels.csv", b"code\n1\n", b"pw")
    with zipfile.ZipFile(archive) as zf:  # a real encrypted member, readable with its password
        assert zf.read("parcels.csv", pwd=b"pw") == b"code\n1\n"
    assert_refused(archive, into, "'parcels.csv'", "is encrypted; upload the archive without")


def test_file_that_is_not_a_zip_is_refused(tmp_path, into):
    fake = tmp_path / "parcels.zip"
    fake.write_text("code,area\n1,2\n")
    assert_refused(fake, into, "not a readable zip archive")


def test_truncated_zip_is_refused(tmp_path, into, parcels):
    source = tmp_path / "source"
    source.mkdir()
    parcels.to_file(source / "parcels.shp", engine="pyogrio")
    archive = zip_folder(source, tmp_path / "parcels.zip")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert_refused(archive, into, "not a readable zip archive")


def test_missing_archive_is_refused(tmp_path, into):
    with pytest.raises(ImportRefusal, match="cannot be read"):
        extract_zip(tmp_path / "nowhere.zip", into=into)


# --------------------------------------------------------------------------------------------
# find_dataset
# --------------------------------------------------------------------------------------------


def touch(folder: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        paths.append(path)
    return paths


def test_find_dataset_picks_the_shapefile_and_ignores_its_parts_and_macos_junk(tmp_path):
    paths = touch(
        tmp_path,
        "parcels/parcels.shp",
        "parcels/parcels.dbf",
        "parcels/parcels.shx",
        "parcels/parcels.prj",
        "parcels/parcels.cpg",
        "parcels/parcels.shp.xml",
        "__MACOSX/parcels/._parcels.shp",
        "parcels/._parcels.shp",
    )
    assert find_dataset(paths) == tmp_path / "parcels" / "parcels.shp"


def test_find_dataset_accepts_upper_case_suffixes(tmp_path):
    paths = touch(tmp_path, "PARCELS.SHP", "PARCELS.DBF", "PARCELS.SHX")
    assert find_dataset(paths) == tmp_path / "PARCELS.SHP"


@pytest.mark.parametrize("name", ["parcels.gpkg", "parcels.geojson", "parcels.fgb", "pts.csv"])
def test_find_dataset_accepts_one_single_file_dataset(tmp_path, name):
    paths = touch(tmp_path, name, "README.txt")
    assert find_dataset(paths) == tmp_path / name


def test_find_dataset_refuses_an_archive_without_a_dataset(tmp_path):
    paths = touch(tmp_path, "README.txt", "parcels.kmz")
    with pytest.raises(ImportRefusal) as caught:
        find_dataset(paths, archive="upload.zip")
    assert caught.value.path == "upload.zip"
    assert "no dataset" in caught.value.message
    assert "'README.txt'" in caught.value.message and "'parcels.kmz'" in caught.value.message


def test_find_dataset_refuses_several_datasets_naming_them(tmp_path):
    paths = touch(tmp_path, "a.gpkg", "b/b.shp", "b/b.dbf", "b/b.shx")
    with pytest.raises(ImportRefusal) as caught:
        find_dataset(paths, archive="upload.zip")
    assert "2 datasets" in caught.value.message
    assert "'a.gpkg'" in caught.value.message and "'b/b.shp'" in caught.value.message


def test_find_dataset_refuses_two_shapefiles(tmp_path):
    paths = touch(tmp_path, *(f"{stem}.{ext}" for stem in "ab" for ext in ("shp", "dbf", "shx")))
    with pytest.raises(ImportRefusal, match="2 datasets"):
        find_dataset(paths)


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        (["parcels.shp", "parcels.shx"], "parcels.dbf"),
        (["parcels.shp", "parcels.dbf"], "parcels.shx"),
        (["parcels.shp"], "parcels.dbf and parcels.shx"),
        # Parts must sit next to the .shp, not elsewhere in the archive.
        (["a/parcels.shp", "b/parcels.dbf", "b/parcels.shx"], "parcels.dbf and parcels.shx"),
    ],
)
def test_find_dataset_refuses_a_shapefile_missing_its_parts_naming_them(tmp_path, present, missing):
    with pytest.raises(ImportRefusal) as caught:
        find_dataset(touch(tmp_path, *present), archive="upload.zip")
    assert f"is missing {missing}" in caught.value.message
    assert caught.value.path == "upload.zip"
