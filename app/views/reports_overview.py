"""Campaign reports: program and campaign roll-ups, the channel comparison, bounce reasons and reconciliation."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import charts
from app.data import reports as data
from app.ui import chart_or_note, require_warehouse, table_with_csv

_RATE_COLUMNS = [c for c, _ in data.RATES] + ["sent_rate", "hard_bounce_rate"]
_PERCENT = {c: st.column_config.NumberColumn(format="percent") for c in _RATE_COLUMNS}


def _rates_long(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row per ``key`` value × rate (as a percentage), for grouped bars."""
    present = [(c, label) for c, label in data.RATES[:4] if c in frame.columns]
    long = frame.melt(id_vars=key, value_vars=[c for c, _ in present], var_name="rate", value_name="percent")
    return long.assign(rate=long["rate"].map(dict(present)), percent=long["percent"] * 100).dropna()


def _rate_bars(title: str, subtitle: str, x: str, x_title: str) -> charts.SeriesOptions:
    """Grouped bars of the rates (in %) of each ``x`` value, as ``_rates_long`` shapes them."""
    return charts.SeriesOptions(
        title, subtitle=subtitle, x=x, y="percent", colour="rate", x_title=x_title, y_title="%", colour_title="Rate",
        percent=True,
    )  # fmt: skip


def main() -> None:
    st.title("Campaign reports")
    db = require_warehouse()

    st.subheader("Channels")
    chans = data.channels(db)
    chans = chans.assign(channel_source=chans["channel"] + " · " + chans["source"])
    subtitle = "Rates in %, with the denominators of the delivery report"
    options = _rate_bars("Channel comparison", subtitle, "channel_source", "Channel · source")
    chart_or_note(
        charts.compare, _rates_long(chans, "channel_source"), options, "No message has been sent on any channel yet."
    )
    chans = chans.drop(columns="channel_source")
    table_with_csv(chans, name="channels", key="rpt_channels_csv", column_config=_PERCENT)

    st.subheader("Campaigns")
    camps = data.campaigns(db)
    opens_clicks = _rates_long(camps.head(20), "campaign_name").query("rate in ['Unique opens', 'Unique clicks']")
    subtitle = "The 20 most recent campaigns; % of delivered"
    options = _rate_bars("Opens and clicks by campaign", subtitle, "campaign_name", "Campaign")
    chart_or_note(charts.compare, opens_clicks, options, "No campaign yet.")
    table_with_csv(camps, name="campaigns", key="rpt_campaigns_csv", column_config=_PERCENT)

    st.subheader("Programs")
    progs = data.programs(db)
    if progs.empty:
        st.caption("No program has a prepared run yet (history campaigns belong to no program).")
    else:
        table_with_csv(progs, name="programs", key="rpt_programs_csv", column_config=_PERCENT)

    st.subheader("Bounce reasons")
    reasons = data.bounce_reasons(db)
    chart_or_note(
        charts.compare,
        reasons.assign(label=reasons["bounce_type"].fillna("?") + " · " + reasons["bounce_classification"].fillna("—"))
        .groupby("label", as_index=False)["message_count"]
        .sum()
        .nlargest(data.TOP_ROWS, "message_count"),
        charts.SeriesOptions(
            "Bounces by type and classification",
            x="label",
            y="message_count",
            x_title="Type · classification",
            y_title="Messages",
        ),
        "No bounce recorded.",
    )
    table_with_csv(reasons, name="bounce_reasons", key="rpt_bounces_csv")

    st.subheader("Reconciliation")
    st.caption(
        "Events whose message is unknown, messages no provider event ever confirmed, and ledger 'unknown' "
        "entries that events proved delivered."
    )
    recon = data.reconciliation(db)
    if recon.empty:
        st.success("Nothing to reconcile: every event matches a message and every sent message is confirmed.")
    else:
        table_with_csv(recon, name="reconciliation", key="rpt_recon_csv")


main()
