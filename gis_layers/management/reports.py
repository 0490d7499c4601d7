"""What the report commands (landuse_report, shelter_coverage, space_redistribution) share:
``--format json|csv|html --output PATH`` (DESIGN.md §3) and writing the result."""

import argparse
import os
import pathlib

from django.core.management.base import CommandError

FORMATS = ["json", "csv", "html"]


def report_path(text: str) -> pathlib.Path:
    """``--output`` checked as the options are read: a report can take minutes to compute,
    and a path it cannot be written to should not be found out only after."""
    path = pathlib.Path(text)
    folder = path.parent
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; give the path of a file in it")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"no folder {folder} to write {path.name} into")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{path} may not be written (permissions)")
    return path


def add_report_arguments(parser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="json")
    parser.add_argument(
        "--output", type=report_path, help="file to write (default: standard output)"
    )


def write_report(stdout, text: str, output: pathlib.Path | None) -> None:
    """The report into ``output``, saying so, or onto standard output."""
    if not output:
        stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:  # a full disk, a folder removed meanwhile
        raise CommandError(f"could not write the report to {output}: {error.strerror}") from None
    stdout.write(f"written: {output}")
