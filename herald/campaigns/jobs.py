"""Delivery preparations in the background (the machinery is ``herald.jobs``).

The app starts ``python -m herald.campaigns.jobs DELIVERY``, which does what ``herald prepare DELIVERY`` does and
keeps its job file up to date:

    warehouse/jobs/prepare-<delivery>.json   {"state": "running" | "succeeded" | "failed", ...}
    warehouse/jobs/prepare-<delivery>.log    the preparation's output (the report, or dbt's failure lines)
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from herald.campaigns.plans import ID_PATTERN
from herald.campaigns.prepare import prepare
from herald.campaigns.report import format_report, run_report
from herald.errors import CampaignError, HeraldError
from herald.jobs import JobFile, JobStatus, now, process_alive
from herald.project import Project, find_project

__all__ = ["PrepareJob", "job_path", "log_path", "main", "process_alive", "read_job", "run_job", "start_prepare"]

JobState = Literal["running", "succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class PrepareJob(JobStatus):
    """The last preparation started for one delivery; equal when every field is."""

    delivery_id: str
    state: JobState
    started_at: str
    finished_at: str | None = None
    run_id: str | None = None
    blocked: bool = False  # the run was prepared but a data control rule failed
    message: str = ""
    pid: int | None = None


def job_file(project: Project, delivery_id: str) -> JobFile[PrepareJob]:
    if not ID_PATTERN.match(delivery_id):
        raise CampaignError(f"{delivery_id!r} is not a delivery id (lower-case letters, digits, underscores)")
    return JobFile(project.warehouse_dir / "jobs" / f"prepare-{delivery_id}.json", PrepareJob)


def job_path(project: Project, delivery_id: str) -> Path:
    return job_file(project, delivery_id).path


def log_path(project: Project, delivery_id: str) -> Path:
    return job_file(project, delivery_id).log_path


def read_job(project: Project, delivery_id: str) -> PrepareJob | None:
    return job_file(project, delivery_id).read()


def write_job(project: Project, job: PrepareJob) -> None:
    """Replace the job file atomically: readers see the old record or the new one, never half of one."""
    job_file(project, job.delivery_id).write(job)


def start_prepare(project: Project, delivery_id: str) -> PrepareJob:
    """Start preparing ``delivery_id`` detached from the caller; returns the job as first recorded.

    Refused (CampaignError) while a preparation of the same delivery is running."""
    return job_file(project, delivery_id).start(
        project,
        PrepareJob(delivery_id=delivery_id, state="running", started_at=now()),
        ["-m", "herald.campaigns.jobs", delivery_id],
        failed=lambda job, why: dataclasses.replace(job, state="failed", finished_at=now(), message=why),
        busy=lambda current: CampaignError(
            f"delivery {delivery_id} is already being prepared (since {current.started_at})"
        ),
    )


def run_job(project: Project, delivery_id: str) -> int:
    """What the detached process does: prepare, print the report, and record the outcome in the job file."""
    previous = read_job(project, delivery_id)
    started_at = previous.started_at if previous is not None and previous.state == "running" else now()
    job = PrepareJob(delivery_id=delivery_id, state="running", started_at=started_at, pid=os.getpid())
    write_job(project, job)
    try:
        run = prepare(project, delivery_id)
        print(f"Prepared run {run.run_id} in {run.seconds:.1f}s (build {run.build_id}).")
        print(format_report(run_report(project, run.run_id)), flush=True)
    except HeraldError as exc:
        print(f"herald: error: {exc}", file=sys.stderr, flush=True)
        write_job(project, dataclasses.replace(job, state="failed", finished_at=now(), message=str(exc)))
        return exc.exit_code
    except BaseException as exc:  # anything else is a bug: still report it, then let it surface in the log
        message = f"{type(exc).__name__}: {exc}"
        write_job(project, dataclasses.replace(job, state="failed", finished_at=now(), message=message))
        raise
    blocked = run.blocked
    message = "a control rule failed: the run cannot be approved or sent" if blocked else ""
    done = dataclasses.replace(
        job, state="succeeded", finished_at=now(), run_id=run.run_id, blocked=blocked, message=message
    )
    write_job(project, done)
    return 1 if blocked else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m herald.campaigns.jobs DELIVERY", file=sys.stderr)
        return 2
    try:
        project = find_project()
        job_path(project, args[0])
    except HeraldError as exc:
        print(f"herald: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return run_job(project, args[0])


if __name__ == "__main__":
    sys.exit(main())
