"""From parsed columns to the two piles: rows to land and rejected records, each with its reason.

The first failing rule of a row is its reason (columns in raw-table order, a column's format before its
"required"); duplicates of a key are then decided among the rows that passed every rule, so a later broken copy
of a record never displaces a good one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from herald.importing.headers import ColumnPlan
from herald.importing.kinds import DateOrder
from herald.importing.mapping import Mapping
from herald.importing.readers import SourceRows
from herald.importing.rejects import Reject
from herald.importing.report import ColumnDateOrder
from herald.importing.rules import is_temporal, parse_column, resolve_date_orders
from herald.importing.upsert import FOLDED, LINE, ROW, superseded
from herald.importing.values import NULL_TEXT, Column, as_text, clean_text, first_reason
from herald.landing import arrow_schema
from herald.raw_schema import CONSENT_EVENTS, CONSENT_TOPICS, CRM_CONTACTS, RawTable


@dataclass(frozen=True, slots=True, eq=False)
class Checked:
    """Every raw column parsed, and each row's first rejection reason (null when good); identity equality."""

    columns: dict[str, Column]
    reasons: Column
    date_orders: tuple[ColumnDateOrder, ...]
    notes: tuple[str, ...] = field(default=())


def check_rows(
    path: Path,
    table: RawTable,
    plan: ColumnPlan,
    rows: SourceRows,
    defaults: dict[str, pa.Scalar],
    requested_order: DateOrder,
    delimiter: str | None,
    today: dt.date,
    mapping: Mapping | None = None,
) -> Checked:
    """Parse every raw column (absent ones are null, then mapping defaults) and find each row's first reason.

    ``mapping`` brings the file's own value spellings and unknown-value choices (see ``rules.parse_column``)."""
    n = rows.num_rows
    sources = {name: rows.columns[index] for name, index in plan.sources}
    temporal = {c.name: sources[c.name] for c in table.columns if is_temporal(c) and c.name in sources}
    orders, date_orders = resolve_date_orders(
        path, temporal, rows.line_numbers, requested=requested_order, delimiter=delimiter
    )
    schema = arrow_schema(table, with_batch_columns=False)
    columns: dict[str, Column] = {}
    reasons: list[Column] = []
    notes: list[str] = []
    for column in table.columns:
        if column.name in sources:
            parsed = parse_column(
                table,
                column,
                sources[column.name],
                delimiter=delimiter,
                date_order=orders.get(column.name, "dmy"),
                today=today,
                mapping=mapping,
            )
            values = parsed.values
            reasons.append(parsed.reasons)
            notes.extend(parsed.notes)
        else:
            values = pa.nulls(n, schema.field(column.name).type)
        if column.name in defaults:
            values = pc.fill_null(values, defaults[column.name])
        if column.required:
            missing = pc.is_null(values)
            if pc.any(missing).as_py():
                reasons.append(pc.if_else(missing, f"{column.name}: missing (required)", NULL_TEXT))
        columns[column.name] = values
    first = first_reason(*reasons)
    return Checked(columns, pa.nulls(n, pa.string()) if first is None else first, date_orders, tuple(notes))


def drop_duplicates(table: RawTable, checked: Checked, rows: SourceRows, good: Column) -> tuple[Column, Column]:
    """Reject earlier good records whose key appears again later (the last good occurrence wins)."""
    keys = pc.take(checked.columns[table.key], good)
    lines = pc.take(rows.line_numbers, good)
    with duckdb.connect(":memory:") as con:
        replaced = superseded(con, keys, good, lines)
    if not replaced:
        return checked.reasons, good
    by_row = {s.row: f'duplicate {table.key} "{s.key}": superseded by line {s.winner_line}' for s in replaced}
    extra = pa.array([by_row.get(i) for i in range(rows.num_rows)], pa.string())
    reasons = pc.coalesce(checked.reasons, extra)
    return reasons, pc.indices_nonzero(pc.is_null(reasons))


def incoming_table(
    table: RawTable, checked: Checked, rows: SourceRows, good: Column, folded: Column | None, batch_id: str
) -> pa.Table:
    """The good rows as the table ``upsert`` takes: raw columns, ``_line_number``, ``__row``, ``__folded``."""
    data = {name: pc.take(values, good) for name, values in checked.columns.items()}
    if table is CONSENT_EVENTS:
        # Consent needs evidence: an imported consent without its own says it came from this import batch.
        data["source"] = pc.fill_null(data["source"], "import")
        data["evidence_id"] = pc.fill_null(data["evidence_id"], batch_id)
    data[LINE] = pc.take(rows.line_numbers, good)
    data[ROW] = pa.array(range(len(good)), pa.int64())
    if folded is not None:
        data[FOLDED] = pc.take(folded, good)
    return pa.table(data)


def folded_attributes(rows: SourceRows, plan: ColumnPlan, keys: dict[str, str]) -> Column:
    """The unknown columns as one struct per row (attribute key -> trimmed text), for ``attributes``."""
    arrays = [pa.chunked_array(clean_text(rows.columns[i])).combine_chunks() for i in plan.unmatched]
    names = [keys[rows.headers[i]] for i in plan.unmatched]
    return pa.StructArray.from_arrays(arrays, names=names)


def carry_forward(table: RawTable, plan: ColumnPlan) -> tuple[str, ...]:
    """Contacts only: the columns the file does not have keep the contact's current values."""
    if table is not CRM_CONTACTS:
        return ()
    present = plan.matched_columns
    return tuple(c for c in table.column_names if c not in present and c != table.key)


def rejected_records(rows: SourceRows, reasons: Column) -> list[Reject]:
    """Ragged rows and rows with a reason, with their fields as read (Parquet values as text)."""
    rejected = pc.indices_nonzero(pc.is_valid(reasons))
    out = [Reject(r.line_number, f"row: {len(r.fields)} fields where the header has {len(rows.headers)}", r.fields)
           for r in rows.ragged]  # fmt: skip
    if not len(rejected):
        return out
    lines = pc.take(rows.line_numbers, rejected).to_pylist()
    texts = pc.take(reasons, rejected).to_pylist()
    fields = [as_text(pc.take(column, rejected)).to_pylist() for column in rows.columns]
    for i, (line, reason) in enumerate(zip(lines, texts, strict=True)):
        out.append(Reject(int(line), str(reason), tuple(f[i] for f in fields)))
    return out


def blank_warnings(rows: SourceRows, plan: ColumnPlan) -> list[str]:
    """Blank lines skipped, and values under a header with no name (which are ignored)."""
    warnings = []
    if rows.blank_lines:
        warnings.append(f"{rows.blank_lines} blank line(s) skipped")
    for index in plan.blank:
        filled = int(pc.sum(pc.cast(pc.is_valid(clean_text(rows.columns[index])), pa.int64())).as_py() or 0)
        if filled:
            warnings.append(f"column {index + 1} has no header: its {filled} value(s) were ignored")
    return warnings


def topic_notes(incoming: pa.Table) -> list[str]:
    """Consent topics outside the known list land as given (customers have their own), with a note."""
    topics = {t for t in pc.unique(incoming.column("topic")).to_pylist() if t is not None}
    unusual = sorted(topics - set(CONSENT_TOPICS))
    if not unusual:
        return []
    return [f"topic: not one of {', '.join(CONSENT_TOPICS)}, landed as given: {', '.join(unusual[:10])}"]
