"""Journeys: per-profile sequences whose position is a query, sent exactly once by construction.

A profile enters on the local date of its ``entry`` column (``created_at`` by default), on or after the
journey's ``start``. Step S is due for it on ``entry + S.day`` or any later day, when the profile is reachable on
the step's channel, consents to its topic, and — with ``after: T`` — was sent step T's message, and — with
``unless: opened`` — did not open (or click) it. Nothing about a profile's progress is stored besides the send
ledger: the message of (journey, step, profile) has one id, ``ledger.message_id("journey-<j>-<s>", profile)``,
so a step settled in the ledger is never due again, whatever was killed and re-run (a claim a killed run left is
settled by the next one, through a provider lookup).

Opens are read from every landed provider-event batch (not only the published build), so a reminder never goes
to someone whose open landed after the last build.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import ZoneInfo

import duckdb

from herald import landing, warehouse
from herald.campaigns.plans import Channel, Delivery, Sender
from herald.project import Project
from herald.raw_schema import ESP_EVENTS
from orchestration.errors import AutomationError
from orchestration.spec import Journey, JourneyStep
from senders import ledger
from senders.to_profiles import ADDRESS_COLUMN, send_to_profiles

_OPEN_EVENTS = {"opened": ("open", "click"), "clicked": ("click",)}


def step_run_id(journey: str, step: str) -> str:
    """The ledger run of one journey step: its messages' ids derive from it and the profile id."""
    return f"journey-{journey}-{step}"


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one step did on one day: profiles due, and how their messages ended. Equal when every field is."""

    step: str
    due: int
    states: Mapping[str, int]


def today_of(journey: Journey, now: dt.datetime) -> dt.date:
    return now.astimezone(ZoneInfo(journey.time_zone)).date()


def due_profiles(project: Project, journey: Journey, step: JourneyStep, today: dt.date) -> list[str]:
    """Profiles for whom ``step`` is due on ``today`` and who have no message of it in the ledger yet. Lazy in
    nothing: reads the published warehouse, the ledger and the landed events now."""
    # Settled messages are never due again. A claim a killed process left (claimed, or unknown after a lookup
    # that could not tell) stays due, so that the next run settles it by asking the provider: found → accepted,
    # surely absent → sent; excluding it here would lose the message for good.
    sent_before = {
        e.profile_id
        for e in ledger.read_run(project, step_run_id(journey.name, step.id)).values()
        if e.state in ledger.SETTLED  # sent, refused for good, or suppressed
    }
    previous: dict[str, str] = {}
    if step.after is not None:
        previous = {
            e.profile_id: e.message_id
            for e in ledger.read_run(project, step_run_id(journey.name, step.after)).values()
            if e.state == "accepted"
        }
    opened = _opened(project, set(previous.values()), step.unless) if step.unless else set()
    con = warehouse.connect(project)
    try:
        con.execute("set TimeZone = 'UTC'")
        entry = f"cast(timezone(?, cast(p.{journey.entry} as timestamptz)) as date)"
        consent = ""
        params: list[Any] = [journey.time_zone, journey.start, today - dt.timedelta(days=step.day)]
        if step.topic:
            consent = (
                " and p.profile_id in (select profile_id from profile_consents where channel = ?"
                " and topic in (?, 'all') group by profile_id having arg_max(is_opted_in, status_since))"
            )
            params += [step.channel, step.topic]
        rows = con.execute(
            f"select p.profile_id from profiles p where {entry} between ? and ?"
            f" and p.is_{step.channel}_reachable and p.{ADDRESS_COLUMN[step.channel]} is not null{consent}"
            " order by p.profile_id",
            params,
        ).fetchall()
    finally:
        con.close()
    due = []
    for (pid,) in rows:
        if pid in sent_before:
            continue
        if step.after is not None and (pid not in previous or previous[pid] in opened):
            continue
        due.append(str(pid))
    return due


def _opened(project: Project, message_ids: set[str], unless: str) -> set[str]:
    if not message_ids or not landing.batch_files(project, ESP_EVENTS):
        return set()
    con = duckdb.connect()
    try:
        rel = landing.scan(con, project, ESP_EVENTS)
        if "message_id" not in rel.columns:
            return set()
        machine = "coalesce(sg_machine_open, 0)" if "sg_machine_open" in rel.columns else "0"
        events = _OPEN_EVENTS[unless]
        rows = (
            rel.filter(duckdb.ColumnExpression("event").isin(*(duckdb.ConstantExpression(e) for e in events)))
            .select(f"message_id, {machine} as machine")
            .fetchall()
        )
    finally:
        con.close()
    return {str(m) for m, machine in rows if m in message_ids and not machine}


def step_delivery(journey: Journey, step: JourneyStep) -> Delivery:
    """The delivery a step's messages go out as: its template, channel, topic and sender, delivery id
    ``<journey>__<step>``."""
    sender = (
        None
        if step.sender is None
        else Sender(step.sender.get("from_name", ""), step.sender["from_email"], step.sender.get("reply_to"))
    )
    return Delivery(
        id=f"{journey.name}__{step.id}",
        channel=cast(Channel, step.channel),
        audience=journey.name,
        template=step.template,
        typology="journey",
        topic=step.topic,
        sender=sender,
    )


def send_step(
    project: Project,
    journey: Journey,
    step: JourneyStep,
    profile_ids: list[str],
    *,
    env: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Send ``step``'s message to each profile, each at most once (``senders.to_profiles``: claimed in the ledger
    before the provider call; a claim a killed process left is asked about at the provider, never re-sent
    blindly). Returns the count of each final state; a send the provider stopped (a refused account) fails."""
    sent = send_to_profiles(
        project,
        step_delivery(journey, step),
        profile_ids,
        run_id=step_run_id(journey.name, step.id),
        campaign_id=journey.name,
        consent=step.topic is not None,
        env=dict(os.environ if env is None else env),
        progress=None if progress is None else lambda p: progress(p.done, p.total),
    )
    if sent.stopped:
        raise AutomationError(f"journey {journey.name}, step {step.id}: {sent.stopped}")
    return dict(sent.states)


def run_journey(
    project: Project,
    journey: Journey,
    now: dt.datetime,
    *,
    env: Mapping[str, str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[StepResult]:
    """Every step's due messages on ``now``'s local day, sent. Steps go in order, so a day-0 message sent now can
    make a later step due the same day only when its offset allows it."""
    today = today_of(journey, now)
    out = []
    for step in journey.steps:
        due = due_profiles(project, journey, step, today)
        step_progress = None if progress is None else functools.partial(progress, step.id)
        states = send_step(project, journey, step, due, env=env, progress=step_progress)
        out.append(StepResult(step.id, len(due), states))
    return out
