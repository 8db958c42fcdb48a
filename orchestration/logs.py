"""Structured logs: one JSON object per line on stdout (for cron mail, Airflow and Dagster), and a copy in the
run's log file (for the run-history page).

    {"at": "2026-12-03T01:30:02.117Z", "level": "info", "event": "activity_finished", "workflow": "nightly",
     "run": "20261203T013000Z", "activity": "send", "seconds": 41.2, "sent": 1830}
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from orchestration.journal import utc_now


class RunLog:
    """Writes log lines to ``stream`` and, once a run is known, to its log file."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.file: Path | None = None
        self.context: dict[str, Any] = {}
        self._last_progress = 0.0

    def bind(self, file: Path | None, **context: Any) -> None:
        self.file = file
        self.context = context
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        line = json.dumps({"at": utc_now(), "level": level, "event": event, **self.context, **fields}, default=str)
        self.stream.write(line + "\n")
        self.stream.flush()
        if self.file is not None:
            with open(self.file, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def progress(self, activity: str, done: int, total: int, **fields: Any) -> None:
        """A progress line at most every two seconds, and always the last one."""
        now = time.monotonic()
        if done < total and now - self._last_progress < 2.0:
            return
        self._last_progress = now
        self("progress", activity=activity, done=done, total=total, **fields)
