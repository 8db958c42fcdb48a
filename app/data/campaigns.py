"""What the campaign pages read: the published warehouse's runs, reports and approvals (cached), and the tables
their widgets show. The logic (statuses, plan and template edits, previews, preparations, approvals) is in
``herald.campaigns``.

Warehouse reads are cached with the published file's path in the key, like every page's; anything that also
depends on the specs (rendered samples) is keyed by a digest of the files it reads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app.data.warehouse import CACHE_TTL
from app.ui import channel_label
from herald import warehouse
from herald.campaigns.approvals import ApprovalRecord, approvals
from herald.campaigns.plan_files import Plans
from herald.campaigns.plans import Schedule
from herald.campaigns.report import RULE_ORDER, RunReport, RunSummary, list_runs, run_report, sample_messages
from herald.campaigns.status import DeliveryRow, LatestRun
from herald.campaigns.status import latest_runs as read_latest_runs
from herald.content.render import RenderedMessage
from herald.project import Project
from senders import ledger

# Enough changes to count every move between two runs of a demo-sized audience exactly.
MAX_CHANGES = 20_000
SAMPLES = 10
RULE_LABELS: Mapping[str, str] = {
    "no_address": "No valid address",
    "no_consent": "No consent",
    "denylisted": "Denylisted",
    "quarantined": "Quarantined",
    "excluded_audience": "Excluded audience",
    "custom_rule": "Custom rule",
    "duplicate_address": "Duplicate address",
    "fatigue": "Fatigue",
}
DEPARTURE_LABELS: Mapping[str, str] = {
    "merged": "Merged into another profile",
    "no_longer_a_profile": "No longer a profile",
    "opted_out": "Opted out",
    "quarantined": "Address quarantined",
    "left_audience": "Left the audience",
}

# ---------------------------------------------------------------------------------------------- cached reads


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def latest_runs(db: str) -> dict[str, LatestRun]:
    """Delivery id → its latest run in the published file ``db`` (deliveries never prepared are absent)."""
    with warehouse.open_published(Path(db)) as con:
        return read_latest_runs(con)


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def run_approvals(db: str, run_id: str) -> list[ApprovalRecord]:
    with warehouse.open_published(Path(db)) as con:
        return approvals(con, run_id)


@st.cache_data(ttl=CACHE_TTL, max_entries=16, show_spinner=False)
def runs_of(db: str, project: Project, delivery_id: str) -> list[RunSummary]:
    """The delivery's runs, newest first (``db`` keys the cache: a new publish may add one)."""
    return list_runs(project, delivery_id)


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def report(db: str, project: Project, run_id: str) -> RunReport:
    return run_report(project, run_id, max_changes=MAX_CHANGES)


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def samples(db: str, project: Project, run_id: str, token: str) -> list[tuple[str, RenderedMessage | None, str | None]]:
    """Sample messages of the run rendered with real data (``token``: the specs they are rendered with)."""
    return sample_messages(project, run_id, SAMPLES)


# ---------------------------------------------------------------------------------------------- the plan


def schedule_text(s: Schedule) -> str:
    if s.kind == "once" and s.at is not None:
        return f"{s.at:%Y-%m-%d %H:%M} ({s.time_zone})"
    if s.kind == "recurring":
        return f"cron {s.cron} ({s.time_zone})"
    if s.kind == "triggered":
        return f"when a profile enters {s.enters_audience}"
    return "manual"


def deliveries_frame(rows: list[DeliveryRow]) -> pd.DataFrame:
    """One row per delivery, for the list on the Campaigns page."""
    records = []
    for r in rows:
        d = r.delivery
        records.append(
            {
                "delivery": d.id,
                "campaign": r.campaign.name,
                "channel": channel_label(d.channel),
                "status": r.status,
                "schedule": schedule_text(d.schedule),
                "audience": d.audience,
                "template": d.template,
                "to_send": None if r.latest is None else r.latest.send_count,
                "prepared_at": None if r.latest is None else r.latest.prepared_at,
                "approved_by": ", ".join(sorted({a.approver for a in r.latest.approvals}))
                if r.status == "approved" and r.latest is not None
                else "",
            }
        )
    return pd.DataFrame(
        records,
        columns=[
            "delivery", "campaign", "channel", "status", "schedule", "audience", "template", "to_send",
            "prepared_at", "approved_by",
        ],
    )  # fmt: skip


def timeline_frames(rows: list[DeliveryRow], plans: Plans) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Campaign bars (``campaign``, ``row``, ``program``, ``start``, ``end``, ``owner``, ``budget``) and delivery
    marks (``campaign``, ``row``, ``delivery``, ``at``, ``channel``, ``status``) for the calendar. A campaign with
    one date spans that day; an end date is inclusive. Only deliveries scheduled at a time have a mark."""
    bars = []
    for program in plans.programs.values():
        for c in program.campaigns:
            if c.start is None and c.end is None:
                continue
            start = c.start or c.end
            end = c.end or c.start
            assert start is not None and end is not None
            bars.append(
                {
                    "campaign": c.name,
                    "row": c.name,
                    "program": program.name,
                    "start": pd.Timestamp(start),
                    "end": pd.Timestamp(end + dt.timedelta(days=1)),
                    "owner": c.owner,
                    "budget": c.budget,
                }
            )
    marks = [
        {
            "campaign": r.campaign.name,
            "row": f"↳ {r.delivery.id}",
            "delivery": r.delivery.id,
            "at": pd.Timestamp(r.delivery.schedule.at),
            "channel": channel_label(r.delivery.channel),
            "status": r.status,
        }
        for r in rows
        if r.delivery.schedule.at is not None
    ]
    return (
        pd.DataFrame(bars, columns=["campaign", "row", "program", "start", "end", "owner", "budget"]),
        pd.DataFrame(marks, columns=["campaign", "row", "delivery", "at", "channel", "status"]),
    )


# ---------------------------------------------------------------------------------------------- a run's report


def waterfall_frame(r: RunReport) -> pd.DataFrame:
    """The exclusion waterfall: the audience, one step per rule in the order rules apply (reasons summed), the
    control group, and what is left to send. Columns ``step``, ``rule``, ``kind``, ``members``, ``start``,
    ``end`` (the bar spans start..end), ``reasons``."""
    per_rule: dict[str, list[tuple[str, int]]] = {}
    for rule, reason, n in r.waterfall:
        per_rule.setdefault(rule, []).append((reason, n))
    size = r.run.audience_size
    rows: list[dict[str, Any]] = [
        {"step": "Audience", "rule": "", "kind": "audience", "members": size, "start": 0, "end": size, "reasons": ""}
    ]
    left = size
    order = sorted(per_rule, key=lambda rule: RULE_ORDER.index(rule) if rule in RULE_ORDER else len(RULE_ORDER))
    for rule in order:
        n = sum(count for _, count in per_rule[rule])
        reasons = "; ".join(f"{reason or rule}: {count:,}" for reason, count in per_rule[rule])
        label = RULE_LABELS.get(rule, rule)
        rows.append(
            {"step": label, "rule": rule, "kind": "exclusion", "members": n, "start": left - n, "end": left,
             "reasons": reasons}
        )  # fmt: skip
        left -= n
    control = r.run.control_count
    if control:
        rows.append(
            {"step": "Control group", "rule": "control", "kind": "control", "members": control,
             "start": left - control, "end": left, "reasons": "held out to measure the lift"}
        )  # fmt: skip
    send = r.run.send_count
    rows.append(
        {"step": "To send", "rule": "", "kind": "send", "members": send, "start": 0, "end": send, "reasons": ""}
    )
    return pd.DataFrame(rows, columns=["step", "rule", "kind", "members", "start", "end", "reasons"])


def groups_frame(r: RunReport) -> pd.DataFrame:
    """Rows of the send list per group (``group``, ``members``, ``share`` of the send list and control)."""
    frame = pd.DataFrame(list(r.groups), columns=["group", "members"])
    counted = frame.loc[frame["group"] != "seed", "members"].sum()
    frame["share"] = [
        0.0 if g == "seed" else m / max(int(counted), 1) * 100
        for g, m in zip(frame["group"], frame["members"], strict=True)
    ]
    return frame


def moves_frame(r: RunReport) -> pd.DataFrame:
    """How many profiles moved from each place to each other since the previous run (``before``, ``after``,
    ``profiles``), largest first."""
    frame = pd.DataFrame([(c.before, c.after) for c in r.changes], columns=["before", "after"])
    if frame.empty:
        return pd.DataFrame(columns=["before", "after", "profiles"])
    moves = frame.groupby(["before", "after"]).size().reset_index(name="profiles")
    return moves.sort_values(["profiles", "before", "after"], ascending=[False, True, True], ignore_index=True)


def changes_frame(r: RunReport) -> pd.DataFrame:
    return pd.DataFrame([dataclasses.astuple(c) for c in r.changes], columns=["profile_id", "before", "after", "why"])


def departures_frame(r: RunReport) -> pd.DataFrame:
    """Profiles that left the audience since the previous run, per departure reason (``reason`` as a label,
    ``detail``: the consent source or quarantine reason, ``profiles``), in the report's order."""
    return pd.DataFrame(
        [(DEPARTURE_LABELS.get(reason, reason), detail, n) for reason, detail, n in r.departures],
        columns=["reason", "detail", "profiles"],
    )


# ---------------------------------------------------------------------------------------------- sending


@dataclass(frozen=True, slots=True)
class SendStates:
    """Where a run's messages stand in the send ledger: counts per state, and the unknown ones with their reasons."""

    counts: Mapping[str, int]
    unknown: pd.DataFrame  # message_id, recipient_id, since, reason


def send_states(project: Project, run_id: str) -> SendStates:
    """The run's ledger, latest entry per message (empty when nothing was sent)."""
    latest = ledger.read_run(project, run_id)
    counts: dict[str, int] = {}
    for e in latest.values():
        counts[e.state] = counts.get(e.state, 0) + 1
    unknown = [
        {"message_id": e.message_id, "recipient_id": e.recipient_id, "since": e.at[:19].replace("T", " "),
         "reason": e.reason or "no answer recorded"}
        for e in sorted(latest.values(), key=lambda e: e.at)
        if e.state == "unknown"
    ]  # fmt: skip
    return SendStates(counts, pd.DataFrame(unknown, columns=["message_id", "recipient_id", "since", "reason"]))
