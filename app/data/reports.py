"""Queries behind the report pages: campaign and delivery summaries, trends, links, domains, bounces, experiments.

Every figure comes from an engagement mart (docs/tracking.md), whose rates carry their denominators: the pages
only select and shape. Selections (a campaign, a run) enter the queries as literal values, never as SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import pandas as pd
import streamlit as st

from app.data.pivot import Dimension, Measure, ReportSource
from app.data.warehouse import CACHE_TTL, read_only

# The rates every summary shows, in reading order: (column, label). Marts store them as fractions.
RATES: tuple[tuple[str, str], ...] = (
    ("delivery_rate", "Delivered"),
    ("open_rate", "Unique opens"),
    ("click_rate", "Unique clicks"),
    ("click_to_open_rate", "Click-to-open"),
    ("bounce_rate", "Bounced"),
    ("unsubscribe_rate", "Unsubscribed"),
    ("complaint_rate", "Complaints"),
)
TOP_ROWS = 15


@dataclass(frozen=True, slots=True)
class Selection:
    """What a delivery report is about: a campaign, and optionally one of its prepared runs."""

    campaign_id: str
    run_id: str | None = None


def _frame(db: str, table: str, **equal: Any) -> pd.DataFrame:
    """Rows of ``table`` where each column in ``equal`` has its value (a None value matches nothing)."""
    with read_only(db) as con:
        t = con.table(table)
        for column, value in equal.items():
            t = t.filter(t[column] == ibis.literal(value))
        return t.to_pandas()


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def campaigns(db: str) -> pd.DataFrame:
    """Every campaign with messages or runs (Herald's and the imported history's), most recent first."""
    frame = _frame(db, "campaign_metrics")
    return frame.sort_values(["last_sent_at", "campaign_id"], ascending=[False, True], na_position="last")


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def programs(db: str) -> pd.DataFrame:
    return _frame(db, "program_metrics").sort_values("program_id")


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def channels(db: str) -> pd.DataFrame:
    return _frame(db, "channel_metrics").sort_values(["channel", "source"])


@st.cache_data(ttl=CACHE_TTL, max_entries=16, show_spinner=False)
def runs(db: str, campaign_id: str) -> pd.DataFrame:
    """The campaign's prepared runs, latest first."""
    return _frame(db, "delivery_metrics", campaign_id=campaign_id).sort_values("prepared_at", ascending=False)


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def daily(db: str, selection: Selection, delivery_id: str | None) -> pd.DataFrame:
    """Sends and engagement per day for the campaign (or one delivery of it), summed over its rows."""
    frame = _frame(db, "engagement_daily", campaign_id=selection.campaign_id)
    if delivery_id is not None:
        frame = frame[frame["delivery_id"] == delivery_id]
    counts = [c for c in frame.columns if c.endswith("_count")]
    return frame.groupby("activity_date", as_index=False)[counts].sum().sort_values("activity_date")


def trend_long(daily_frame: pd.DataFrame) -> pd.DataFrame:
    """``daily`` as one row per day × measure, for a line chart with one line per measure."""
    labels = {
        "sent_count": "sent",
        "delivered_count": "delivered",
        "unique_open_count": "opened",
        "unique_click_count": "clicked",
        "bounced_count": "bounced",
    }
    present = [c for c in labels if c in daily_frame.columns]
    long = daily_frame.melt(id_vars="activity_date", value_vars=present, var_name="measure", value_name="messages")
    return long.assign(measure=long["measure"].map(labels))


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def top_links(db: str, selection: Selection, delivery_id: str | None) -> pd.DataFrame:
    frame = _frame(db, "link_performance", campaign_id=selection.campaign_id)
    if delivery_id is not None:
        frame = frame[frame["delivery_id"] == delivery_id]
    grouped = frame.groupby("link", as_index=False)[["click_count", "unique_click_count", "clicker_count"]].sum()
    return grouped.nlargest(TOP_ROWS, "unique_click_count").reset_index(drop=True)


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def domains(db: str, selection: Selection, delivery_id: str | None) -> pd.DataFrame:
    """Counts and rates per recipient domain, the largest domains first (rates recomputed after summing)."""
    frame = _frame(db, "recipient_domains", campaign_id=selection.campaign_id)
    if delivery_id is not None:
        frame = frame[frame["delivery_id"] == delivery_id]
    counts = ["message_count", "sent_count", "delivered_count", "unique_open_count", "unique_click_count"]
    counts += ["bounced_count", "complaint_count"]
    grouped = frame.groupby("recipient_domain", as_index=False)[counts].sum()
    sent = grouped["sent_count"].where(grouped["sent_count"] != 0)
    delivered = grouped["delivered_count"].where(grouped["delivered_count"] != 0)
    grouped["delivery_rate"] = grouped["delivered_count"] / sent
    grouped["open_rate"] = grouped["unique_open_count"] / delivered
    grouped["bounce_rate"] = grouped["bounced_count"] / sent
    return grouped.nlargest(TOP_ROWS, "message_count").reset_index(drop=True)


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def bounce_reasons(db: str) -> pd.DataFrame:
    return _frame(db, "bounce_reasons").sort_values("message_count", ascending=False).reset_index(drop=True)


@st.cache_data(ttl=CACHE_TTL, max_entries=16, show_spinner=False)
def waterfall(db: str, run_id: str) -> pd.DataFrame:
    """The run's preparation steps in order, shaped for ``charts.waterfall`` (step, profiles, kind)."""
    frame = _frame(db, "exclusion_waterfall", run_id=run_id).sort_values("step_order")
    if frame.empty:
        return pd.DataFrame({"step": [], "profiles": [], "kind": []})
    rows = []
    for i, r in enumerate(frame.itertuples()):
        if i == 0:
            rows.append((str(r.step), int(r.remaining_count), "start"))
        else:
            rows.append((str(r.step), int(r.removed_count), "excluded"))
    rows.append(("sent to", int(frame["remaining_count"].iloc[-1]), "end"))
    return pd.DataFrame(rows, columns=["step", "profiles", "kind"])


@st.cache_data(ttl=CACHE_TTL, max_entries=16, show_spinner=False)
def control_lift(db: str, run_id: str) -> dict[str, Any] | None:
    frame = _frame(db, "delivery_control_lift", run_id=run_id)
    return None if frame.empty else dict(frame.iloc[0])


@st.cache_data(ttl=CACHE_TTL, max_entries=16, show_spinner=False)
def ab_results(db: str, run_id: str) -> pd.DataFrame:
    return _frame(db, "delivery_ab_results", run_id=run_id).sort_values(["metric", "variant_rank", "variant"])


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def reconciliation(db: str) -> pd.DataFrame:
    """How many messages have each reconciliation issue, per channel."""
    with read_only(db) as con:
        t = con.table("message_reconciliation")
        return t.group_by(["issue", "channel"]).aggregate(messages=t.count()).order_by(["issue", "channel"]).to_pandas()


def funnel(summary: dict[str, Any]) -> pd.DataFrame:
    """The funnel stages of one summary row (a run, a campaign): targeted (runs only), sent, delivered, opened,
    clicked — each stage a count of messages, so every share has the first stage as its denominator."""
    stages = [
        ("targeted", "targeted_count"),
        ("sent", "sent_count"),
        ("delivered", "delivered_count"),
        ("opened", "unique_open_count"),
        ("clicked", "unique_click_count"),
    ]
    if summary.get("source") == "history":
        stages = stages[1:]  # imported history has no send list: its funnel starts at "sent"
    rows = [(stage, int(summary[col] or 0)) for stage, col in stages if col in summary and pd.notna(summary[col])]
    return pd.DataFrame(rows, columns=["stage", "messages"])


# The dynamic report's sources: catalogue keys the analyst picks from, never text that reaches SQL.
_OUTCOME_COUNTS = (
    ("sent", "Sent", "is_sent"),
    ("delivered", "Delivered", "is_delivered"),
    ("opened", "Opened (unique)", "is_opened"),
    ("clicked", "Clicked (unique)", "is_clicked"),
    ("bounced", "Bounced", "is_bounced"),
    ("hard_bounced", "Hard bounces", "is_hard_bounced"),
    ("unsubscribed", "Unsubscribed", "is_unsubscribed"),
    ("complained", "Spam complaints", "is_spam_reported"),
)
MESSAGES_SOURCE = ReportSource(
    key="messages",
    label="Messages",
    table="message_outcomes",
    grain="one row per message, Herald's sends and the imported history",
    dimensions=(
        Dimension("sent_at", "Sent (date)", "sent_at", date=True),
        Dimension("channel", "Channel", "channel"),
        Dimension("campaign", "Campaign", "campaign_name"),
        Dimension("campaign_id", "Campaign id", "campaign_id"),
        Dimension("program", "Program", "program_id"),
        Dimension("delivery", "Delivery", "delivery_id"),
        Dimension("run", "Run", "run_id"),
        Dimension("source", "Source (herald / history)", "source"),
        Dimension("group", "Group (target / variant / seed)", "recipient_group"),
        Dimension("variant", "Variant", "variant"),
        Dimension("domain", "Recipient domain", "recipient_domain"),
        Dimension("bounce_type", "Bounce type", "bounce_type"),
        Dimension("bounce_class", "Bounce classification", "bounce_classification"),
        Dimension("send_state", "Send state", "send_state"),
    ),
    measures=(
        Measure("messages", "Messages"),
        *(Measure(key, label, "sum", column) for key, label, column in _OUTCOME_COUNTS),
        Measure("profiles", "Profiles (distinct)", "count_distinct", "profile_id"),
        Measure("opens", "Opens (all)", "sum", "open_count"),
        Measure("clicks", "Clicks (all)", "sum", "click_count"),
        Measure("delivery_rate", "Delivery rate % (of sent)", "sum", "is_delivered", per="sent", percent=True),
        Measure("open_rate", "Open rate % (of delivered)", "sum", "is_opened", per="delivered", percent=True),
        Measure("click_rate", "Click rate % (of delivered)", "sum", "is_clicked", per="delivered", percent=True),
        Measure("cto_rate", "Click-to-open % (of opened)", "sum", "is_clicked", per="opened", percent=True),
        Measure("bounce_rate", "Bounce rate % (of sent)", "sum", "is_bounced", per="sent", percent=True),
        Measure("unsub_rate", "Unsubscribe % (of delivered)", "sum", "is_unsubscribed", per="delivered", percent=True),
    ),
)
LINKS_SOURCE = ReportSource(
    key="links",
    label="Link clicks",
    table="link_clicks",
    grain="one row per message × clicked URL",
    dimensions=(
        Dimension("first_clicked_at", "First clicked (date)", "first_clicked_at", date=True),
        Dimension("link", "Link", "link"),
        Dimension("channel", "Channel", "channel"),
        Dimension("campaign_id", "Campaign id", "campaign_id"),
        Dimension("delivery", "Delivery", "delivery_id"),
    ),
    measures=(
        Measure("clicked_messages", "Messages clicked"),
        Measure("clicks", "Clicks", "sum", "click_count"),
        Measure("clickers", "Profiles (distinct)", "count_distinct", "profile_id"),
    ),
)
SOURCES: tuple[ReportSource, ...] = (MESSAGES_SOURCE, LINKS_SOURCE)
