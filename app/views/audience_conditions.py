"""The Audiences page's conditions: one bordered row per condition of the draft (a profile attribute, orders,
events, messages, consent, reachability, another audience, a group, or YAML), each editing its draft row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app import widgets as w
from app.data import audiences as data
from app.ui import channel_label
from app.views.audience_form import Context, current_draft
from herald.audiences.drafts import (
    DATE_MAX,
    DATE_MIN,
    AttributeRow,
    ConsentRow,
    EventsRow,
    Fields,
    GroupRow,
    InAudienceRow,
    LeafRow,
    MessagesRow,
    OrdersRow,
    ReachableRow,
    Row,
    RowKind,
    YamlRow,
    operators_for,
    widget_of,
)
from herald.audiences.spec import CHANNELS, COMPARISONS, MEASURES, MESSAGE_ACTIONS

ADDABLE: tuple[RowKind, ...] = (
    "attribute", "orders", "events", "messages", "consent", "reachable", "in_audience", "group", "yaml",
)  # fmt: skip
ROW_LABELS: Mapping[RowKind, str] = {
    "attribute": "Profile attribute",
    "orders": "Orders",
    "events": "Events",
    "messages": "Messages",
    "consent": "Consent",
    "reachable": "Reachable on",
    "in_audience": "In audience",
    "group": "Group (any / all)",
    "yaml": "Custom (YAML)",
}
OP_LABELS: Mapping[str, str] = {
    "eq": "is",
    "ne": "is not",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "in": "is one of",
    "not_in": "is none of",
    "between": "between",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts_with": "starts with",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "in_last_days": "in the last … days",
    "not_in_last_days": "not in the last … days",
    "before": "before",
    "after": "after",
    "birthday_within_days": "birthday within … days",
}
COMPARISON_LABELS: Mapping[str, str] = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}


def _any(label: str) -> Callable[[Any], str]:
    return lambda v: label if v == "" else str(v)


def _date(key: str, label: str, current: dt.date | None, **kwargs: Any) -> dt.date | None:
    return w.date(key, label, current, min_value=DATE_MIN, max_value=DATE_MAX, **kwargs)


def _add(kind: RowKind, fields: Fields, parent: str | None) -> None:
    current_draft().add(kind, fields, parent)


def _remove(row_id: str) -> None:
    current_draft().remove(row_id)


def conditions(ctx: Context) -> None:
    """How the rows combine, every row, and the menu that adds one."""
    draft = ctx.draft
    draft.match = w.select(
        "aud.match", "Profiles matching", ["all", "any"], draft.match,
        lambda m: f"{m} of these conditions",
    )  # fmt: skip
    if not draft.rows:
        st.caption("No condition yet: every profile is in the audience.")
    for row in draft.rows:
        _row(row, ctx)
    _add_menu(ctx, None)


def _add_menu(ctx: Context, parent: str | None) -> None:
    kinds = [k for k in ADDABLE if parent is None or k != "group"]
    where = "top" if parent is None else parent
    label = "Add condition" if parent is None else "Add to group"
    with st.popover(label, icon=":material/add:"):
        for kind in kinds:
            st.button(
                ROW_LABELS[kind],
                key=f"aud.add.{where}.{kind}",
                on_click=_add,
                args=(kind, ctx.fields, parent),
                width="stretch",
            )


def _row(row: Row, ctx: Context) -> None:
    with st.container(border=True):
        title, negate, remove = st.columns([6, 1, 0.45], vertical_alignment="center")
        with title:
            if isinstance(row, GroupRow):
                row.match = w.select(
                    f"aud.{row.id}.match", "Group", ["any", "all"], row.match, lambda m: f"Group: {m} of",
                    label_visibility="collapsed",
                )  # fmt: skip
            else:
                st.caption(_title(row, ctx))
        with negate:
            row.negate = w.check(f"aud.{row.id}.not", "NOT", row.negate)
        with remove:
            st.button(
                "", icon=":material/close:", key=f"aud.{row.id}.remove", help="Remove", type="tertiary",
                on_click=_remove, args=(row.id,),
            )  # fmt: skip
        if isinstance(row, GroupRow):
            for child in row.children:
                _row(child, ctx)
            _add_menu(ctx, row.id)
        else:
            _leaf(row, ctx)
        ctx.notes[row.id] = st.empty()


def _title(row: LeafRow, ctx: Context) -> str:
    label = ROW_LABELS[row.KIND]
    if isinstance(row, YamlRow):
        return "Custom condition in YAML: any shape an audience spec allows"
    if isinstance(row, AttributeRow) and row.column in ctx.fields.kinds:
        return f"{label} · {ctx.fields.kinds[row.column]}"
    return label


def _leaf(row: LeafRow, ctx: Context) -> None:
    if isinstance(row, AttributeRow):
        _attribute(row, ctx)
    elif isinstance(row, OrdersRow):
        _orders(row, ctx)
    elif isinstance(row, EventsRow):
        _events(row, ctx)
    elif isinstance(row, MessagesRow):
        _messages(row, ctx)
    elif isinstance(row, ConsentRow):
        _consent(row, ctx)
    elif isinstance(row, ReachableRow):
        row.channel = w.select(
            f"aud.{row.id}.channel", "Reachable now on", CHANNELS, row.channel, channel_label,
            label_visibility="collapsed",
        )  # fmt: skip
        st.caption("A valid address, consent and no quarantine on that channel, now.")
    elif isinstance(row, InAudienceRow):
        _in_audience(row, ctx)
    else:
        height = min(320, 40 + 22 * max(2, row.text.count("\n") + 1))
        row.text = w.area(
            f"aud.{row.id}.yaml", "Condition (YAML)", row.text, label_visibility="collapsed", height=height,
            placeholder="city: {in: [Paris, Lyon]}",
        )  # fmt: skip


def _attribute(row: AttributeRow, ctx: Context) -> None:
    kinds = ctx.fields.kinds
    # A column a newer build dropped stays listed, so the row says what it was rather than changing silently.
    columns = list(kinds) if row.column in kinds else [*kinds, row.column]
    column_col, op_col, value_col = st.columns([3.4, 2, 3.6], vertical_alignment="top")
    with column_col:
        row.column = w.select(
            f"aud.{row.id}.column", "Column", columns, row.column, lambda c: f"{c} · {kinds.get(c, 'missing')}",
            label_visibility="collapsed",
        )  # fmt: skip
    if row.column not in kinds:
        return
    with op_col:
        row.op = w.select(
            f"aud.{row.id}.op", "Operator", operators_for(kinds[row.column]), row.op,
            lambda o: OP_LABELS[o], label_visibility="collapsed",
        )  # fmt: skip
    widget = widget_of(row, ctx.fields)
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
                    pair.append(w.integer(f"{key}.{part}", label, value, placeholder=part, **hidden))
                elif widget == "float_range":
                    pair.append(w.number(f"{key}.{part}", label, value, placeholder=part, **hidden))
                else:
                    pair.append(_date(f"{key}.{part}", label, value, **hidden))
        row.values[widget] = (pair[0], pair[1])


def _value(widget: str, key: str, row: AttributeRow, ctx: Context, current: Any, hidden: dict[str, Any]) -> Any:
    label = f"Value ({row.column})"
    if widget == "choice":
        options = data.choices(ctx.db, row.column)
        options = [*options, *([current] if current and current not in options else [])]
        return w.select(key, label, options, current, empty=True, placeholder="Pick a value", **hidden)
    if widget == "choices":
        options = data.choices(ctx.db, row.column)
        options = [*options, *[v for v in current or [] if v not in options]]
        return w.multi(key, label, options, current or [], placeholder="Pick values", **hidden)
    if widget == "lines":
        return w.area(key, label, current or "", placeholder="One value per line", height=80, **hidden)
    if widget == "text":
        return w.text(key, label, current or "", placeholder="Text", **hidden)
    if widget == "int":
        return w.integer(key, label, current, placeholder="A whole number", **hidden)
    if widget == "float":
        return w.number(key, label, current, placeholder="A number", **hidden)
    if widget == "days":
        return w.integer(key, label, current, min_value=0, max_value=36_600, placeholder="Days", **hidden)
    if widget == "bool":
        return w.toggle(key, "true", True if current is None else bool(current), help=f"Off: {row.column} is false")
    return _date(key, label, current, **hidden)


def _days(key: str, current: int | None) -> int | None:
    return w.integer(
        key, "Within … days", current, min_value=0, max_value=36_600, placeholder="any time",
        help="Only rows of the last N days (up to the build's reference time); empty: any time.",
    )  # fmt: skip


def _did(row: EventsRow | MessagesRow, verb: str) -> None:
    """Whether the row counts what happened ("did") or what did not ("did not")."""
    key = f"aud.{row.id}.did"
    row.did_not = w.select(key, verb.capitalize(), [False, True], row.did_not, lambda n: f"{verb} not" if n else verb)


def _times(row: EventsRow | MessagesRow, at_least: DeltaGenerator, within: DeltaGenerator) -> None:
    """How many times, in column ``at_least``, and within how many days, in column ``within``."""
    with at_least:
        row.at_least = w.integer(f"aud.{row.id}.at_least", "At least … times", row.at_least, min_value=0)
    with within:
        row.within_days = _days(f"aud.{row.id}.within", row.within_days)


def _orders(row: OrdersRow, ctx: Context) -> None:
    a, b, c, d = st.columns([2.2, 2.6, 1.2, 1.6])
    with a:
        row.measure = w.select(
            f"aud.{row.id}.measure", "Measure", MEASURES, row.measure,
            lambda m: "Count of orders" if m == "count" else f"{m.capitalize()} of",
        )  # fmt: skip
    with b:
        if row.measure != "count":
            numeric = data.numeric_columns(ctx.db, ctx.project, data.ORDERS_MART)
            row.column = w.select(f"aud.{row.id}.column", "Column", numeric, row.column)
    with c:
        row.compare = w.select(
            f"aud.{row.id}.compare", "Compare", COMPARISONS, row.compare, lambda o: COMPARISON_LABELS[o]
        )
    with d:
        if row.measure == "count":
            amount = None if row.amount is None else int(row.amount)
            row.amount = w.integer(f"aud.{row.id}.amount.int", "Value", amount, min_value=0)
        else:
            row.amount = w.number(f"aud.{row.id}.amount.float", "Value", row.amount)
    e, f = st.columns(2, vertical_alignment="bottom")
    with e:
        row.within_days = _days(f"aud.{row.id}.within", row.within_days)
    with f:
        row.completed_only = w.toggle(f"aud.{row.id}.completed", "Completed orders only", row.completed_only)


def _events(row: EventsRow, ctx: Context) -> None:
    types = ["", *data.event_types(ctx.db)]
    types += [row.event_type] if row.event_type not in types else []
    a, b, c, d = st.columns([1.4, 2.4, 1.6, 1.8])
    with a:
        _did(row, "did")
    with b:
        row.event_type = w.select(f"aud.{row.id}.type", "Event", types, row.event_type, _any("any event"))
    _times(row, c, d)


def _messages(row: MessagesRow, ctx: Context) -> None:
    names = data.campaigns(ctx.db)
    campaigns = ["", *names, *([row.campaign] if row.campaign and row.campaign not in names else [])]
    a, b, c = st.columns([1.4, 2, 2])
    with a:
        _did(row, "was")
    with b:
        row.action = w.select(f"aud.{row.id}.action", "Action", MESSAGE_ACTIONS, row.action)
    with c:
        row.channel = w.select(
            f"aud.{row.id}.channel", "Channel", ["", *CHANNELS], row.channel,
            lambda ch: "any channel" if ch == "" else channel_label(ch),
        )  # fmt: skip
    d, e, f = st.columns([3, 1.6, 2])
    with d:
        row.campaign = w.select(
            f"aud.{row.id}.campaign", "Campaign", campaigns, row.campaign,
            lambda cid: "any campaign" if cid == "" else f"{names.get(cid, cid)} ({cid})",
        )  # fmt: skip
    _times(row, e, f)


def _consent(row: ConsentRow, ctx: Context) -> None:
    a, b = st.columns(2)
    with a:
        row.channel = w.select(f"aud.{row.id}.channel", "Opted in on", CHANNELS, row.channel, channel_label)
    topics = ["", *data.consent_topics(ctx.db)]
    with b:
        row.topic = w.select(
            f"aud.{row.id}.topic", "Topic", [*topics, *([row.topic] if row.topic not in topics else [])],
            row.topic, _any("any topic"),
        )  # fmt: skip


def _in_audience(row: InAudienceRow, ctx: Context) -> None:
    others = [n for n in ctx.saved.names if n not in (ctx.draft.name, ctx.draft.origin)]
    if row.audience and row.audience not in others:
        others.append(row.audience)
    a, b = st.columns(2)
    with a:
        row.audience = w.select(
            f"aud.{row.id}.audience", "Member of audience", others, row.audience, empty=True,
            placeholder="Pick a saved audience",
        )  # fmt: skip
    spec = ctx.saved.specs.get(row.audience or "")
    groups = list(spec.groups) if spec is not None and spec.split else []
    groups += [g for g in row.groups if g not in groups]
    with b:
        if groups:
            row.groups = w.multi(f"aud.{row.id}.groups", "Groups", groups, row.groups, placeholder="all groups")
        else:
            row.groups = []
