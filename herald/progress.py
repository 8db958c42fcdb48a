"""Progress of long steps: a small text bar for the CLI, and a sink that deep steps (a dbt build inside a
preparation inside a workflow activity) report to without every caller passing a callback down."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

# (label, done, total): the signature of ProgressBar and of `herald run`'s progress log lines.
ProgressSink = Callable[[str, int, int], None]
_SINK: ContextVar[ProgressSink | None] = ContextVar("herald_progress_sink", default=None)


@contextmanager
def reporting_to(sink: ProgressSink) -> Iterator[None]:
    """Send the progress of the steps run inside this block (in this thread) to ``sink``."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)


def report(label: str, done: int, total: int) -> None:
    """Tell the current sink, if any, how far a step has come."""
    sink = _SINK.get()
    if sink is not None:
        sink(label, done, total)


class ProgressBar:
    """Redraws one line on a terminal; prints a line per 10 % when the stream is not a terminal."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self._stream = stream or sys.stderr
        self._width = width
        self._started = time.monotonic()
        self._last_decile: dict[str, int] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        total = max(total, 1)
        share = min(done / total, 1.0)
        elapsed = time.monotonic() - self._started
        if self._stream.isatty():
            filled = int(share * self._width)
            bar = "█" * filled + "·" * (self._width - filled)
            self._stream.write(f"\r{label:<22} {bar} {share:6.1%}  {elapsed:6.1f}s")
            if done >= total:
                self._stream.write("\n")
        else:
            decile = int(share * 10)
            if decile != self._last_decile.get(label):
                self._last_decile[label] = decile
                self._stream.write(f"{label}: {share:.0%} ({done:,}/{total:,}) {elapsed:.1f}s\n")
        self._stream.flush()
