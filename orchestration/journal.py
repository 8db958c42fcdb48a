"""Run state and history as plain files, so a run killed anywhere resumes and a page reads history without a lock.

    warehouse/automation/
    ├── runs/<workflow>/<run key>.jsonl     the run's journal: one fsynced JSON line per event, append-only
    ├── logs/<workflow>/<run key>.jsonl     the run's structured log (what `herald run` printed)
    ├── overrides.jsonl                     breaker overrides (who, why) and the runs that used them
├── paused/<workflow>.json              an operator's pause (who, why, when); deleting it resumes
    └── scheduler.lock                      held by the one `herald run` working (flock: released on death)

A run key is the scheduled time in UTC (``20261203T013000Z``), or ``file-<name>`` for a file trigger. An
activity is done once its ``finished`` line is on disk; a resumed run skips it and follows the branch it took.
Nothing here is a DuckDB file: a build or a reader is never blocked by the scheduler, nor the reverse.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from herald import clock
from herald.files import write_atomic
from herald.project import Project
from orchestration.errors import SchedulerBusy

Event = Literal[
    "run_started", "run_finished", "started", "checkpoint", "finished", "failed", "blocked", "waiting", "override"
]
RunStatus = Literal["running", "succeeded", "failed", "blocked", "waiting"]


def automation_dir(project: Project) -> Path:
    return project.warehouse_dir / "automation"


def run_key(scheduled: dt.datetime) -> str:
    return scheduled.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def utc_now() -> str:
    return clock.now().isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One event of a run; ``activity`` is empty for the run's own events."""

    event: Event
    activity: str = ""
    at: str = field(default_factory=utc_now)
    data: Mapping[str, Any] = field(default_factory=dict)


class RunJournal:
    """The journal of one workflow run (workflow, run key). Appends are fsynced before they return."""

    def __init__(self, project: Project, workflow: str, key: str) -> None:
        self.workflow = workflow
        self.key = key
        self.path = automation_dir(project) / "runs" / workflow / f"{key}.jsonl"
        self.lines: list[JournalLine] = read_lines(self.path)

    def append(self, event: Event, activity: str = "", **data: Any) -> JournalLine:
        line = JournalLine(event, activity, data=data)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(
            {"event": line.event, "activity": line.activity, "at": line.at, "data": dict(line.data)}, default=str
        )
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (payload + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self.lines.append(line)
        return line

    def finished(self, activity: str) -> JournalLine | None:
        return next((x for x in reversed(self.lines) if x.activity == activity and x.event == "finished"), None)

    def checkpoint(self, activity: str, name: str) -> Any:
        """The latest value an activity recorded under ``name`` (e.g. the delivery run it prepared), or None."""
        for x in reversed(self.lines):
            if x.activity == activity and x.event == "checkpoint" and name in x.data:
                return x.data[name]
        return None

    def first(self, activity: str, event: Event) -> JournalLine | None:
        return next((x for x in self.lines if x.activity == activity and x.event == event), None)

    @property
    def status(self) -> RunStatus:
        for x in reversed(self.lines):
            if x.event == "run_finished":
                return x.data.get("status", "succeeded")  # type: ignore[no-any-return]
        return "running"

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")


def read_lines(path: Path) -> list[JournalLine]:
    """Every whole line of a journal; a line torn by a kill (no newline yet) is ignored."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    out = []
    for raw in data[: data.rfind(b"\n") + 1].splitlines():
        if raw.strip():
            d = json.loads(raw)
            out.append(JournalLine(d["event"], d.get("activity", ""), d["at"], d.get("data") or {}))
    return out


# ------------------------------------------------------------------------------------------- history (pages)


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """What one activity of one run did: status, start and end, and the counts it reported."""

    activity: str
    status: str  # finished / failed / blocked / waiting / running
    started_at: str | None
    finished_at: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RunRecord:
    workflow: str
    key: str
    status: RunStatus
    started_at: str | None
    finished_at: str | None
    activities: tuple[ActivityRecord, ...]
    log_path: Path


def run_history(project: Project, workflow: str) -> list[RunRecord]:
    """Every run of ``workflow``, newest first, read from the journals (no warehouse connection)."""
    folder = automation_dir(project) / "runs" / workflow
    out = []
    for path in sorted(folder.glob("*.jsonl"), reverse=True):
        journal = RunJournal(project, workflow, path.stem)
        acts: dict[str, dict[str, Any]] = {}
        for x in journal.lines:
            if not x.activity:
                continue
            a = acts.setdefault(x.activity, {"status": "running", "started": None, "finished": None, "data": {}})
            if x.event == "started" and a["started"] is None:
                a["started"] = x.at
            elif x.event in ("finished", "failed", "blocked", "waiting"):
                a["status"], a["finished"] = x.event, x.at
                a["data"] = {**a["data"], **x.data}
            elif x.event == "checkpoint":
                a["data"] = {**a["data"], **x.data}
        started = journal.first("", "run_started")
        ended = next((x for x in reversed(journal.lines) if x.event == "run_finished"), None)
        out.append(
            RunRecord(
                workflow,
                path.stem,
                journal.status,
                started.at if started else None,
                ended.at if ended else None,
                tuple(ActivityRecord(k, v["status"], v["started"], v["finished"], v["data"]) for k, v in acts.items()),
                log_path(project, workflow, path.stem),
            )
        )
    return out


def log_path(project: Project, workflow: str, key: str) -> Path:
    return automation_dir(project) / "logs" / workflow / f"{key}.jsonl"


# ------------------------------------------------------------------------------------------- pausing


@dataclass(frozen=True, slots=True)
class Pause:
    """An operator's pause of a workflow: `herald run` starts and resumes none of its runs until it is lifted."""

    workflow: str
    by: str
    reason: str
    at: str


def _pause_path(project: Project, workflow: str) -> Path:
    return automation_dir(project) / "paused" / f"{workflow}.json"


def pause_workflow(project: Project, workflow: str, *, by: str, reason: str = "") -> Pause:
    """Pause ``workflow`` (a run in progress finishes its current activity). Eager; the file appears atomically."""
    p = Pause(workflow, by, reason, utc_now())
    write_atomic(_pause_path(project, workflow), json.dumps({"by": p.by, "reason": p.reason, "at": p.at}))
    return p


def resume_workflow(project: Project, workflow: str) -> None:
    _pause_path(project, workflow).unlink(missing_ok=True)


def paused(project: Project, workflow: str) -> Pause | None:
    try:
        d = json.loads(_pause_path(project, workflow).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return Pause(workflow, str(d.get("by", "")), str(d.get("reason", "")), str(d.get("at", "")))


# ------------------------------------------------------------------------------------------- the lock


@contextmanager
def scheduler_lock(project: Project, *, wait: bool = False) -> Iterator[None]:
    """Hold the scheduler lock for the block; raises SchedulerBusy at once when another `herald run` holds it
    (unless ``wait``). The kernel releases it when the process dies, so a killed run never leaves it stale."""
    path = automation_dir(project) / "scheduler.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise SchedulerBusy(
                f"another `herald run` is working ({holder}); this one did nothing. "
                "Run again later, or pass --wait to queue behind it."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {utc_now()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
