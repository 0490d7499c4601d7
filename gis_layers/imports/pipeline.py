"""``import_layer``: read, validate, stage and write one file, all or nothing.

Everything happens in one transaction: an interruption (Ctrl-C, a killed process, a lost
connection) leaves the database as it was, and any rejected row means nothing is written.
"""

import contextlib
import hashlib
import json
import pathlib
from collections.abc import Callable

from django.db import DataError, IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from gis_layers.imports.crs import resolve_crs
from gis_layers.imports.errors import WORDING, ImportRefusal
from gis_layers.imports.preview import PreviewCollector
from gis_layers.imports.readers import open_source, read_chunks
from gis_layers.imports.report import ImportReport
from gis_layers.imports.schema import KINDS, LayerKind
from gis_layers.imports.staging import (
    check_staged,
    copy_rows,
    create_staging,
    regrid_population,
    write_staged,
)
from gis_layers.imports.validation import check_chunk
from gis_layers.models import ImportRun
from registry.models import LandUseClass
from registry.selectors import clearance_of
from registry.services.acts import record_audit

DEFAULT_CHUNK = 50_000
# What run_import tells ``on_stage`` in turn: reading the file's rows and checking each
# (``on_progress`` counts them); checking them in SQL, against the register and each other;
# then, when it writes, the register's INSERT and UPDATE, and the commit (where the
# register's deferred checks run). The last two report no rows: they are single statements.
STAGES = ("reading", "checking", "writing", "committing")
WRITABLE_KINDS = ("parcels", "buildings", "shelters", "roads", "population", "zoning", "agencies")


def resolve_columns(
    kind: LayerKind, fields: list[str], mapping: dict[str, str] | None, *, path: str
) -> dict:
    """Target name → source column. A mapping file wins; else the first alias present
    (case-insensitive). A required target with no column refuses the file."""
    by_lower = {name.lower(): name for name in fields}
    columns = {}
    for target in kind.targets:
        wanted = (mapping or {}).get(target.name)
        if wanted is not None:
            if wanted not in fields:
                raise ImportRefusal(
                    _(
                        "the mapping names column %(column)s for %(field)s, but the file has %(fields)s"
                    )
                    % {"column": repr(wanted), "field": target.name, "fields": fields},
                    path=path,
                )
            columns[target.name] = wanted
            continue
        found = next(
            (by_lower[alias.lower()] for alias in target.aliases if alias.lower() in by_lower), None
        )
        if found is not None:
            columns[target.name] = found
        elif target.required:
            raise ImportRefusal(
                _("no column for the required field %(field)s (looked for %(aliases)s); %(asked)s")
                % {
                    "field": repr(target.name),
                    "aliases": ", ".join(target.aliases),
                    "asked": WORDING.get().column_asked(target.name),
                },
                path=path,
            )
    return columns


def overruled_columns(columns: dict[str, str], fields: list[str]) -> list[str]:
    """The file's columns named like a target that is read from another column (as a mapping
    says, or an alias in another case): renamed, that column would make two of one name, of
    which the last would win. They are left out, and the report says so."""
    sources = set(columns.values())
    return [
        field
        for field in fields
        if field in columns and columns[field] != field and field not in sources
    ]


def read_mapping(path: pathlib.Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ImportRefusal(
            _("cannot read the mapping (%(error)s)") % {"error": error}, path=str(path)
        ) from error
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ImportRefusal(
            _('the mapping must be a JSON object {"field": "column", ...}'), path=str(path)
        )
    return mapping


def file_sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _refused_by_the_database(path: pathlib.Path):
    """A row the checks let through but a database guard refuses (when written, or at
    commit) refuses the file like any other reason: nothing is written, and the message
    says which guard. (The checks use shapely's GEOS, the guards PostGIS's, which may judge
    a nearly degenerate ring differently.)"""
    try:
        yield
    except (IntegrityError, DataError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ImportRefusal(
            _("the database refused the data (%(error)s): nothing written") % {"error": first},
            path=str(path),
        ) from error


def run_import(
    *,
    kind_name: str,
    path: pathlib.Path,
    layer: str | None = None,
    crs: str | None = None,
    dry_run: bool = False,
    mapping: dict[str, str] | None = None,
    repair_invalid: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
    on_total: Callable[[int], None] = lambda total: None,
    on_progress: Callable[[int], None] = lambda rows: None,
    on_stage: Callable[[str], None] = lambda stage: None,
    user=None,
    grid_m: float | None = None,
    with_preview: bool = False,
) -> ImportReport:
    """Import one file; raises :class:`ImportRefusal` when the file as a whole is refused.

    ``grid_m`` (population polygons only): spread the persons of each polygon onto square
    cells of that many metres by area before writing. ``user``: who imports (the web
    upload), recorded with the import; rows that would change or classify shelters above
    their clearance, or clear agencies beyond it, are rejected. Without a user (the command
    line) nothing is hidden. ``with_preview``: the report gets a :class:`MapPreview` of the
    file's rows (the web upload draws it). ``on_total``, ``on_progress`` and ``on_stage``:
    how far it has got, for a progress bar (the rows the file declares, the rows read since
    the last call, and each of :data:`STAGES` as it begins).
    """
    if kind_name not in WRITABLE_KINDS:
        raise ImportRefusal(
            _("importing %(kind)s is not supported; one of %(kinds)s")
            % {"kind": repr(kind_name), "kinds": ", ".join(WRITABLE_KINDS)}
        )
    if grid_m is not None and (kind_name != "population" or not 10 <= grid_m <= 10_000):
        raise ImportRefusal(_("--grid applies to population polygons, in metres from 10 to 10,000"))
    kind = KINDS[kind_name]
    path = pathlib.Path(path)
    with open_source(path, layer=layer, kind_geometry=kind.geometry[0]) as source:
        source_crs = resolve_crs(declared=source.declared_crs, override=crs, path=str(path))
        columns = resolve_columns(kind, source.fields, mapping, path=str(path))
        overruled = overruled_columns(columns, source.fields)
        report = ImportReport(
            file=path.name,
            kind=kind_name,
            dry_run=dry_run,
            source_crs=f"EPSG:{source_crs.epsg}"
            + (f" ({source_crs.offset.upper()})" if source_crs.offset else ""),
        )
        if source_crs.offset:
            report.notes.append(
                _("coordinates converted from %(offset)s to CGCS2000")
                % {"offset": source_crs.offset.upper()}
            )
        report.notes += [
            _("column %(column)s left out: %(field)s is read from column %(source)s")
            % {"column": repr(column), "field": column, "source": repr(columns[column])}
            for column in overruled
        ]
        on_total(source.feature_count)
        on_stage("reading")
        land_use_codes = frozenset(
            LandUseClass.objects.filter(parent__isnull=False).values_list("code", flat=True)
        )
        with _refused_by_the_database(path), transaction.atomic():
            with connection.cursor() as cursor:
                # Two imports of one kind queue rather than both matching rows to upsert.
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"landledger.import.{kind_name}"]
                )
                cursor.execute("DROP TABLE IF EXISTS landledger_import_staging")
            create_staging()
            preview = PreviewCollector() if with_preview else None
            for chunk in read_chunks(source, chunk_size=chunk_size):
                mapped = chunk.drop(columns=overruled).rename(
                    columns={source_column: target for target, source_column in columns.items()}
                )
                keep = [*columns, "_row", mapped.geometry.name]
                accepted, findings, rejected = check_chunk(
                    mapped[[column for column in keep if column in mapped]],
                    kind=kind,
                    source_crs=source_crs,
                    repair_invalid=repair_invalid,
                    land_use_codes=land_use_codes,
                )
                copy_rows(accepted)
                if preview is not None:
                    preview.add_rejected(rejected)
                report.read += len(chunk)
                report.accepted += len(accepted)
                report.findings += findings
                on_progress(len(chunk))
            on_stage("checking")
            staged_rejections = check_staged(
                kind,
                source_prefix=path.name,
                # A user (the web upload) writes only what their clearance lets them see.
                clearance=None if user is None else clearance_of(user=user),
            )
            report.findings += staged_rejections
            report.accepted -= len({finding.row for finding in staged_rejections})
            if preview is not None:
                report.preview = preview.preview(report.findings)
            if grid_m is not None and not report.rejected:
                if source.is_raster:
                    raise ImportRefusal(
                        _("--grid is for population polygons; a raster is a grid already")
                    )
                cells = regrid_population(cell_m=grid_m)
                report.notes.append(
                    _("%(polygons)s polygons spread by area onto %(cells)s cells of %(size)s m")
                    % {"polygons": report.accepted, "cells": cells, "size": f"{grid_m:g}"}
                )
            if report.rejected or dry_run:
                transaction.set_rollback(True)
            else:
                on_stage("writing")
                report.written = write_staged(kind, source_prefix=path.name)
                counts = {"read": report.read, **report.written, "repaired": len(report.repaired)}
                ImportRun.objects.create(
                    kind=kind_name,
                    file_name=path.name,
                    file_sha256=file_sha256(path),
                    source_crs=report.source_crs,
                    user=user,
                    counts=counts,
                )
                record_audit(
                    user=user,
                    action="import",
                    object_type=kind_name,
                    object_id=path.name[:64],
                    detail=counts,
                )
                on_stage("committing")  # at the end of the atomic block
    return report
