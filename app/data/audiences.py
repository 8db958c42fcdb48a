"""The logic behind the Audiences page: an editable draft, its conversion to and from specs, live queries.

The page edits a ``Draft``: plain rows (a profile attribute, orders, events, messages, consent, reachable,
another audience, a group of rows, or raw YAML) that ``compose`` turns into the mapping ``parse_spec`` reads,
recording where each row lands (``where.all[2]``) so an ``AudienceSpecError`` naming a condition can be shown
next to that row. ``draft_from_spec`` goes the other way and keeps any condition the rows cannot reproduce
exactly as YAML, so opening and saving a spec never changes it.

Live figures come from ``herald.audiences.live`` on the published file, cached with that file's path in the
key (a new publish is never served old figures) and the saved audiences' content (``in_audience`` reads them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import duckdb
import ibis
import pandas as pd
import streamlit as st
import yaml

from app.data.warehouse import CACHE_TTL, read_only
from herald.audiences.compiler import OPERATOR_KINDS, Dialect
from herald.audiences.jobs import AudienceJob, job_path, read_job, start_build
from herald.audiences.library import AudienceLibrary
from herald.audiences.live import AudienceCount, open_live
from herald.audiences.models import dbt_compiler
from herald.audiences.schema import PROFILES, ColumnKind, from_contracts
from herald.audiences.service import list_audiences, save_audience
from herald.audiences.spec import (
    ATTRIBUTE_OPS,
    NAME_PATTERN,
    UNARY_OPS,
    Attribute,
    AudienceSpec,
    Condition,
    Consent,
    Group,
    InAudience,
    Not,
    Reachable,
    Related,
    condition_to_dict,
    dump_spec,
    parse_spec,
)
from herald.errors import AudienceSpecError, HeraldError
from herald.project import Project

# A string column with at most this many distinct values gets a pick-list of them instead of a text box.
MAX_CHOICES = 50
SAMPLE_ROWS = 20
# What the browser's inputs can hold: a larger number or a date outside the range stays a YAML row.
MAX_SAFE_INTEGER = 2**53 - 1
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2100, 12, 31)
# Counts before the user names the audience need a valid name; the split and random limit hash with it.
STAND_IN_NAME = "untitled_audience"
ORDERS_MART = "orders"
EVENTS_MART = "profile_events"
CONSENTS_MART = "profile_consents"
MESSAGES_MART = "messages"

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
RowKind = Literal["attribute", "orders", "events", "messages", "consent", "reachable", "in_audience", "group", "yaml"]
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
# How a value is entered: decided by the column's kind and the operator.
ValueWidget = Literal[
    "none", "text", "choice", "choices", "lines", "int", "float", "int_range", "float_range", "date", "date_range",
    "days", "bool",
]  # fmt: skip
_DAY_OPS = ("in_last_days", "not_in_last_days", "birthday_within_days")
_SECTIONS = {
    "name": "name",
    "description": "name",
    "owner": "name",
    "limit": "limit",
    "split": "split",
    "salt": "split",
    "union": "sets",
    "intersection": "sets",
    "exclude": "sets",
}
# The flag each message action filters on (the spec's shorthand); "received" filters on none.
_ACTION_FLAGS = {
    "delivered": "is_delivered",
    "opened": "is_opened",
    "clicked": "is_clicked",
    "bounced": "is_bounced",
    "unsubscribed": "is_unsubscribed",
}


# ---------------------------------------------------------------------------------------------- the draft


@dataclass
class AttributeRow:
    id: str
    column: str
    op: str = "eq"
    # One value per value widget, so switching operator and back keeps what was typed.
    values: dict[str, Any] = field(default_factory=dict)
    negate: bool = False
    KIND: ClassVar[RowKind] = "attribute"


@dataclass
class OrdersRow:
    id: str
    measure: str = "count"
    column: str = "total_amount_eur"
    compare: str = "gte"
    amount: int | float | None = 1
    within_days: int | None = None
    completed_only: bool = False
    negate: bool = False
    KIND: ClassVar[RowKind] = "orders"


@dataclass
class EventsRow:
    id: str
    event_type: str = ""  # "" is any event
    did_not: bool = False
    at_least: int | None = 1
    within_days: int | None = None
    negate: bool = False
    KIND: ClassVar[RowKind] = "events"


@dataclass
class MessagesRow:
    id: str
    action: str = "received"
    channel: str = ""  # "" is any channel
    campaign: str = ""  # "" is any campaign
    did_not: bool = False
    at_least: int | None = 1
    within_days: int | None = None
    negate: bool = False
    KIND: ClassVar[RowKind] = "messages"


@dataclass
class ConsentRow:
    id: str
    channel: str = "email"
    topic: str = ""  # "" is any topic
    negate: bool = False
    KIND: ClassVar[RowKind] = "consent"


@dataclass
class ReachableRow:
    id: str
    channel: str = "email"
    negate: bool = False
    KIND: ClassVar[RowKind] = "reachable"


@dataclass
class InAudienceRow:
    id: str
    audience: str | None = None
    groups: list[str] = field(default_factory=list)
    negate: bool = False
    KIND: ClassVar[RowKind] = "in_audience"


@dataclass
class YamlRow:
    """Any condition the spec allows, as YAML: for shapes the builder does not edit (deeper nesting, …)."""

    id: str
    text: str = ""
    negate: bool = False
    KIND: ClassVar[RowKind] = "yaml"


LeafRow = AttributeRow | OrdersRow | EventsRow | MessagesRow | ConsentRow | ReachableRow | InAudienceRow | YamlRow


@dataclass
class GroupRow:
    id: str
    match: Literal["all", "any"] = "any"
    children: list[LeafRow] = field(default_factory=list)
    negate: bool = False
    KIND: ClassVar[RowKind] = "group"


Row = LeafRow | GroupRow


@dataclass
class SplitRow:
    name: str
    percent: float | None


@dataclass
class Draft:
    """The audience being edited. ``origin`` is the saved audience it was opened from (None: a new one)."""

    origin: str | None = None
    name: str = ""
    description: str = ""
    owner: str = ""
    match: Literal["all", "any"] = "all"
    rows: list[Row] = field(default_factory=list)
    # A spec saved as `where: {all: [one condition]}` keeps that shape rather than becoming the bare condition.
    wrap_single: bool = False
    union: list[str] = field(default_factory=list)
    intersection: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    limit_on: bool = False
    limit_count: int | None = 1000
    limit_order_by: str = ""  # "" is a random pick
    limit_descending: bool = True
    split_on: bool = False
    split: list[SplitRow] = field(default_factory=lambda: [SplitRow("A", 50.0), SplitRow("B", 50.0)])
    salt: str = ""
    next_id: int = 0

    def new_id(self) -> str:
        self.next_id += 1
        return f"c{self.next_id}"

    def add(self, kind: RowKind, fields: Fields, parent: str | None = None) -> Row:
        """Append a new row of ``kind`` at the top level or to group ``parent``; returns it."""
        row = new_row(kind, self.new_id(), fields)
        if parent is None:
            self.rows.append(row)
            return row
        group = next(r for r in self.rows if r.id == parent)
        assert isinstance(group, GroupRow) and not isinstance(row, GroupRow)
        group.children.append(row)
        return row

    def remove(self, row_id: str) -> None:
        self.rows = [r for r in self.rows if r.id != row_id]
        for r in self.rows:
            if isinstance(r, GroupRow):
                r.children = [c for c in r.children if c.id != row_id]


@dataclass(frozen=True, slots=True)
class Fields:
    """What the builder offers for profile attributes: every column with its kind, and the string columns
    with few enough distinct values to pick from a list."""

    kinds: Mapping[str, ColumnKind]
    few_values: frozenset[str]


def new_row(kind: RowKind, row_id: str, fields: Fields) -> Row:
    """A row with sensible defaults; attribute rows start without a value so they count only once filled in."""
    if kind == "attribute":
        column = "country_code" if "country_code" in fields.kinds else next(iter(fields.kinds))
        return AttributeRow(row_id, column=column, op=operators_for(fields.kinds[column])[0])
    classes: dict[str, Callable[[str], Row]] = {
        "orders": OrdersRow,
        "events": EventsRow,
        "messages": MessagesRow,
        "consent": ConsentRow,
        "reachable": ReachableRow,
        "in_audience": InAudienceRow,
        "group": GroupRow,
        "yaml": YamlRow,
    }
    return classes[kind](row_id)


def operators_for(kind: ColumnKind) -> list[str]:
    """The operators a column of ``kind`` accepts, in the spec's order (equality first)."""
    return [op for op in ATTRIBUTE_OPS if kind in OPERATOR_KINDS[op]]


def value_widget(kind: ColumnKind, op: str, few_values: bool) -> ValueWidget:
    """How the value of ``column op value`` is entered for a column of ``kind``."""
    if op in UNARY_OPS:
        return "none"
    if op in _DAY_OPS:
        return "days"
    if op in ("in", "not_in"):
        return "choices" if kind == "string" and few_values else "lines"
    if op == "between":
        return "int_range" if kind == "integer" else "float_range" if kind == "number" else "date_range"
    if kind == "string":
        return "choice" if few_values and op in ("eq", "ne") else "text"
    if kind == "integer":
        return "int"
    if kind == "number":
        return "float"
    if kind == "boolean":
        return "bool"
    return "date"  # a timestamp compares with midnight (UTC) of the chosen day


def widget_of(row: AttributeRow, fields: Fields) -> ValueWidget:
    return value_widget(fields.kinds[row.column], row.op, row.column in fields.few_values)


# ---------------------------------------------------------------------------------------------- draft → spec


@dataclass(frozen=True, slots=True)
class Issue:
    """Why a row is left out of the spec: not filled in yet (``incomplete``) or unreadable (``error``)."""

    message: str
    severity: Literal["incomplete", "error"] = "incomplete"


@dataclass(frozen=True, slots=True)
class Problem:
    """An error to show: next to ``row`` (a condition row id) or ``section`` ("name", "limit", "split",
    "sets"), or above the form when both are None."""

    message: str
    row: str | None = None
    section: str | None = None


@dataclass(frozen=True, slots=True)
class Composed:
    """The mapping ``parse_spec`` reads, where each included row landed, and the rows left out."""

    data: dict[str, Any]
    paths: dict[str, str]
    left_out: dict[str, Issue]


class _Missing(Exception):
    """A row is not complete enough to be part of the spec."""


def _need(value: Any, message: str) -> Any:
    if value is None or value == "" or value == [] or value == ():
        raise _Missing(message)
    return value


def _whole(x: int | float) -> int | float:
    """Whole floats as ints: a number input gives 100.0 for 100 and the spec should say 100."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


def parse_lines(text: str, kind: ColumnKind) -> list[Any]:
    """One value per non-empty line, typed for the column when the text reads as that type (else kept as
    text, so the compiler reports the mismatch with the condition's path)."""
    out: list[Any] = []
    for line in text.splitlines():
        item = line.strip()
        if not item:
            continue
        out.append(_typed(item, kind))
    return out


def _typed(item: str, kind: ColumnKind) -> Any:
    parsers: list[Any] = []
    if kind in ("integer", "number"):
        parsers = [int, float]
    elif kind == "date":
        parsers = [dt.date.fromisoformat]
    elif kind == "timestamp":
        parsers = [dt.date.fromisoformat, dt.datetime.fromisoformat]
    for parse in parsers:
        try:
            return parse(item)
        except ValueError:
            continue
    return item


def format_lines(values: tuple[Any, ...]) -> str:
    def one(v: Any) -> str:
        if isinstance(v, dt.datetime):
            return v.isoformat(sep=" ")
        if isinstance(v, dt.date):
            return v.isoformat()
        return str(v)

    return "\n".join(one(v) for v in values)


def _attribute_value(row: AttributeRow, fields: Fields) -> Any:
    widget = widget_of(row, fields)
    raw = row.values.get(widget)
    kind = fields.kinds[row.column]
    if widget == "none":
        return True
    if widget == "days":
        return _need(raw, "Enter a number of days.")
    if widget == "choices":
        return list(_need(raw, "Pick at least one value."))
    if widget == "lines":
        return _need(parse_lines(raw or "", kind), "Enter at least one value, one per line.")
    if widget in ("int_range", "float_range", "date_range"):
        low, high = raw if isinstance(raw, tuple | list) and len(raw) == 2 else (None, None)
        if low is None or high is None:
            raise _Missing("Enter both ends of the range.")
        return [_whole(low), _whole(high)] if widget != "date_range" else [low, high]
    if widget == "choice":
        return _need(raw, "Pick a value.")
    if widget == "text":
        return _need(raw, "Enter a text.")
    if widget == "bool":
        return True if raw is None else bool(raw)
    value = _need(raw, "Enter a value." if widget != "date" else "Pick a date.")
    return _whole(value) if widget in ("int", "float") else value


def _leaf_dict(row: LeafRow, fields: Fields) -> dict[str, Any]:
    """The spec mapping of one leaf row (without its `not`); _Missing when incomplete."""
    if isinstance(row, AttributeRow):
        if row.column not in fields.kinds:
            raise _Missing(f"The published warehouse has no column {row.column!r} any more.")
        return {row.column: {row.op: _attribute_value(row, fields)}}
    if isinstance(row, OrdersRow):
        body: dict[str, Any] = {}
        if row.completed_only:
            body["where"] = {"is_completed": {"eq": True}}
        if row.within_days is not None:
            body["within_days"] = row.within_days
        measure: dict[str, Any] = {row.compare: _whole(_need(row.amount, "Enter a number to compare with."))}
        if row.measure != "count":
            measure = {"column": row.column, **measure}
        body[row.measure] = measure
        return {"orders": body}
    if isinstance(row, EventsRow):
        body = {"type": row.event_type} if row.event_type else {}
        body["at_least"] = _need(row.at_least, "Enter how many times.")
        if row.did_not:
            body["did_not"] = True
        if row.within_days is not None:
            body["within_days"] = row.within_days
        return {"events": body}
    if isinstance(row, MessagesRow):
        body = {"action": row.action}
        if row.campaign:
            body["campaign"] = row.campaign
        if row.channel:
            body["channel"] = row.channel
        if row.within_days is not None:
            body["within_days"] = row.within_days
        body["count"] = {"lt" if row.did_not else "gte": _need(row.at_least, "Enter how many times.")}
        return {"messages": body}
    if isinstance(row, ConsentRow):
        return {"consent": {"channel": row.channel, **({"topic": row.topic} if row.topic else {})}}
    if isinstance(row, ReachableRow):
        return {"reachable": row.channel}
    if isinstance(row, InAudienceRow):
        name = _need(row.audience, "Pick a saved audience.")
        return {"in_audience": {"name": name, **({"groups": list(row.groups)} if row.groups else {})}}
    text = row.text.strip()
    if not text:
        raise _Missing("Write one condition in YAML, e.g. `city: {eq: Paris}`.")
    try:
        parsed: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _Missing(f"Not valid YAML: {exc}") from None
    return {"": parsed} if not isinstance(parsed, dict) else parsed  # a non-mapping: parse_spec says why


def _row_dict(row: Row, fields: Fields, base: str, out: Composed) -> dict[str, Any] | None:
    """The mapping of ``row`` placed at ``base``; records paths and left-out rows in ``out``."""
    inner_base = f"{base}.not" if row.negate else base
    if isinstance(row, GroupRow):
        items: list[dict[str, Any]] = []
        for child in row.children:
            child_dict = _row_dict(child, fields, f"{inner_base}.{row.match}[{len(items)}]", out)
            if child_dict is not None:
                items.append(child_dict)
        if not items:
            out.left_out[row.id] = Issue("Add a condition to this group." if not row.children else "")
            return None
        body: dict[str, Any] = {row.match: items}
    else:
        try:
            body = _leaf_dict(row, fields)
        except _Missing as missing:
            severity: Literal["incomplete", "error"] = (
                "error" if isinstance(row, YamlRow) and row.text else "incomplete"
            )
            out.left_out[row.id] = Issue(str(missing), severity)
            return None
    out.paths[row.id] = base
    return {"not": body} if row.negate else body


def compose(draft: Draft, fields: Fields) -> Composed:
    """The spec mapping of ``draft``; rows not filled in yet are left out (and listed) so the rest still counts."""
    out = Composed(data={}, paths={}, left_out={})
    name = draft.name.strip()
    out.data["name"] = name if NAME_PATTERN.match(name) else STAND_IN_NAME
    for key in ("description", "owner"):
        text = getattr(draft, key)
        if text.strip():
            out.data[key] = text  # as typed: trimming would change a saved spec that was only opened
    where = _where(draft, fields, out)
    if where is not None:
        out.data["where"] = where
    for key in ("union", "intersection", "exclude"):
        names = getattr(draft, key)
        if names:
            out.data[key] = list(names)
    if draft.limit_on and draft.limit_count is not None:
        limit: dict[str, Any] = {"count": int(draft.limit_count)}
        if draft.limit_order_by:
            limit["order_by"] = draft.limit_order_by
            limit["descending"] = draft.limit_descending
        out.data["limit"] = limit
    if draft.split_on:
        out.data["split"] = {
            "groups": [{"name": g.name, "percent": _whole(g.percent or 0.0)} for g in draft.split],
        }
    if draft.salt.strip():
        out.data["salt"] = draft.salt
    return out


def _where(draft: Draft, fields: Fields, out: Composed) -> dict[str, Any] | None:
    # Compose once to learn which rows are complete, then place them: indices count only included rows.
    trial = Composed(data={}, paths={}, left_out={})
    included = [r for r in draft.rows if _row_dict(r, fields, "where", trial) is not None]
    bare = len(included) == 1 and not draft.wrap_single
    items: list[dict[str, Any]] = []
    for r in draft.rows:
        base = "where" if bare else f"where.{draft.match}[{len(items)}]"
        item = _row_dict(r, fields, base, out)
        if item is not None:
            items.append(item)
    if not items:
        return None
    return items[0] if bare else {draft.match: items}


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be saved, or None."""
    name = name.strip()
    if not name:
        return "Give the audience a name to save it."
    if not NAME_PATTERN.match(name):
        return "A name is lower-case letters, digits and underscores, starting with a letter (at most 63)."
    return None


_CONDITION_PATH = re.compile(r"^condition (\S+): ")
# "audience: `name` must be …", "audience: split: …" (parse errors), "limit.order_by: …" (compile errors).
_SPEC_KEY = re.compile(r"^(?:audience: `?)?(\w+)")


def locate(message: str, paths: Mapping[str, str]) -> Problem:
    """Where the AudienceSpecError ``message`` belongs: the row whose path is the longest prefix of the path
    it names, else the form section its key names, else the form as a whole."""
    found = _CONDITION_PATH.match(message)
    if found:
        path = found.group(1)
        best: tuple[int, str] | None = None
        for row_id, base in paths.items():
            inside = path == base or path.startswith((f"{base}.", f"{base}["))
            if inside and (best is None or len(base) > best[0]):
                best = (len(base), row_id)
        if best is not None:
            return Problem(message, row=best[1])
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        return Problem(message, section=_SECTIONS.get(head))
    key = _SPEC_KEY.match(message)
    return Problem(message, section=_SECTIONS.get(key.group(1)) if key else None)


def build_spec(composed: Composed) -> AudienceSpec | Problem:
    """The spec of a composed draft, or the problem that stops it, placed by ``locate``."""
    try:
        return parse_spec(composed.data)
    except AudienceSpecError as exc:
        return locate(str(exc), composed.paths)


def spec_yaml(spec: AudienceSpec) -> str:
    return dump_spec(spec)


def yaml_of(mapping: Mapping[str, Any]) -> str:
    """YAML of a spec mapping that does not parse yet, to show what the form says."""
    return yaml.safe_dump(dict(mapping), sort_keys=False, allow_unicode=True, width=100)


# ---------------------------------------------------------------------------------------------- spec → draft


def draft_from_spec(spec: AudienceSpec, fields: Fields) -> Draft:
    """A draft that composes to ``spec`` exactly; conditions the rows cannot reproduce become YAML rows."""
    draft = Draft(
        origin=spec.name,
        name=spec.name,
        description=spec.description,
        owner=spec.owner,
        union=list(spec.union),
        intersection=list(spec.intersection),
        exclude=list(spec.exclude),
        salt=spec.salt,
    )
    if spec.limit is not None:
        draft.limit_on = True
        draft.limit_count = spec.limit.count
        draft.limit_order_by = spec.limit.order_by or ""
        draft.limit_descending = spec.limit.descending if spec.limit.order_by else True
    if spec.split:
        draft.split_on = True
        draft.split = [SplitRow(g.name, g.percent) for g in spec.split]
    where = spec.where
    if isinstance(where, Group):
        draft.match = where.kind
        draft.wrap_single = len(where.items) == 1
        draft.rows = [_row_from(c, draft, fields, top=True) for c in where.items]
    elif where is not None:
        draft.rows = [_row_from(where, draft, fields, top=True)]
    return draft


def _row_from(c: Condition, draft: Draft, fields: Fields, *, top: bool) -> Row:
    row_id = draft.new_id()
    negate, inner = (True, c.item) if isinstance(c, Not) and not isinstance(c.item, Not) else (False, c)
    row: Row | None = None
    if isinstance(inner, Group) and top:
        children: list[LeafRow] = []
        for item in inner.items:
            child = _row_from(item, draft, fields, top=False)
            assert not isinstance(child, GroupRow)
            children.append(child)
        row = GroupRow(row_id, match=inner.kind, children=children)
    elif not isinstance(inner, Group | Not):
        row = _leaf_from(inner, row_id, fields)
    if row is not None:
        row.negate = negate
        if _reproduces(row, c, fields):
            return row
    return YamlRow(row_id, text=condition_yaml(c))


def condition_yaml(c: Condition) -> str:
    return yaml.safe_dump(condition_to_dict(c), sort_keys=False, allow_unicode=True, width=100)


def _reproduces(row: Row, c: Condition, fields: Fields) -> bool:
    out = Composed(data={}, paths={}, left_out={})
    body = _row_dict(row, fields, "where", out)
    if body is None:
        return False
    try:
        parsed = parse_spec({"name": STAND_IN_NAME, "where": body}).where
    except AudienceSpecError:
        return False
    # Equal values can still print differently (100 and 100.0): the YAML must match too, or saving would
    # change the spec's version for nothing.
    return parsed is not None and parsed == c and condition_yaml(parsed) == condition_yaml(c)


def _leaf_from(c: Condition, row_id: str, fields: Fields) -> LeafRow | None:
    if isinstance(c, Attribute):
        return _attribute_from(c, row_id, fields)
    if isinstance(c, Consent):
        return ConsentRow(row_id, channel=c.channel, topic=c.topic or "")
    if isinstance(c, Reachable):
        return ReachableRow(row_id, channel=c.channel)
    if isinstance(c, InAudience):
        return InAudienceRow(row_id, audience=c.name, groups=list(c.groups))
    if isinstance(c, Related):
        return _related_from(c, row_id)
    return None


def _attribute_from(c: Attribute, row_id: str, fields: Fields) -> AttributeRow | None:
    kind = fields.kinds.get(c.column)
    if kind is None or kind not in OPERATOR_KINDS[c.op]:
        return None  # kept as YAML, where the error about it shows
    row = AttributeRow(row_id, column=c.column, op=c.op)
    widget = widget_of(row, fields)
    value: Any = c.value
    if widget == "lines" and isinstance(value, tuple):
        value = format_lines(value)
    elif widget == "choices" and isinstance(value, tuple):
        value = list(value)
    elif widget == "none":
        value = None
    if widget == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif widget == "float_range" and isinstance(value, tuple):
        value = tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
    row.values[widget] = value
    if not _fits(widget, value):
        return None
    return row


def _fits(widget: ValueWidget, value: Any) -> bool:
    """Whether the widget can hold ``value`` (a loaded spec may hold anything YAML can, and the browser's
    number and date inputs refuse what they cannot represent)."""

    def whole(v: Any) -> bool:
        return type(v) is int and abs(v) <= MAX_SAFE_INTEGER

    def number(v: Any) -> bool:
        return type(v) in (int, float) and abs(v) <= MAX_SAFE_INTEGER

    def day(v: Any) -> bool:
        return type(v) is dt.date and DATE_MIN <= v <= DATE_MAX

    def pair(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
        return lambda v: isinstance(v, tuple) and len(v) == 2 and all(test(x) for x in v)

    checks: dict[str, Callable[[Any], bool]] = {
        "none": lambda v: v is None,
        "text": lambda v: isinstance(v, str),
        "choice": lambda v: isinstance(v, str),
        "choices": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "lines": lambda v: isinstance(v, str),
        "int": whole,
        "float": lambda v: type(v) is float and number(v),
        "int_range": pair(whole),
        "float_range": pair(number),
        "date": day,
        "date_range": pair(day),
        "days": whole,
        "bool": lambda v: isinstance(v, bool),
    }
    return checks[widget](value)


def _related_from(c: Related, row_id: str) -> LeafRow | None:
    if c.source == "orders":
        completed = c.where == Attribute("is_completed", "eq", True)
        if c.where is not None and not completed:
            return None
        return OrdersRow(
            row_id,
            measure=c.measure,
            column=c.column or "total_amount_eur",
            compare=c.op,
            amount=c.value,
            within_days=c.within_days,
            completed_only=completed,
        )
    if c.measure != "count" or c.op not in ("gte", "lt") or not isinstance(c.value, int):
        return None
    if c.source == "events":
        if c.where is not None and not (
            isinstance(c.where, Attribute) and c.where.column == "event_type" and c.where.op == "eq"
        ):
            return None
        event_type = c.where.value if isinstance(c.where, Attribute) else ""
        if not isinstance(event_type, str):
            return None
        return EventsRow(
            row_id, event_type=event_type, did_not=c.op == "lt", at_least=c.value, within_days=c.within_days
        )
    if c.source == "messages":
        return _messages_from(c, row_id)
    return None


def _messages_from(c: Related, row_id: str) -> MessagesRow | None:
    items = () if c.where is None else c.where.items if isinstance(c.where, Group) else (c.where,)
    row = MessagesRow(row_id, did_not=c.op == "lt", at_least=int(c.value), within_days=c.within_days)
    flags = {flag: action for action, flag in _ACTION_FLAGS.items()}
    for item in items:
        if not isinstance(item, Attribute) or item.op != "eq":
            return None
        if item.column in flags and item.value is True:
            row.action = flags[item.column]
        elif item.column == "campaign_id" and isinstance(item.value, str):
            row.campaign = item.value
        elif item.column == "channel" and isinstance(item.value, str):
            row.channel = item.value
        else:
            return None
    return row  # the round-trip check rejects any order or time column the shorthand would not give


# ---------------------------------------------------------------------------------------------- the library


def library_token(project: Project) -> str:
    """A digest of the saved specs: part of every live cache key, since ``in_audience`` reads them."""
    h = hashlib.sha256()
    for path in sorted((project.specs_dir / "audiences").glob("*.yml")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Saved:
    """The saved audiences that parse, and why the others do not."""

    specs: dict[str, AudienceSpec]
    broken: dict[str, str]

    @property
    def names(self) -> list[str]:
        return sorted([*self.specs, *self.broken])


@st.cache_data(ttl=CACHE_TTL, max_entries=16, show_spinner=False)
def saved_audiences(project: Project, token: str) -> Saved:
    library = AudienceLibrary.of(project)
    specs: dict[str, AudienceSpec] = {}
    broken: dict[str, str] = {}
    for name in library.names():
        try:
            specs[name] = library.get(name)
        except HeraldError as exc:
            broken[name] = str(exc)
    return Saved(specs, broken)


# ---------------------------------------------------------------------------------------------- warehouse


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def profile_fields(db: str, project: Project) -> Fields:
    """The profile columns audiences can filter on, and which string columns have few distinct values."""
    with open_live(project, Path(db)) as live:
        kinds = dict(live.schema.columns(PROFILES))
    strings = [c for c, k in kinds.items() if k == "string"]
    few: set[str] = set()
    if strings:
        with read_only(db) as con:
            p = con.table(PROFILES)
            # An approximate count screens out the many high-cardinality columns (emails, names) cheaply;
            # the few candidates left are counted exactly.
            approx = p.aggregate(**{c: p[c].approx_nunique() for c in strings}).to_pyarrow().to_pylist()[0]
            candidates = [c for c in strings if int(approx[c] or 0) <= 2 * MAX_CHOICES]
            if candidates:
                exact = p.aggregate(**{c: p[c].nunique() for c in candidates}).to_pyarrow().to_pylist()[0]
                few = {c for c in candidates if int(exact[c] or 0) <= MAX_CHOICES}
    return Fields(kinds=kinds, few_values=frozenset(few))


def _distinct(db: str, table: str, column: str, limit: int = 500) -> list[str]:
    with read_only(db) as con:
        if table not in con.list_tables() or column not in con.table(table).columns:
            return []
        t = con.table(table)
        expr = t.filter(t[column].notnull()).select(value=t[column].cast("string")).distinct().order_by("value")
        return [str(v) for v in expr.limit(limit).to_pandas()["value"]]


@st.cache_data(ttl=CACHE_TTL, max_entries=64, show_spinner=False)
def choices(db: str, column: str) -> list[str]:
    """The distinct values of profile string column ``column`` (only asked of few-valued columns)."""
    return _distinct(db, PROFILES, column, MAX_CHOICES)


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def event_types(db: str) -> list[str]:
    return _distinct(db, EVENTS_MART, "event_type")


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def consent_topics(db: str) -> list[str]:
    return _distinct(db, CONSENTS_MART, "topic")


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def campaigns(db: str) -> dict[str, str]:
    """Campaign id → name, for the campaigns messages were sent for."""
    with read_only(db) as con:
        if MESSAGES_MART not in con.list_tables():
            return {}
        m = con.table(MESSAGES_MART)
        frame = (
            m.filter(m.campaign_id.notnull())
            .group_by("campaign_id")
            .aggregate(name=m.campaign_name.max(), last=m.sent_at.max())
            .order_by([ibis.desc("last"), "campaign_id"])
            .to_pandas()
        )
    return {str(r.campaign_id): str(r.name or r.campaign_id) for r in frame.itertuples(index=False)}


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def numeric_columns(db: str, project: Project, table: str) -> list[str]:
    with open_live(project, Path(db)) as live:
        return [c for c, k in live.schema.columns(table).items() if k in ("integer", "number")]


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def total_profiles(db: str) -> int:
    with read_only(db) as con:
        return int(con.table(PROFILES).count().to_pyarrow().as_py())


# Every live figure: keyed by the published file, the project and the saved specs' digest; raise
# AudienceSpecError for a spec that does not compile (exceptions are not cached).


@st.cache_data(ttl=CACHE_TTL, max_entries=256, show_spinner=False)
def _count(db: str, project: Project, token: str, spec: AudienceSpec) -> AudienceCount:
    with open_live(project, Path(db)) as live:
        return live.count(spec)


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def breakdown(db: str, project: Project, token: str, spec: AudienceSpec, column: str) -> pd.DataFrame:
    """Columns ``value``, ``members``: members per value of profile ``column``, largest first."""
    with open_live(project, Path(db)) as live:
        rows = live.breakdown(spec, column)
    return pd.DataFrame(rows, columns=["value", "members"])


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def sample(db: str, project: Project, token: str, spec: AudienceSpec) -> pd.DataFrame:
    with open_live(project, Path(db)) as live:
        frame: pd.DataFrame = live.sample(spec, SAMPLE_ROWS).to_pandas()
    return frame


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def reachability(db: str, project: Project, token: str, spec: AudienceSpec) -> pd.DataFrame:
    """Columns ``channel``, ``members``: members reachable on each channel."""
    with open_live(project, Path(db)) as live:
        rows = live.reachability(spec)
    return pd.DataFrame(rows, columns=["channel", "members"])


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def overlap(db: str, project: Project, token: str, spec: AudienceSpec) -> pd.DataFrame:
    """Columns ``audience``, ``size``, ``shared``: each other saved audience that compiles, and how many
    members it shares with ``spec``."""
    saved = saved_audiences(project, token)
    rows: list[tuple[str, int, int]] = []
    with open_live(project, Path(db)) as live:
        for other in saved.specs.values():
            if other.name == spec.name:
                continue
            try:
                rows += live.overlap(spec, [other])
            except (AudienceSpecError, duckdb.Error):
                continue  # a saved audience that does not compile any more has no overlap to show
    return pd.DataFrame(rows, columns=["audience", "size", "shared"])


@st.cache_data(ttl=CACHE_TTL, max_entries=128, show_spinner=False)
def compiled_sql(db: str, project: Project, token: str, spec: AudienceSpec, dialect: Dialect) -> str:
    with open_live(project, Path(db)) as live:
        return live.sql(spec, dialect)


@dataclass(frozen=True, slots=True)
class Evaluation:
    count: AudienceCount | None
    problem: Problem | None


def evaluate(db: str, project: Project, token: str, spec: AudienceSpec, paths: Mapping[str, str]) -> Evaluation:
    """The live count of ``spec``, or the problem (placed at its row) that stops it."""
    try:
        return Evaluation(_count(db, project, token, spec), None)
    except AudienceSpecError as exc:
        return Evaluation(None, locate(str(exc), paths))
    except duckdb.Error as exc:
        return Evaluation(None, Problem(f"The warehouse could not count this audience: {exc}"))


# ---------------------------------------------------------------------------------------------- save and build


def save(project: Project, spec: AudienceSpec, origin: str | None, paths: Mapping[str, str]) -> Problem | None:
    """Save ``spec`` (the models are regenerated); the problem that stopped it, or None."""
    library = AudienceLibrary.of(project)
    if spec.name != origin and library.path(spec.name).is_file():
        return Problem(
            f"An audience named {spec.name} already exists. Open it to edit it, or choose another name.",
            section="name",
        )
    try:
        # save_audience runs this check too; running it first tells errors in this spec (placed at their
        # row) from errors it causes in saved audiences that read this one (reported for the form).
        dbt_compiler(from_contracts(project.root), library).check(spec)
    except AudienceSpecError as exc:
        return locate(str(exc), paths)
    try:
        save_audience(project, spec)
    except AudienceSpecError as exc:
        return Problem(f"Not saved: a saved audience that reads {spec.name} would break. {exc}")
    except HeraldError as exc:
        return Problem(f"Not saved: {exc}")
    return None


def build(project: Project, name: str) -> AudienceJob:
    """Start building ``name`` in a separate process (never in the app's)."""
    return start_build(project, name)


BuildState = Literal["running", "ready", "failed", "outdated", "unbuilt"]
LOG_TAIL_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class BuildStatus:
    state: BuildState
    message: str = ""
    members: int | None = None
    build_id: str | None = None
    started_at: dt.datetime | None = None
    log: str = ""  # the end of the build's output, for a failure


def _when(stamp: str | None) -> dt.datetime | None:
    try:
        when = None if stamp is None else dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return when if when is None or when.tzinfo else when.replace(tzinfo=dt.UTC)


def _log_tail(project: Project, name: str) -> str:
    try:
        text = job_path(project, name).with_suffix(".log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-LOG_TAIL_CHARS:]


def build_status(project: Project, name: str) -> BuildStatus:
    """Where the saved audience ``name`` stands: building, ready (the published build has its current
    version), failed (with the job's message and the end of its output), or not built yet."""
    job = read_job(project, name)
    started = _when(job.started_at) if job is not None else None
    if job is not None and job.is_running:
        return BuildStatus("running", started_at=started)
    if job is not None and job.state == "running":
        message = (
            "The build never reported back: it stopped before starting."
            if job.pid is None
            else "The build process stopped without reporting."
        )
        return BuildStatus("failed", message, started_at=started, log=_log_tail(project, name))
    if job is not None and job.state == "failed":
        message = job.message or "The build failed."
        return BuildStatus("failed", message, started_at=started, log=_log_tail(project, name))
    try:
        row = next((r for r in list_audiences(project) if r.name == name), None)
    except HeraldError as exc:
        return BuildStatus("failed", str(exc))
    if row is not None and row.is_current and row.members is not None:
        return BuildStatus("ready", members=row.members, build_id=row.build_id)
    if row is not None and row.built_version is not None:
        return BuildStatus("outdated", members=row.members, build_id=row.build_id)
    return BuildStatus("unbuilt" if job is None else "outdated")
