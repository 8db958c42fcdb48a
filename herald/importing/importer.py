"""``import_file``: one customer file into one raw table, as one landed batch, with every record accounted for.

The steps, each of which can stop the import before anything is written:

1. look at the file (format, encoding, delimiter, checksum) -- ``detect``
2. read the header and match it to raw columns (mapping file, exact names, synonyms) -- ``headers``, ``mapping``
3. read every record with its source line -- ``readers``
4. parse and check every column, vectorized; the first failing rule is the row's reason -- ``rules``
5. drop earlier duplicates of a key (the last occurrence wins) and classify keys as new or updates, completing
   contacts from their current record -- ``upsert``
6. land the good rows as one batch, write the rejects file, report -- ``herald.landing``, ``rejects``

Whole-file problems raise ``ImportFileError`` (or a subclass, see ``errors``) and leave the landing zone as it was.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from herald import landing
from herald.errors import ImportFileError
from herald.importing.detect import inspect_file
from herald.importing.errors import MappingFileError, MissingColumnsError, UnknownColumnsError
from herald.importing.headers import ColumnPlan, looks_like_data, match_columns, suggest_column
from herald.importing.kinds import DATE_ORDERS, UNKNOWN_COLUMN_MODES, DateOrder, Kind, UnknownColumns, table_for
from herald.importing.mapping import Mapping, load_mapping
from herald.importing.readers import SourceRows, read_headers, read_rows
from herald.importing.rejects import Reject, commit_rejects, default_rejects_path, discard_rejects, write_rejects
from herald.importing.report import ColumnDateOrder, ImportReport, ResolvedDateOrder
from herald.importing.rules import is_temporal, parse_column, resolve_date_orders, typed_default
from herald.importing.upsert import FOLDED, LINE, ROW, previous_imports, superseded, upsert
from herald.importing.values import NULL_TEXT, Column, as_text, clean_text, first_reason
from herald.landing import BatchCounts
from herald.project import Project
from herald.raw_schema import CONSENT_EVENTS, CONSENT_TOPICS, CRM_CONTACTS, RawTable

_ARROW_TYPES = {
    "varchar": pa.string(),
    "integer": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def import_file(
    project: Project,
    kind: Kind,
    path: Path,
    *,
    mapping_path: Path | None = None,
    rejects_path: Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    date_order: DateOrder = "auto",
    unknown_columns: UnknownColumns = "error",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV or Parquet file of ``kind`` into its raw table as one new batch. Eager.

    Good records land together in one batch (none when there are no good records); each rejected record is
    written with its line and reason to ``rejects_path`` (default ``<file stem>.rejects.csv`` beside the file).
    ``progress`` is called with the running count of records read. Raises ``ImportFileError`` (or a subclass)
    when the file cannot be imported as a whole; nothing is written then.

    >>> report = import_file(project, "profiles", Path("crm-export.csv"), unknown_columns="attributes")
    >>> print(report.summary())
    """
    path = Path(path)
    table = _table_for(path, kind, date_order, unknown_columns)
    mapping = load_mapping(Path(mapping_path), table) if mapping_path is not None else Mapping()
    requested_order: DateOrder = date_order if date_order != "auto" else (mapping.date_order or "auto")
    info = inspect_file(path, encoding=encoding, delimiter=delimiter)
    headers = read_headers(info)
    plan = match_columns(path, headers, table, mapping.columns)
    _check_required(path, headers, plan, table, mapping)
    unmatched = tuple(headers[i] for i in plan.unmatched)
    attribute_keys = _check_unknown(path, table, plan, headers, unknown_columns)
    today = dt.datetime.now(dt.UTC).date()
    defaults = _typed_defaults(mapping_path or path, table, mapping, info.delimiter, requested_order, today)

    rows = read_rows(info, headers, progress)
    checked = _check_rows(path, table, plan, rows, defaults, requested_order, info.delimiter, today)
    warnings = [*info.warnings, *_blank_warnings(rows, plan), *checked.notes]
    folded = _folded(rows, plan, attribute_keys) if attribute_keys else None

    good = pc.indices_nonzero(pc.is_null(checked.reasons))
    reasons = checked.reasons
    if len(good):
        reasons, good = _drop_duplicates(table, checked, rows, good)

    batch_id = landing.new_batch_id()
    incoming = _incoming(table, checked, rows, good, folded, batch_id)
    if table is CONSENT_EVENTS:
        warnings.extend(_topic_notes(incoming))
    rejects = _rejects(rows, reasons)
    target = Path(rejects_path) if rejects_path is not None else default_rejects_path(path)
    if rejects and target.resolve() == path.resolve():
        raise ImportFileError(f"{path}: the rejects file would overwrite the file being imported")

    with duckdb.connect(":memory:") as con:
        if previous := previous_imports(con, project, table, info.sha256):
            warnings.append(f"this file was imported into {table.name} before (batch {previous[-1]})")
        updated = 0
        data = None
        if incoming.num_rows:
            carry = _carry_forward(table, plan)
            result = upsert(
                con,
                project,
                table,
                incoming,
                carry_forward=carry,
                merge_folded=folded is not None and "attributes" in carry,
                folded_into_given=folded is not None and "attributes" not in carry,
            )
            data, updated = result.data, result.updated

    landed = incoming.num_rows
    counts = BatchCounts(read=rows.rows_read, inserted=landed - updated, updated=updated, rejected=len(rejects))
    if not counts.adds_up():  # an accounting bug must never land data
        raise AssertionError(f"import counts do not add up: {counts}")
    partial = write_rejects(target, headers, rejects, delimiter=info.delimiter or ",") if rejects else None
    try:
        landed_id = None
        if data is not None:
            batch = landing.land_batch(
                project, table, data, source_file=path.name, counts=counts, source_sha256=info.sha256, batch_id=batch_id
            )
            landed_id = batch.batch_id
    except BaseException:
        if partial is not None:
            discard_rejects(partial)
        raise
    if partial is not None:
        commit_rejects(partial, target)
    if rows.rows_read == 0:
        warnings.append("the file has a header but no records")
    return ImportReport(
        kind=kind,
        table=table.name,
        source_file=path,
        source_sha256=info.sha256,
        batch_id=landed_id,
        rows_read=counts.read,
        rows_inserted=counts.inserted,
        rows_updated=counts.updated,
        rows_rejected=counts.rejected,
        rejects_path=target if rejects else None,
        file_format=info.file_format,
        encoding=info.encoding,
        delimiter=info.delimiter,
        matches=plan.matches,
        unmatched=unmatched,
        unmatched_action=None if not unmatched else ("attributes" if attribute_keys else "ignore"),
        date_orders=checked.date_orders,
        warnings=tuple(warnings),
    )


# -- options and header ------------------------------------------------------------------------------------------


def _table_for(path: Path, kind: str, date_order: str, unknown_columns: str) -> RawTable:
    table = table_for(kind)
    if date_order not in DATE_ORDERS:
        raise ValueError(f"date_order must be one of {', '.join(DATE_ORDERS)}, not {date_order!r}")
    if unknown_columns not in UNKNOWN_COLUMN_MODES:
        raise ValueError(f"unknown_columns must be one of {', '.join(UNKNOWN_COLUMN_MODES)}, not {unknown_columns!r}")
    if unknown_columns == "attributes" and table is not CRM_CONTACTS:
        raise ImportFileError(
            f"{path}: unknown_columns='attributes' applies to profiles only ({kind} have no attributes column)"
        )
    return table


def _check_required(path: Path, headers: tuple[str, ...], plan: ColumnPlan, table: RawTable, mapping: Mapping) -> None:
    if not plan.matches:
        data_like = looks_like_data(headers)
        if data_like:
            shown = ", ".join(f'"{h}"' for h in data_like[:3])
            raise ImportFileError(
                f"{path}: no header row: the first line looks like data ({shown}); the first line must name the columns"
            )
    missing = tuple(
        c.name
        for c in table.columns
        if c.required and plan.source_of(c.name) is None and mapping.default_for(c.name) is None
    )
    if missing:
        unmatched = [headers[i] for i in plan.unmatched]
        hints = [f'"{h}" (looks like {s})' for h in unmatched if (s := suggest_column(h, table)) in missing]
        hint = f"; perhaps {', '.join(hints)}" if hints else ""
        have = ", ".join(f'"{h}"' for h in headers if h)
        raise MissingColumnsError(
            f"{path}: no column for {', '.join(missing)} (required in {table.name}); the file has {have}{hint}. "
            "Rename the header, or map it in a mapping file",
            columns=missing,
        )


def _check_unknown(
    path: Path, table: RawTable, plan: ColumnPlan, headers: tuple[str, ...], mode: UnknownColumns
) -> dict[str, str]:
    """Raise for unknown headers in ``error`` mode; in ``attributes`` mode, their attribute keys."""
    unmatched = tuple(headers[i] for i in plan.unmatched)
    if not unmatched or mode == "ignore":
        return {}
    if mode == "error":
        suggestions = {h: s for h in unmatched if (s := suggest_column(h, table)) is not None}
        taken = {headers[i]: column for i, column in plan.shadowed}
        listed = ", ".join(_with_hint(h, suggestions, taken, plan) for h in unmatched)
        keep = " or 'attributes' to keep them in each contact's attributes" if table is CRM_CONTACTS else ""
        raise UnknownColumnsError(
            f"{path}: {len(unmatched)} column(s) match no {table.name} column: {listed}. Map them in a mapping "
            f"file, or pass unknown_columns='ignore' (--unknown-columns ignore) to skip them{keep}",
            columns=unmatched,
            suggestions=suggestions,
        )
    keys: dict[str, str] = {}
    for header in unmatched:
        key = attribute_key(header)
        clash = next((h for h, k in keys.items() if k == key), None)
        if clash is not None:
            raise ImportFileError(f'{path}: headers "{clash}" and "{header}" would both be attribute "{key}"')
        keys[header] = key
    return keys


def _with_hint(header: str, suggestions: dict[str, str], taken: dict[str, str], plan: ColumnPlan) -> str:
    if header in taken:
        column = taken[header]
        winner = next(m.source for m in plan.matches if m.column == column)
        return f'"{header}" ({column} is already read from "{winner}")'
    return f'"{header}" (did you mean {suggestions[header]}?)' if header in suggestions else f'"{header}"'


def attribute_key(header: str) -> str:
    """How an unknown header is named inside ``attributes``: ``"Loyalty Tier"`` -> ``loyalty_tier``."""
    decomposed = unicodedata.normalize("NFKD", header.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]+", "_", plain).strip("_") or "attribute"


def _typed_defaults(
    where: Path, table: RawTable, mapping: Mapping, delimiter: str | None, order: DateOrder, today: dt.date
) -> dict[str, pa.Scalar]:
    resolved: ResolvedDateOrder = "ymd" if order == "auto" else order
    typed: dict[str, pa.Scalar] = {}
    for name, text in mapping.defaults:
        value, reason = typed_default(table, table.column(name), text, delimiter=delimiter, order=resolved, today=today)
        if value is None:
            raise MappingFileError(f"{where}: defaults: {reason}")
        typed[name] = value
    return typed


# -- rows --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Checked:
    """Every raw column parsed, and each row's first rejection reason (null when good); identity equality."""

    columns: dict[str, Column]
    reasons: Column
    date_orders: tuple[ColumnDateOrder, ...]
    notes: tuple[str, ...] = field(default=())


def _check_rows(
    path: Path,
    table: RawTable,
    plan: ColumnPlan,
    rows: SourceRows,
    defaults: dict[str, pa.Scalar],
    requested_order: DateOrder,
    delimiter: str | None,
    today: dt.date,
) -> _Checked:
    n = rows.num_rows
    sources = {name: rows.columns[index] for name, index in plan.sources}
    temporal = {c.name: sources[c.name] for c in table.columns if is_temporal(c) and c.name in sources}
    orders, date_orders = resolve_date_orders(
        path, temporal, rows.line_numbers, requested=requested_order, delimiter=delimiter
    )
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
            )
            values = parsed.values
            reasons.append(parsed.reasons)
            notes.extend(parsed.notes)
        else:
            values = pa.nulls(n, _ARROW_TYPES[column.type])
        if column.name in defaults:
            values = pc.fill_null(values, defaults[column.name])
        if column.required:
            missing = pc.is_null(values)
            if pc.any(missing).as_py():
                reasons.append(pc.if_else(missing, f"{column.name}: missing (required)", NULL_TEXT))
        columns[column.name] = values
    first = first_reason(*reasons)
    return _Checked(columns, pa.nulls(n, pa.string()) if first is None else first, date_orders, tuple(notes))


def _drop_duplicates(table: RawTable, checked: _Checked, rows: SourceRows, good: Column) -> tuple[Column, Column]:
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


def _incoming(
    table: RawTable, checked: _Checked, rows: SourceRows, good: Column, folded: Column | None, batch_id: str
) -> pa.Table:
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


def _folded(rows: SourceRows, plan: ColumnPlan, keys: dict[str, str]) -> Column:
    """The unknown columns as one struct per row (attribute key -> trimmed text), for ``attributes``."""
    arrays = [pa.chunked_array(clean_text(rows.columns[i])).combine_chunks() for i in plan.unmatched]
    names = [keys[rows.headers[i]] for i in plan.unmatched]
    return pa.StructArray.from_arrays(arrays, names=names)


def _carry_forward(table: RawTable, plan: ColumnPlan) -> tuple[str, ...]:
    """Contacts only: the columns the file does not have keep the contact's current values."""
    if table is not CRM_CONTACTS:
        return ()
    present = plan.matched_columns
    return tuple(c for c in table.column_names if c not in present and c != table.key)


def _rejects(rows: SourceRows, reasons: Column) -> list[Reject]:
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


def _blank_warnings(rows: SourceRows, plan: ColumnPlan) -> list[str]:
    warnings = []
    if rows.blank_lines:
        warnings.append(f"{rows.blank_lines} blank line(s) skipped")
    for index in plan.blank:
        filled = int(pc.sum(pc.cast(pc.is_valid(clean_text(rows.columns[index])), pa.int64())).as_py() or 0)
        if filled:
            warnings.append(f"column {index + 1} has no header: its {filled} value(s) were ignored")
    return warnings


def _topic_notes(incoming: pa.Table) -> list[str]:
    topics = {t for t in pc.unique(incoming.column("topic")).to_pylist() if t is not None}
    unusual = sorted(topics - set(CONSENT_TOPICS))
    if not unusual:
        return []
    return [f"topic: not one of {', '.join(CONSENT_TOPICS)}, landed as given: {', '.join(unusual[:10])}"]
