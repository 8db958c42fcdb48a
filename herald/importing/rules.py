"""Which parser checks which raw column, and how the day/month order of date columns is decided.

Rules are looked up by column name (an ``email`` is an email wherever it appears) and fall back to the raw
column's type; columns holding a value domain (``herald.domains.COLUMN_DOMAINS``) are looked up by table and name,
since ``status`` means different things in different tables.

Value domains and ranges the warehouse tests (``herald.domains``) are enforced here, so nothing an import lands
can fail a build: a value outside its domain (after the documented synonyms and the mapping file's ``values:``)
rejects its row, as does a number outside its range. Countries, languages and time zones are reference lists,
not tested domains: an unrecognized one lands empty with one warning per distinct value, unless the mapping file
says ``unknown_values: {column: reject}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from herald.domains import COLUMN_DOMAINS, COLUMN_RANGES, ValueRange, spelling_key
from herald.importing.dates import SlashEvidence, TemporalType, parse_temporal, slash_evidence
from herald.importing.errors import AmbiguousDatesError
from herald.importing.kinds import DateOrder
from herald.importing.mapping import Mapping as MappingFile
from herald.importing.mapping import UnknownValues
from herald.importing.report import ColumnDateOrder, ResolvedDateOrder
from herald.importing.values import (
    Column,
    Parsed,
    clean_text,
    first_reason,
    parse_country,
    parse_currency,
    parse_domain,
    parse_double,
    parse_email,
    parse_integer,
    parse_json_object,
    parse_language,
    parse_phone,
    parse_sales_channel,
    parse_text,
    parse_time_zone,
    reasons_where,
    via_distinct,
)
from herald.raw_schema import RawColumn, RawTable

_BY_NAME: dict[str, Callable[[str, Column], Parsed]] = {
    "email": parse_email,
    "phone": parse_phone,
    "country_code": parse_country,
    "language_code": parse_language,
    "time_zone": parse_time_zone,
    "attributes": parse_json_object,
    "currency": parse_currency,
    "sales_channel": parse_sales_channel,
}
# Columns whose values cannot lie in the future.
_NOT_IN_FUTURE = frozenset({"birth_date"})
# Reference lists no build tests: an unrecognized value lands empty by default, with a warning.
_LOOKUP_NOUNS = {"country_code": "country", "language_code": "language", "time_zone": "time zone"}
_WARNED_VALUES = 20


def unknown_values_mode(table: RawTable, column: str) -> UnknownValues | None:
    """What an unrecognized value does by default in a column with a closed list (None: no such list)."""
    if (table.name, column) in COLUMN_DOMAINS:
        return "reject"
    return "null" if column in _LOOKUP_NOUNS else None


def parse_column(
    table: RawTable,
    column: RawColumn,
    values: Column,
    *,
    delimiter: str | None,
    date_order: ResolvedDateOrder,
    today: dt.date,
    mapping: MappingFile | None = None,
    lenient: bool = True,
) -> Parsed:
    """Parse and check one column's values with the rule for that column. Eager and vectorized.

    ``mapping`` brings the file's own spellings and unknown-value choices; with ``lenient=False`` an unrecognized
    value always gets a reason (for checking a single mapping value)."""
    name = column.name
    if mapping is not None and (spellings := mapping.values_for(name)):
        values = _rewrite(values, spellings)
    parsed = _parse(table, column, values, delimiter=delimiter, date_order=date_order, today=today)
    if (bounds := COLUMN_RANGES.get((table.name, name))) is not None:
        parsed = _check_range(name, values, parsed, bounds)
    mode = (mapping.unknown_for(name) if mapping is not None else None) or unknown_values_mode(table, name)
    if mode == "null" and lenient and parsed.reasons is not None:
        parsed = _land_empty(name, values, parsed)
    return parsed


def _parse(
    table: RawTable, column: RawColumn, values: Column, *, delimiter: str | None, date_order: ResolvedDateOrder,
    today: dt.date,
) -> Parsed:  # fmt: skip
    name = column.name
    if (domain := COLUMN_DOMAINS.get((table.name, name))) is not None:
        return via_distinct(values, lambda v: parse_domain(name, v, domain))
    rule = _BY_NAME.get(name)
    if rule is not None:
        return via_distinct(values, lambda v: rule(name, v))
    if column.type == "integer":
        return via_distinct(values, lambda v: parse_integer(name, v, delimiter))
    if column.type == "double":
        return via_distinct(values, lambda v: parse_double(name, v, delimiter))
    if column.type in ("date", "timestamp"):
        kind: TemporalType = "date" if column.type == "date" else "timestamp"
        limit = today if column.name in _NOT_IN_FUTURE else None
        return parse_temporal(column.name, values, kind, date_order, not_after=limit)
    return parse_text(column.name, values)


def _rewrite(values: Column, spellings: tuple[tuple[str, str | None], ...]) -> Column:
    """The mapping file's own spellings replaced by what they stand for (None: empty), on distinct values."""
    targets = {spelling_key(spelling): target for spelling, target in spellings}
    text = clean_text(values)
    distinct = pc.unique(text)
    replaced = [v if v is None else targets.get(spelling_key(v), v) for v in distinct.to_pylist()]
    return pc.take(pa.array(replaced, pa.string()), pc.index_in(text, value_set=distinct))


def _check_range(name: str, values: Column, parsed: Parsed, bounds: ValueRange) -> Parsed:
    number = parsed.values
    low = pc.less(number, bounds.min_value) if bounds.min_value is not None else None
    high = pc.greater(number, bounds.max_value) if bounds.max_value is not None else None
    reasons = [parsed.reasons]
    text = clean_text(values)
    if low is not None:
        reasons.append(reasons_where(low, name, text, f"is below the minimum {bounds.min_value:g} ({bounds.name})"))
    if high is not None:
        reasons.append(reasons_where(high, name, text, f"is above the maximum {bounds.max_value:g} ({bounds.name})"))
    return Parsed(number, first_reason(*reasons), parsed.notes)


def _land_empty(name: str, values: Column, parsed: Parsed) -> Parsed:
    """Unrecognized values land empty instead of rejecting the row: one warning per distinct value, counted."""
    unknown = pc.is_valid(parsed.reasons)
    counts = pc.value_counts(pc.filter(clean_text(values), unknown)).to_pylist()
    counts.sort(key=lambda c: (-c["counts"], c["values"]))
    noun = _LOOKUP_NOUNS.get(name, "value of this column")
    notes = [
        f'{name}: "{c["values"]}" is not a known {noun}: {c["counts"]:,} row(s) landed with {name} empty '
        "(map it under values: in a mapping file)"
        for c in counts[:_WARNED_VALUES]
    ]
    if len(counts) > _WARNED_VALUES:
        rest = sum(c["counts"] for c in counts[_WARNED_VALUES:])
        notes.append(f"{name}: {len(counts) - _WARNED_VALUES:,} more unknown value(s) in {rest:,} row(s) landed empty")
    return Parsed(parsed.values, None, (*parsed.notes, *notes))


def is_temporal(column: RawColumn) -> bool:
    return column.type in ("date", "timestamp")


def resolve_date_orders(
    path: Path,
    columns: Mapping[str, Column],
    line_numbers: Column,
    *,
    requested: DateOrder,
    delimiter: str | None,
) -> tuple[dict[str, ResolvedDateOrder], tuple[ColumnDateOrder, ...]]:
    """Decide, per date column, whether ``03/04/2024`` is day-first or month-first.

    An explicit order wins. Otherwise a column's own values decide (a value only one order can read, such as
    25/12/2024, votes for that order; the majority wins and the minority is rejected as invalid). A column whose
    values are all ambiguous follows the other date columns of the file when they agree, then the file's
    delimiter (``;`` is what European spreadsheets write, so day-first). Failing all that, the import stops with
    ``AmbiguousDatesError`` rather than guess: a wrong guess swaps days and months without anyone noticing.
    """
    orders: dict[str, ResolvedDateOrder] = {}
    report: list[ColumnDateOrder] = []
    if requested != "auto":
        for name in columns:
            orders[name] = requested
        return orders, ()
    evidence = {name: slash_evidence(values) for name, values in columns.items()}
    decided = {name: ev.decided for name, ev in evidence.items() if ev.decided is not None}
    consensus = set(decided.values())
    for name, ev in evidence.items():
        order: ResolvedDateOrder
        if ev.decided is not None:
            order = ev.decided
            report.append(ColumnDateOrder(name, order, _votes_reason(ev, order)))
        elif ev.ambiguous == 0:
            order = "dmy"  # no value depends on the order
        elif len(consensus) == 1:
            order = next(iter(consensus))
            others = ", ".join(sorted(decided))
            report.append(ColumnDateOrder(name, order, f"values are ambiguous; read like {others}"))
        elif delimiter == ";":
            order = "dmy"
            report.append(ColumnDateOrder(name, order, "values are ambiguous; ';'-delimited file, so day-first"))
        else:
            line = int(line_numbers[ev.example_row].as_py()) if ev.example_row is not None else 0
            raise AmbiguousDatesError(
                f'{path}: dates in {name} can be read day-first or month-first (e.g. "{ev.example}" on line {line}); '
                "pass date_order='dmy' or 'mdy' (--date-order), or set date_order in the mapping file",
                column=name,
                example=ev.example or "",
                line_number=line,
            )
        orders[name] = order
    return orders, tuple(report)


def _votes_reason(ev: SlashEvidence, order: ResolvedDateOrder) -> str:
    winning, losing = (ev.day_first, ev.month_first) if order == "dmy" else (ev.month_first, ev.day_first)
    what = "day-first" if order == "dmy" else "month-first"
    reason = f"{winning} distinct value(s) can only be read {what}"
    if losing:
        reason += f"; {losing} that cannot are rejected"
    return reason


def typed_default(
    table: RawTable,
    column: RawColumn,
    text: str,
    *,
    delimiter: str | None,
    order: ResolvedDateOrder,
    today: dt.date,
) -> tuple[pa.Scalar | None, str | None]:
    """A mapping default parsed like a cell of that column: (typed value, None) or (None, reason)."""
    values = pa.array([text], pa.string())
    parsed = parse_column(table, column, values, delimiter=delimiter, date_order=order, today=today, lenient=False)
    reason = None if parsed.reasons is None else parsed.reasons[0].as_py()
    if reason is not None:
        return None, reason
    value = parsed.values[0]
    return (value, None) if value.is_valid else (None, f"{column.name}: the default is empty")
