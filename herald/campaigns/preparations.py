"""Where a delivery's background preparation stands (the job kind is ``herald.campaigns.jobs``).

A preparation started from the app runs in a process of its own; readers ask here whether it runs, succeeded or
failed, and see the end of its output when it failed. A process that stopped without reporting counts as failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from herald.campaigns import jobs
from herald.errors import HeraldError
from herald.project import Project

PrepState = Literal["idle", "running", "succeeded", "failed"]
LOG_TAIL_LINES = 40


@dataclass(frozen=True, slots=True)
class Preparation:
    state: PrepState
    job: jobs.PrepareJob | None = None
    message: str = ""
    log: str = ""  # the end of the preparation's output, for a failure


def preparation(project: Project, delivery_id: str) -> Preparation:
    """The delivery's last background preparation: running, succeeded, failed, or none."""
    job_file = jobs.job_file(project, delivery_id)
    job = job_file.read()
    if job is None:
        return Preparation("idle")
    if job.is_running:
        return Preparation("running", job)
    if job.is_lost:
        message = "The preparation stopped without reporting (its process is gone)."
        return Preparation("failed", job, message, job_file.log_tail(LOG_TAIL_LINES))
    if job.state == "failed":
        message = job.message or "The preparation failed."
        return Preparation("failed", job, message, job_file.log_tail(LOG_TAIL_LINES))
    return Preparation("succeeded", job, job.message)


def running_preparations(project: Project) -> list[str]:
    """Deliveries being prepared now (each holds or waits for the project's build lock)."""
    folder = project.warehouse_dir / "jobs"
    out = []
    for path in sorted(folder.glob("prepare-*.json")) if folder.is_dir() else []:
        delivery_id = path.stem.removeprefix("prepare-")
        try:
            job = jobs.read_job(project, delivery_id)
        except HeraldError:
            continue
        if job is not None and job.is_running:
            out.append(delivery_id)
    return out
