"""What the import check's map costs: dry runs of one file of parcels with the map and
without it, alternating, with a timer around the step that reads the drawn rows back from
the staging table (``PreviewCollector.preview``).

    DATABASE_URL=postgis://landledger:landledger@127.0.0.1:5432/landledger_bench_import \\
        DEBUG=0 SECRET_KEY=... .venv/bin/python bench/import_check_map_cost.py \\
        var/bench-import/parcels-1000000-seed1.gpkg --repeats 3

A dry run writes nothing, so the database only needs the register's tables (the import
benchmark's database, or any copy of the template). Prints the medians.
"""

import time

from dry_run_pairs import alternating, arguments_then_django, summary


def main() -> None:
    arguments = arguments_then_django(__doc__.splitlines()[0])
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

    def dry_run(with_preview: bool):
        return lambda: run_import(
            kind_name="parcels", path=arguments.file, dry_run=True, with_preview=with_preview
        )

    runs_s = alternating(
        {"map off": dry_run(False), "map on": dry_run(True)}, repeats=arguments.repeats
    )
    print(f"without the map: {summary(runs_s['map off'])}")
    print(f"with the map:    {summary(runs_s['map on'])}")
    print(f"drawing step:    {summary(drawing_s)}")


if __name__ == "__main__":
    main()
