"""Audience builds in the background: the app starts them, a separate process runs them, a file reports them.

The app never builds inside its own process (a dbt build takes seconds to minutes and holds the build lock);
it starts ``herald audience build NAME`` detached and reads the job file that command keeps up to date:

    warehouse/jobs/audience-<name>.json   {"state": "running" | "succeeded" | "failed", ...}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False  # the process died without reporting: not running any more
        except PermissionError:
            return True
        return True


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


def write_job(project: Project, job: AudienceJob) -> None:
    path = job_path(project, job.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(dataclasses.asdict(job)), encoding="utf-8")
    os.replace(tmp, path)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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
    if read_job(project, name) == job:
        write_job(project, started)
    return started
