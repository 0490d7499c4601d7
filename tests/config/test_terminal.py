"""The commands' progress bars: redrawn in place on a terminal, a line per update in a log."""

import io
import os

from django.core.management.base import BaseCommand, OutputWrapper

from config.terminal import progress_bar


def drawn(stream, count: int = 3) -> None:
    stderr = OutputWrapper(stream)
    stderr.style_func = BaseCommand().style.ERROR  # as a command sets it on a terminal
    with progress_bar(stderr, total=count, desc="work", mininterval=0, ncols=60) as bar:
        for _ in range(count):
            bar.update(1)


def everything_written(leader: int) -> str:
    """What the terminal's other side wrote before it closed: one read may return only part."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other side is closed and all it wrote has been read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks).decode()


def test_on_a_terminal_the_bar_is_redrawn_in_place_without_the_colour_of_errors():
    leader, follower = os.openpty()
    with os.fdopen(follower, "w", encoding="utf-8") as terminal:
        drawn(terminal)
    written = everything_written(leader)
    redraws = written.split("\r")
    assert any("3/3" in redraw for redraw in redraws)
    # One line in all (the last, left when the bar closes), and no escape sequence for red.
    assert written.count("\n") == 1 and "\x1b[31" not in written


def test_in_a_log_each_update_has_a_line_of_its_own():
    log = io.StringIO()
    drawn(log)
    lines = [line.strip("\r") for line in log.getvalue().splitlines() if line.strip("\r")]
    assert len(lines) >= 3 and "3/3" in lines[-1]
