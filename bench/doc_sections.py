"""Writing a benchmark's figures into docs/benchmarks.md (each benchmark owns one section),
and describing the machine they came from."""

import os
import pathlib
import platform
import shlex

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def replace_section(section: str, *, heading: str, doc: pathlib.Path = DOC) -> None:
    """Replace the section that starts with ``heading`` (a line of its own), or append it;
    keep the rest. The file is read right before writing: another benchmark may have changed
    it meanwhile."""
    text = doc.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    start = next((index for index, line in enumerate(lines) if line.rstrip("\n") == heading), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next(
            (index for index in range(start + 1, len(lines)) if lines[index].startswith("## ")),
            len(lines),
        )
        following = "".join(lines[end:])
        text = "".join(lines[:start]) + section + ("\n" + following if following else "")
    doc.write_text(text, encoding="utf-8")


def load_average() -> str:
    """The 1-minute load average: how much else the shared machine was running."""
    with open("/proc/loadavg") as loadavg:
        return loadavg.read().split()[0]


def memory_gib() -> str:
    """The machine's memory, as ``23.5 GiB``."""
    with open("/proc/meminfo") as meminfo:
        kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    return f"{kib / 1024 / 1024:.1f} GiB"


def operating_system() -> str:
    """The distribution's name (``/etc/os-release``), else what Python knows of the platform."""
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as release:
            names = dict(line.rstrip("\n").split("=", 1) for line in release if "=" in line)
        if "PRETTY_NAME" in names:
            return names["PRETTY_NAME"].strip('"')
    return platform.platform()


# Options that only say where a run's output goes: a path of one machine, no part of what
# was measured. Each takes a value, but --no-doc.
OUTPUT_OPTIONS = {"--summary": True, "--no-doc": False}


def recorded_command(script: str, arguments: list[str]) -> str:
    """The command line of ``script`` as the doc records it: its ``arguments`` without the
    output options (:data:`OUTPUT_OPTIONS`)."""
    kept, skip_value = [], False
    for argument in arguments:
        name = argument.split("=", 1)[0]
        if skip_value:
            skip_value = False
        elif name in OUTPUT_OPTIONS:
            skip_value = OUTPUT_OPTIONS[name] and "=" not in argument
        else:
            kept.append(argument)
    return f".venv/bin/python {script} " + shlex.join(kept)
