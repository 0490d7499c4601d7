"""What the upload page's progress costs: dry runs of one file of parcels as the command runs
them (chunks of ``DEFAULT_CHUNK`` rows, no progress kept) and as the page does (chunks of
``PAGE_CHUNK`` rows, the progress written to a file for the page to ask for), alternating.

    DATABASE_URL=postgis://landledger:landledger@127.0.0.1:5432/landledger \\
        DEBUG=0 SECRET_KEY=... .venv/bin/python bench/import_progress_cost.py \\
        var/bench-import/parcels-300000-seed1.gpkg --repeats 3

A dry run writes nothing, so any database with the register's tables will do. Prints the
medians and their ratio.
"""

import pathlib
import statistics
import tempfile

from dry_run_pairs import alternating, arguments_then_django, summary


def main() -> None:
    arguments = arguments_then_django(__doc__.splitlines()[0])
    from gis_layers.import_views import PAGE_CHUNK
    from gis_layers.imports.pipeline import DEFAULT_CHUNK, run_import
    from gis_layers.imports.progress import ProgressFile

    writes = 0
    write = ProgressFile._write

    def counted_write(recorder):
        nonlocal writes
        writes += 1
        write(recorder)

    ProgressFile._write = counted_write

    def as_the_command():
        run_import(kind_name="parcels", path=arguments.file, dry_run=True)

    with tempfile.TemporaryDirectory() as folder:

        def as_the_page():
            recorder = ProgressFile(pathlib.Path(folder) / "progress.json")
            run_import(
                kind_name="parcels",
                path=arguments.file,
                dry_run=True,
                chunk_size=PAGE_CHUNK,
                **recorder.callbacks(),
            )

        runs_s = alternating(
            {"as the command": as_the_command, "as the page": as_the_page},
            repeats=arguments.repeats,
        )
    command, page = runs_s["as the command"], runs_s["as the page"]
    print(f"as the command (chunks of {DEFAULT_CHUNK:,}, no progress): {summary(command)}")
    print(f"as the page (chunks of {PAGE_CHUNK:,}, progress kept):    {summary(page)}")
    ratio = statistics.median(page) / statistics.median(command)
    print(
        f"page / command: {ratio:.3f}; progress file written {writes / arguments.repeats:.0f} times a run"
    )


if __name__ == "__main__":
    main()
