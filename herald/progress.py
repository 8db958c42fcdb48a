"""A small text progress bar for long CLI steps (generation, imports); library code only takes callbacks."""

from __future__ import annotations

import sys
import time
from typing import TextIO


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
