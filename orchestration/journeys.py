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
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import duckdb

from herald import landing, warehouse
from herald.audiences.schema import PROFILES, from_contracts
from herald.project import Project
from herald.raw_schema import ESP_EVENTS
from orchestration.spec import Journey, JourneyStep

ADDRESS_COLUMN = {"email": "email", "sms": "phone"}
_OPEN_EVENTS = {"opened": ("open", "click"), "clicked": ("click",)}


def step_run_id(journey: str, step: str) -> str:
    """The ledger run of one journey step: its messages' ids derive from it and the profile id."""
    return f"journey-{journey}-{step}"


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one step did on one day: profiles due, and how their messages ended."""

    step: str
    due: int
    states: Mapping[str, int]


def today_of(journey: Journey, now: dt.datetime) -> dt.date:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(journey.time_zone)).date()


# Ledger states after which a journey step's message is done with: sent, refused for good, or suppressed.
SETTLED = frozenset({"accepted", "failed", "skipped"})


def due_profiles(project: Project, journey: Journey, step: JourneyStep, today: dt.date) -> list[str]:
    """Profiles for whom ``step`` is due on ``today`` and who have no message of it in the ledger yet. Lazy in
    nothing: reads the published warehouse, the ledger and the landed events now."""
    from senders import ledger

    # Settled messages are never due again. A claim a killed process left (claimed, or unknown after a lookup
    # that could not tell) stays due, so that the next run settles it by asking the provider: found → accepted,
    # surely absent → sent; excluding it here would lose the message for good.
    sent_before = {
        e.profile_id
        for e in ledger.read_run(project, step_run_id(journey.name, step.id)).values()
        if e.state in SETTLED
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


def send_step(
    project: Project,
    journey: Journey,
    step: JourneyStep,
    profile_ids: list[str],
    *,
    env: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Send ``step``'s message to each profile, each at most once: claimed in the ledger (fsynced) before the
    provider call; a claim a killed process left is asked about at the provider, never re-sent blindly. Returns
    the count of each final state. Imports the senders lazily (they import Herald's core)."""
    from herald.campaigns.plans import Channel, Delivery, Sender
    from herald.content.render import Renderer
    from herald.errors import TemplateError
    from senders import ledger
    from senders.compose import Composer, Recipient
    from senders.dispatch import Gate, RetryPolicy, call, lookup
    from senders.links import Links
    from senders.providers import open_provider
    from senders.providers.base import Doubt, ProviderFault
    from senders.suppression import Suppressions

    env = dict(os.environ if env is None else env)
    run_id = step_run_id(journey.name, step.id)
    delivery_id = f"{journey.name}__{step.id}"
    sender = (
        None
        if step.sender is None
        else Sender(step.sender.get("from_name", ""), step.sender["from_email"], step.sender.get("reply_to"))
    )
    delivery = Delivery(
        id=delivery_id,
        channel=cast(Channel, step.channel),
        audience=journey.name,
        template=step.template,
        typology="journey",
        topic=step.topic,
        sender=sender,
    )
    renderer = Renderer(project.specs_dir / "templates")
    recipients = _recipients(project, step, renderer, profile_ids, run_id, ledger.message_id)
    shards = ledger.shard_count(project, run_id, 1)
    gate, policy = Gate(), RetryPolicy()
    provider = open_provider(delivery, project=project, run_id=run_id, campaign_id=journey.name, env=env)
    composer = Composer(
        renderer,
        step.template,
        run_id=run_id,
        channel=step.channel,
        delivery_id=delivery_id,
        campaign_id=journey.name,
        links=Links.from_env(env),
    )
    suppressions = Suppressions(project, channel=step.channel, topic=step.topic, consent=step.topic is not None)

    def entry(r: Any, state: str, attempt: int, **kw: Any) -> Any:
        return ledger.Entry(
            message_id=r.message_id,
            state=cast("ledger.State", state),
            attempt=attempt,
            run_id=run_id,
            recipient_id=r.recipient_id,
            profile_id=r.profile_id or "",
            channel=step.channel,
            delivery_id=delivery_id,
            content_hash=renderer.load(step.template).content_hash,
            **kw,
        )

    counts: dict[str, int] = {}
    try:
        by_shard: dict[int, list[Recipient]] = {}
        for r in recipients:
            by_shard.setdefault(ledger.shard_of(r.message_id, shards), []).append(r)
        done = 0
        for k, members in sorted(by_shard.items()):
            with ledger.Shard(project, run_id, k) as shard:
                shard.try_lock(wait=True)
                by_id = {r.message_id: r for r in members}
                # What a killed process left in flight: unknown, then settled by asking the provider.
                shard.append(
                    [
                        entry(by_id[m], "unknown", e.attempt, reason="the sender stopped during the provider call")
                        for m, e in shard.last.items()
                        if e.state == "claimed" and m in by_id
                    ]
                )
                unknown = [m for m, e in shard.last.items() if e.state == "unknown" and m in by_id]
                if unknown:
                    # In doubt since the message became unknown: an absence counts only after the provider's
                    # settling time (its records lag the send), as for a delivery's sender.
                    doubts = {
                        m: Doubt(m, by_id[m].address, dt.datetime.fromisoformat(shard.last[m].at)) for m in unknown
                    }
                    try:
                        found = lookup(provider, unknown, gate, policy, doubts=doubts)
                    except ProviderFault:
                        found = {}
                    shard.append(
                        [
                            entry(
                                by_id[m],
                                "accepted" if found.get(m) else "released",
                                shard.last[m].attempt,
                                provider_id="lookup" if found.get(m) else "",
                                reason="found" if found.get(m) else "not found at the provider",
                            )
                            for m in unknown
                            if found.get(m) is not None
                        ]
                    )
                for r in members:
                    previous = shard.last.get(r.message_id)
                    if previous is not None and previous.state != "released":
                        done += 1
                        continue
                    reason = suppressions.reason(r.profile_id, r.address)
                    if reason is not None:
                        shard.append([entry(r, "skipped", 0, reason=reason)])
                    else:
                        try:
                            message = composer.compose(r)
                        except TemplateError as exc:
                            shard.append([entry(r, "failed", 0, reason=f"template: {exc}")])
                        else:
                            shard.append([entry(r, "claimed", (previous.attempt + 1) if previous else 1)])
                            for s in call(provider, [message], gate, policy):
                                shard.append(
                                    [
                                        entry(
                                            r,
                                            s.state,
                                            shard.last[r.message_id].attempt,
                                            provider_id=s.provider_id,
                                            reason=s.reason,
                                        )
                                    ],
                                    sync=False,
                                )
                    done += 1
                    if progress is not None:
                        progress(done, len(recipients))
                for r in members:
                    state = shard.last[r.message_id].state if r.message_id in shard.last else "pending"
                    counts[state] = counts.get(state, 0) + 1
    finally:
        provider.close()
    return counts


def _recipients(
    project: Project,
    step: JourneyStep,
    renderer: Any,
    profile_ids: list[str],
    run_id: str,
    message_id: Callable[[str, str, str], str],
) -> list[Any]:
    from senders.compose import Recipient

    if not profile_ids:
        return []
    columns = set(from_contracts(project.root).columns(PROFILES))
    fields = sorted((renderer.fields(step.template) & columns) | {"language_code"})
    address = ADDRESS_COLUMN[step.channel]
    con = warehouse.connect(project)
    try:
        table = (
            con.execute(
                f"select profile_id, {address} as address, time_zone, {', '.join(fields)} from profiles"
                " where profile_id in (select unnest(?)) order by profile_id",
                [profile_ids],
            )
            .to_arrow_table()
            .to_pylist()
        )
    finally:
        con.close()
    out = []
    for row in table:
        payload = json.loads(json.dumps({f: row[f] for f in fields}, default=str))
        pid = str(row["profile_id"])
        out.append(
            Recipient(
                message_id=message_id(run_id, pid, step.channel),
                recipient_id=pid,
                profile_id=pid,
                address=str(row["address"]),
                group="target",
                variant="",
                payload=payload,
                time_zone=str(row["time_zone"] or ""),
            )
        )
    return out


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
