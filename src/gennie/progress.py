"""Progress of long work, in a terminal, in the log and in the run folder alike.

Every long loop of a stage (mapping and encoding windows, folding, predicting,
attributions, filter motifs) counts its work with :class:`Progress`:

- in a terminal (stderr is a TTY) it draws a tqdm bar;
- it logs a line at every tenth of the work (no more often than every
  :data:`LOG_MIN_S` seconds) and at the end (``fold: 40% (4000/10000 sequences,
  12 s)``), so a run written to a file (nohup, a cluster job, the GUI's worker) shows
  how far it is, in ``gennie.log`` and on stderr alike; work of unknown size logs every
  :data:`LOG_EVERY_S` seconds;
- inside a run folder (see :func:`report_to`, which :func:`gennie.runs.run_folder`
  enters) it keeps ``progress.json`` up to date, at most once a second: the step, the
  count done and the total, which the GUI shows as a progress bar.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from tqdm.auto import tqdm

PROGRESS_FILE = "progress.json"
"""The current step of a running stage, in its run folder."""

LOG_EVERY_S = 30.0
"""Seconds between log lines of work whose size is not known."""

LOG_MIN_S = 5.0
"""Fewest seconds between two log lines of one step (quick work logs only its end)."""

WRITE_EVERY_S = 1.0
"""Seconds between writes of :data:`PROGRESS_FILE`."""

log = logging.getLogger("gennie.progress")

_sink: ContextVar[Path | None] = ContextVar("gennie_progress_sink", default=None)

T = TypeVar("T")


@contextlib.contextmanager
def report_to(run_dir: Path) -> Iterator[None]:
    """Keep ``run_dir/progress.json`` up to date while inside (the run of a stage)."""
    token = _sink.set(Path(run_dir) / PROGRESS_FILE)
    try:
        yield
    finally:
        _sink.reset(token)


def read_progress(run_dir: Path) -> dict[str, Any] | None:
    """The last progress written in a run folder (``step``, ``done``, ``total``), or
    ``None`` when there is none or it cannot be read."""
    try:
        data = json.loads((Path(run_dir) / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "step" in data else None


def _write(path: Path, data: dict[str, Any]) -> None:
    """Replace the progress file in one step (a reader never sees half of it)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(OSError):
        partial.write_text(json.dumps(data))
        os.replace(partial, path)


def plural(unit: str) -> str:
    """``samples``, ``classes``, ``batches``."""
    return unit + ("es" if unit.endswith(("s", "sh", "ch", "x")) else "s")


class Progress:
    """Counts one step of work (see the module docstring).

    Args:
        total: How much work there is (``None``: unknown).
        step: What is being done, e.g. ``"fold"``; names the bar, the log lines and the
            step shown in the GUI.
        unit: What is counted, e.g. ``"sequence"`` (plural with an ``s`` in the lines).
        quiet: Draw no bar and log no lines (small work), but still keep the run
            folder's progress file.
    """

    def __init__(
        self, total: int | None, step: str, unit: str = "item", quiet: bool = False
    ) -> None:
        self.total = int(total) if total is not None else None
        self.step = step
        self.unit = unit
        self.quiet = quiet
        self.done = 0
        self.started = time.monotonic()
        self._logged_tenth = 0
        self._logged_at = self.started
        self._written_at = 0.0
        self._sink = _sink.get()
        terminal = sys.stderr.isatty() and not quiet
        self._bar = tqdm(total=self.total, desc=step, unit=unit, leave=False) if terminal else None
        self._write()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(finished=exc[0] is None)

    def line(self) -> str:
        """The progress line, e.g. ``fold: 40% (4000/10000 sequences, 12 s)``."""
        seconds = time.monotonic() - self.started
        if self.total:
            share = f"{self.done / self.total:.0%} ({self.done}/{self.total}"
        else:
            share = f"{self.done} done ({self.done}"
        return f"{self.step}: {share} {plural(self.unit)}, {seconds:.0f} s)"

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done."""
        self.done += int(n)
        if self._bar is not None:
            self._bar.update(n)
        now = time.monotonic()
        if not self.quiet:
            if self.total:
                tenth = min(10, self.done * 10 // self.total)
                due = now - self._logged_at >= LOG_MIN_S
                if tenth > self._logged_tenth and self.done < self.total and due:
                    self._logged_tenth = tenth
                    self._logged_at = now
                    log.info(self.line())
            elif now - self._logged_at >= LOG_EVERY_S:
                self._logged_at = now
                log.info(self.line())
        if now - self._written_at >= WRITE_EVERY_S:
            self._write()

    def _write(self) -> None:
        if self._sink is None:
            return
        self._written_at = time.monotonic()
        _write(self._sink, {"step": self.step, "done": self.done, "total": self.total})

    def close(self, finished: bool = True) -> None:
        """End the step: the bar goes, a last line is logged when the work finished."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if finished and not self.quiet:
            log.info(self.line())
        self._write()


def track(
    items: Iterable[T], total: int | None, step: str, unit: str = "item", quiet: bool = False
) -> Iterator[T]:
    """Yield ``items``, counting one unit of :class:`Progress` per item."""
    with Progress(total, step, unit, quiet=quiet) as progress:
        for item in items:
            yield item
            progress.update(1)
