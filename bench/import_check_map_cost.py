"""What the import check's map costs: dry runs of one file of parcels with the map and
without it, alternating, with a timer around the step that reads the drawn rows back from
the staging table (``PreviewCollector.preview``).

    DATABASE_URL=postgis://landledger:landledger@127.0.0.1:5432/landledger_bench_import \\
        DEBUG=0 SECRET_KEY=... .venv/bin/python bench/import_check_map_cost.py \\
        var/bench-import/parcels-1000000-seed1.gpkg --repeats 3

A dry run writes nothing, so the database only needs the register's tables (the import
benchmark's database, or any copy of the template). Prints the medians.
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=pathlib.Path, help="a file of parcels")
    parser.add_argument("--repeats", type=int, default=3, help="dry runs of each kind")
    arguments = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from gis_layers.imports import preview
    from gis_layers.imports.pipeline import run_import

    drawing_s: list[float] = []
    collect = preview.PreviewCollector.preview

    def timed(collector, findings):
        started = time.perf_counter()
        try:
            return collect(collector, findings)
        finally:
            drawing_s.append(time.perf_counter() - started)

    preview.PreviewCollector.preview = timed
    runs_s: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(arguments.repeats):
        for with_preview in (False, True):
            started = time.perf_counter()
            run_import(
                kind_name="parcels", path=arguments.file, dry_run=True, with_preview=with_preview
            )
            runs_s[with_preview].append(time.perf_counter() - started)
            print(
                f"dry run, map {'on' if with_preview else 'off'}: {runs_s[with_preview][-1]:.1f} s"
            )

    def summary(times: list[float]) -> str:
        runs = ", ".join(f"{value:.2f}" for value in times)
        return f"median {statistics.median(times):.2f} s ({runs})"

    print(f"without the map: {summary(runs_s[False])}")
    print(f"with the map:    {summary(runs_s[True])}")
    print(f"drawing step:    {summary(drawing_s)}")


if __name__ == "__main__":
    main()
