"""Audiences: build a segment from the warehouse's columns, watch it count live, save it and build it.

The form edits a draft (``app.views.audience_form``, ``audience_conditions``); each run composes it into a
spec (``herald.audiences.draft_to_spec``), counts it live (``audience_results``) and offers to save and build it
(``audience_saving``). Problems are shown next to the row or part of the form they name.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.data import audiences as data
from app.ui import plain, require_warehouse
from app.views.audience_conditions import conditions
from app.views.audience_form import Context, current_draft, details, limit_split, picker, sets
from app.views.audience_results import count, insights, spec_yaml, sql
from app.views.audience_saving import blocked, build_panel, save_button
from herald.audiences.draft_to_spec import Composed, Problem, build_spec, compose, name_problem, yaml_of
from herald.audiences.spec import AudienceSpec, dump_spec
from herald.project import find_project


def _show_notes(ctx: Context, composed: Composed, problem: Problem | None, sections: dict[str, DeltaGenerator]) -> None:
    for row_id, issue in composed.left_out.items():
        slot = ctx.notes.get(row_id)
        if slot is None or not issue.message:
            continue
        if issue.severity == "error":
            slot.error(plain(issue.message), icon=":material/error:")
        else:
            slot.caption(f":material/edit_note: Not counted yet: {plain(issue.message)}")
    if problem is None:
        return
    slot = ctx.notes.get(problem.row or "") or sections.get(problem.section or "") or sections["form"]
    slot.error(plain(problem.message), icon=":material/error:")


def main() -> None:
    st.title("Audiences")
    db = require_warehouse()
    project = find_project()
    token = data.library_token(project)
    saved = data.saved_audiences(project, token)
    fields = data.profile_fields(db, project)
    ctx = Context(db, project, fields, saved, current_draft())

    left, right = st.columns([3, 2], gap="large")
    with left:
        picker(ctx)
        name_note = details(ctx)
        st.subheader("Conditions")
        conditions(ctx)
        sets_note = sets(ctx)
        limit_note, split_note = limit_split(ctx)
        form_note = st.empty()

    composed = compose(ctx.draft, fields)
    built = build_spec(composed)
    spec = built if isinstance(built, AudienceSpec) else None
    problem = built if isinstance(built, Problem) else None
    evaluation = data.evaluate(db, project, token, spec, composed.paths) if spec is not None else None
    if evaluation is not None and evaluation.problem is not None:
        problem = evaluation.problem
    yaml_text = dump_spec(spec) if spec is not None else yaml_of(composed.data)

    with left:
        reason = blocked(ctx.draft, composed, problem)
        save_problem = save_button(ctx, spec, composed, reason, yaml_text)
        if ctx.draft.origin:
            build_panel(project, ctx.draft.origin)
    sections = {"name": name_note, "sets": sets_note, "limit": limit_note, "split": split_note, "form": form_note}
    name_reason = name_problem(ctx.draft.name)
    if name_reason and ctx.draft.name:
        name_note.caption(f":material/edit_note: {name_reason}")
    _show_notes(ctx, composed, problem or save_problem, sections)

    with right:
        count(ctx, spec, evaluation, yaml_text)
        if spec is not None and evaluation is not None and evaluation.count is not None:
            insights(ctx, spec, token, evaluation.count.total)
            sql(ctx, spec, token)
        spec_yaml(spec, composed)


main()
