import itertools
import pathlib
import time

from django.core.management.base import BaseCommand, CommandError, no_translations
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from tqdm import tqdm

from config.resilience import unavailability
from config.terminal import progress_bar
from gis_layers.imports.errors import ImportRefusal
from gis_layers.imports.pipeline import DEFAULT_CHUNK, read_mapping, run_import
from gis_layers.imports.schema import KINDS

SHOWN_FINDINGS = 25
# What the terminal says as each stage after reading begins: they are single statements, of
# which no progress can be shown, and at a million parcels they take about 90 s together.
STAGE_LINES = {
    "checking": "checking the rows against the register and each other...",
    "writing": "writing into the register...",
    "committing": "committing (the register's last checks run now)...",
}
REPORTS_DIRECTORY = pathlib.Path("var/import-reports")


def unused_report_base(directory: pathlib.Path, stem: str) -> pathlib.Path:
    """``directory/stem``, or ``stem-2``, ``stem-3``, ... when a report of that name exists:
    two imports of the same file in the same second (two registrars, a script) each keep
    their own report. The CSV is created here, exclusively, so that two processes cannot
    both take one name."""
    directory.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        base = directory / (stem if number == 1 else f"{stem}-{number}")
        try:
            base.with_suffix(".csv").open("x").close()
        except FileExistsError:
            continue
        return base
    raise AssertionError("itertools.count() never ends")


class Command(BaseCommand):
    help = (
        "Import a layer from GeoPackage, Shapefile (or zipped), GeoJSON, FlatGeobuf, OSM PBF, CSV "
        "(lon/lat or WKT columns) or GeoTIFF (population). Validates everything first, writes all "
        "or nothing, and exits non-zero when anything is rejected."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("path", type=pathlib.Path)
        parser.add_argument("--layer", help="layer of a multi-layer file (GeoPackage, OSM PBF)")
        parser.add_argument(
            "--crs", help="EPSG:NNNN, gcj02 or bd09, when the file has no CRS or a wrong one"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="validate and report; write nothing"
        )
        parser.add_argument(
            "--mapping", type=pathlib.Path, help='JSON file {"field": "column", ...}'
        )
        parser.add_argument(
            "--invalid",
            choices=["repair", "reject"],
            default="repair",
            help="what to do with invalid geometries (default: repair with make_valid)",
        )
        parser.add_argument(
            "--report",
            type=pathlib.Path,
            help="base path of the CSV and HTML report (default: var/import-reports/TIME-KIND-NAME)",
        )
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK)
        parser.add_argument(
            "--grid",
            type=float,
            metavar="METRES",
            help="population polygons: spread their persons onto square cells of this size by area",
        )

    def _stage_begins(self, bar: tqdm, stage: str, started: float) -> None:
        """After the rows are read, the bar is left with their count and rate, and each
        later stage gets a line of its own (in the text's own colour: it is no error)."""
        if stage in STAGE_LINES:
            bar.close()
            elapsed = tqdm.format_interval(time.monotonic() - started)
            self.stderr.write(f"{STAGE_LINES[stage]} (after {elapsed})", style_func=str)

    @no_translations  # the command speaks English, whatever the site's language
    def handle(
        self,
        *args,
        kind,
        path,
        layer,
        crs,
        dry_run,
        mapping,
        invalid,
        report,
        chunk_size,
        grid,
        **options,
    ):
        bar = progress_bar(
            self.stderr, unit="feature", unit_scale=True, desc=f"import {kind}", disable=None
        )
        started = time.monotonic()
        try:
            result = run_import(
                kind_name=kind,
                path=path,
                layer=layer,
                crs=crs,
                dry_run=dry_run,
                mapping=read_mapping(mapping),
                repair_invalid=invalid == "repair",
                chunk_size=chunk_size,
                grid_m=grid,
                with_preview=True,  # for the HTML report's map
                on_total=lambda total: setattr(bar, "total", total),
                on_progress=bar.update,
                on_stage=lambda stage: self._stage_begins(bar, stage, started),
            )
        except ImportRefusal as refusal:
            raise CommandError(f"refused, nothing written: {refusal}") from refusal
        except KeyboardInterrupt as interrupt:
            raise CommandError("interrupted: nothing written") from interrupt
        except (OperationalError, InterfaceError) as error:
            # The import is one transaction: a lost connection or a full disk rolls it back.
            reason = unavailability(error)
            raise CommandError(
                f"{reason.message if reason else error}: nothing written; run the import again"
            ) from error
        finally:
            bar.close()
        # No dot from the file's name in the report's: its suffixes would replace what follows.
        base = report or unused_report_base(
            REPORTS_DIRECTORY,
            f"{timezone.now():%Y%m%d-%H%M%S}-{kind}-{path.stem.replace('.', '_')}",
        )
        csv_path, html_path = result.write(base)
        self.stdout.write(result.summary())
        for row in result.rows()[:SHOWN_FINDINGS]:
            self.stdout.write(
                f"  row {row['row']}: {row['field']}: {row['action']}: {row['reason']}"
            )
        if len(result.findings) > SHOWN_FINDINGS:
            self.stdout.write(f"  ... {len(result.findings) - SHOWN_FINDINGS} more in the report")
        self.stdout.write(f"report: {csv_path} and {html_path}")
        if result.rejected:
            raise CommandError(
                f"{len({f.row for f in result.rejected})} row(s) rejected: nothing written"
            )
