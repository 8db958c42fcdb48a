"""Approval: approve a delivery's latest run as a named approver, and the check every sender makes before its
first message (approval, content unchanged since, control rules, newest run)."""

from __future__ import annotations

import streamlit as st

from app.campaign_pages import delivery_page
from app.data import campaigns as data
from app.ui import plain
from herald.campaigns.approvals import approve, check_send
from herald.campaigns.catalog import DeliveryRef
from herald.campaigns.preparations import running_preparations
from herald.campaigns.status import LatestRun
from herald.errors import HeraldError
from herald.project import Project

PICK = "cmp_pick_approval"


def _approve(project: Project, ref: DeliveryRef, latest: LatestRun) -> None:
    d = ref.delivery
    st.subheader("Approve")
    who = ", ".join(d.approval.approvers)
    if d.approval.required:
        st.caption(plain(f"This delivery needs the approval of one of: {who}."))
    elif who:
        st.caption(plain(f"Approval is optional for this delivery; its approvers: {who}."))
    else:
        st.caption("Approval is optional for this delivery.")
    busy = running_preparations(project)
    a, b = st.columns([1, 2])
    with a:
        approver = st.text_input("Approver", key="cmp_approver", placeholder="your name, e.g. anna")
    with b:
        note = st.text_input("Note", key="cmp_approval_note", placeholder="optional, kept with the approval")
    clicked = st.button(
        f"Approve run {latest.run_id}",
        type="primary",
        icon=":material/verified:",
        key="cmp_approve",
        disabled=bool(busy),
        help="Records who approved this run's send list and content; refused for the delivery's non-approvers, "
        "blocked runs and changed content.",
    )
    if busy:
        st.caption(plain(f"Wait for the preparation of {', '.join(busy)} to finish (it holds the warehouse)."))
    who_approves = str(approver or "").strip()
    if clicked and not who_approves:
        st.error("Not approved: Enter the approver's name.", icon=":material/block:")
    elif clicked:
        try:
            record = approve(project, latest.run_id, who_approves, str(note or "").strip())
        except HeraldError as exc:
            st.error(f"Not approved: {plain(str(exc))}", icon=":material/block:")
        else:
            st.session_state["cmp_approved"] = (record.run_id, record.approver)
            st.rerun()
    done = st.session_state.pop("cmp_approved", None)
    if done is not None:
        st.success(f"Run `{done[0]}` approved by {plain(done[1])}.", icon=":material/check_circle:")


def _check(project: Project, run_id: str) -> None:
    st.subheader("Send check")
    st.caption("What the sender asks before its first message.")
    try:
        check = check_send(project, run_id)
    except HeraldError as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        return
    if check.allowed:
        by = f", approved by {plain(check.approval.approver)}" if check.approval is not None else ""
        st.success(f"Run `{run_id}` may be sent{by}.", icon=":material/send:")
        return
    st.error(f"Run `{run_id}` may not be sent:", icon=":material/block:")
    for reason in check.reasons:
        st.markdown(f"- {plain(reason)}")


def main() -> None:
    page = delivery_page("Approval", PICK)
    if page is None:
        return
    db, project, ref, latest = page.db, page.project, page.ref, page.latest
    if latest is None:
        st.info("Nothing to approve: the delivery has never been prepared.", icon=":material/info:")
        return

    st.markdown(
        f"Latest run `{latest.run_id}`, prepared {latest.prepared_at:%Y-%m-%d %H:%M} UTC: "
        f"**{latest.send_count:,}** to send, {latest.control_count:,} in the control group, "
        f"{latest.excluded_count:,} excluded of {latest.audience_size:,}."
    )
    if latest.plan_version and latest.plan_version != ref.program.version:
        st.warning(
            f"The plan {plain(ref.program.id)} changed since this run was prepared (audience, typology, schedule or "
            "another delivery's settings): the run keeps the settings it was prepared with; prepare again to apply "
            "the new ones.",
            icon=":material/update:",
        )
    for rule, message in latest.failed_controls:
        st.error(f"**Control rule {plain(rule)} failed:** {plain(message)}", icon=":material/block:")
    records = data.run_approvals(db, latest.run_id)
    if records:
        st.table(
            [
                {
                    "Approver": a.approver,
                    "Approved (UTC)": f"{a.approved_at:%Y-%m-%d %H:%M}",
                    "Content": a.content_hash,
                    "Note": a.note,
                }
                for a in records
            ]
        )
    else:
        st.caption("No approval recorded for this run yet.")
    left, right = st.columns(2, gap="large")
    with left:
        _approve(project, ref, latest)
    with right:
        _check(project, latest.run_id)


main()
