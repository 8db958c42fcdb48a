"""Audience builds in the background (the machinery is ``herald.jobs``).

The app starts ``herald audience build NAME`` detached and reads the job file that command keeps up to date:

    warehouse/jobs/audience-<name>.json   {"state": "running" | "succeeded" | "failed", ...}
    warehouse/jobs/audience-<name>.log    the build's output
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from herald.audiences.library import AudienceLibrary
from herald.jobs import JobFile, JobStatus, now
from herald.project import Project

__all__ = ["AudienceJob", "job_path", "now", "read_job", "start_build", "write_job"]

JobState = Literal["running", "succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class AudienceJob(JobStatus):
    """The last build started for one audience; equal when every field is."""

    name: str
    state: JobState
    started_at: str
    finished_at: str | None = None
    build_id: str | None = None
    message: str = ""
    pid: int | None = None


def job_file(project: Project, name: str) -> JobFile[AudienceJob]:
    AudienceLibrary.of(project).path(name)  # validates the name
    return JobFile(project.warehouse_dir / "jobs" / f"audience-{name}.json", AudienceJob)


def job_path(project: Project, name: str) -> Path:
    return job_file(project, name).path


def read_job(project: Project, name: str) -> AudienceJob | None:
    return job_file(project, name).read()


def write_job(project: Project, job: AudienceJob, *, only_if: AudienceJob | None = None) -> bool:
    """Record ``job``; with ``only_if``, only when the recorded job still equals it. True if written."""
    return job_file(project, job.name).write(job, only_if=only_if)


def start_build(project: Project, name: str) -> AudienceJob:
    """Start ``herald audience build NAME`` detached from the caller; returns the job as first recorded."""
    return job_file(project, name).start(
        project,
        AudienceJob(name=name, state="running", started_at=now()),
        ["-m", "herald.cli", "audience", "build", name],
        failed=lambda job, why: dataclasses.replace(job, state="failed", finished_at=now(), message=why),
    )
