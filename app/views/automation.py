"""Automation: the workflows with their triggers and states, each one's runs, a run's activities and log; run a
workflow now (in a separate process), pause or resume it."""

from __future__ import annotations

import streamlit as st

from app.data import automation as data
from app.ui import plain, table_with_csv
from herald.project import Project, find_project
from orchestration.spec import Workflow

PICK = "auto_pick"
RUN_PICK = "auto_run_pick"


def _badge(status: str) -> None:
    st.badge(status, color=data.STATUS_BADGES.get(status, "gray"))  # type: ignore[arg-type]


def _controls(project: Project, flow: Workflow) -> None:
    pause = data.pause_of(project, flow.name)
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Run now")
        # A workflow name is an id (lower-case letters, digits, underscores): literal inside a code span.
        st.caption(f"Starts `herald run --workflow {flow.name} --start` in its own process (resuming an open run).")
        job = data.run_job(project, flow.name)
        running = job is not None and job.is_running
        a, b = st.columns(2)
        start = a.button("Run now", type="primary", icon=":material/play_arrow:", key="auto_run", disabled=running)
        dry = b.button("Dry run", icon=":material/list:", key="auto_dry", disabled=running, help="List what is due.")
        if start or dry:
            error = data.start_run(project, flow.name, dry_run=dry)
            if error is not None:
                st.error(plain(error), icon=":material/block:")
            else:
                st.rerun()
        if job is not None:
            kind = "Dry run" if job.dry_run else "Run"
            if job.is_running:
                st.info(plain(f"{kind} started at {job.started_at} UTC; it is still working."), icon=":material/sync:")
                st.button("Refresh", icon=":material/refresh:", key="auto_refresh")
            elif job.is_lost:
                st.warning(plain(f"{kind} started at {job.started_at} UTC stopped without reporting."))
            elif job.exit_code == 0:
                st.success(plain(f"{kind} finished (exit 0): {job.message}."), icon=":material/check_circle:")
            else:
                st.error(plain(f"{kind} finished (exit {job.exit_code}): {job.message}."), icon=":material/error:")
            output = data.job_output(project, flow.name)
            if output:
                with st.expander("Output"):
                    st.code(output, language="json")
    with right:
        if pause is not None:
            st.subheader("Resume")
            why = f": {pause.reason}" if pause.reason else ""
            st.caption(plain(f"Paused by {pause.by} at {pause.at}{why}"))
            if st.button("Resume", icon=":material/play_circle:", key="auto_resume"):
                data.resume(project, flow.name)
                st.rerun()
        else:
            st.subheader("Pause")
            st.caption("`herald run` starts and resumes none of its runs until it is resumed.")
            who = st.text_input("Who", key="auto_pause_by", placeholder="your name, e.g. anna")
            reason = st.text_input("Why", key="auto_pause_reason", placeholder="optional, kept with the pause")
            if st.button("Pause", icon=":material/pause_circle:", key="auto_pause"):
                error = data.pause(project, flow.name, str(who or ""), str(reason or ""))
                if error is not None:
                    st.error(plain(error), icon=":material/block:")
                else:
                    st.rerun()


def _runs(project: Project, flow: Workflow) -> None:
    st.subheader("Runs")
    runs = data.history(project, flow.name)
    if not runs:
        st.caption("No run yet.")
        return
    table_with_csv(data.runs_table(runs), name=f"{flow.name}_runs", key="auto_runs_csv")
    keys = [r.key for r in runs]
    if st.session_state.get(RUN_PICK) not in keys:
        st.session_state[RUN_PICK] = keys[0]
    key = st.selectbox("Run", keys, key=RUN_PICK)
    run = next(r for r in runs if r.key == key)
    _badge(data.run_status(run))
    for b in data.blocked(flow, run):
        st.error(
            f"**{plain(b.activity)}** was blocked by a circuit breaker: {plain(b.reason)}", icon=":material/block:"
        )
        st.caption("To let the delivery send once anyway (who and why are recorded):")
        st.code(b.command, language="bash")
    st.markdown("**Activities**")
    table_with_csv(data.activities_table(run), name=f"{flow.name}_{run.key}_activities", key="auto_acts_csv")
    st.markdown("**Log**")
    levels = st.multiselect("Levels", list(data.LEVELS), default=list(data.LEVELS), key="auto_levels")
    table_with_csv(data.log_table(run, list(levels)), name=f"{flow.name}_{run.key}_log", key="auto_log_csv")


def main() -> None:
    st.title("Automation")
    project = find_project()
    flows = data.load(project)
    if isinstance(flows, str):
        st.error(f"The workflow specs cannot be read: {plain(flows)}", icon=":material/error:")
        return
    if not flows:
        st.info(
            "No workflow yet: add one under `specs/workflows/` (see docs/automation.md), e.g. a nightly import, "
            "build and send; `herald run` then runs what is due.",
            icon=":material/schedule:",
        )
        return
    st.subheader("Workflows")
    table_with_csv(data.workflows_table(project, flows), name="workflows", key="auto_flows_csv")
    names = [f.name for f in flows]
    if st.session_state.get(PICK) not in names:
        st.session_state[PICK] = names[0]
    name = st.selectbox("Workflow", names, key=PICK)
    flow = next(f for f in flows if f.name == name)
    row = data.workflows_table(project, [flow]).iloc[0]
    a, b, c = st.columns([1, 1, 6])
    with a:
        _badge(str(row["State"]))
    with b:
        _badge(str(row["Last status"]))
    with c:
        st.caption(plain(f"{row['Trigger']}: {row['Schedule']}. Next: {row['Next due']}."))
    if flow.description:
        st.markdown(plain(flow.description))
    _controls(project, flow)
    _runs(project, flow)


main()
