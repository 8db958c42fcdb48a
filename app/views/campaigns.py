"""Campaigns: the marketing plan — programs, campaigns and their deliveries on a calendar, each delivery with
its status from the warehouse (draft, prepared, blocked, approved, outdated)."""

from __future__ import annotations

import streamlit as st

from app.campaign_charts import timeline_chart
from app.campaign_pages import QUERY, broken_plans, status_badge
from app.charts import ChartOptions
from app.data import campaigns as data
from app.ui import channel_label, count_column, plain, require_warehouse, table_with_csv
from herald.campaigns.plan_files import Plans, load_plans
from herald.campaigns.status import STATUSES, DeliveryRow, delivery_rows
from herald.project import find_project

EDITOR = "views/campaign_delivery.py"
PREPARATION = "views/campaign_preparation.py"
APPROVAL = "views/campaign_approval.py"


def _money(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def _summary(rows: list[DeliveryRow], plans: Plans) -> None:
    campaigns = [c for p in plans.programs.values() for c in p.campaigns]
    budget = sum(c.budget or 0 for c in campaigns)
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    a, b, c, d, e = st.columns(5)
    a.metric("Campaigns", f"{len(campaigns):,}", border=True, help=f"In {len(plans.programs)} program(s).")
    b.metric("Deliveries", f"{len(rows):,}", border=True)
    c.metric("Budget", _money(budget), border=True, help="Sum of the campaigns' budgets.")
    d.metric(
        "Approved", f"{counts['approved']:,}", border=True, help="Deliveries whose latest run is approved as it is."
    )
    e.metric(
        "Need attention",
        f"{counts['blocked'] + counts['outdated']:,}",
        border=True,
        help="Blocked by a control rule, or outdated since the content changed.",
    )


def _timeline(rows: list[DeliveryRow], plans: Plans) -> None:
    bars, marks = data.timeline_frames(rows, plans)
    if bars.empty and marks.empty:
        st.caption("No campaign has dates and no delivery is scheduled at a time yet.")
        return
    options = ChartOptions("Calendar", "Campaigns over their dates; scheduled deliveries by status; today in red")
    st.altair_chart(timeline_chart(bars, marks, options), width="stretch")
    unscheduled = [r for r in rows if r.delivery.schedule.at is None]
    if unscheduled:
        st.caption(
            "Not on the calendar (recurring, triggered or manual): "
            + ", ".join(
                f"{plain(r.delivery.id)} ({plain(data.schedule_text(r.delivery.schedule))})" for r in unscheduled
            )
        )


def _delivery(row: DeliveryRow) -> None:
    d = row.delivery
    name, status, links = st.columns([3, 1.2, 3], vertical_alignment="center")
    with name:
        st.markdown(f"**{plain(d.id)}** · {channel_label(d.channel)}")
        detail = f"{data.schedule_text(d.schedule)} · audience {d.audience} · template {d.template}"
        if row.latest is not None:
            detail += f" · {row.latest.send_count:,} to send (run of {row.latest.prepared_at:%Y-%m-%d %H:%M} UTC)"
        st.caption(plain(detail))
    with status:
        status_badge(row.status)
    with links:
        a, b, c = st.columns(3)
        params = {QUERY: d.id}
        a.page_link(EDITOR, label="Edit", icon=":material/edit:", query_params=params)
        b.page_link(PREPARATION, label="Prepare", icon=":material/fact_check:", query_params=params)
        c.page_link(APPROVAL, label="Approve", icon=":material/verified:", query_params=params)


def _plan(rows: list[DeliveryRow], plans: Plans, statuses: list[str], channels: list[str]) -> None:
    for program in plans.programs.values():
        st.subheader(plain(program.name))
        st.caption(f"Program `{program.id}` · owner {plain(program.owner or '—')}")
        for campaign in program.campaigns:
            with st.container(border=True):
                st.markdown(f"##### {plain(campaign.name)}")
                dates = f"{campaign.start or '…'} → {campaign.end or '…'}"
                expected = ", ".join(f"{k} {v:,.0f}" for k, v in campaign.expected)
                facts = [dates, f"owner {campaign.owner or '—'}", f"budget {_money(campaign.budget)}"]
                if expected:
                    facts.append(f"expected: {expected}")
                st.caption(plain(" · ".join(facts)))
                if campaign.objective:
                    st.markdown(plain(campaign.objective))
                shown = [
                    r
                    for r in rows
                    if r.campaign is campaign and r.status in statuses and channel_label(r.delivery.channel) in channels
                ]
                for row in shown:
                    _delivery(row)
                if not campaign.deliveries:
                    st.caption("No delivery yet.")
                elif not shown:
                    st.caption("No delivery matches the filters.")


def main() -> None:
    st.title("Campaigns")
    db = require_warehouse()
    project = find_project()
    plans = load_plans(project)
    broken_plans(plans)
    if not plans.programs:
        st.info("No marketing plan yet: add one under `specs/plans/` (see docs/campaigns.md).")
        return
    rows = delivery_rows(project, plans.refs(), data.latest_runs(db))
    _summary(rows, plans)
    _timeline(rows, plans)

    left, right = st.columns(2)
    with left:
        statuses = st.multiselect("Status", STATUSES, default=STATUSES[:5], key="cmp_filter_status")
    with right:
        channels_all = sorted({channel_label(r.delivery.channel) for r in rows})
        channels = st.multiselect("Channel", channels_all, default=channels_all, key="cmp_filter_channel")
    _plan(rows, plans, list(statuses), list(channels))

    with st.expander("All deliveries as a table", icon=":material/table:"):
        table_with_csv(
            data.deliveries_frame(rows),
            name="deliveries",
            key="cmp_download",
            column_config={
                "delivery": st.column_config.TextColumn("Delivery"),
                "campaign": st.column_config.TextColumn("Campaign"),
                "channel": st.column_config.TextColumn("Channel"),
                "status": st.column_config.TextColumn("Status"),
                "schedule": st.column_config.TextColumn("Schedule"),
                "audience": st.column_config.TextColumn("Audience"),
                "template": st.column_config.TextColumn("Template"),
                "to_send": count_column("To send"),
                "prepared_at": st.column_config.DatetimeColumn("Prepared (UTC)", format="YYYY-MM-DD HH:mm"),
                "approved_by": st.column_config.TextColumn("Approved by"),
            },
        )


main()
