"""Audiences: build a segment from the warehouse's columns, watch it count live, save it and build it.

The draft being edited lives in ``st.session_state["aud_draft"]`` (see ``app.data.audiences``); widgets only
mirror it. A widget takes its value from the draft when it has none (first run, after opening a saved
audience, after a page switch), and the draft takes the widget's value after each run, so widget keys can be
cleared at any time without losing the draft.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.charts import ChartOptions
from app.data import audiences as data
from app.data.audiences import Draft, Fields, Problem, Row
from app.ui import chart_or_note, plain, require_warehouse
from herald.audiences.compiler import DIALECTS
from herald.audiences.library import AudienceLibrary
from herald.audiences.spec import CHANNELS, COMPARISONS, MEASURES, MESSAGE_ACTIONS, AudienceSpec
from herald.errors import HeraldError
from herald.project import Project, find_project

DRAFT = "aud_draft"
PICK = "aud_pick"
NEW = ""  # the picker's value for a new audience
WIDGET_PREFIX = "aud."  # every editor widget: cleared when another audience is opened
POLL_SECONDS = 2
ADDABLE: tuple[data.RowKind, ...] = (
    "attribute", "orders", "events", "messages", "consent", "reachable", "in_audience", "group", "yaml",
)  # fmt: skip
CHANNEL_LABELS = {"email": "Email", "sms": "SMS", "push": "Push", "in_app": "In-app", "direct_mail": "Direct mail"}


def _draft() -> Draft:
    if DRAFT not in st.session_state:
        st.session_state[DRAFT] = Draft()
    draft: Draft = st.session_state[DRAFT]
    return draft


def _clear_widgets() -> None:
    for key in [k for k in st.session_state if str(k).startswith(WIDGET_PREFIX)]:
        del st.session_state[key]


# ---------------------------------------------------------------------------------------------- widgets
# Each helper gives the widget the draft's value when it has none (or an invalid one) and returns its value.


def _seed(key: str, value: Any) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def _select(
    key: str,
    label: str,
    options: Sequence[Any],
    current: Any,
    fmt: Callable[[Any], str] = str,
    *,
    empty: bool = False,
    **kwargs: Any,
) -> Any:
    """A selectbox; ``empty`` lets it show a placeholder (value None) instead of a first option."""
    options = list(options)
    if key in st.session_state and st.session_state[key] not in options and st.session_state[key] is not None:
        del st.session_state[key]
    fallback = None if empty or not options else options[0]
    _seed(key, current if current in options else fallback)
    if st.session_state[key] is None and not empty and options:
        st.session_state[key] = options[0]
    return st.selectbox(label, options, key=key, format_func=fmt, **kwargs)


def _multi(key: str, label: str, options: Sequence[Any], current: Sequence[Any], **kwargs: Any) -> list[Any]:
    options = list(options)
    _seed(key, [v for v in current if v in options])
    st.session_state[key] = [v for v in st.session_state[key] if v in options]
    return list(st.multiselect(label, options, key=key, **kwargs))


def _text(key: str, label: str, current: str, **kwargs: Any) -> str:
    _seed(key, current)
    return str(st.text_input(label, key=key, **kwargs) or "")


def _area(key: str, label: str, current: str, **kwargs: Any) -> str:
    _seed(key, current)
    return str(st.text_area(label, key=key, **kwargs) or "")


def _int(key: str, label: str, current: int | None, **kwargs: Any) -> int | None:
    _seed(key, current)
    value = st.number_input(label, key=key, step=1, **kwargs)
    return None if value is None else int(value)


def _float(key: str, label: str, current: float | None, **kwargs: Any) -> float | None:
    _seed(key, None if current is None else float(current))
    value = st.number_input(label, key=key, step=1.0, format="%.2f", **kwargs)
    return None if value is None else float(value)


def _date(key: str, label: str, current: dt.date | None, **kwargs: Any) -> dt.date | None:
    _seed(key, current)
    low, high = data.DATE_MIN, data.DATE_MAX
    value = st.date_input(label, key=key, min_value=low, max_value=high, format="YYYY-MM-DD", **kwargs)
    return value if isinstance(value, dt.date) else None


def _check(key: str, label: str, current: bool, **kwargs: Any) -> bool:
    _seed(key, current)
    return bool(st.checkbox(label, key=key, **kwargs))


def _toggle(key: str, label: str, current: bool, **kwargs: Any) -> bool:
    _seed(key, current)
    return bool(st.toggle(label, key=key, **kwargs))


def _channel(c: str) -> str:
    return CHANNEL_LABELS.get(c, c)


def _any(label: str) -> Callable[[Any], str]:
    return lambda v: label if v == "" else str(v)


# ---------------------------------------------------------------------------------------------- callbacks


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
            st.session_state[PICK] = _draft().origin or NEW
            return
        st.session_state[DRAFT] = data.draft_from_spec(spec, fields)
    _clear_widgets()


def _add(kind: data.RowKind, fields: Fields, parent: str | None) -> None:
    _draft().add(kind, fields, parent)


def _remove(row_id: str) -> None:
    _draft().remove(row_id)


# ---------------------------------------------------------------------------------------------- the editor


@dataclass
class Context:
    """What rows need to render: the published file, fields, saved audiences, and slots (one per row) that
    notes and errors fill once the spec is composed and counted."""

    db: str
    project: Project
    fields: Fields
    saved: data.Saved
    draft: Draft
    notes: dict[str, DeltaGenerator] = field(default_factory=dict)


def _picker(ctx: Context) -> None:
    options = [NEW, *ctx.saved.names]
    if "aud_pick_next" in st.session_state:  # set by a save: show the audience just saved
        st.session_state[PICK] = st.session_state.pop("aud_pick_next")
    _select(
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


def _details(ctx: Context) -> DeltaGenerator:
    draft = ctx.draft
    name_col, owner_col = st.columns([2, 1])
    with name_col:
        draft.name = _text(
            "aud.name",
            "Name",
            draft.name,
            max_chars=63,
            placeholder="e.g. lapsed_vips_fr",
            help="Lower-case letters, digits and underscores, starting with a letter. The file name of the spec.",
        )
        note = st.empty()
    with owner_col:
        draft.owner = _text("aud.owner", "Owner", draft.owner, placeholder="optional, e.g. crm-team")
    draft.description = _area(
        "aud.description", "Description", draft.description, height=68, placeholder="Who this audience is, and why"
    )
    return note


def _add_menu(ctx: Context, parent: str | None) -> None:
    kinds = [k for k in ADDABLE if parent is None or k != "group"]
    where = "top" if parent is None else parent
    label = "Add condition" if parent is None else "Add to group"
    with st.popover(label, icon=":material/add:"):
        for kind in kinds:
            st.button(
                data.ROW_LABELS[kind],
                key=f"aud.add.{where}.{kind}",
                on_click=_add,
                args=(kind, ctx.fields, parent),
                width="stretch",
            )


def _row(row: Row, ctx: Context) -> None:
    with st.container(border=True):
        title, negate, remove = st.columns([6, 1, 0.45], vertical_alignment="center")
        with title:
            if isinstance(row, data.GroupRow):
                row.match = _select(
                    f"aud.{row.id}.match", "Group", ["any", "all"], row.match, lambda m: f"Group: {m} of",
                    label_visibility="collapsed",
                )  # fmt: skip
            else:
                st.caption(_title(row, ctx))
        with negate:
            row.negate = _check(f"aud.{row.id}.not", "NOT", row.negate)
        with remove:
            st.button(
                "", icon=":material/close:", key=f"aud.{row.id}.remove", help="Remove", type="tertiary",
                on_click=_remove, args=(row.id,),
            )  # fmt: skip
        if isinstance(row, data.GroupRow):
            for child in row.children:
                _row(child, ctx)
            _add_menu(ctx, row.id)
        else:
            _leaf(row, ctx)
        ctx.notes[row.id] = st.empty()


def _title(row: data.LeafRow, ctx: Context) -> str:
    label = data.ROW_LABELS[row.KIND]
    if isinstance(row, data.YamlRow):
        return "Custom condition in YAML: any shape an audience spec allows"
    if isinstance(row, data.AttributeRow) and row.column in ctx.fields.kinds:
        return f"{label} · {ctx.fields.kinds[row.column]}"
    return label


def _leaf(row: data.LeafRow, ctx: Context) -> None:
    if isinstance(row, data.AttributeRow):
        _attribute(row, ctx)
    elif isinstance(row, data.OrdersRow):
        _orders(row, ctx)
    elif isinstance(row, data.EventsRow):
        _events(row, ctx)
    elif isinstance(row, data.MessagesRow):
        _messages(row, ctx)
    elif isinstance(row, data.ConsentRow):
        a, b = st.columns(2)
        with a:
            row.channel = _select(f"aud.{row.id}.channel", "Opted in on", CHANNELS, row.channel, _channel)
        topics = ["", *data.consent_topics(ctx.db)]
        with b:
            row.topic = _select(
                f"aud.{row.id}.topic", "Topic", [*topics, *([row.topic] if row.topic not in topics else [])],
                row.topic, _any("any topic"),
            )  # fmt: skip
    elif isinstance(row, data.ReachableRow):
        row.channel = _select(
            f"aud.{row.id}.channel", "Reachable now on", CHANNELS, row.channel, _channel,
            label_visibility="collapsed",
        )  # fmt: skip
        st.caption("A valid address, consent and no quarantine on that channel, now.")
    elif isinstance(row, data.InAudienceRow):
        _in_audience(row, ctx)
    else:
        height = min(320, 40 + 22 * max(2, row.text.count("\n") + 1))
        row.text = _area(
            f"aud.{row.id}.yaml", "Condition (YAML)", row.text, label_visibility="collapsed", height=height,
            placeholder="city: {in: [Paris, Lyon]}",
        )  # fmt: skip


def _attribute(row: data.AttributeRow, ctx: Context) -> None:
    kinds = ctx.fields.kinds
    # A column a newer build dropped stays listed, so the row says what it was rather than changing silently.
    columns = list(kinds) if row.column in kinds else [*kinds, row.column]
    column_col, op_col, value_col = st.columns([3.4, 2, 3.6], vertical_alignment="top")
    with column_col:
        row.column = _select(
            f"aud.{row.id}.column", "Column", columns, row.column, lambda c: f"{c} · {kinds.get(c, 'missing')}",
            label_visibility="collapsed",
        )  # fmt: skip
    if row.column not in kinds:
        return
    with op_col:
        row.op = _select(
            f"aud.{row.id}.op", "Operator", data.operators_for(kinds[row.column]), row.op,
            lambda o: data.OP_LABELS[o], label_visibility="collapsed",
        )  # fmt: skip
    widget = data.widget_of(row, ctx.fields)
    key = f"aud.{row.id}.value.{widget}"
    current = row.values.get(widget)
    hidden: dict[str, Any] = {"label_visibility": "collapsed"}
    if widget == "none":
        return
    with value_col:
        if not widget.endswith("_range"):
            row.values[widget] = _value(widget, key, row, ctx, current, hidden)
            return
        low, high = current if isinstance(current, tuple) else (None, None)
        pair: list[Any] = []
        for part, value, col in zip(("from", "to"), (low, high), st.columns(2), strict=True):
            with col:
                label = f"{part.capitalize()} ({row.column})"
                if widget == "int_range":
                    pair.append(_int(f"{key}.{part}", label, value, placeholder=part, **hidden))
                elif widget == "float_range":
                    pair.append(_float(f"{key}.{part}", label, value, placeholder=part, **hidden))
                else:
                    pair.append(_date(f"{key}.{part}", label, value, **hidden))
        row.values[widget] = (pair[0], pair[1])


def _value(widget: str, key: str, row: data.AttributeRow, ctx: Context, current: Any, hidden: dict[str, Any]) -> Any:
    label = f"Value ({row.column})"
    if widget == "choice":
        options = data.choices(ctx.db, row.column)
        options = [*options, *([current] if current and current not in options else [])]
        return _select(key, label, options, current, empty=True, placeholder="Pick a value", **hidden)
    if widget == "choices":
        options = data.choices(ctx.db, row.column)
        options = [*options, *[v for v in current or [] if v not in options]]
        return _multi(key, label, options, current or [], placeholder="Pick values", **hidden)
    if widget == "lines":
        return _area(key, label, current or "", placeholder="One value per line", height=80, **hidden)
    if widget == "text":
        return _text(key, label, current or "", placeholder="Text", **hidden)
    if widget == "int":
        return _int(key, label, current, placeholder="A whole number", **hidden)
    if widget == "float":
        return _float(key, label, current, placeholder="A number", **hidden)
    if widget == "days":
        return _int(key, label, current, min_value=0, max_value=36_600, placeholder="Days", **hidden)
    if widget == "bool":
        return _toggle(key, "true", True if current is None else bool(current), help=f"Off: {row.column} is false")
    return _date(key, label, current, **hidden)


def _days(key: str, current: int | None) -> int | None:
    return _int(
        key, "Within … days", current, min_value=0, max_value=36_600, placeholder="any time",
        help="Only rows of the last N days (up to the build's reference time); empty: any time.",
    )  # fmt: skip


def _orders(row: data.OrdersRow, ctx: Context) -> None:
    a, b, c, d = st.columns([2.2, 2.6, 1.2, 1.6])
    with a:
        row.measure = _select(
            f"aud.{row.id}.measure", "Measure", MEASURES, row.measure,
            lambda m: "Count of orders" if m == "count" else f"{m.capitalize()} of",
        )  # fmt: skip
    with b:
        if row.measure != "count":
            numeric = data.numeric_columns(ctx.db, ctx.project, data.ORDERS_MART)
            row.column = _select(f"aud.{row.id}.column", "Column", numeric, row.column)
    with c:
        row.compare = _select(
            f"aud.{row.id}.compare", "Compare", COMPARISONS, row.compare, lambda o: data.COMPARISON_LABELS[o]
        )
    with d:
        if row.measure == "count":
            row.amount = _int(f"aud.{row.id}.amount.int", "Value", _as_int(row.amount), min_value=0)
        else:
            row.amount = _float(f"aud.{row.id}.amount.float", "Value", row.amount)
    e, f = st.columns(2, vertical_alignment="bottom")
    with e:
        row.within_days = _days(f"aud.{row.id}.within", row.within_days)
    with f:
        row.completed_only = _toggle(f"aud.{row.id}.completed", "Completed orders only", row.completed_only)


def _as_int(value: int | float | None) -> int | None:
    return None if value is None else int(value)


def _events(row: data.EventsRow, ctx: Context) -> None:
    types = ["", *data.event_types(ctx.db)]
    types += [row.event_type] if row.event_type not in types else []
    a, b, c, d = st.columns([1.4, 2.4, 1.6, 1.8])
    with a:
        row.did_not = _select(
            f"aud.{row.id}.did", "Did", [False, True], row.did_not, lambda n: "did not" if n else "did"
        )
    with b:
        row.event_type = _select(f"aud.{row.id}.type", "Event", types, row.event_type, _any("any event"))
    with c:
        row.at_least = _int(f"aud.{row.id}.at_least", "At least … times", row.at_least, min_value=0)
    with d:
        row.within_days = _days(f"aud.{row.id}.within", row.within_days)


def _messages(row: data.MessagesRow, ctx: Context) -> None:
    names = data.campaigns(ctx.db)
    campaigns = ["", *names, *([row.campaign] if row.campaign and row.campaign not in names else [])]
    a, b, c = st.columns([1.4, 2, 2])
    with a:
        row.did_not = _select(
            f"aud.{row.id}.did", "Was", [False, True], row.did_not, lambda n: "was not" if n else "was"
        )
    with b:
        row.action = _select(f"aud.{row.id}.action", "Action", MESSAGE_ACTIONS, row.action)
    with c:
        row.channel = _select(
            f"aud.{row.id}.channel", "Channel", ["", *CHANNELS], row.channel,
            lambda ch: "any channel" if ch == "" else _channel(ch),
        )  # fmt: skip
    d, e, f = st.columns([3, 1.6, 2])
    with d:
        row.campaign = _select(
            f"aud.{row.id}.campaign", "Campaign", campaigns, row.campaign,
            lambda cid: "any campaign" if cid == "" else f"{names.get(cid, cid)} ({cid})",
        )  # fmt: skip
    with e:
        row.at_least = _int(f"aud.{row.id}.at_least", "At least … times", row.at_least, min_value=0)
    with f:
        row.within_days = _days(f"aud.{row.id}.within", row.within_days)


def _in_audience(row: data.InAudienceRow, ctx: Context) -> None:
    others = [n for n in ctx.saved.names if n not in (ctx.draft.name, ctx.draft.origin)]
    if row.audience and row.audience not in others:
        others.append(row.audience)
    a, b = st.columns(2)
    with a:
        row.audience = _select(
            f"aud.{row.id}.audience", "Member of audience", others, row.audience, empty=True,
            placeholder="Pick a saved audience",
        )  # fmt: skip
    spec = ctx.saved.specs.get(row.audience or "")
    groups = list(spec.groups) if spec is not None and spec.split else []
    groups += [g for g in row.groups if g not in groups]
    with b:
        if groups:
            row.groups = _multi(f"aud.{row.id}.groups", "Groups", groups, row.groups, placeholder="all groups")
        else:
            row.groups = []


def _conditions(ctx: Context) -> None:
    draft = ctx.draft
    draft.match = _select(
        "aud.match", "Profiles matching", ["all", "any"], draft.match,
        lambda m: f"{m} of these conditions",
    )  # fmt: skip
    if not draft.rows:
        st.caption("No condition yet: every profile is in the audience.")
    for row in draft.rows:
        _row(row, ctx)
    _add_menu(ctx, None)


def _sets(ctx: Context) -> DeltaGenerator:
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
            setattr(draft, attr, _multi(f"aud.{attr}", label, options, current, help=help_text))
        note = st.empty()
    return note


def _limit_split(ctx: Context) -> tuple[DeltaGenerator, DeltaGenerator]:
    draft = ctx.draft
    kinds = ctx.fields.kinds
    with st.expander("Limit and split", expanded=draft.limit_on or draft.split_on, icon=":material/call_split:"):
        draft.limit_on = _toggle("aud.limit_on", "Limit the number of members", draft.limit_on)
        if draft.limit_on:
            a, b, c = st.columns([1.4, 2.4, 1.4], vertical_alignment="bottom")
            with a:
                draft.limit_count = _int("aud.limit_count", "At most", draft.limit_count, min_value=1)
            orderable = ["", *[col for col, k in kinds.items() if k != "boolean"]]
            with b:
                draft.limit_order_by = _select(
                    "aud.limit_order_by", "Keep", orderable, draft.limit_order_by,
                    lambda col: "a random pick (salted)" if col == "" else f"the first by {col}",
                )  # fmt: skip
            with c:
                if draft.limit_order_by:
                    draft.limit_descending = _toggle("aud.limit_desc", "Largest first", draft.limit_descending)
        limit_note = st.empty()
        draft.split_on = _toggle("aud.split_on", "Split into groups (A/B tests, control groups)", draft.split_on)
        if draft.split_on:
            most = max(10, len(draft.split))
            n = _int("aud.split_n", "Groups", len(draft.split), min_value=2, max_value=most) or 2
            while len(draft.split) < n:
                draft.split.append(data.SplitRow(f"group_{len(draft.split) + 1}", None))
            del draft.split[n:]
            for i, group in enumerate(draft.split):
                a, b = st.columns([2, 1])
                with a:
                    group.name = _text(f"aud.split.{i}.name", f"Group {i + 1} name", group.name)
                with b:
                    group.percent = _float(
                        f"aud.split.{i}.percent", f"Group {i + 1} %", group.percent, min_value=0.0, max_value=100.0
                    )
            total = sum(g.percent or 0 for g in draft.split)
            st.caption(f"Percents add up to {total:g} (they must add up to 100).")
        draft.salt = _text(
            "aud.salt", "Salt", draft.salt, placeholder="the audience name",
            help="Seeds the split and the random limit: the same salt keeps everyone in the same group.",
        )  # fmt: skip
        split_note = st.empty()
    return limit_note, split_note


# ---------------------------------------------------------------------------------------------- results


def _bars(frame: pd.DataFrame, options: ChartOptions) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(frame)
        .mark_bar(color="#1565c0")
        .encode(
            y=alt.Y("value:N", sort="-x", title=None),
            x=alt.X("members:Q", title="Members"),
            tooltip=[alt.Tooltip("value:N", title="Value"), alt.Tooltip("members:Q", title="Members", format=",")],
        )
        .properties(
            title=alt.Title(options.title, subtitle=options.subtitle or "", anchor="start"), height=alt.Step(24)
        )
        .configure_view(strokeWidth=0)
    )
    return chart


def _count(ctx: Context, spec: AudienceSpec | None, evaluation: data.Evaluation | None, yaml_text: str) -> None:
    if spec is None or evaluation is None or evaluation.count is None:
        st.metric("Members", "—", border=True, help="Fix the condition marked in red to see the count.")
        st.error("No count: fix the problem marked in the form.", icon=":material/error:")
        return
    count = evaluation.count
    # The delta is the change the last edit made, so each condition's effect shows as it is added.
    last = st.session_state.get("aud_last")
    delta = None
    if last is not None and last[0] == yaml_text:
        delta = last[2]
    elif last is not None:
        delta = count.total - last[1]
    st.session_state["aud_last"] = (yaml_text, count.total, delta)
    total = data.total_profiles(ctx.db)
    share = count.total / total if total else 0.0
    st.metric(
        "Members",
        f"{count.total:,}",
        delta=None if not delta else f"{delta:+,} with the last change",
        delta_color="off",
        border=True,
        help="Profiles matching the audience in the published build, counted live.",
    )
    st.caption(f"{share:.1%} of {total:,} profiles in the published build.")
    if spec.split:
        groups = pd.DataFrame(count.groups, columns=["group", "members"])
        groups["share"] = groups["members"] / max(count.total, 1) * 100
        st.dataframe(
            groups,
            hide_index=True,
            column_config={
                "group": st.column_config.TextColumn("Group"),
                "members": st.column_config.NumberColumn("Members", format="localized"),
                "share": st.column_config.ProgressColumn("Share", format="%.1f%%", min_value=0, max_value=100),
            },
        )


def _insights(ctx: Context, spec: AudienceSpec, token: str, size: int) -> None:
    # Only the open tab is computed: each is a query over the whole audience, rerun on every edit.
    breakdown, members, reach, overlap = st.tabs(
        ["Breakdown", "Members", "Reachability", "Overlap"], key="aud_tab", on_change="rerun"
    )
    args = (ctx.db, ctx.project, token, spec)
    if breakdown.open:
        with breakdown:
            kinds = ctx.fields.kinds
            columns = [c for c in kinds if c in ctx.fields.few_values or kinds[c] == "boolean"]
            columns += [c for c in ("engagement_score", "order_count", "recency_score") if c in kinds]
            default = "country_code" if "country_code" in columns else columns[0]
            column = _select("aud_breakdown", "Break down by", columns, default)
            frame = data.breakdown(*args, column)
            chart_or_note(_bars, frame, ChartOptions(f"Members by {column}", "Largest values first"), "No member.")
    if members.open:
        with members:
            sample = data.sample(*args)
            if sample.empty:
                st.caption("No member.")
            else:
                st.dataframe(sample, hide_index=True)
                st.caption(f"The first {len(sample)} members by profile id.")
    if reach.open:
        with reach:
            frame = data.reachability(*args)
            frame["channel"] = frame["channel"].map(_channel)
            frame["share"] = frame["members"] / max(size, 1) * 100
            st.dataframe(
                frame,
                hide_index=True,
                column_config={
                    "channel": st.column_config.TextColumn("Channel"),
                    "members": st.column_config.NumberColumn("Reachable members", format="localized"),
                    "share": st.column_config.ProgressColumn("Share", format="%.1f%%", min_value=0, max_value=100),
                },
            )
            st.caption("Members with a valid address, consent and no quarantine on each channel.")
    if overlap.open:
        with overlap:
            shared = data.overlap(*args)
            if shared.empty:
                st.caption("No other saved audience to compare with.")
                return
            shared["of_this"] = shared["shared"] / max(size, 1) * 100
            shared["of_theirs"] = shared["shared"] / shared["size"].clip(lower=1) * 100
            st.dataframe(
                shared.sort_values(["shared", "audience"], ascending=[False, True]),
                hide_index=True,
                column_config={
                    "audience": st.column_config.TextColumn("Audience"),
                    "size": st.column_config.NumberColumn("Its size", format="localized"),
                    "shared": st.column_config.NumberColumn("Shared members", format="localized"),
                    "of_this": st.column_config.ProgressColumn("% of this one", format="%.1f%%", max_value=100),
                    "of_theirs": st.column_config.ProgressColumn("% of theirs", format="%.1f%%", max_value=100),
                },
            )


def _sql(ctx: Context, spec: AudienceSpec, token: str) -> None:
    if not st.toggle("Show SQL", key="aud_show_sql"):
        return
    dialect = st.radio("Dialect", DIALECTS, horizontal=True, key="aud_dialect")
    try:
        sql = data.compiled_sql(ctx.db, ctx.project, token, spec, dialect)
    except HeraldError as exc:
        st.error(plain(str(exc)))
        return
    st.code(sql, language="sql", wrap_lines=True)


def _yaml(spec: AudienceSpec | None, composed: data.Composed) -> None:
    with st.expander("Spec (YAML)", icon=":material/description:"):
        if spec is not None:
            st.code(data.spec_yaml(spec), language="yaml")
        else:
            st.caption("Not a valid spec yet; this is what the form says so far.")
            st.code(data.yaml_of(composed.data), language="yaml")
        if composed.data.get("name") == data.STAND_IN_NAME:
            st.caption(f"`{data.STAND_IN_NAME}` stands in for the name until you give one.")


# ---------------------------------------------------------------------------------------------- save and build


def _status(project: Project, name: str) -> None:
    polling = data.build_status(project, name).state == "running"
    st.session_state["aud_polling"] = polling

    @st.fragment(run_every=POLL_SECONDS if polling else None)
    def panel() -> None:
        status = data.build_status(project, name)
        if st.session_state.get("aud_polling") and status.state != "running":
            st.session_state["aud_polling"] = False
            st.rerun()  # the build is over: refresh the whole page (new published file, counts, status)
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
            data.build(project, name)
            st.rerun()

    panel()


def _save(
    ctx: Context,
    spec: AudienceSpec | None,
    composed: data.Composed,
    blocked: str | None,
    yaml_text: str,
) -> Problem | None:
    """The Save button; returns a problem saving ran into (kept until the spec changes)."""
    saved = ctx.saved.specs.get(ctx.draft.origin or "")
    button, state = st.columns([1, 3], vertical_alignment="center")
    with button:
        clicked = st.button(
            "Save and build", type="primary", key="aud_save", disabled=blocked is not None, icon=":material/save:"
        )
    with state:
        if blocked:
            st.caption(blocked)
        elif saved is not None and spec is not None and data.spec_yaml(saved) == yaml_text:
            st.caption("No unsaved changes.")
        elif saved is not None:
            st.caption(":material/edit: Unsaved changes.")
    kept = st.session_state.get("aud_save_problem")
    problem: Problem | None = kept[1] if kept is not None and kept[0] == yaml_text else None
    if clicked and spec is not None and blocked is None:
        problem = data.save(ctx.project, spec, ctx.draft.origin, composed.paths)
        if problem is None:
            data.build(ctx.project, spec.name)
            ctx.draft.origin = spec.name
            st.session_state["aud_pick_next"] = spec.name
            st.session_state.pop("aud_save_problem", None)
            st.rerun()
        st.session_state["aud_save_problem"] = (yaml_text, problem)
    return problem


def _blocked(draft: Draft, composed: data.Composed, problem: Problem | None) -> str | None:
    """Why the audience cannot be saved as it stands, or None."""
    reason = data.name_problem(draft.name)
    if reason:
        return reason
    if composed.left_out:
        return "Complete or remove the conditions marked in yellow to save."
    if problem is not None:
        return "Fix the problem marked in red to save."
    return None


# ---------------------------------------------------------------------------------------------- the page


def _show_notes(ctx: Context, composed: data.Composed, problem: Problem | None, sections: dict[str, Any]) -> None:
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
    ctx = Context(db, project, fields, saved, _draft())

    left, right = st.columns([3, 2], gap="large")
    with left:
        _picker(ctx)
        name_note = _details(ctx)
        st.subheader("Conditions")
        _conditions(ctx)
        sets_note = _sets(ctx)
        limit_note, split_note = _limit_split(ctx)
        form_note = st.empty()

    composed = data.compose(ctx.draft, fields)
    built = data.build_spec(composed)
    spec = built if isinstance(built, AudienceSpec) else None
    problem = built if isinstance(built, Problem) else None
    evaluation = data.evaluate(db, project, token, spec, composed.paths) if spec is not None else None
    if evaluation is not None and evaluation.problem is not None:
        problem = evaluation.problem
    yaml_text = data.spec_yaml(spec) if spec is not None else data.yaml_of(composed.data)

    with left:
        blocked = _blocked(ctx.draft, composed, problem)
        save_problem = _save(ctx, spec, composed, blocked, yaml_text)
        if ctx.draft.origin:
            _status(project, ctx.draft.origin)
    sections = {"name": name_note, "sets": sets_note, "limit": limit_note, "split": split_note, "form": form_note}
    name_reason = data.name_problem(ctx.draft.name)
    if name_reason and ctx.draft.name:
        name_note.caption(f":material/edit_note: {name_reason}")
    _show_notes(ctx, composed, problem or save_problem, sections)

    with right:
        _count(ctx, spec, evaluation, yaml_text)
        if spec is not None and evaluation is not None and evaluation.count is not None:
            _insights(ctx, spec, token, evaluation.count.total)
            _sql(ctx, spec, token)
        _yaml(spec, composed)


main()
