"""``herald run``: find the workflow runs that are due, and run them through their activity graphs.

What is due, per workflow (paused ones are skipped: ``paused: true`` in the spec unless the workflow is named,
an operator's pause — ``journal.pause_workflow`` — always):
* its unfinished runs (killed, waiting, blocked) resume first, in order; while one is open, no new run starts;
* a ``schedule`` workflow starts a run for its latest firing time up to the clock, if that run does not exist
  yet (firings missed while nothing ran are collapsed into that one: a journey catches up by itself);
* a ``trigger: {file}`` workflow starts a run per new file in its folder (the run key names the file);
* a ``trigger: {enters_audience}`` workflow starts a run per window between two builds of the audience in which
  profiles entered it (the run key names the later build; see herald.audiences.entries);
* a ``once`` workflow (a delivery's plan schedule ``at``) starts its one run when its time has come;
* a ``trigger: api`` workflow runs only when asked: ``herald run --workflow NAME --start``.

Exit codes (for cron, Airflow, Dagster): see ``EXIT_CODES``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from herald import clock
from herald.audiences.entries import EntryWindow, pending_windows
from herald.errors import HeraldError
from herald.progress import ProgressSink, reporting_to
from herald.project import Project
from orchestration.activities import EXECUTORS, Outcome, RunContext
from orchestration.journal import RunJournal, automation_dir, log_path, paused, run_key, scheduler_lock
from orchestration.logs import RunLog
from orchestration.spec import Workflow
from orchestration.workflows import load_workflows

EXIT_CODES: Mapping[int, str] = {
    0: "every due run finished, or waits for its time",
    1: "an activity failed (the log names it and why); the next `herald run` retries it",
    2: "a workflow or journey spec is invalid (nothing ran)",
    3: "a circuit breaker blocked a delivery: fix the cause or record an override",
    4: "a delivery awaits approval by a person",
    75: "another `herald run` is working; this one did nothing (EX_TEMPFAIL)",
}
_SEVERITY = {"failed": (1, 4), "blocked": (3, 3), "approval": (4, 2), "ok": (0, 0)}


@dataclass(frozen=True, slots=True)
class DueRun:
    """A run to start or resume: its key, the time it is for, and the file or audience entry that triggered it."""

    workflow: Workflow
    key: str
    scheduled: dt.datetime
    trigger_file: Path | None = None
    resumed: bool = False
    entry: EntryWindow | None = None


def due_runs(project: Project, flow: Workflow, now: dt.datetime, *, start: bool = False) -> list[DueRun]:
    """The runs of ``flow`` to work on at ``now``, oldest first. Lazy in nothing: lists the journals now."""
    folder = automation_dir(project) / "runs" / flow.name
    existing = sorted(p.stem for p in folder.glob("*.jsonl")) if folder.is_dir() else []
    open_runs = [k for k in existing if not RunJournal(project, flow.name, k).done]
    if open_runs:
        return [
            DueRun(
                flow,
                k,
                _scheduled_of(project, flow, k, now),
                _file_of(project, flow, k),
                True,
                _entry_of(project, flow, k),
            )
            for k in open_runs
        ]
    trigger = flow.trigger
    if start:
        return [DueRun(flow, run_key(now), now)]
    if trigger.kind == "cron" and trigger.cron is not None:
        latest = trigger.cron.latest(now)
        if latest is None or run_key(latest) in existing:
            return []
        return [DueRun(flow, run_key(latest), latest)]
    if trigger.kind == "once" and trigger.at is not None:
        due = trigger.at <= now and run_key(trigger.at) not in existing
        return [DueRun(flow, run_key(trigger.at), trigger.at)] if due else []
    if trigger.kind == "audience":
        processed = {k.removeprefix("enter-") for k in existing if k.startswith("enter-")}
        return [DueRun(flow, w.run_key, now, entry=w) for w in pending_windows(project, trigger.audience, processed)]
    if trigger.kind == "file":
        out = []
        base = Path(trigger.folder)
        folder_path = base if base.is_absolute() else project.root / base
        for path in sorted(folder_path.glob(trigger.pattern)) if folder_path.is_dir() else []:
            if path.is_file() and (key := file_key(path)) not in existing:
                out.append(DueRun(flow, key, now, path))
        return out
    return []


def file_key(path: Path) -> str:
    """A run key per file version: its name, size and modification time."""
    stat = path.stat()
    digest = hashlib.sha256(f"{path.name}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    return f"file-{re.sub(r'[^A-Za-z0-9_.-]', '_', path.stem)[:40]}-{digest}"


def _scheduled_of(project: Project, flow: Workflow, key: str, now: dt.datetime) -> dt.datetime:
    first = RunJournal(project, flow.name, key).first("", "run_started")
    if first is not None and first.data.get("scheduled"):
        return dt.datetime.fromisoformat(str(first.data["scheduled"]))
    try:
        return dt.datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return now


def _file_of(project: Project, flow: Workflow, key: str) -> Path | None:
    first = RunJournal(project, flow.name, key).first("", "run_started")
    name = first.data.get("trigger_file") if first is not None else None
    return Path(str(name)) if name else None


def _entry_of(project: Project, flow: Workflow, key: str) -> EntryWindow | None:
    first = RunJournal(project, flow.name, key).first("", "run_started")
    entry = first.data.get("entry") if first is not None else None
    if not isinstance(entry, dict):
        return None
    return EntryWindow(str(entry["audience"]), str(entry["build_id"]), str(entry["baseline_id"]))


def execute(project: Project, due: DueRun, now: dt.datetime, log: RunLog, env: Mapping[str, str] | None = None) -> str:
    """Run (or resume) one workflow run through its graph. Returns ok / failed / blocked / approval / waiting."""
    flow = due.workflow
    journal = RunJournal(project, flow.name, due.key)
    log.bind(log_path(project, flow.name, due.key), workflow=flow.name, run=due.key)
    entered: dict[str, Any] = {"entry": dataclasses.asdict(due.entry)} if due.entry is not None else {}
    if not journal.lines:
        journal.append(
            "run_started",
            scheduled=due.scheduled.isoformat(),
            trigger_file=str(due.trigger_file or ""),
            clock=now.isoformat(),
            **entered,
        )
    log("run_resumed" if due.resumed else "run_started", scheduled=due.scheduled.isoformat(), **entered)
    ctx = RunContext(
        project, flow, journal, log, now, due.scheduled, due.trigger_file, dict(env or os.environ), due.entry
    )
    current: str | None = flow.first.id
    while current is not None:
        activity = flow.activity(current)
        done = journal.finished(current)
        if done is not None:
            current = done.data.get("next")
            continue
        journal.append("started", current, clock=now.isoformat())
        log("activity_started", activity=current, type=activity.type)
        started = time.monotonic()
        try:
            # Long steps deep inside (a dbt build, a preparation) log their progress as this activity's.
            with reporting_to(_progress_of(log, current)):
                outcome: Outcome = EXECUTORS[activity.type](ctx, activity)
        except HeraldError as exc:
            return _fail(journal, log, current, str(exc), started)
        except Exception as exc:  # unexpected: recorded with its traceback, so a scheduler sees exit code 1
            log("traceback", level="error", activity=current, traceback=traceback.format_exc())
            return _fail(journal, log, current, f"{type(exc).__name__}: {exc}", started)
        seconds = round(time.monotonic() - started, 3)
        if outcome.status == "finished":
            journal.append("finished", current, next=outcome.next, seconds=seconds, **outcome.data)
            log("activity_finished", activity=current, seconds=seconds, next=outcome.next, **outcome.data)
            current = outcome.next
            continue
        journal.append(outcome.status, current, reason=outcome.reason, seconds=seconds, **outcome.data)
        level = "error" if outcome.status == "blocked" else "info"
        log(f"activity_{outcome.status}", level=level, activity=current, reason=outcome.reason, **outcome.data)
        if outcome.status == "blocked":
            return "blocked"
        return "approval" if outcome.data.get("awaiting") == "approval" else "waiting"
    journal.append("run_finished", status="succeeded")
    log("run_finished", status="succeeded")
    return "ok"


def _progress_of(log: RunLog, activity: str) -> ProgressSink:
    def sink(label: str, done: int, total: int) -> None:
        log.progress(activity, done, total, step=label)

    return sink


def _fail(journal: RunJournal, log: RunLog, activity: str, message: str, started: float) -> str:
    seconds = round(time.monotonic() - started, 3)
    # The run stays open: the next `herald run` retries the activity (every executor is idempotent).
    journal.append("failed", activity, error=message, seconds=seconds)
    log("activity_failed", level="error", activity=activity, error=message, seconds=seconds)
    return "failed"


def run_scheduler(
    project: Project,
    *,
    now: dt.datetime | None = None,
    workflow: str | None = None,
    start: bool = False,
    dry_run: bool = False,
    wait: bool = False,
    log: RunLog | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run everything due at ``now`` (default: the clock, herald.clock) under the scheduler lock. Returns the exit code.
    Raises SchedulerBusy when another `herald run` holds the lock (unless ``wait``) and WorkflowSpecError for an
    invalid spec, before anything runs."""
    log = log or RunLog()
    moment = (now or clock.now()).astimezone(dt.UTC)
    flows = load_workflows(project)
    if workflow is not None:
        flows = [f for f in flows if f.name == workflow]
        if not flows:
            from orchestration.errors import WorkflowSpecError

            raise WorkflowSpecError(f"no workflow {workflow!r} under specs/workflows/")
    elif start:
        from orchestration.errors import AutomationError

        raise AutomationError("--start needs --workflow NAME: which workflow to start now")
    with scheduler_lock(project, wait=wait):
        worst = "ok"
        for flow in flows:
            pause = paused(project, flow.name)
            if pause is not None or (flow.paused and workflow is None):
                log(
                    "workflow_paused",
                    workflow=flow.name,
                    by=pause.by if pause else "spec",
                    reason=pause.reason if pause else "",
                )
                continue
            runs = due_runs(project, flow, moment, start=start)
            for due in runs:
                if dry_run:
                    log(
                        "due", workflow=flow.name, run=due.key, resumed=due.resumed, scheduled=due.scheduled.isoformat()
                    )
                    continue
                result = execute(project, due, moment, log, env)
                log.bind(None)
                if _SEVERITY.get(result, (0, 0))[1] > _SEVERITY[worst][1]:
                    worst = result
                if result != "ok":
                    break  # later runs of this workflow wait for this one
        if not dry_run:
            log("scheduler_finished", status=worst, clock=moment.isoformat())
        return _SEVERITY.get(worst, (0, 0))[0]
