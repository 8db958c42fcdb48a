"""``herald run --workflow NAME --start`` in the background (the machinery is ``herald.jobs``).

The app (or ``POST /workflows/{name}/runs``) starts ``python -m orchestration.background NAME`` detached, which
does what ``herald run --workflow NAME --start`` does and keeps a job file up to date:

    warehouse/automation/jobs/<workflow>.json   {"state": "running" | "finished", "exit_code": ..., ...}
    warehouse/automation/jobs/<workflow>.log    what the run printed (its JSON-lines log, or the error)
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from herald import warm_dbt
from herald.errors import HeraldError
from herald.jobs import JobFile, JobStatus, now
from herald.project import Project, find_project
from orchestration.errors import AutomationError
from orchestration.journal import automation_dir
from orchestration.scheduler import EXIT_CODES, run_scheduler
from orchestration.spec import ID_PATTERN

JobState = Literal["running", "finished"]


@dataclass(frozen=True, slots=True)
class RunJob(JobStatus):
    """The last ``herald run --workflow NAME --start`` started in the background for one workflow; equal when
    every field is."""

    workflow: str
    state: JobState
    started_at: str
    dry_run: bool = False
    finished_at: str | None = None
    exit_code: int | None = None
    message: str = ""
    pid: int | None = None


def job_file(project: Project, workflow: str) -> JobFile[RunJob]:
    if not ID_PATTERN.match(workflow):
        raise AutomationError(f"{workflow!r} is not a workflow name")
    return JobFile(automation_dir(project) / "jobs" / f"{workflow}.json", RunJob)


def job_path(project: Project, workflow: str) -> Path:
    return job_file(project, workflow).path


def job_log_path(project: Project, workflow: str) -> Path:
    return job_file(project, workflow).log_path


def read_job(project: Project, workflow: str) -> RunJob | None:
    return job_file(project, workflow).read()


def exit_message(code: int) -> str:
    return EXIT_CODES.get(code, "the run stopped with an error (see its output)")


def start_run(project: Project, workflow: str, *, dry_run: bool = False) -> RunJob:
    """Start ``herald run --workflow NAME --start`` (``--dry-run``: only list what is due) detached from the
    caller; returns the job as first recorded. Refused (AutomationError) while one for the workflow runs."""
    return job_file(project, workflow).start(
        project,
        RunJob(workflow=workflow, state="running", started_at=now(), dry_run=dry_run),
        ["-m", "orchestration.background", workflow, *(["--dry-run"] if dry_run else [])],
        failed=lambda job, why: dataclasses.replace(job, state="finished", finished_at=now(), exit_code=1, message=why),
        busy=lambda current: AutomationError(
            f"workflow {workflow} is already being run from here (since {current.started_at})"
        ),
    )


def run_job(project: Project, workflow: str, *, dry_run: bool = False) -> int:
    """What the detached process does: `herald run --workflow NAME --start`, then record its exit code."""
    file = job_file(project, workflow)
    previous = file.read()
    started_at = previous.started_at if previous is not None and previous.state == "running" else now()
    job = RunJob(workflow=workflow, state="running", started_at=started_at, dry_run=dry_run, pid=os.getpid())
    file.write(job)
    code = 1
    try:
        # A run often builds, refreshes audiences and prepares: its dbt commands fork from one warm helper.
        warm_dbt.enable()
        code = run_scheduler(project, workflow=workflow, start=True, dry_run=dry_run)
    except HeraldError as exc:
        print(f"herald: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("herald: interrupted", file=sys.stderr)
        code = 130
    finally:
        sys.stdout.flush()
        file.write(
            dataclasses.replace(job, state="finished", finished_at=now(), exit_code=code, message=exit_message(code))
        )
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    dry_run = "--dry-run" in args
    names = [a for a in args if a != "--dry-run"]
    if len(names) != 1:
        print("usage: python -m orchestration.background WORKFLOW [--dry-run]", file=sys.stderr)
        return 2
    try:
        project = find_project()
        job_path(project, names[0])
    except HeraldError as exc:
        print(f"herald: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return run_job(project, names[0], dry_run=dry_run)


if __name__ == "__main__":
    sys.exit(main())
