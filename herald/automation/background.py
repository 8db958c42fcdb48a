"""``herald run --workflow NAME --start`` in the background: the app starts it, a separate process runs it, a
file reports it.

The app never runs a workflow inside its own process (a build or a send holds the warehouse for minutes); it
starts ``python -m herald.automation.background NAME`` detached, which does what ``herald run --workflow NAME
--start`` does and keeps a job file up to date:

    warehouse/automation/jobs/<workflow>.json   {"state": "running" | "finished", "exit_code": ..., ...}
    warehouse/automation/jobs/<workflow>.log    what `herald run` printed (its JSON-lines log, or the error)

A job whose process is gone while the file still says "running" did not finish: readers treat it as lost.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from herald import clock
from herald.automation.errors import AutomationError
from herald.automation.journal import automation_dir
from herald.automation.scheduler import EXIT_CODES
from herald.automation.spec import ID_PATTERN
from herald.campaigns.jobs import NEVER_STARTED, process_alive
from herald.errors import HeraldError
from herald.project import Project, find_project

JobState = Literal["running", "finished"]


@dataclass(frozen=True, slots=True)
class RunJob:
    """The last ``herald run --workflow NAME --start`` started in the background for one workflow."""

    workflow: str
    state: JobState
    started_at: str
    dry_run: bool = False
    finished_at: str | None = None
    exit_code: int | None = None
    message: str = ""
    pid: int | None = None

    @property
    def is_running(self) -> bool:
        if self.state != "running":
            return False
        if self.pid is None:
            try:
                started = dt.datetime.fromisoformat(self.started_at)
            except ValueError:
                return False
            return clock.now() - started < NEVER_STARTED
        return process_alive(self.pid)

    @property
    def is_lost(self) -> bool:
        """Recorded as running, but its process stopped (or never started) without reporting."""
        return self.state == "running" and not self.is_running


def job_path(project: Project, workflow: str) -> Path:
    if not ID_PATTERN.match(workflow):
        raise AutomationError(f"{workflow!r} is not a workflow name")
    return automation_dir(project) / "jobs" / f"{workflow}.json"


def job_log_path(project: Project, workflow: str) -> Path:
    return job_path(project, workflow).with_suffix(".log")


def read_job(project: Project, workflow: str) -> RunJob | None:
    try:
        return RunJob(**json.loads(job_path(project, workflow).read_text(encoding="utf-8")))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def _write(project: Project, job: RunJob) -> None:
    path = job_path(project, job.workflow)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(dataclasses.asdict(job)), encoding="utf-8")
    os.replace(tmp, path)


def _now() -> str:
    return clock.now().isoformat(timespec="seconds")


def exit_message(code: int) -> str:
    return EXIT_CODES.get(code, "the run stopped with an error (see its output)")


def start_run(project: Project, workflow: str, *, dry_run: bool = False) -> RunJob:
    """Start ``herald run --workflow NAME --start`` (``--dry-run``: only list what is due) detached from the
    caller; returns the job as first recorded. Refused (AutomationError) while one for the workflow runs."""
    current = read_job(project, workflow)
    if current is not None and current.is_running:
        raise AutomationError(f"workflow {workflow} is already being run from here (since {current.started_at})")
    job = RunJob(workflow=workflow, state="running", started_at=_now(), dry_run=dry_run)
    _write(project, job)
    env = dict(os.environ, HERALD_HOME=str(project.root), HERALD_WAREHOUSE_DIR=str(project.warehouse_dir))
    argv = [sys.executable, "-m", "herald.automation.background", workflow, *(["--dry-run"] if dry_run else [])]
    try:
        with open(job_log_path(project, workflow), "w", encoding="utf-8") as out:
            proc = subprocess.Popen(
                argv,
                cwd=project.root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the app's rerun or restart
            )
    except OSError as exc:
        failed = dataclasses.replace(
            job, state="finished", finished_at=_now(), exit_code=1, message=f"could not start: {exc}"
        )
        _write(project, failed)
        return failed
    from herald.campaigns import jobs

    jobs._children[proc.pid] = proc  # polled by process_alive, so a finished child is reaped
    started = dataclasses.replace(job, pid=proc.pid)
    if read_job(project, workflow) == job:  # the process has not reported yet
        _write(project, started)
    return started


def run_job(project: Project, workflow: str, *, dry_run: bool = False) -> int:
    """What the detached process does: `herald run --workflow NAME --start`, then record its exit code."""
    from herald.cli import main as cli

    previous = read_job(project, workflow)
    started_at = previous.started_at if previous is not None and previous.state == "running" else _now()
    job = RunJob(workflow=workflow, state="running", started_at=started_at, dry_run=dry_run, pid=os.getpid())
    _write(project, job)
    code = 1
    try:
        code = cli(["run", "--workflow", workflow, "--start", *(["--dry-run"] if dry_run else [])])
    finally:
        sys.stdout.flush()
        _write(
            project,
            dataclasses.replace(job, state="finished", finished_at=_now(), exit_code=code, message=exit_message(code)),
        )
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    dry_run = "--dry-run" in args
    names = [a for a in args if a != "--dry-run"]
    if len(names) != 1:
        print("usage: python -m herald.automation.background WORKFLOW [--dry-run]", file=sys.stderr)
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
