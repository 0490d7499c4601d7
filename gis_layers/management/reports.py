"""What the report commands (landuse_report, shelter_coverage, space_redistribution) share:
``--format json|csv|html --output PATH`` (DESIGN.md §3) and writing the result."""

import pathlib

FORMATS = ["json", "csv", "html"]


def add_report_arguments(parser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="json")
    parser.add_argument(
        "--output", type=pathlib.Path, help="file to write (default: standard output)"
    )


def write_report(stdout, text: str, output: pathlib.Path | None) -> None:
    """The report into ``output``, saying so, or onto standard output."""
    if output:
        output.write_text(text, encoding="utf-8")
        stdout.write(f"written: {output}")
    else:
        stdout.write(text)
