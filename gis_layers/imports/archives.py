"""Safe extraction of uploaded zip archives (zipped Shapefiles, GeoPackages). Of Django, only
gettext is imported: refusals are worded in the active language.

An upload is untrusted: a member may be named to land outside the extraction directory
(``../``, ``/etc/...``, ``C:\\...``), be a symbolic link that later writes would follow, or be a
zip bomb that expands a few hundred kilobytes into gigabytes. :func:`extract_zip` checks every
member's header before writing anything, then enforces the same limits again on the bytes it
actually decompresses, because headers are written by whoever made the archive.
:func:`find_dataset` then picks the one dataset the archive is meant to carry.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from django.utils.translation import gettext as _

from .errors import ImportRefusal

__all__ = ["DATASET_SUFFIXES", "extract_zip", "find_dataset", "missing_shapefile_parts"]

# Bytes read from a member per step: small enough that the limits stop a bomb early, large
# enough that a legitimate file streams at disk speed.
_CHUNK_BYTES = 1024 * 1024
# A member smaller than this (bytes) is not checked for its compression ratio. A bomb needs a
# large output to do harm, while small files that are mostly padding (a .dbf of blank text
# fields, the empty pages of a fresh GeoPackage) compress far better than 200:1 and are fine.
# The total limit still applies to every byte.
_RATIO_FLOOR_BYTES = 1024 * 1024

# General-purpose flag bits: 0 is traditional PKWARE encryption, 6 is strong encryption.
_ENCRYPTED_FLAGS = 0x0001 | 0x0040

_DRIVE = re.compile(r"^[A-Za-z]:")

# The single-file formats an archive may carry, by lower-case suffix.
DATASET_SUFFIXES = (".shp", ".gpkg", ".geojson", ".fgb", ".csv")
_SHAPEFILE_PARTS = (".dbf", ".shx")


def _show(name: str) -> str:
    """Quote a member name for a message; control characters are escaped."""
    return f"'{name}'" if name.isprintable() else repr(name)


def _safe_parts(info: zipfile.ZipInfo, archive: str) -> tuple[str, ...]:
    """The member's path as parts relative to the extraction directory, or a refusal."""
    raw = info.filename
    # Windows tools sometimes write backslash separators; reading them as separators both
    # extracts such archives into the intended folders and exposes "..\\" tricks to the check
    # below, instead of leaving a file literally named "..\\x" behind.
    name = raw.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        raise ImportRefusal(
            _(
                "member %(member)s has an absolute path; the archive is refused because"
                " extracting it could write outside the upload folder. Re-create the archive"
                " with relative paths."
            )
            % {"member": _show(raw)},
            path=archive,
        )
    parts = tuple(part for part in PurePosixPath(name).parts if part not in ("", "."))
    if ".." in parts:
        raise ImportRefusal(
            _(
                "member %(member)s climbs out of the archive with '..'; the archive is refused"
                " because extracting it could write outside the upload folder. Re-create the"
                " archive with relative paths inside one folder."
            )
            % {"member": _show(raw)},
            path=archive,
        )
    if any(_DRIVE.match(part) for part in parts):
        raise ImportRefusal(
            _(
                "member %(member)s contains a drive letter; the archive is refused. Re-create"
                " the archive with relative paths."
            )
            % {"member": _show(raw)},
            path=archive,
        )
    return parts


def _check_member(info: zipfile.ZipInfo, archive: str, max_ratio: float) -> tuple[str, ...]:
    parts = _safe_parts(info, archive)
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ImportRefusal(
            _(
                "member %(member)s is a symbolic link; links are refused because they"
                " can point outside the upload folder. Zip the files themselves."
            )
            % {"member": _show(info.filename)},
            path=archive,
        )
    if info.flag_bits & _ENCRYPTED_FLAGS:
        raise ImportRefusal(
            _("member %(member)s is encrypted; upload the archive without a password.")
            % {"member": _show(info.filename)},
            path=archive,
        )
    if info.file_size > _RATIO_FLOOR_BYTES and (
        info.compress_size == 0 or info.file_size / info.compress_size > max_ratio
    ):
        raise ImportRefusal(
            _(
                "member %(member)s would expand from %(compressed)s to"
                " %(size)s bytes, more than %(ratio)s times; the archive looks like"
                " a zip bomb and is refused."
            )
            % {
                "member": _show(info.filename),
                "compressed": f"{info.compress_size:,}",
                "size": f"{info.file_size:,}",
                "ratio": f"{max_ratio:g}",
            },
            path=archive,
        )
    return parts


def _check_archive(
    infos: list[zipfile.ZipInfo],
    archive: str,
    archive_bytes: int,
    *,
    max_total_bytes: int,
    max_members: int,
    max_ratio: float,
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """Every check that the headers allow, before a single byte is written."""
    if len(infos) > max_members:
        raise ImportRefusal(
            _(
                "the archive has %(count)s members, more than the %(limit)s allowed;"
                " upload fewer files per archive."
            )
            % {"count": f"{len(infos):,}", "limit": f"{max_members:,}"},
            path=archive,
        )
    declared_total = sum(info.file_size for info in infos)
    if declared_total > max_total_bytes:
        raise ImportRefusal(
            _(
                "the archive declares %(total)s bytes of content, more than the"
                " %(limit)s bytes allowed; split it or upload the files unzipped."
            )
            % {"total": f"{declared_total:,}", "limit": f"{max_total_bytes:,}"},
            path=archive,
        )
    # Members whose compressed data add up to more than the archive itself must share bytes:
    # the overlapping-entries bomb, which gets around a per-member ratio.
    if sum(info.compress_size for info in infos) > archive_bytes:
        raise ImportRefusal(
            _(
                "the archive's members overlap (their compressed sizes add up to more than the"
                " archive); it looks like a zip bomb and is refused."
            ),
            path=archive,
        )
    checked = []
    seen: dict[tuple[str, ...], str] = {}
    for info in infos:
        parts = _check_member(info, archive, max_ratio)
        if not parts:
            continue
        is_dir = info.filename.replace("\\", "/").endswith("/")
        if not is_dir:
            if parts in seen:
                raise ImportRefusal(
                    _(
                        "member %(member)s appears more than once (also as"
                        " %(other)s); one would overwrite the other, so the archive is"
                        " refused."
                    )
                    % {"member": _show(info.filename), "other": _show(seen[parts])},
                    path=archive,
                )
            seen[parts] = info.filename
        checked.append((info, parts))
    return checked


class _Extraction:
    """Files and folders created so far, so that a refusal can take them away again."""

    def __init__(self, into: Path) -> None:
        self.into = into
        self.files: list[Path] = []
        self.dirs: list[Path] = []
        # Created here, after every header check has passed, so that a refused archive leaves
        # no empty folders behind; undo() removes the ones made here too.
        self.make_dirs(into)
        self.root = into.resolve()

    def target(self, parts: tuple[str, ...], info: zipfile.ZipInfo, archive: str) -> Path:
        target = self.into.joinpath(*parts)
        # The parts are already free of "..", but a folder inside `into` could be a link made
        # by someone else; resolving catches that too.
        if not target.resolve().is_relative_to(self.root):
            raise ImportRefusal(
                _(
                    "member %(member)s would be written outside the upload folder;"
                    " the archive is refused."
                )
                % {"member": _show(info.filename)},
                path=archive,
            )
        return target

    def make_dirs(self, directory: Path) -> None:
        missing = []
        current = directory
        while not current.exists():
            missing.append(current)
            current = current.parent
        for folder in reversed(missing):
            folder.mkdir()
            self.dirs.append(folder)

    def undo(self) -> None:
        for path in reversed(self.files):
            path.unlink(missing_ok=True)
        for folder in reversed(self.dirs):
            try:
                folder.rmdir()
            except OSError:
                # Not empty: something else wrote there; leave it rather than delete it.
                pass


def _stream_member(
    source,
    sink,
    info: zipfile.ZipInfo,
    *,
    archive: str,
    written_before: int,
    max_total_bytes: int,
    max_ratio: float,
) -> int:
    """Copy one member's bytes; return how many. The limits are enforced on the real output,
    whatever the headers said."""
    written = 0
    while chunk := source.read(_CHUNK_BYTES):
        written += len(chunk)
        if written > info.file_size:
            raise ImportRefusal(
                _(
                    "member %(member)s expands to more than the %(size)s"
                    " bytes its header declares; the archive is refused as a zip bomb."
                )
                % {"member": _show(info.filename), "size": f"{info.file_size:,}"},
                path=archive,
            )
        if written_before + written > max_total_bytes:
            raise ImportRefusal(
                _(
                    "extracting member %(member)s exceeds the %(limit)s"
                    " bytes allowed for the whole archive; the archive is refused."
                )
                % {"member": _show(info.filename), "limit": f"{max_total_bytes:,}"},
                path=archive,
            )
        if written > _RATIO_FLOOR_BYTES and written > max_ratio * max(info.compress_size, 1):
            raise ImportRefusal(
                _(
                    "member %(member)s expands more than %(ratio)s times; the"
                    " archive is refused as a zip bomb."
                )
                % {"member": _show(info.filename), "ratio": f"{max_ratio:g}"},
                path=archive,
            )
        sink.write(chunk)
    return written


def extract_zip(
    path: str | os.PathLike,
    *,
    into: Path,
    max_total_bytes: int = 2 * 1024**3,
    max_members: int = 10_000,
    max_ratio: float = 200,
) -> list[Path]:
    """Extract a zip archive into a folder, refusing anything unsafe.

    Parameters
    ----------
    path : str or path-like
        The uploaded archive.
    into : pathlib.Path
        The folder to extract into; created if missing. Existing files are never overwritten.
    max_total_bytes : int
        Most bytes the extracted content may add up to, as declared and as actually written.
    max_members : int
        Most entries (files and folders) the archive may have.
    max_ratio : float
        Highest uncompressed-to-compressed size ratio for a member larger than 1 MiB.

    Returns
    -------
    list of pathlib.Path
        The extracted files (not folders), in archive order, under ``into``.

    Raises
    ------
    ImportRefusal
        The file is not a readable zip archive; a member has an absolute path, a ``..`` part
        (also with backslashes) or a drive letter, or would land outside ``into``; a member is
        a symbolic link, encrypted or a duplicate; the archive has too many members, declares
        too much content, has overlapping members, or a member expands more than ``max_ratio``
        times; the real output exceeds what a member declares or ``max_total_bytes``; a member
        is corrupt. The message names the archive and the member. Everything extracted before
        the refusal is removed again.
    """
    archive = os.fspath(path)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise ImportRefusal(
            _("the file is not a readable zip archive (%(error)s); upload a .zip file.")
            % {"error": str(error)},
            path=archive,
        ) from error
    except OSError as error:
        raise ImportRefusal(
            _("the archive cannot be read (%(error)s).") % {"error": str(error.strerror or error)},
            path=archive,
        ) from error

    with zf:
        members = _check_archive(
            zf.infolist(),
            archive,
            os.path.getsize(archive),
            max_total_bytes=max_total_bytes,
            max_members=max_members,
            max_ratio=max_ratio,
        )
        extraction = _Extraction(Path(into))
        extracted: list[Path] = []
        total = 0
        current = None
        try:
            for info, parts in members:
                current = info
                target = extraction.target(parts, info, archive)
                if info.filename.replace("\\", "/").endswith("/"):
                    extraction.make_dirs(target)
                    continue
                extraction.make_dirs(target.parent)
                with zf.open(info) as source:
                    # "xb": never overwrite, never follow a link already at the target's name.
                    # The file is ours to remove on undo only once this has succeeded.
                    with open(target, "xb") as sink:
                        extraction.files.append(target)
                        total += _stream_member(
                            source,
                            sink,
                            info,
                            archive=archive,
                            written_before=total,
                            max_total_bytes=max_total_bytes,
                            max_ratio=max_ratio,
                        )
                extracted.append(target)
        except ImportRefusal:
            extraction.undo()
            raise
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as error:
            # A bad CRC, a truncated stream, an unsupported compression method, or an
            # encryption flag set only in the local header all end here.
            extraction.undo()
            # Only the loop's body raises, and only once it has named its member.
            assert current is not None
            raise ImportRefusal(
                _(
                    "member %(member)s cannot be extracted (%(error)s); the archive is"
                    " damaged or uses an unsupported format. Re-create it with a standard zip"
                    " tool."
                )
                % {"member": _show(current.filename), "error": str(error)},
                path=archive,
            ) from error
        except OSError as error:
            extraction.undo()
            assert current is not None  # as above
            raise ImportRefusal(
                _("member %(member)s cannot be written (%(error)s); the archive is refused.")
                % {"member": _show(current.filename), "error": str(error.strerror or error)},
                path=archive,
            ) from error
        except BaseException:
            extraction.undo()
            raise
    return extracted


def _is_junk(path: Path) -> bool:
    # macOS Finder adds "__MACOSX/" folders and "._name" resource forks to every zip it makes;
    # "._parcels.shp" is not a second Shapefile.
    return "__MACOSX" in path.parts or path.name.startswith("._")


def find_dataset(paths: Iterable[Path], *, archive: str | os.PathLike = "") -> Path:
    """Pick the one dataset among the files extracted from an archive.

    Parameters
    ----------
    paths : iterable of pathlib.Path
        What :func:`extract_zip` returned.
    archive : str or path-like, optional
        The archive, named in refusals.

    Returns
    -------
    pathlib.Path
        The single ``.shp`` (whose ``.dbf`` and ``.shx`` are beside it), or the single
        ``.gpkg``, ``.geojson``, ``.fgb`` or ``.csv``. Suffixes match in any case; macOS
        ``__MACOSX`` and ``._`` files are ignored.

    Raises
    ------
    ImportRefusal
        No candidate, several candidates, or a ``.shp`` missing its ``.dbf`` or ``.shx``.
    """
    archive = os.fspath(archive)
    files = [Path(p) for p in paths if not _is_junk(Path(p))]
    candidates = [p for p in files if p.suffix.lower() in DATASET_SUFFIXES]
    root = os.path.commonpath([str(p.parent) for p in files]) if files else ""

    def shown(p: Path) -> str:
        return _show(os.path.relpath(p, root) if root else str(p))

    if not candidates:
        found = ", ".join(shown(p) for p in files[:10]) or _("no files")
        if len(files) > 10:
            found = _("%(names)s and %(count)s more") % {
                "names": found,
                "count": len(files) - 10,
            }
        raise ImportRefusal(
            _(
                "the archive holds no dataset: expected one .shp (with its .dbf and .shx), .gpkg,"
                " .geojson, .fgb or .csv, found %(found)s."
            )
            % {"found": found},
            path=archive,
        )
    if len(candidates) > 1:
        raise ImportRefusal(
            _(
                "the archive holds %(count)s datasets"
                " (%(datasets)s); upload one dataset per archive."
            )
            % {
                "count": len(candidates),
                "datasets": ", ".join(shown(p) for p in candidates),
            },
            path=archive,
        )
    dataset = candidates[0]
    if dataset.suffix.lower() == ".shp":
        missing = missing_shapefile_parts(dataset, files)
        if missing:
            raise ImportRefusal(
                _(
                    "the Shapefile %(shapefile)s is missing %(missing)s (a"
                    " Shapefile is several files with the same name; put them all in the"
                    " archive, next to the .shp)."
                )
                % {"shapefile": shown(dataset), "missing": named_together(missing)},
                path=archive,
            )
    return dataset


def missing_shapefile_parts(shapefile: Path, files: Iterable[Path]) -> list[str]:
    """The names of the parts (.dbf, .shx) that ``shapefile`` needs and ``files`` lack: each
    beside the .shp under the same name, its suffix in any case."""
    present = {(p.parent, p.stem, p.suffix.lower()) for p in files}
    return [
        shapefile.stem + suffix
        for suffix in _SHAPEFILE_PARTS
        if (shapefile.parent, shapefile.stem, suffix) not in present
    ]


def named_together(names: list[str]) -> str:
    """``names`` in one phrase of the active language: "a", "a and b" (a Shapefile misses at
    most its two parts)."""
    text = names[0]
    for name in names[1:]:
        text = _("%(first)s and %(second)s") % {"first": text, "second": name}
    return text
