"""Preparation: prepare a delivery in the background (``herald prepare`` in its own process, polled here) and
read the preparation report of its latest or any earlier run: target, exclusion waterfall, groups, control
rules, the changes since the previous run, and sample messages rendered with real data."""

from __future__ import annotations

import streamlit as st

from app.campaign_charts import waterfall_chart
from app.campaign_pages import DeliveryPage, delivery_page
from app.charts import ChartOptions
from app.data import campaigns as data
from app.ui import count_column, job_panel, plain, share_column
from herald import clock
from herald.campaigns.jobs import start_prepare
from herald.campaigns.preparations import Preparation, preparation
from herald.campaigns.previews import html_document
from herald.campaigns.report import RunReport
from herald.campaigns.template_edits import specs_token
from herald.errors import HeraldError
from herald.project import Project

PICK = "cmp_pick_preparation"
RUN = "cmp_run"
CHANGES_SHOWN = 200


def _job(project: Project, delivery_id: str) -> None:
    """The Prepare button and the state of the last preparation, followed while it runs."""
    job_panel(
        "cmp_polling",
        lambda: preparation(project, delivery_id),
        lambda prep: _prepare(project, delivery_id, prep),
        on_done=lambda: st.session_state.pop(RUN, None),  # show the new run
    )


def _prepare(project: Project, delivery_id: str, prep: Preparation) -> None:
    button, state = st.columns([1, 4], vertical_alignment="center")
    with button:
        clicked = st.button(
            "Prepare",
            type="primary",
            icon=":material/play_arrow:",
            key="cmp_prepare",
            disabled=prep.state == "running",
            help="Build a new frozen run of this delivery: typology rules, send list, control rules.",
        )
    with state:
        job = prep.job
        if prep.state == "running" and job is not None:
            started = job.started
            since = "" if started is None else f" for {(clock.now() - started).seconds}s"
            st.info(
                f"Preparing **{plain(delivery_id)}**{since}… this takes a minute or two; you can leave the page.",
                icon=":material/progress_activity:",
            )
        elif prep.state == "succeeded" and job is not None:
            if job.blocked:
                st.warning(
                    f"Prepared run `{job.run_id}`, but a control rule failed: it cannot be approved or sent.",
                    icon=":material/block:",
                )
            else:
                st.success(f"Prepared run `{job.run_id}`.", icon=":material/check_circle:")
        elif prep.state == "failed":
            st.error("The last preparation failed:", icon=":material/error:")
        else:
            st.caption("Not prepared from here yet.")
    if prep.state == "failed":
        st.code(prep.message, language="text", wrap_lines=True)
        if prep.log:
            with st.expander("Output (end)"):
                st.code(prep.log, language="text")
    if clicked:
        try:
            start_prepare(project, delivery_id)
        except HeraldError as exc:
            st.error(plain(str(exc)), icon=":material/error:")
        else:
            st.rerun()  # the whole page: it starts polling


def _metrics(r: RunReport) -> None:
    run = r.run
    a, b, c, d, e = st.columns(5)
    a.metric("Audience", f"{run.audience_size:,}", border=True, help=f"Members of {run.audience_name}.")
    b.metric("Excluded", f"{run.excluded_count:,}", border=True, help="By the typology's rules (see below).")
    c.metric("Control group", f"{run.control_count:,}", border=True, help="Held out to measure the lift.")
    d.metric("To send", f"{run.send_count:,}", border=True, help="Target and A/B variants, without seeds.")
    e.metric("Seeds", f"{run.seed_count:,}", border=True, help="Addresses that receive every real send.")


def _sending(project: Project, run_id: str) -> None:
    states = data.send_states(project, run_id)
    if not states.counts:
        return
    st.markdown("**Sending**")
    order = ("accepted", "unknown", "failed", "skipped", "released", "claimed")
    shown = [s for s in order if states.counts.get(s)] + sorted(set(states.counts) - set(order))
    for column, state in zip(st.columns(len(shown)), shown, strict=True):
        column.metric(state.capitalize(), f"{states.counts[state]:,}", border=True)
    if not states.unknown.empty:
        st.warning(
            f"**{len(states.unknown):,} message(s) unknown:** the provider may or may not have them, so they are "
            f"never re-sent blindly. Land the provider's events, then `herald resolve {run_id} --by NAME` settles "
            "those the events prove sent; `--as not-sent --older-than 2h` releases the rest (docs/senders.md).",
            icon=":material/help:",
        )
        st.dataframe(states.unknown, hide_index=True, width="stretch", key="unknown_messages")


def _controls(r: RunReport) -> None:
    failed = [(rule, message) for rule, passed, message in r.controls if not passed]
    for rule, message in failed:
        st.error(f"**Control rule {plain(rule)} failed:** {plain(message)}", icon=":material/block:")
    if not failed and r.controls:
        st.success("Every control rule passed.", icon=":material/verified:")
    with st.expander("Control rules", expanded=bool(failed)):
        st.table(
            [
                {"Rule": rule, "Result": "passed" if passed else "FAILED", "Detail": message}
                for rule, passed, message in r.controls
            ]
        )


def _waterfall(r: RunReport) -> None:
    frame = data.waterfall_frame(r)
    options = ChartOptions(
        "Exclusion waterfall", "From the audience to the send list, rule by rule in the order applied"
    )
    st.altair_chart(waterfall_chart(frame, options), width="stretch", key="cmp_waterfall")
    table = frame[["step", "members", "reasons"]].rename(
        columns={"step": "Step", "members": "Members", "reasons": "Reasons"}
    )
    table["Members"] = [
        f"{n:,}" if k in ("audience", "send") else f"−{n:,}"
        for n, k in zip(frame["members"], frame["kind"], strict=True)
    ]
    st.table(table.set_index("Step"))


def _groups(r: RunReport) -> None:
    st.markdown("**Groups**")
    st.dataframe(
        data.groups_frame(r),
        hide_index=True,
        column_config={
            "group": st.column_config.TextColumn("Group"),
            "members": count_column("Members"),
            "share": share_column(),
        },
    )
    st.caption("Shares of the send list and control group; seeds come on top.")


def _diff(r: RunReport) -> None:
    st.markdown("**Changes since the previous run**")
    if r.previous_run_id is None:
        st.caption("This is the delivery's first run.")
        return
    if not r.changes_total:
        st.caption(f"No profile moved since `{r.previous_run_id}`.")
        return
    st.caption(f"{r.changes_total:,} profile(s) moved since `{r.previous_run_id}`.")
    st.dataframe(
        data.moves_frame(r),
        hide_index=True,
        column_config={
            "before": st.column_config.TextColumn("Before"),
            "after": st.column_config.TextColumn("Now"),
            "profiles": count_column("Profiles"),
        },
    )
    departures = data.departures_frame(r)
    if not departures.empty:
        st.markdown("**Left the audience, and why**")
        st.dataframe(
            departures,
            hide_index=True,
            column_config={
                "reason": st.column_config.TextColumn("Reason"),
                "detail": st.column_config.TextColumn("Detail", help="Consent source or quarantine reason."),
                "profiles": count_column("Profiles"),
            },
            key="cmp_departures",
        )
    with st.expander("Who moved"):
        changes = data.changes_frame(r)
        st.dataframe(changes.head(CHANGES_SHOWN), hide_index=True)
        if len(changes) > CHANGES_SHOWN:
            st.caption(f"The first {CHANGES_SHOWN} of {r.changes_total:,} by profile id.")


def _samples(page: DeliveryPage, r: RunReport) -> None:
    db, project, outdated = page.db, page.project, page.content_hash != r.run.content_hash
    st.markdown("**Sample messages**")
    template = page.plans.ref(r.run.delivery_id)
    if template is None:
        st.caption("The delivery is not in the plans any more: no sample to render.")
        return
    token = specs_token(project, template.delivery.template)
    rendered = data.samples(db, project, r.run.run_id, token)
    if not rendered:
        st.caption("Nobody to send to.")
        return
    if outdated:
        st.warning(
            "The content changed since this run: the samples show the current template.", icon=":material/update:"
        )
    rows = [
        {
            "Recipient": rid,
            "Subject": (m.subject or m.title or m.text[:80]) if m is not None else "",
            "Error": err or "",
        }
        for rid, m, err in rendered
    ]
    if not any(row["Error"] for row in rows):
        rows = [{k: v for k, v in row.items() if k != "Error"} for row in rows]
    st.table(rows)
    ids = [rid for rid, _, _ in rendered]
    pick = st.selectbox("Show the message of", ids, key="cmp_sample")
    _, message, error = next(s for s in rendered if s[0] == pick)
    if message is None:
        st.error(plain(error or ""), icon=":material/error:")
        return
    if message.subject:
        st.markdown(f"**Subject:** {plain(message.subject)}")
    if message.html:
        st.iframe(html_document(message.html), height=420)
    if message.text:
        st.code(message.text, language="text", wrap_lines=True)


def main() -> None:
    page = delivery_page("Preparation", PICK)
    if page is None:
        return
    db, project, current = page.db, page.project, page.ref.delivery.id
    _job(project, current)

    runs = data.runs_of(db, project, current)
    if not runs:
        st.caption("No run yet: **Prepare** builds the first one.")
        return
    run_ids = [r.run_id for r in runs]
    if st.session_state.get(RUN) not in run_ids:
        st.session_state[RUN] = run_ids[0]
    run_id = st.selectbox(
        "Run",
        run_ids,
        key=RUN,
        format_func=lambda i: f"{i} (latest)" if i == run_ids[0] else i,
        help="The latest run is the one that can be approved and sent.",
    )
    r = data.report(db, project, str(run_id))
    st.caption(
        f"Prepared {r.run.prepared_at:%Y-%m-%d %H:%M:%S} UTC · {r.run.channel} · audience {plain(r.run.audience_name)}"
        f" · content {r.run.content_hash} · send list digest {r.run.digest}"
    )
    _metrics(r)
    _sending(project, str(run_id))
    _controls(r)
    left, right = st.columns([3, 2], gap="large")
    with left:
        _waterfall(r)
    with right:
        _groups(r)
        _diff(r)
    _samples(page, r)


main()
