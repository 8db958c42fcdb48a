"""The logic behind the Automation page: workflows with their triggers, pauses and next due times, run history,
one run's activities and log, and runs started in the background.

Everything here reads the plain files under ``warehouse/automation/`` (journals, logs, pauses) and the specs:
no warehouse connection, so the page works while `herald run` builds or sends.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import yaml

from herald import clock
from herald.errors import HeraldError
from herald.project import Project
from orchestration import background
from orchestration.journal import Pause, RunRecord, pause_workflow, paused, resume_workflow, run_history
from orchestration.spec import Workflow
from orchestration.workflows import load_workflows

STATUS_BADGES: Mapping[str, str] = {
    "succeeded": "green",
    "finished": "green",
    "running": "blue",
    "waiting": "orange",
    "blocked": "red",
    "failed": "red",
    "paused": "gray",
    "active": "green",
    "never run": "gray",
}
LEVELS = ("debug", "info", "warning", "error")
_HIDDEN = {"next", "seconds", "clock"}  # journal bookkeeping, not what an activity did


def load(project: Project) -> list[Workflow] | str:
    """Every workflow spec, or why they cannot be read (an invalid file stops `herald run` too)."""
    try:
        return load_workflows(project)
    except HeraldError as exc:
        return str(exc)


def _cron_text(flow: Workflow) -> str:
    """The cron expression as written in the spec (the parsed form keeps only its sets)."""
    try:
        spec = yaml.safe_load(flow.path.read_text(encoding="utf-8"))
        return str(spec["schedule"]["cron"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return "cron"


def trigger_text(flow: Workflow) -> tuple[str, str]:
    """The trigger kind and its detail (cron and zone, folder and pattern, or how to start it)."""
    t = flow.trigger
    if t.kind == "cron" and t.cron is not None:
        return "schedule", f"{_cron_text(flow)} ({t.cron.time_zone})"
    if t.kind == "file":
        return "file", f"{t.folder}/{t.pattern}"
    if t.kind == "audience":
        return "audience entry", f"profiles entering {t.audience}"
    if t.kind == "once" and t.at is not None:
        return "once", f"{t.at:%Y-%m-%d %H:%M} UTC (plan schedule)"
    return "api", "herald run --workflow NAME --start"


def next_due(project: Project, flow: Workflow, now: dt.datetime, runs: list[RunRecord] | None = None) -> str:
    """When `herald run` will next work on the workflow, in words (``runs``: its history, if already read)."""
    pause = paused(project, flow.name)
    if pause is not None:
        return "paused"
    if flow.paused:
        return "paused in the spec"
    history = run_history(project, flow.name) if runs is None else runs
    if any(r.status not in ("succeeded", "failed") for r in history):
        return "next herald run (resumes its open run)"
    t = flow.trigger
    if t.kind == "cron" and t.cron is not None:
        firing = next(t.cron.between(now, now + dt.timedelta(days=366)), None)
        return f"{firing:%Y-%m-%d %H:%M} UTC" if firing is not None else "not within a year"
    if t.kind == "file":
        return "on a new file"
    if t.kind == "audience":
        return f"after a build of {t.audience} that brings new members"
    if t.kind == "once" and t.at is not None:
        return "done" if history else f"{t.at:%Y-%m-%d %H:%M} UTC"
    return "when started"


def workflows_table(project: Project, flows: list[Workflow], now: dt.datetime | None = None) -> pd.DataFrame:
    """One row per workflow: trigger, schedule, state (paused by whom), next due time, last run and its status."""
    moment = now or clock.now()
    rows = []
    for flow in flows:
        kind, detail = trigger_text(flow)
        pause = paused(project, flow.name)
        history = run_history(project, flow.name)
        last = history[0] if history else None
        rows.append(
            {
                "Workflow": flow.name,
                "Description": flow.description.strip(),
                "Trigger": kind,
                "Schedule": detail,
                "State": "paused" if pause is not None or flow.paused else "active",
                "Paused by": (pause.by if pause else ("spec" if flow.paused else "")),
                "Pause reason": pause.reason if pause else "",
                "Next due": next_due(project, flow, moment, history),
                "Last run": last.key if last else "",
                "Last status": run_status(last) if last else "never run",
                "Runs": len(history),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "Workflow",
            "Description",
            "Trigger",
            "Schedule",
            "State",
            "Paused by",
            "Pause reason",
            "Next due",
            "Last run",
            "Last status",
            "Runs",
        ],
    )


def history(project: Project, workflow: str) -> list[RunRecord]:
    return run_history(project, workflow)


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds(), 3)


def run_status(run: RunRecord) -> str:
    """The run's status; an unfinished run says where it stopped (an activity failed, blocked or waits)."""
    if run.status == "running" and run.activities and run.activities[-1].status in ("failed", "blocked", "waiting"):
        return run.activities[-1].status
    return run.status


def runs_table(runs: list[RunRecord]) -> pd.DataFrame:
    """A workflow's runs, newest first: status, start, end, duration and how many activities did what."""
    rows = []
    for r in runs:
        done = sum(1 for a in r.activities if a.status == "finished")
        rows.append(
            {
                "Run": r.key,
                "Status": run_status(r),
                "Started (UTC)": r.started_at or "",
                "Finished (UTC)": r.finished_at or "",
                "Seconds": seconds_between(r.started_at, r.finished_at),
                "Activities": len(r.activities),
                "Finished activities": done,
            }
        )
    columns = ["Run", "Status", "Started (UTC)", "Finished (UTC)", "Seconds", "Activities", "Finished activities"]
    return pd.DataFrame(rows, columns=columns)


def _counts(data: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool))


def _details(data: Mapping[str, Any]) -> str:
    out = []
    for k, v in data.items():
        if k in _HIDDEN or k == "reason" or (isinstance(v, int) and not isinstance(v, bool)):
            continue
        out.append(f"{k}: {v if isinstance(v, str) else json.dumps(v, default=str)}")
    return "; ".join(out)


def activities_table(run: RunRecord) -> pd.DataFrame:
    """One run's activities in the order they ran: status, start, end, duration, counts and the rest."""
    rows = []
    for a in run.activities:
        seconds = a.data.get("seconds")
        rows.append(
            {
                "Activity": a.activity,
                "Status": a.status,
                "Started (UTC)": a.started_at or "",
                "Finished (UTC)": a.finished_at or "",
                "Seconds": float(seconds)
                if isinstance(seconds, int | float)
                else seconds_between(a.started_at, a.finished_at),
                "Counts": _counts(a.data),
                "Reason": str(a.data.get("reason") or a.data.get("error") or ""),
                "Details": _details(a.data),
            }
        )
    columns = ["Activity", "Status", "Started (UTC)", "Finished (UTC)", "Seconds", "Counts", "Reason", "Details"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True, slots=True)
class Blocked:
    """An activity a circuit breaker stopped: why, and the command that lets the delivery send once anyway."""

    activity: str
    reason: str
    command: str


def blocked(flow: Workflow, run: RunRecord) -> list[Blocked]:
    out = []
    for a in run.activities:
        if a.status != "blocked":
            continue
        options = next((x.options for x in flow.activities if x.id == a.activity), {})
        delivery = str(options.get("delivery", "DELIVERY"))
        command = f'herald run --override {delivery} --reason "WHY" --by NAME'
        out.append(Blocked(a.activity, str(a.data.get("reason", "")), command))
    return out


def log_table(run: RunRecord, levels: list[str] | None = None) -> pd.DataFrame:
    """The run's log file (JSON lines) as a table, oldest first (newest last), optionally only some levels."""
    rows = []
    try:
        text = run.log_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    for raw in text.splitlines():
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
        except json.JSONDecodeError:
            continue  # a line torn by a kill
        level = str(d.get("level", "info"))
        if levels is not None and level not in levels:
            continue
        rest = {k: v for k, v in d.items() if k not in ("at", "level", "event", "workflow", "run", "activity")}
        rows.append(
            {
                "At (UTC)": str(d.get("at", "")),
                "Level": level,
                "Event": str(d.get("event", "")),
                "Activity": str(d.get("activity", "") or ""),
                "Fields": json.dumps(rest, default=str) if rest else "",
            }
        )
    return pd.DataFrame(rows, columns=["At (UTC)", "Level", "Event", "Activity", "Fields"])


def pause(project: Project, workflow: str, by: str, reason: str) -> str | None:
    """Pause the workflow as ``by`` because ``reason``; why not, or None."""
    if not by.strip():
        return "say who pauses the workflow (it is recorded)"
    pause_workflow(project, workflow, by=by.strip(), reason=reason.strip())
    return None


def pause_of(project: Project, workflow: str) -> Pause | None:
    """The operator's pause of the workflow (who, why, when), or None."""
    return paused(project, workflow)


def resume(project: Project, workflow: str) -> None:
    resume_workflow(project, workflow)


def start_run(project: Project, workflow: str, *, dry_run: bool = False) -> str | None:
    """Start ``herald run --workflow NAME --start`` in a separate process; why it could not start, or None."""
    try:
        background.start_run(project, workflow, dry_run=dry_run)
    except HeraldError as exc:
        return str(exc)
    return None


def run_job(project: Project, workflow: str) -> background.RunJob | None:
    return background.read_job(project, workflow)


def job_output(project: Project, workflow: str, lines: int = 20) -> str:
    """The last lines the background run printed."""
    try:
        text = background.job_log_path(project, workflow).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
