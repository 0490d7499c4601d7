"""Writing a benchmark's figures into docs/benchmarks.md: each benchmark owns one section."""

import pathlib

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
