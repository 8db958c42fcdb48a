"""The Audiences page's save button, and the build status panel of the saved audience.

Saving writes the spec, regenerates the models and starts ``herald audience build NAME`` in a process of its
own; the panel follows that build until the published warehouse has the saved version.
"""

from __future__ import annotations

import streamlit as st

from app.ui import job_panel, plain
from app.views.audience_form import Context
from herald.audiences.draft_to_spec import Composed, Problem, name_problem
from herald.audiences.drafts import Draft
from herald.audiences.jobs import start_build
from herald.audiences.service import BuildStatus, build_status, save_edited
from herald.audiences.spec import AudienceSpec, dump_spec
from herald.project import Project


def blocked(draft: Draft, composed: Composed, problem: Problem | None) -> str | None:
    """Why the audience cannot be saved as it stands, or None."""
    reason = name_problem(draft.name)
    if reason:
        return reason
    if composed.left_out:
        return "Complete or remove the conditions marked in yellow to save."
    if problem is not None:
        return "Fix the problem marked in red to save."
    return None


def save_button(
    ctx: Context,
    spec: AudienceSpec | None,
    composed: Composed,
    reason: str | None,
    yaml_text: str,
) -> Problem | None:
    """The Save button (disabled with ``reason``); returns a problem saving ran into (kept until the spec
    changes)."""
    saved = ctx.saved.specs.get(ctx.draft.origin or "")
    button, state = st.columns([1, 3], vertical_alignment="center")
    with button:
        clicked = st.button(
            "Save and build", type="primary", key="aud_save", disabled=reason is not None, icon=":material/save:"
        )
    with state:
        if reason:
            st.caption(reason)
        elif saved is not None and spec is not None and dump_spec(saved) == yaml_text:
            st.caption("No unsaved changes.")
        elif saved is not None:
            st.caption(":material/edit: Unsaved changes.")
    kept = st.session_state.get("aud_save_problem")
    problem: Problem | None = kept[1] if kept is not None and kept[0] == yaml_text else None
    if clicked and spec is not None and reason is None:
        problem = save_edited(ctx.project, spec, ctx.draft.origin, composed.paths)
        if problem is None:
            start_build(ctx.project, spec.name)  # in a process of its own, never in the app's
            ctx.draft.origin = spec.name
            st.session_state["aud_pick_next"] = spec.name
            st.session_state.pop("aud_save_problem", None)
            st.rerun()
        st.session_state["aud_save_problem"] = (yaml_text, problem)
    return problem


def build_panel(project: Project, name: str) -> None:
    """Where the saved audience's build stands, followed while it runs; a button to build it when needed."""
    job_panel("aud_polling", lambda: build_status(project, name), lambda status: _show(project, name, status))


def _show(project: Project, name: str, status: BuildStatus) -> None:
    label = plain(name)
    if status.state == "running":
        since = f" (started {status.started_at:%H:%M:%S} UTC)" if status.started_at else ""
        st.info(f"Building **{label}**…{since}", icon=":material/progress_activity:")
    elif status.state == "ready":
        st.success(
            f"**{label}** is ready: {status.members:,} members in build `{status.build_id}`.",
            icon=":material/check_circle:",
        )
    elif status.state == "failed":
        st.error(f"The build of **{label}** failed:", icon=":material/error:")
        st.code(status.message, language="text", wrap_lines=True)
        if status.log:
            with st.expander("Build output (end)"):
                st.code(status.log, language="text")
    elif status.state == "outdated":
        st.warning(
            f"The published build has an earlier version of **{label}**; build it to publish the saved one.",
            icon=":material/update:",
        )
    else:
        st.caption(f"{label} has not been built yet.")
    if status.state in ("failed", "outdated", "unbuilt") and st.button("Build now", key="aud_build"):
        start_build(project, name)
        st.rerun()
