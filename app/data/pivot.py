"""The dynamic report: an analyst picks dimensions and measures of a report source and gets a pivot.

A source is a mart with a fixed catalogue of dimensions (columns to group by, dates at a chosen grain) and
measures (counts, sums, distinct counts, and ratios of two of them with an explicit denominator). The analyst
only ever picks catalogue keys; each key maps to an ibis expression written here, so nothing the user types
becomes SQL. Entries whose columns the published mart does not have are left out, so the catalogue follows
the warehouse rather than failing on an older build.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import ibis.expr.types as ir
import pandas as pd
import streamlit as st

from app.data.warehouse import CACHE_TTL, read_only

Aggregate = Literal["count", "sum", "count_distinct", "max", "min"]
Grain = Literal["day", "week", "month"]
_GRAIN_UNITS: dict[Grain, str] = {"day": "D", "week": "W", "month": "M"}
MAX_CATEGORIES = 50  # more categories than this make an unreadable chart and a slow pivot: keep the largest


class PivotError(ValueError):
    """A pivot request names something the source does not offer; the message says what and what is offered."""


@dataclass(frozen=True, slots=True)
class Dimension:
    """A column to group by; a ``date`` dimension is truncated to the grain the analyst picks."""

    key: str
    label: str
    column: str
    date: bool = False


@dataclass(frozen=True, slots=True)
class Measure:
    """An aggregate of one column (``count`` needs none), or with ``per`` the ratio of two measures."""

    key: str
    label: str
    aggregate: Aggregate = "count"
    column: str | None = None
    per: str | None = None  # key of the denominator measure: this measure becomes a ratio numerator / per
    percent: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return () if self.column is None else (self.column,)


@dataclass(frozen=True, slots=True)
class ReportSource:
    """A mart and what may be asked of it."""

    key: str
    label: str
    table: str
    grain: str  # one row per ... (shown to the analyst so they know what "count" counts)
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]

    def dimension(self, key: str) -> Dimension:
        for d in self.dimensions:
            if d.key == key:
                return d
        raise PivotError(f"{self.label} has no dimension {key!r}; it has: {', '.join(d.key for d in self.dimensions)}")

    def measure(self, key: str) -> Measure:
        for m in self.measures:
            if m.key == key:
                return m
        raise PivotError(f"{self.label} has no measure {key!r}; it has: {', '.join(m.key for m in self.measures)}")

    def restricted_to(self, columns: Sequence[str]) -> ReportSource:
        """This source without the entries that need a column the mart lacks (ratios need both parts)."""
        have = set(columns)
        dims = tuple(d for d in self.dimensions if d.column in have)
        plain = {m.key for m in self.measures if m.per is None and set(m.columns) <= have}
        measures = tuple(m for m in self.measures if m.key in plain or (m.per in plain and set(m.columns) <= have))
        return ReportSource(self.key, self.label, self.table, self.grain, dims, measures)


@dataclass(frozen=True, slots=True)
class PivotRequest:
    """What the analyst asked for: rows (and optionally columns) by dimension keys, and measure keys."""

    source: str
    rows: tuple[str, ...]
    measures: tuple[str, ...]
    columns: str | None = None
    grain: Grain = "week"


def _aggregate(table: ir.Table, m: Measure) -> ir.Scalar:
    if m.aggregate == "count":
        return table.count() if m.column is None else table[m.column].count()
    col = table[m.column]
    if col.type().is_boolean():
        col = col.cast("int64")
    aggregates: dict[Aggregate, Callable[[ir.Column], ir.Scalar]] = {
        "sum": lambda c: c.sum(),
        "count_distinct": lambda c: c.nunique(),
        "max": lambda c: c.max(),
        "min": lambda c: c.min(),
    }
    return aggregates[m.aggregate](col)


def _group_key(table: ir.Table, d: Dimension, grain: Grain) -> ir.Value:
    col = table[d.column]
    if d.date:
        return col.cast("timestamp").truncate(_GRAIN_UNITS[grain]).cast("date").name(d.key)
    return col.cast("string").fill_null("(none)").name(d.key)


def run_pivot(table: ir.Table, source: ReportSource, request: PivotRequest) -> pd.DataFrame:
    """The long result: one row per combination of the requested dimensions, one column per measure key."""
    if not request.rows:
        raise PivotError("pick at least one dimension for the rows")
    if not request.measures:
        raise PivotError("pick at least one measure")
    dims = [source.dimension(k) for k in (*request.rows, *((request.columns,) if request.columns else ()))]
    if len({d.key for d in dims}) != len(dims):
        raise PivotError("a dimension can be used once: pick different rows and columns")
    wanted = [source.measure(k) for k in request.measures]
    # Ratios need their parts computed; parts the analyst did not ask for are dropped after dividing.
    needed: dict[str, Measure] = {}
    for m in wanted:
        if m.per is not None:
            needed.setdefault(m.per, source.measure(m.per))
        needed[m.key] = m
    keys = [_group_key(table, d, request.grain) for d in dims]
    aggregates = {f"_{k}": _aggregate(table, m) for k, m in needed.items()}
    frame: pd.DataFrame = table.group_by(keys).aggregate(**aggregates).to_pandas()
    out = frame[[d.key for d in dims]].copy()
    for m in wanted:
        value = frame[f"_{m.key}"]
        if m.per is not None:
            denominator = frame[f"_{m.per}"].astype("float64")
            value = value.astype("float64").div(denominator.where(denominator != 0))  # no denominator: no rate
            if m.percent:
                value = value * 100
        out[m.key] = value
    return out.sort_values([d.key for d in dims], kind="stable").reset_index(drop=True)


def top_categories(long: pd.DataFrame, dimension: str, measure: str, limit: int = MAX_CATEGORIES) -> pd.DataFrame:
    """Keep the ``limit`` categories of ``dimension`` with the largest ``measure`` totals (all when fewer)."""
    totals = long.groupby(dimension, dropna=False)[measure].sum().nlargest(limit)
    return long[long[dimension].isin(totals.index)]


def to_wide(long: pd.DataFrame, request: PivotRequest) -> pd.DataFrame:
    """The pivot as the analyst reads it: rows by the row dimensions, one column per column value × measure."""
    if request.columns is None:
        return long
    wide = long.pivot_table(
        index=list(request.rows), columns=request.columns, values=list(request.measures), aggfunc="sum", dropna=False
    )
    wide.columns = [f"{measure} · {value}" for measure, value in wide.columns]
    return wide.reset_index()


@st.cache_data(ttl=CACHE_TTL, max_entries=16, show_spinner=False)
def columns_of(db: str, table: str) -> tuple[str, ...]:
    """The columns the published mart ``table`` has (empty when it does not exist)."""
    with read_only(db) as con:
        if table not in con.list_tables():
            return ()
        return tuple(con.table(table).columns)


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def pivot(db: str, source: ReportSource, request: PivotRequest) -> pd.DataFrame:
    """``run_pivot`` over the published mart, cached per file and request."""
    with read_only(db) as con:
        return run_pivot(con.table(source.table), source, request)
