"""What each activity type does, over the library's own functions. Each executor is idempotent: run twice (because
a killed run was resumed), it does its work once or does it again with the same result.

    import       herald.importing.import_file          a later batch of the same keys updates them
    build        herald.build.build                    skipped when nothing changed since the published build
    audience     herald.audiences.service              rebuilt from the specs: the same members
    test         a live count of an audience           goes to ``then`` or ``else``
    wait         until N hours after the activity started (on the run's clock), wait_until a local time
    deliver      prepare → breakers → approval → send  the prepared run is kept in the journal and reused;
                                                       the send ledger sends each message once
    journey      orchestration.journeys             message ids derive from (journey, step, profile)
    export       herald.export                          the file is replaced atomically
    end          the run is over

An executor returns an Outcome; an error it raises fails the activity (and the run) with its message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from herald.audiences.entries import EntryWindow
from herald.project import Project
from orchestration.breakers import Trip, audience_jump, stale_sources, use_override
from orchestration.errors import AutomationError
from orchestration.journal import RunJournal
from orchestration.journeys import run_journey as send_journey
from orchestration.logs import RunLog
from orchestration.spec import Activity, Workflow, journeys_dir, load_journey
from senders.job import SendJob
from senders.options import Progress, SendOptions


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an activity ended this time: ``finished`` (go to ``next``), ``waiting`` (for time or a person) or
    ``blocked`` (by a breaker: an operator must act)."""

    status: Literal["finished", "waiting", "blocked"]
    next: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RunContext:
    """One run of one workflow: the clock it runs at, its journal and log."""

    project: Project
    workflow: Workflow
    journal: RunJournal
    log: RunLog
    now: dt.datetime  # the run's clock (``herald run --now`` simulates one)
    scheduled: dt.datetime
    trigger_file: Path | None
    env: Mapping[str, str]
    entry: EntryWindow | None = None  # the audience entry that started the run (trigger: enters_audience)

    @property
    def run_name(self) -> str:
        return f"{self.workflow.name}/{self.journal.key}"

    @property
    def time_zone(self) -> str:
        cron = self.workflow.trigger.cron
        return cron.time_zone if cron is not None else "UTC"

    def path(self, template: str) -> Path:
        """A path from a spec, with {date}, {run} and {trigger_file} filled in, relative to the project."""
        local = self.scheduled.astimezone(ZoneInfo(self.time_zone))
        text = template.format(
            date=local.strftime("%Y-%m-%d"), run=self.journal.key, trigger_file=self.trigger_file or ""
        )
        p = Path(text)
        return p if p.is_absolute() else self.project.root / p


def default_next(a: Activity) -> str | None:
    return a.next[0] if a.next else None


def run_import(ctx: RunContext, a: Activity) -> Outcome:
    from herald.importing import import_file

    o = a.options
    path = ctx.path(str(o["file"]))
    if not path.exists() and o.get("missing", "fail") == "skip":
        return Outcome("finished", default_next(a), {"skipped": f"no file {path}"})
    report = import_file(
        ctx.project,
        o["kind"],
        path,
        mapping_path=ctx.path(str(o["mapping"])) if o.get("mapping") else None,
        unknown_columns=o.get("unknown_columns", "error"),
    )
    return Outcome("finished", default_next(a), {"summary": report.summary()})


def run_build(ctx: RunContext, a: Activity) -> Outcome:
    from herald.build import build

    result = build(ctx.project, select=tuple(a.options.get("select", ())), quiet=True)
    return Outcome(
        "finished", default_next(a), {"build_id": result.build_id, "published": result.published_path is not None}
    )


def run_audience(ctx: RunContext, a: Activity) -> Outcome:
    from herald.audiences.service import build_and_report

    result = build_and_report(ctx.project, list(a.options["build"]))
    return Outcome("finished", default_next(a), {"build_id": result.build_id})


def run_test(ctx: RunContext, a: Activity) -> Outcome:
    from herald.audiences.library import AudienceLibrary
    from herald.audiences.live import open_live

    spec = AudienceLibrary.of(ctx.project).get(a.options["audience"])
    with open_live(ctx.project) as live:
        members = live.count(spec).total
    low, high = a.options.get("min"), a.options.get("max")
    passed = (low is None or members >= low) and (high is None or members <= high)
    then, otherwise = a.next
    return Outcome("finished", then if passed else otherwise, {"members": members, "passed": passed})


def run_wait(ctx: RunContext, a: Activity) -> Outcome:
    since = ctx.journal.checkpoint(a.id, "wait_from")
    if since is None:
        since = ctx.now.isoformat()
        ctx.journal.append("checkpoint", a.id, wait_from=since)
    delta = dt.timedelta(hours=float(a.options.get("hours", 0)), minutes=float(a.options.get("minutes", 0)))
    until = dt.datetime.fromisoformat(since) + delta
    if ctx.now >= until:
        return Outcome("finished", default_next(a), {"waited_until": until.isoformat()})
    return Outcome("waiting", reason=f"waits until {until:%Y-%m-%d %H:%M} UTC", data={"until": until.isoformat()})


def run_wait_until(ctx: RunContext, a: Activity) -> Outcome:
    zone = ZoneInfo(ctx.time_zone)
    day = ctx.scheduled.astimezone(zone).date()
    at = dt.datetime.combine(day, dt.time.fromisoformat(str(a.options["time"])), zone)
    if ctx.now >= at:
        return Outcome("finished", default_next(a), {"waited_until": at.isoformat()})
    return Outcome("waiting", reason=f"waits until {at:%Y-%m-%d %H:%M %Z}", data={"until": at.isoformat()})


def run_journey(ctx: RunContext, a: Activity) -> Outcome:
    journey = load_journey(journeys_dir(ctx.project) / f"{a.options['journey']}.yml")
    results = send_journey(
        ctx.project,
        journey,
        ctx.now,
        env=ctx.env,
        progress=lambda step, done, total: ctx.log.progress(a.id, done, total, step=step),
    )
    data = {r.step: {"due": r.due, **r.states} for r in results}
    unsettled = sum(r.states.get("unknown", 0) for r in results)
    if unsettled:
        # Their claims outlived a kill and the provider could not say: never re-sent blindly.
        ctx.log("journey_unknown_messages", level="warning", activity=a.id, unknown=unsettled)
    return Outcome("finished", default_next(a), {"steps": data})


def run_export(ctx: RunContext, a: Activity) -> Outcome:
    from herald.export import export_audience, export_table

    out = ctx.path(str(a.options["out"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = a.options.get("format", "csv")
    if "table" in a.options:
        result = export_table(ctx.project, a.options["table"], fmt, out)
    else:
        result = export_audience(ctx.project, a.options["audience"], fmt, out)
    return Outcome("finished", default_next(a), {"rows": result.rows, "path": str(out)})


def run_end(ctx: RunContext, a: Activity) -> Outcome:
    return Outcome("finished", None)


def run_deliver(ctx: RunContext, a: Activity) -> Outcome:
    """Prepare once (the run id is kept in the journal), check the breakers, apply the approval policy, send."""
    from herald.campaigns.approvals import approve, check_send
    from herald.campaigns.prepare import prepare

    delivery = str(a.options["delivery"])
    run_id = ctx.journal.checkpoint(a.id, "prepared_run")
    if run_id is None:
        trips = stale_sources(ctx.project, a.breakers, ctx.now)
        if trips and not _overridden(ctx, a, delivery, trips):
            return _blocked(delivery, trips)
        prepared = prepare(ctx.project, delivery, entered=_entry_for(ctx, delivery))
        run_id = prepared.run_id
        ctx.journal.append(
            "checkpoint",
            a.id,
            prepared_run=run_id,
            audience_size=prepared.audience_size,
            send_count=prepared.send_count,
            excluded_count=prepared.excluded_count,
        )
        if prepared.blocked:
            failed = "; ".join(f"{c.rule}: {c.message}" for c in prepared.controls if not c.passed)
            raise AutomationError(f"delivery {delivery}: run {run_id} is blocked by its control rules: {failed}")
    trips = stale_sources(ctx.project, a.breakers, ctx.now) + audience_jump(ctx.project, a.breakers, delivery, run_id)
    if trips and not _overridden(ctx, a, delivery, trips):
        return _blocked(delivery, trips, run_id)
    check = check_send(ctx.project, run_id)
    policy = a.options.get("approval", {}).get("policy", "wait")
    if not check.allowed and policy == "auto" and check.approval is None:
        approve(ctx.project, run_id, a.options["approval"]["by"], f"workflow run {ctx.run_name}")
        check = check_send(ctx.project, run_id)
    if not check.allowed:
        if policy == "wait" and all("requires approval" in r for r in check.reasons):
            return Outcome(
                "waiting",
                reason=f"run {run_id} awaits approval: `herald approve {run_id} --by NAME`",
                data={"prepared_run": run_id, "awaiting": "approval"},
            )
        raise AutomationError(f"delivery {delivery}: run {run_id} may not be sent: " + "; ".join(check.reasons))
    if not a.options.get("send", True):
        return Outcome("finished", default_next(a), {"prepared_run": run_id, "sent": False})
    return _send(ctx, a, run_id)


def _entry_for(ctx: RunContext, delivery: str) -> EntryWindow | None:
    """The run's audience entry when the delivery targets that audience: then only its entrants are targeted."""
    from herald.campaigns.catalog import Catalog

    if ctx.entry is None:
        return None
    return ctx.entry if Catalog.of(ctx.project).delivery(delivery).delivery.audience == ctx.entry.audience else None


def _send(ctx: RunContext, a: Activity, run_id: str) -> Outcome:
    def progress(p: Progress) -> None:
        ctx.log.progress(a.id, p.done, p.total, rate=round(p.rate, 1))

    summary = SendJob(ctx.project, run_id, SendOptions(), env=ctx.env, progress=progress).run()
    data = {"prepared_run": run_id, "sent_now": summary.sent_now, "states": dict(summary.states)}
    if summary.stopped:
        raise AutomationError(f"sending run {run_id} stopped: {summary.stopped}")
    if not summary.complete:
        return Outcome("waiting", reason=f"run {run_id} has messages pending; the next run sends them", data=data)
    return Outcome("finished", default_next(a), data)


def _overridden(ctx: RunContext, a: Activity, delivery: str, trips: list[Trip]) -> bool:
    override = use_override(ctx.project, delivery, ctx.run_name)
    if override is None:
        return False
    if ctx.journal.checkpoint(a.id, "override") != override.id:
        ctx.journal.append(
            "override",
            a.id,
            override=override.id,
            by=override.by,
            reason=override.reason,
            breakers=[f"{t.breaker}: {t.reason}" for t in trips],
        )
        ctx.journal.append("checkpoint", a.id, override=override.id)
    ctx.log("breaker_overridden", level="warning", activity=a.id, by=override.by, reason=override.reason)
    return True


def _blocked(delivery: str, trips: list[Trip], run_id: str | None = None) -> Outcome:
    reasons = "; ".join(f"{t.breaker}: {t.reason}" for t in trips)
    return Outcome(
        "blocked",
        reason=f"delivery {delivery} does not send: {reasons}. Fix the cause, or "
        f"`herald run --override {delivery} --reason TEXT --by NAME`",
        data={"breakers": [{"breaker": t.breaker, "reason": t.reason} for t in trips], "prepared_run": run_id},
    )


EXECUTORS = {
    "import": run_import,
    "build": run_build,
    "audience": run_audience,
    "test": run_test,
    "wait": run_wait,
    "wait_until": run_wait_until,
    "deliver": run_deliver,
    "journey": run_journey,
    "export": run_export,
    "end": run_end,
}
