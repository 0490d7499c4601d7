"""What the upload page's progress costs: dry runs of one file of parcels as the command runs
them (chunks of ``DEFAULT_CHUNK`` rows, no progress kept) and as the page does (chunks of
``PAGE_CHUNK`` rows, the progress written to a file for the page to ask for), alternating.

    DATABASE_URL=postgis://landledger:landledger@127.0.0.1:5432/landledger \\
        DEBUG=0 SECRET_KEY=... .venv/bin/python bench/import_progress_cost.py \\
        var/bench-import/parcels-300000-seed1.gpkg --repeats 3

A dry run writes nothing, so any database with the register's tables will do. Prints the
medians and their ratio.
"""

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
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
    runs_s: dict[str, list[float]] = {"command": [], "page": []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(arguments.repeats):
            for way in runs_s:
                progress = {}
                if way == "page":
                    recorder = ProgressFile(pathlib.Path(folder) / "progress.json")
                    progress = {
                        "on_total": recorder.on_total,
                        "on_progress": recorder.on_progress,
                        "on_stage": recorder.on_stage,
                    }
                started = time.perf_counter()
                run_import(
                    kind_name="parcels",
                    path=arguments.file,
                    dry_run=True,
                    chunk_size=PAGE_CHUNK if way == "page" else DEFAULT_CHUNK,
                    **progress,
                )
                runs_s[way].append(time.perf_counter() - started)
                print(f"dry run as the {way}: {runs_s[way][-1]:.1f} s")

    def summary(times: list[float]) -> str:
        runs = ", ".join(f"{value:.2f}" for value in times)
        return f"median {statistics.median(times):.2f} s ({runs})"

    print(
        f"as the command (chunks of {DEFAULT_CHUNK:,}, no progress): {summary(runs_s['command'])}"
    )
    print(f"as the page (chunks of {PAGE_CHUNK:,}, progress kept):    {summary(runs_s['page'])}")
    ratio = statistics.median(runs_s["page"]) / statistics.median(runs_s["command"])
    print(
        f"page / command: {ratio:.3f}; progress file written {writes / arguments.repeats:.0f} times a run"
    )


if __name__ == "__main__":
    main()
