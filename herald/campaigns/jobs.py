"""Delivery preparations in the background: the app starts them, a separate process runs them, a file reports them.

The app never prepares inside its own process (a preparation is a dbt build of a minute or more that holds the
build lock); it starts ``python -m herald.campaigns.jobs DELIVERY`` detached, which does what
``herald prepare DELIVERY`` does and keeps a job file up to date:

    warehouse/jobs/prepare-<delivery>.json   {"state": "running" | "succeeded" | "failed", ...}
    warehouse/jobs/prepare-<delivery>.log    the preparation's output (the report, or dbt's failure lines)

A job whose process is gone while the file still says "running" did not finish: readers treat it as failed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from herald import clock
from herald.campaigns.plans import ID_PATTERN
from herald.errors import CampaignError, HeraldError
from herald.project import Project, find_project

JobState = Literal["running", "succeeded", "failed"]
# A job is recorded before its process starts and gets the process id right after; one still without a
# process id after this long was never started (the starter died in between).
NEVER_STARTED = dt.timedelta(seconds=60)

# Processes this process started: polling them reaps them, so a finished one does not linger as a zombie
# that `os.kill(pid, 0)` would still call alive.
_children: dict[int, subprocess.Popen[bytes]] = {}


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


@dataclass(frozen=True, slots=True)
class PrepareJob:
    """The last preparation started for one delivery."""

    delivery_id: str
    state: JobState
    started_at: str
    finished_at: str | None = None
    run_id: str | None = None
    blocked: bool = False  # the run was prepared but a data control rule failed
    message: str = ""
    pid: int | None = None

    @property
    def started(self) -> dt.datetime | None:
        try:
            when = dt.datetime.fromisoformat(self.started_at)
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)

    @property
    def is_running(self) -> bool:
        """Still preparing: recorded as running and its process alive (or about to start)."""
        if self.state != "running":
            return False
        if self.pid is None:
            started = self.started
            return started is not None and clock.now() - started < NEVER_STARTED
        return process_alive(self.pid)

    @property
    def is_lost(self) -> bool:
        """Recorded as running, but its process stopped (or never started) without reporting."""
        return self.state == "running" and not self.is_running


def job_path(project: Project, delivery_id: str) -> Path:
    if not ID_PATTERN.match(delivery_id):
        raise CampaignError(f"{delivery_id!r} is not a delivery id (lower-case letters, digits, underscores)")
    return project.warehouse_dir / "jobs" / f"prepare-{delivery_id}.json"


def log_path(project: Project, delivery_id: str) -> Path:
    return job_path(project, delivery_id).with_suffix(".log")


@contextmanager
def _locked(project: Project, delivery_id: str) -> Iterator[None]:
    # The starter's "add the pid" and the process's own reports are read-modify-writes of one file: the lock
    # keeps a fast failure from being overwritten by the starter's late "running".
    path = job_path(project, delivery_id).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_job(project: Project, delivery_id: str) -> PrepareJob | None:
    try:
        data = json.loads(job_path(project, delivery_id).read_text(encoding="utf-8"))
        return PrepareJob(**data)
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None


def write_job(project: Project, job: PrepareJob) -> None:
    """Replace the job file atomically: readers see the old record or the new one, never half of one."""
    path = job_path(project, job.delivery_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(dataclasses.asdict(job)), encoding="utf-8")
    os.replace(tmp, path)


def now() -> str:
    return clock.now().isoformat(timespec="seconds")


def start_prepare(project: Project, delivery_id: str) -> PrepareJob:
    """Start preparing ``delivery_id`` detached from the caller; returns the job as first recorded.

    Refused (CampaignError) while a preparation of the same delivery is running."""
    with _locked(project, delivery_id):
        current = read_job(project, delivery_id)
        if current is not None and current.is_running:
            raise CampaignError(f"delivery {delivery_id} is already being prepared (since {current.started_at})")
        job = PrepareJob(delivery_id=delivery_id, state="running", started_at=now())
        write_job(project, job)
    log = log_path(project, delivery_id)
    env = dict(os.environ, HERALD_HOME=str(project.root), HERALD_WAREHOUSE_DIR=str(project.warehouse_dir))
    try:
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "herald.campaigns.jobs", delivery_id],
                cwd=project.root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the app's rerun or restart
            )
    except OSError as exc:
        failed = dataclasses.replace(job, state="failed", finished_at=now(), message=f"could not start: {exc}")
        write_job(project, failed)
        return failed
    _children[proc.pid] = proc
    started = dataclasses.replace(job, pid=proc.pid)
    with _locked(project, delivery_id):
        if read_job(project, delivery_id) == job:  # the process has not reported yet
            write_job(project, started)
    return started


def _report(project: Project, job: PrepareJob) -> None:
    with _locked(project, job.delivery_id):
        write_job(project, job)


def run_job(project: Project, delivery_id: str) -> int:
    """What the detached process does: prepare, print the report, and record the outcome in the job file."""
    from herald.campaigns.prepare import prepare
    from herald.campaigns.report import run_report
    from herald.cli import format_report

    previous = read_job(project, delivery_id)
    started_at = previous.started_at if previous is not None and previous.state == "running" else now()
    job = PrepareJob(delivery_id=delivery_id, state="running", started_at=started_at, pid=os.getpid())
    _report(project, job)
    try:
        run = prepare(project, delivery_id)
        print(f"Prepared run {run.run_id} in {run.seconds:.1f}s (build {run.build_id}).")
        print(format_report(run_report(project, run.run_id)), flush=True)
    except HeraldError as exc:
        print(f"herald: error: {exc}", file=sys.stderr, flush=True)
        _report(project, dataclasses.replace(job, state="failed", finished_at=now(), message=str(exc)))
        return exc.exit_code
    except BaseException as exc:  # anything else is a bug: still report it, then let it surface in the log
        message = f"{type(exc).__name__}: {exc}"
        _report(project, dataclasses.replace(job, state="failed", finished_at=now(), message=message))
        raise
    blocked = run.blocked
    message = "a control rule failed: the run cannot be approved or sent" if blocked else ""
    done = dataclasses.replace(
        job, state="succeeded", finished_at=now(), run_id=run.run_id, blocked=blocked, message=message
    )
    _report(project, done)
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
