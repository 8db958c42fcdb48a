"""Audience builds in the background: the app starts them, a separate process runs them, a file reports them.

The app never builds inside its own process (a dbt build takes seconds to minutes and holds the build lock);
it starts ``herald audience build NAME`` detached and reads the job file that command keeps up to date:

    warehouse/jobs/audience-<name>.json   {"state": "running" | "succeeded" | "failed", ...}
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from herald import clock
from herald.audiences.library import AudienceLibrary
from herald.project import Project

JobState = Literal["running", "succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class AudienceJob:
    """The last build started for one audience."""

    name: str
    state: JobState
    started_at: str
    finished_at: str | None = None
    build_id: str | None = None
    message: str = ""
    pid: int | None = None

    @property
    def is_running(self) -> bool:
        if self.state != "running":
            return False
        if self.pid is None:
            return True
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False  # the process died without reporting: not running any more
        # A zombie (state Z) has exited but not been reaped by its parent yet.
        return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def job_path(project: Project, name: str) -> Path:
    AudienceLibrary.of(project).path(name)  # validates the name
    return project.warehouse_dir / "jobs" / f"audience-{name}.json"


def read_job(project: Project, name: str) -> AudienceJob | None:
    path = job_path(project, name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return AudienceJob(**data)


@contextmanager
def _job_lock(project: Project, name: str) -> Iterator[None]:
    # The starter's pid update and the build's own reports must not interleave.
    path = job_path(project, name).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_job(project: Project, job: AudienceJob, *, only_if: AudienceJob | None = None) -> bool:
    """Record ``job``; with ``only_if``, only when the recorded job still equals it. True if written."""
    path = job_path(project, job.name)
    with _job_lock(project, job.name):
        if only_if is not None and read_job(project, job.name) != only_if:
            return False
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        tmp.write_text(json.dumps(dataclasses.asdict(job)), encoding="utf-8")
        os.replace(tmp, path)
    return True


def now() -> str:
    return clock.now().isoformat(timespec="seconds")


def start_build(project: Project, name: str) -> AudienceJob:
    """Start ``herald audience build NAME`` detached from the caller; returns the job as first recorded."""
    log = job_path(project, name).with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    # Recorded before the process starts, so the process's own reports always come after this one.
    job = AudienceJob(name=name, state="running", started_at=now())
    write_job(project, job)
    env = dict(os.environ, HERALD_HOME=str(project.root), HERALD_WAREHOUSE_DIR=str(project.warehouse_dir))
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "audience", "build", name],
            cwd=project.root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the app's rerun or restart
        )
    started = dataclasses.replace(job, pid=proc.pid)
    # Record the pid unless the process already reported (a fast failure must not be overwritten).
    write_job(project, started, only_if=job)
    return started
