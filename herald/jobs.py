"""Background jobs: the app (or the API) starts a command detached from itself, and a job file reports it.

The app never builds, prepares or runs a workflow inside its own process (a dbt build holds the build lock for
seconds to minutes, a send for longer); it starts a process of its own, which keeps a record up to date:

    <folder>/<name>.json   the job: a frozen dataclass as JSON, replaced atomically
    <folder>/<name>.log    what the process printed
    <folder>/<name>.lock   serializes the read-modify-writes of the record (the starter adds the process id
                           while the process may already report)

A job recorded as running whose process is gone did not finish: readers call it lost. The kinds of job
(``herald.audiences.jobs``, ``herald.campaigns.jobs``, ``orchestration.background``) each define their record
and what their process does; the machinery is this module's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from herald import clock
from herald.files import write_atomic
from herald.project import Project

# A job is recorded before its process starts and gets the process id right after; one still without a
# process id after this long was never started (the starter died in between).
NEVER_STARTED = dt.timedelta(seconds=60)

# Processes this process started: polling them reaps them, so a finished one does not linger as a zombie
# that `os.kill(pid, 0)` would still call alive.
_children: dict[int, subprocess.Popen[bytes]] = {}


class JobRecord(Protocol):
    """What every job record has (each kind adds its own outcome fields)."""

    @property
    def state(self) -> str: ...

    @property
    def started_at(self) -> str: ...

    @property
    def pid(self) -> int | None: ...


J = TypeVar("J", bound=JobRecord)


def now() -> str:
    """A job's time stamps: Herald's clock, to the second."""
    return clock.now().isoformat(timespec="seconds")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, finished but not yet reaped, does not)."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no /proc (not Linux): the signal check is all there is
    # The state follows the command name in parentheses, which may itself contain spaces or parentheses.
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def started(job: JobRecord) -> dt.datetime | None:
    """When the job was recorded, as an aware time (None if the record's time does not parse)."""
    try:
        when = dt.datetime.fromisoformat(job.started_at)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def is_running(job: JobRecord) -> bool:
    """Recorded as running, and its process alive (or recorded a moment ago and about to start)."""
    if job.state != "running":
        return False
    if job.pid is None:
        when = started(job)
        return when is not None and clock.now() - when < NEVER_STARTED
    return process_alive(job.pid)


def is_lost(job: JobRecord) -> bool:
    """Recorded as running, but its process stopped (or never started) without reporting."""
    return job.state == "running" and not is_running(job)


class JobStatus:
    """Mixed into each kind's record (a frozen dataclass with ``state``, ``started_at`` and ``pid``): where the
    job stands, read from the record and the process table."""

    __slots__ = ()
    state: str
    started_at: str
    pid: int | None

    @property
    def started(self) -> dt.datetime | None:
        return started(self)

    @property
    def is_running(self) -> bool:
        """Recorded as running, and its process alive (or recorded a moment ago and about to start)."""
        return is_running(self)

    @property
    def is_lost(self) -> bool:
        """Recorded as running, but its process stopped (or never started) without reporting."""
        return is_lost(self)


class JobFile(Generic[J]):
    """The record, log and lock of one job (one workflow, one delivery, one audience)."""

    def __init__(self, path: Path, record: type[J]) -> None:
        self.path = path
        self.record = record

    @property
    def log_path(self) -> Path:
        return self.path.with_suffix(".log")

    @contextmanager
    def locked(self) -> Iterator[None]:
        lock = self.path.with_suffix(".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def read(self) -> J | None:
        """The recorded job, or None when there is none (or the file is not a record of this kind)."""
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
            return self.record(**data)
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def write(self, job: J, *, only_if: J | None = None) -> bool:
        """Record ``job``; with ``only_if``, only while the recorded job still equals it. True if written."""
        with self.locked():
            if only_if is not None and self.read() != only_if:
                return False
            write_atomic(self.path, json.dumps(dataclasses.asdict(job)))  # type: ignore[call-overload]
        return True

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines the job's process printed ("" when it printed nothing yet)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(
        self,
        project: Project,
        job: J,
        argv: Sequence[str],
        *,
        failed: Callable[[J, str], J],
        running: Callable[[J], bool] = is_running,
        busy: Callable[[J], BaseException] | None = None,
    ) -> J:
        """Record ``job``, then start ``python ARGV...`` detached (it survives the caller's restart) with its
        output in the log; returns the job as recorded with the process id.

        With ``busy``, refused while a recorded job still runs: ``busy(current)`` is the error raised (the
        caller's own error type). ``failed(job, why)`` is the record
        of a process that could not start."""
        with self.locked():
            current = self.read()
            if busy is not None and current is not None and running(current):
                raise busy(current)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(dataclasses.asdict(job)))  # type: ignore[call-overload]
        env = dict(os.environ, HERALD_HOME=str(project.root), HERALD_WAREHOUSE_DIR=str(project.warehouse_dir))
        try:
            with open(self.log_path, "w", encoding="utf-8") as out:
                proc = subprocess.Popen(
                    [sys.executable, *argv],
                    cwd=project.root,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # survives the app's rerun or restart
                )
        except OSError as exc:
            record = failed(job, f"could not start: {exc}")
            self.write(record)
            return record
        _children[proc.pid] = proc
        with_pid = dataclasses.replace(job, pid=proc.pid)  # type: ignore[type-var]
        # Unless the process already reported: a fast failure must not be overwritten by a late "running".
        self.write(with_pid, only_if=job)
        return with_pid
