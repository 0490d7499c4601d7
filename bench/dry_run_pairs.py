"""Dry runs of one file of parcels done two ways, alternating, for the scripts that measure
what one part of an import costs (``import_check_map_cost.py``, ``import_progress_cost.py``).
A dry run writes nothing, so any database with the register's tables will do."""

import argparse
import os
import pathlib
import statistics
import sys
import time
from collections.abc import Callable

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]


def arguments_then_django(description: str) -> argparse.Namespace:
    """The scripts' arguments (the file, the repeats); then Django, set up for the database
    of ``DATABASE_URL``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("file", type=pathlib.Path, help="a file of parcels")
    parser.add_argument("--repeats", type=int, default=3, help="dry runs of each way")
    arguments = parser.parse_args()
    if str(REPOSITORY) not in sys.path:
        sys.path.insert(0, str(REPOSITORY))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    return arguments


def alternating(ways: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Each way's wall times, s: the ways one after the other, ``repeats`` times, so that a
    slow spell of the machine falls on both."""
    times: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(repeats):
        for way, run in ways.items():
            started = time.perf_counter()
            run()
            times[way].append(time.perf_counter() - started)
            print(f"dry run, {way}: {times[way][-1]:.1f} s")
    return times


def summary(times: list[float]) -> str:
    runs = ", ".join(f"{value:.2f}" for value in times)
    return f"median {statistics.median(times):.2f} s ({runs})"
