"""Delivery report: one campaign, or one prepared run of it — funnel, rates with their denominators, activity over
time, the exclusion waterfall, top links, recipient domains, control-group lift and A/B results."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import charts
from app.data import reports as data
from app.ui import chart_or_note, percent, plain, require_warehouse, table_with_csv

ALL_RUNS = "All runs of the campaign"
_DOMAIN_RATES = ("delivery_rate", "open_rate", "bounce_rate")
_LINK_LABELS = {
    "link": "Link",
    "click_count": "Clicks",
    "unique_click_count": "Unique clicks",
    "clicker_count": "Clickers",
}
_DOMAIN_LABELS = {
    "recipient_domain": "Domain",
    "message_count": "Messages",
    "sent_count": "Sent",
    "delivered_count": "Delivered",
    "unique_open_count": "Unique opens",
    "unique_click_count": "Unique clicks",
    "bounced_count": "Bounced",
    "complaint_count": "Complaints",
    "delivery_rate": "Delivery rate",
    "open_rate": "Open rate",
    "bounce_rate": "Bounce rate",
}


def _pick(db: str) -> tuple[data.Selection, dict[str, Any]] | None:
    campaigns = data.campaigns(db)
    if campaigns.empty:
        st.info("No campaign has sent anything yet: send a prepared run (`herald send RUN`) or import message history.")
        return None
    labels = {
        row.campaign_id: f"{row.campaign_name or row.campaign_id} · {row.channel} · {row.source}"
        for row in campaigns.itertuples()
    }
    ids = list(labels)
    a, b = st.columns(2)
    campaign_id = a.selectbox("Campaign", ids, format_func=lambda i: labels[i], key="rpt_campaign")
    runs = data.runs(db, str(campaign_id))
    run_ids = [ALL_RUNS, *runs["run_id"].astype(str)]
    run_id = b.selectbox(
        "Run", run_ids, key="rpt_run", disabled=runs.empty, help="A prepared run of the campaign's deliveries."
    )
    if run_id == ALL_RUNS:
        summary = dict(campaigns[campaigns["campaign_id"] == campaign_id].iloc[0])
        return data.Selection(str(campaign_id)), summary
    summary = dict(runs[runs["run_id"] == run_id].iloc[0])
    return data.Selection(str(campaign_id), str(run_id)), summary


def _tiles(summary: dict[str, Any]) -> None:
    sent = int(summary.get("sent_count") or 0)
    tiles = [("Sent", f"{sent:,}")] + [(label, percent(summary.get(column))) for column, label in data.RATES]
    half = (len(tiles) + 1) // 2  # two rows, so no figure is cut short on a laptop screen
    for row in (tiles[:half], tiles[half:]):
        for col, (label, value) in zip(st.columns(half), row, strict=False):
            col.metric(label, value, border=True)
    st.caption(
        "Delivered, bounced: of sent. Unique opens, clicks, unsubscribed, complaints: of delivered. "
        "Click-to-open: of unique opens. Machine opens (mail privacy) are counted but not in the open rate."
    )


def _experiments(db: str, run_id: str) -> None:
    lift = data.control_lift(db, run_id)
    ab = data.ab_results(db, run_id)
    if lift is None and ab.empty:
        return
    st.subheader("Experiments")
    if lift is not None:
        lo, hi = lift.get("lift_ci_lower"), lift.get("lift_ci_upper")
        verdict = "significant" if lift.get("is_significant") else "not significant"
        window = "" if lift.get("is_window_complete") else " (attribution window still open)"
        st.markdown(
            f"**Control-group lift** on conversion within {int(lift['conversion_window_days'])} days{window}: "
            f"target {percent(lift.get('target_conversion_rate'))} of {int(lift['target_size']):,}, control "
            f"{percent(lift.get('control_conversion_rate'))} of {int(lift['control_size']):,}; lift "
            f"{percent(lift.get('lift'))} (95 % CI {percent(lo)} to {percent(hi)}), {verdict}."
        )
    if not ab.empty:
        winner = ab["winner_variant"].dropna()
        st.markdown(
            f"**A/B test**: winner **{plain(str(winner.iloc[0]))}**"
            if not winner.empty
            else "**A/B test**: no significant winner yet."
        )
        table_with_csv(ab, name=f"ab_results_{run_id}", key="rpt_ab_csv")


def main() -> None:
    st.title("Delivery report")
    db = require_warehouse()
    picked = _pick(db)
    if picked is None:
        return
    selection, summary = picked
    delivery_id = None if selection.run_id is None else str(summary.get("delivery_id"))
    _tiles(summary)

    left, right = st.columns(2)
    with left:
        chart_or_note(
            charts.funnel,
            data.funnel(summary),
            charts.ChartOptions("Funnel", subtitle="Messages at each stage; shares of the first stage"),
            "Nothing sent yet.",
        )
    with right:
        daily = data.daily(db, selection, delivery_id)
        chart_or_note(
            charts.trend,
            data.trend_long(daily),
            charts.SeriesOptions(
                "Activity over time",
                subtitle="Per day (UTC)",
                x="activity_date",
                y="messages",
                colour="measure",
                x_title="Day",
                y_title="Messages",
                colour_title="Stage",
            ),
            "No activity recorded yet.",
        )
    with st.expander("Daily figures", icon=":material/table:"):
        table_with_csv(daily, name=f"daily_{selection.campaign_id}", key="rpt_daily_csv")

    if selection.run_id is not None:
        st.subheader("Exclusions")
        steps = data.waterfall(db, selection.run_id)
        chart_or_note(
            charts.waterfall,
            steps,
            charts.ChartOptions("Exclusion waterfall", subtitle="From the audience to the send list, rule by rule"),
            "This run has no preparation steps recorded.",
        )
        table_with_csv(steps, name=f"exclusions_{selection.run_id}", key="rpt_waterfall_csv")
        _experiments(db, selection.run_id)

    links, domains = st.columns(2)
    with links:
        st.subheader("Top links")
        top = data.top_links(db, selection, delivery_id).rename(columns=_LINK_LABELS)
        table_with_csv(top, name=f"links_{selection.campaign_id}", key="rpt_links_csv")
    with domains:
        st.subheader("Recipient domains")
        doms = data.domains(db, selection, delivery_id).rename(columns=_DOMAIN_LABELS)
        table_with_csv(
            doms,
            name=f"domains_{selection.campaign_id}",
            key="rpt_domains_csv",
            column_config={_DOMAIN_LABELS[c]: st.column_config.NumberColumn(format="percent") for c in _DOMAIN_RATES},
        )


main()
