"""The management commands' progress bars."""

from django.core.management.base import OutputWrapper
from tqdm import tqdm


def progress_bar(stderr: OutputWrapper, **options) -> tqdm:
    """A tqdm bar on a command's error stream. On a terminal it is drawn on the stream itself,
    redrawn in place: Django's wrapper around the stream would end each redraw with a new
    line, in the colour of errors. Elsewhere (a log, a pipe) it writes through the wrapper,
    which gives each update a line of its own."""
    return tqdm(file=stderr._out if stderr.isatty() else stderr, **options)
