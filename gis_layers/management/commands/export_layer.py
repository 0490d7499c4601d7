import argparse
import datetime
import pathlib

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, no_translations

from config.terminal import progress_bar
from gis_layers.exports import (
    ACCEPTED_SUFFIXES,
    DEFAULT_CHUNK,
    KIND_NAMES,
    ExportRefusal,
    export_layer,
)


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number


class Command(BaseCommand):
    help = (
        "Export a layer with the column names import_layer recognises, geometry in EPSG:4490. "
        f"The format is taken from PATH's suffix: {ACCEPTED_SUFFIXES} (CSV with a wkt column). "
        "Parcels, buildings and shelters are those in force on --as-of (default: today); "
        "shelters are those --user may see (without it: public ones only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KIND_NAMES)
        parser.add_argument("path", type=pathlib.Path)
        parser.add_argument(
            "--as-of", type=_date, help="YYYY-MM-DD: rows in force on that day (default: today)"
        )
        parser.add_argument(
            "--user",
            help="export as this user: their view permission and shelter clearance apply",
        )
        parser.add_argument(
            "--chunk-size",
            type=_positive,
            default=DEFAULT_CHUNK,
            help=f"rows read and written at a time (default: {DEFAULT_CHUNK})",
        )

    @no_translations  # the command speaks English, whatever the site's language
    def handle(self, *args, kind, path, as_of, user, chunk_size, **options):
        exporter = None
        if user is not None:
            exporter = get_user_model().objects.filter(username=user).first()
            if exporter is None:
                raise CommandError(f"no user named {user!r}")
        bar = progress_bar(
            self.stderr, unit="feature", unit_scale=True, desc=f"export {kind}", disable=None
        )
        try:
            result = export_layer(
                kind=kind,
                path=path,
                as_of=as_of,
                user=exporter,
                chunk_size=chunk_size,
                on_total=lambda total: setattr(bar, "total", total),
                on_progress=bar.update,
            )
        except (ExportRefusal, PermissionDenied) as refusal:
            raise CommandError(f"nothing exported: {refusal}") from refusal
        except KeyboardInterrupt as interrupt:
            raise CommandError("interrupted: nothing exported") from interrupt
        finally:
            bar.close()
        in_force = f" in force on {result.as_of.isoformat()}" if result.as_of else ""
        crs = f"CRS {result.crs}" if result.format.has_crs else f"coordinates in {result.crs}"
        self.stdout.write(
            f"{result.path}: {result.rows} {kind}{in_force}, {result.format.label}, {crs}"
        )
        self.stdout.write(f"  columns: {', '.join(result.columns)}")
        for note in result.notes:
            self.stdout.write(f"  note: {note}")
