"""An audience being edited: plain, mutable rows an editor's widgets fill in, before they make a spec.

A ``Draft`` holds the rows of its `where` (a profile attribute, orders, events, messages, consent, reachable,
another audience, a group of rows, or raw YAML), the set algebra, the limit and the split. Turning a draft into
a spec is ``herald.audiences.draft_to_spec``; opening a spec as a draft is ``herald.audiences.spec_to_draft``.
Nothing here reads the warehouse: what the editor knows of the profile columns comes in as ``Fields``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from herald.audiences.compiler import OPERATOR_KINDS
from herald.audiences.schema import ColumnKind
from herald.audiences.spec import ATTRIBUTE_OPS, UNARY_OPS

# What a browser's inputs can hold: a larger number or a date outside the range stays a YAML row.
MAX_SAFE_INTEGER = 2**53 - 1
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2100, 12, 31)
# Counts before the user names the audience need a valid name; the split and random limit hash with it.
STAND_IN_NAME = "untitled_audience"

RowKind = Literal["attribute", "orders", "events", "messages", "consent", "reachable", "in_audience", "group", "yaml"]
# How a value is entered: decided by the column's kind and the operator.
ValueWidget = Literal[
    "none", "text", "choice", "choices", "lines", "int", "float", "int_range", "float_range", "date", "date_range",
    "days", "bool",
]  # fmt: skip
_DAY_OPS = ("in_last_days", "not_in_last_days", "birthday_within_days")
# The flag each message action filters on (the spec's shorthand); "received" filters on none.
ACTION_FLAGS: Mapping[str, str] = {
    "delivered": "is_delivered",
    "opened": "is_opened",
    "clicked": "is_clicked",
    "bounced": "is_bounced",
    "unsubscribed": "is_unsubscribed",
}


@dataclass(frozen=True, slots=True)
class Fields:
    """What the editor offers for profile attributes: every column with its kind, and the string columns
    with few enough distinct values to pick from a list."""

    kinds: Mapping[str, ColumnKind]
    few_values: frozenset[str]


# ---------------------------------------------------------------------------------------------- rows
# Every row has an id (``c1``, ``c2``…: where the editor shows its errors) and may be negated (`not`).


@dataclass
class _Row:
    id: str
    negate: bool = False
    KIND: ClassVar[RowKind]

    def __init_subclass__(cls, kind: RowKind | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind is not None:
            cls.KIND = kind


@dataclass
class AttributeRow(_Row, kind="attribute"):
    column: str = ""
    op: str = "eq"
    # One value per value widget, so switching operator and back keeps what was typed.
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class OrdersRow(_Row, kind="orders"):
    measure: str = "count"
    column: str = "total_amount_eur"
    compare: str = "gte"
    amount: int | float | None = 1
    within_days: int | None = None
    completed_only: bool = False


@dataclass
class _TimesRow(_Row):
    """Something a profile did (or did not) at least so many times, within an optional window."""

    did_not: bool = False
    at_least: int | None = 1
    within_days: int | None = None


@dataclass
class EventsRow(_TimesRow, kind="events"):
    event_type: str = ""  # "" is any event


@dataclass
class MessagesRow(_TimesRow, kind="messages"):
    action: str = "received"
    channel: str = ""  # "" is any channel
    campaign: str = ""  # "" is any campaign


@dataclass
class _ChannelRow(_Row):
    channel: str = "email"


@dataclass
class ConsentRow(_ChannelRow, kind="consent"):
    topic: str = ""  # "" is any topic


@dataclass
class ReachableRow(_ChannelRow, kind="reachable"):
    """Reachable now on the row's channel: a valid address, consent and no quarantine."""


@dataclass
class InAudienceRow(_Row, kind="in_audience"):
    audience: str | None = None
    groups: list[str] = field(default_factory=list)


@dataclass
class YamlRow(_Row, kind="yaml"):
    """Any condition the spec allows, as YAML: for shapes the editor does not edit (deeper nesting, …)."""

    text: str = ""


LeafRow = AttributeRow | OrdersRow | EventsRow | MessagesRow | ConsentRow | ReachableRow | InAudienceRow | YamlRow


@dataclass
class GroupRow(_Row, kind="group"):
    match: Literal["all", "any"] = "any"
    children: list[LeafRow] = field(default_factory=list)


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


# ---------------------------------------------------------------------------------------------- values


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


def parse_lines(text: str, kind: ColumnKind) -> list[Any]:
    """One value per non-empty line, typed for the column when the text reads as that type (else kept as
    text, so the compiler reports the mismatch with the condition's path)."""
    return [_typed(line.strip(), kind) for line in text.splitlines() if line.strip()]


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
    """The values of an ``in`` condition as ``parse_lines`` reads them."""

    def one(v: Any) -> str:
        if isinstance(v, dt.datetime):
            return v.isoformat(sep=" ")
        if isinstance(v, dt.date):
            return v.isoformat()
        return str(v)

    return "\n".join(one(v) for v in values)
