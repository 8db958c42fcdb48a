"""The Audiences page's form around the conditions: the draft in the session, the audience picker, name and
owner, combining with saved audiences, and the limit and split.

The draft being edited lives in ``st.session_state["aud_draft"]`` (a ``herald.audiences.drafts.Draft``);
widgets only mirror it (``app.widgets``), so widget keys can be cleared at any time without losing the draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app import widgets as w
from app.data import audiences as data
from herald.audiences.drafts import Draft, Fields, SplitRow
from herald.audiences.library import AudienceLibrary
from herald.audiences.spec_to_draft import draft_from_spec
from herald.errors import HeraldError
from herald.project import Project

DRAFT = "aud_draft"
PICK = "aud_pick"
NEW = ""  # the picker's value for a new audience
WIDGET_PREFIX = "aud."  # every editor widget: cleared when another audience is opened


def current_draft() -> Draft:
    if DRAFT not in st.session_state:
        st.session_state[DRAFT] = Draft()
    draft: Draft = st.session_state[DRAFT]
    return draft


@dataclass
class Context:
    """What the form needs to render: the published file, fields, saved audiences, and slots (one per row)
    that notes and errors fill once the spec is composed and counted."""

    db: str
    project: Project
    fields: Fields
    saved: data.Saved
    draft: Draft
    notes: dict[str, DeltaGenerator] = field(default_factory=dict)


def _open(project: Project, fields: Fields) -> None:
    """Load the picked saved audience (or a blank one) into the draft."""
    name = st.session_state[PICK]
    st.session_state.pop("aud_open_error", None)
    st.session_state.pop("aud_save_problem", None)
    st.session_state.pop("aud_last", None)
    if name == NEW:
        st.session_state[DRAFT] = Draft()
    else:
        try:
            spec = AudienceLibrary.of(project).get(name)
        except HeraldError as exc:
            st.session_state["aud_open_error"] = str(exc)
            st.session_state[PICK] = current_draft().origin or NEW
            return
        st.session_state[DRAFT] = draft_from_spec(spec, fields)
    w.forget(WIDGET_PREFIX)


def picker(ctx: Context) -> None:
    options = [NEW, *ctx.saved.names]
    if "aud_pick_next" in st.session_state:  # set by a save: show the audience just saved
        st.session_state[PICK] = st.session_state.pop("aud_pick_next")
    w.select(
        PICK,
        "Audience",
        options,
        ctx.draft.origin or NEW,
        lambda n: "New audience" if n == NEW else n,
        on_change=_open,
        args=(ctx.project, ctx.fields),
        help="Open a saved audience to edit it, or start a new one.",
    )
    if "aud_open_error" in st.session_state:
        st.error("This saved audience cannot be opened:", icon=":material/error:")
        st.code(st.session_state["aud_open_error"], language="text", wrap_lines=True)


def details(ctx: Context) -> DeltaGenerator:
    """Name, owner and description; returns the slot for notes about the name."""
    draft = ctx.draft
    name_col, owner_col = st.columns([2, 1])
    with name_col:
        draft.name = w.text(
            "aud.name",
            "Name",
            draft.name,
            max_chars=63,
            placeholder="e.g. lapsed_vips_fr",
            help="Lower-case letters, digits and underscores, starting with a letter. The file name of the spec.",
        )
        note = st.empty()
    with owner_col:
        draft.owner = w.text("aud.owner", "Owner", draft.owner, placeholder="optional, e.g. crm-team")
    draft.description = w.area(
        "aud.description", "Description", draft.description, height=68, placeholder="Who this audience is, and why"
    )
    return note


def sets(ctx: Context) -> DeltaGenerator:
    """Union, intersection and exclusion with saved audiences; returns the slot for their notes."""
    draft = ctx.draft
    others = [n for n in ctx.saved.names if n not in (draft.name, draft.origin)]
    opened = bool(draft.union or draft.intersection or draft.exclude)
    with st.expander("Combine with saved audiences", expanded=opened, icon=":material/join:"):
        for attr, label, help_text in (
            ("union", "Also everyone in", "Add the members of these audiences (union)."),
            ("intersection", "Only those also in", "Keep only members of every one of these audiences."),
            ("exclude", "Except those in", "Remove the members of these audiences."),
        ):
            current = getattr(draft, attr)
            options = [*others, *[n for n in current if n not in others]]
            setattr(draft, attr, w.multi(f"aud.{attr}", label, options, current, help=help_text))
        note = st.empty()
    return note


def limit_split(ctx: Context) -> tuple[DeltaGenerator, DeltaGenerator]:
    """The limit and the split into groups; returns the slots for their notes."""
    draft = ctx.draft
    with st.expander("Limit and split", expanded=draft.limit_on or draft.split_on, icon=":material/call_split:"):
        draft.limit_on = w.toggle("aud.limit_on", "Limit the number of members", draft.limit_on)
        if draft.limit_on:
            _limit(ctx)
        limit_note = st.empty()
        draft.split_on = w.toggle("aud.split_on", "Split into groups (A/B tests, control groups)", draft.split_on)
        if draft.split_on:
            _split(draft)
        draft.salt = w.text(
            "aud.salt", "Salt", draft.salt, placeholder="the audience name",
            help="Seeds the split and the random limit: the same salt keeps everyone in the same group.",
        )  # fmt: skip
        split_note = st.empty()
    return limit_note, split_note


def _limit(ctx: Context) -> None:
    draft = ctx.draft
    a, b, c = st.columns([1.4, 2.4, 1.4], vertical_alignment="bottom")
    with a:
        draft.limit_count = w.integer("aud.limit_count", "At most", draft.limit_count, min_value=1)
    orderable = ["", *[col for col, k in ctx.fields.kinds.items() if k != "boolean"]]
    with b:
        draft.limit_order_by = w.select(
            "aud.limit_order_by", "Keep", orderable, draft.limit_order_by,
            lambda col: "a random pick (salted)" if col == "" else f"the first by {col}",
        )  # fmt: skip
    with c:
        if draft.limit_order_by:
            draft.limit_descending = w.toggle("aud.limit_desc", "Largest first", draft.limit_descending)


def _split(draft: Draft) -> None:
    most = max(10, len(draft.split))
    n = w.integer("aud.split_n", "Groups", len(draft.split), min_value=2, max_value=most) or 2
    while len(draft.split) < n:
        draft.split.append(SplitRow(f"group_{len(draft.split) + 1}", None))
    del draft.split[n:]
    for i, group in enumerate(draft.split):
        a, b = st.columns([2, 1])
        with a:
            group.name = w.text(f"aud.split.{i}.name", f"Group {i + 1} name", group.name)
        with b:
            group.percent = w.number(
                f"aud.split.{i}.percent", f"Group {i + 1} %", group.percent, min_value=0.0, max_value=100.0
            )
    total = sum(g.percent or 0 for g in draft.split)
    st.caption(f"Percents add up to {total:g} (they must add up to 100).")
