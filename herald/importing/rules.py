"""Which parser checks which raw column, and how the day/month order of date columns is decided.

Rules are looked up by column name (an ``email`` is an email wherever it appears) and fall back to the raw
column's type; ``status`` is the one name that means different things in different tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path

import pyarrow as pa

from herald.importing.dates import SlashEvidence, TemporalType, parse_temporal, slash_evidence
from herald.importing.errors import AmbiguousDatesError
from herald.importing.kinds import DateOrder
from herald.importing.report import ColumnDateOrder, ResolvedDateOrder
from herald.importing.values import (
    Column,
    Parsed,
    parse_channel,
    parse_consent_status,
    parse_country,
    parse_currency,
    parse_double,
    parse_email,
    parse_integer,
    parse_json_object,
    parse_language,
    parse_order_status,
    parse_phone,
    parse_sales_channel,
    parse_text,
    parse_time_zone,
    via_distinct,
)
from herald.raw_schema import CONSENT_EVENTS, SHOP_ORDERS, RawColumn, RawTable

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
_BY_TABLE: dict[tuple[str, str], Callable[[str, Column], Parsed]] = {
    (CONSENT_EVENTS.name, "channel"): parse_channel,
    (CONSENT_EVENTS.name, "status"): parse_consent_status,
    (SHOP_ORDERS.name, "status"): parse_order_status,
}
# Columns whose values cannot lie in the future.
_NOT_IN_FUTURE = frozenset({"birth_date"})


def parse_column(
    table: RawTable,
    column: RawColumn,
    values: Column,
    *,
    delimiter: str | None,
    date_order: ResolvedDateOrder,
    today: dt.date,
) -> Parsed:
    """Parse and check one column's values with the rule for that column. Eager and vectorized."""
    name = column.name
    rule = _BY_TABLE.get((table.name, name)) or _BY_NAME.get(name)
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
    parsed = parse_column(table, column, values, delimiter=delimiter, date_order=order, today=today)
    reason = None if parsed.reasons is None else parsed.reasons[0].as_py()
    if reason is not None:
        return None, reason
    value = parsed.values[0]
    return (value, None) if value.is_valid else (None, f"{column.name}: the default is empty")
