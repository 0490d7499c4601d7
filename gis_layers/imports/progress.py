"""How far a check or import has got, kept in a small JSON file for other requests to read:
the upload page asks for it while the request doing the work is still running, in another
thread or process of the server."""

import contextlib
import json
import logging
import os
import pathlib
import time
from dataclasses import asdict, dataclass, field

logger = logging.getLogger(__name__)

# Rows are counted a chunk at a time, so writes are rare anyway; this bounds them for small
# chunks. A new stage is always written at once.
WRITE_INTERVAL_S = 0.5


@dataclass
class ProgressState:
    stage: str = ""  # one of gis_layers.imports.pipeline.STAGES; empty before the first
    rows_read: int = 0
    rows_declared: int = 0  # what the file says it holds; 0 when it does not say
    stage_started: float = field(default_factory=time.time)  # seconds since the epoch

    @property
    def fraction_read(self) -> float | None:
        if not self.rows_declared:
            return None
        return min(1.0, self.rows_read / self.rows_declared)

    def rows_per_second(self, now: float) -> float | None:
        """The reading stage's rate so far."""
        elapsed = now - self.stage_started
        if self.stage != "reading" or not self.rows_read or elapsed <= 0:
            return None
        return self.rows_read / elapsed

    def seconds_left_reading(self, now: float) -> float | None:
        rate = self.rows_per_second(now)
        if rate is None or not self.rows_declared:
            return None
        return max(0.0, (self.rows_declared - self.rows_read) / rate)


class ProgressFile:
    """Records the callbacks of :func:`run_import` into ``path``, replaced whole at each write
    (a reader never sees half a file). :meth:`remove` when the work is over."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.state = ProgressState()
        self._written_at = 0.0

    def callbacks(self) -> dict:
        """The keyword arguments of :func:`run_import` that report to this file."""
        return {
            "on_total": self.on_total,
            "on_progress": self.on_progress,
            "on_stage": self.on_stage,
        }

    def on_total(self, rows: int) -> None:
        self.state.rows_declared = max(0, rows)

    def on_progress(self, rows: int) -> None:
        self.state.rows_read += rows
        if time.monotonic() - self._written_at >= WRITE_INTERVAL_S:
            self._write()

    def on_stage(self, stage: str) -> None:
        self.state.stage = stage
        self.state.stage_started = time.time()
        self._write()

    def _write(self) -> None:
        self._written_at = time.monotonic()
        partial = self.path.with_suffix(".partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(asdict(self.state)), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError:
            # A full disk, say: the page then shows no progress, but the work goes on.
            logger.warning("could not write the progress to %s", self.path, exc_info=True)

    def remove(self) -> None:
        for path in (self.path, self.path.with_suffix(".partial")):
            # Never written (or not writable): nothing to remove, and the work is done.
            with contextlib.suppress(OSError):
                path.unlink()

    @staticmethod
    def read(path: pathlib.Path) -> ProgressState | None:
        """The state last written to ``path``; ``None`` before the first write, after the
        work is over, or when it cannot be read (it is only ever news)."""
        with contextlib.suppress(OSError, ValueError, TypeError):
            return ProgressState(**json.loads(path.read_text(encoding="utf-8")))
        return None
