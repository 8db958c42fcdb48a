"""Checks on a file's header and the import's options, made before any record is read.

Each failure is a whole-file error that names the file and says how to fix it: a missing required column (with
the header that probably meant it), unknown columns (with the closest raw column, and the option that skips or
keeps them), a first line that is data rather than a header, or a mapping default that is not a valid value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from pathlib import Path

import pyarrow as pa

from herald.errors import ImportFileError
from herald.importing.errors import MappingFileError, MissingColumnsError, UnknownColumnsError
from herald.importing.headers import ColumnPlan, looks_like_data, suggest_column
from herald.importing.kinds import DATE_ORDERS, UNKNOWN_COLUMN_MODES, DateOrder, UnknownColumns, table_for
from herald.importing.mapping import Mapping
from herald.importing.rejects import REJECTS_LEADING_COLUMNS
from herald.importing.report import ResolvedDateOrder
from herald.importing.rules import typed_default, unknown_values_mode
from herald.raw_schema import CRM_CONTACTS, RawTable


def check_options(path: Path, kind: str, date_order: str, unknown_columns: str) -> RawTable:
    """The raw table for ``kind``; ``ValueError`` for a value outside the documented choices."""
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


def skip_reject_columns(plan: ColumnPlan, headers: tuple[str, ...]) -> tuple[ColumnPlan, list[str]]:
    """A fixed-up rejects file goes back in as it is: its leading ``line_number`` and ``reason`` are not data."""
    if headers[:2] != REJECTS_LEADING_COLUMNS or any(i in (0, 1) for _, i in plan.sources):
        return plan, []
    unmatched = tuple(i for i in plan.unmatched if i > 1)
    note = "the file looks like a rejects file: its line_number and reason columns were ignored"
    return dataclasses.replace(plan, unmatched=unmatched), [note]


def check_required(path: Path, headers: tuple[str, ...], plan: ColumnPlan, table: RawTable, mapping: Mapping) -> None:
    """Every required column needs a header or a mapping default; a first line of values is not a header."""
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


def check_unknown(
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


def typed_defaults(
    where: Path, table: RawTable, mapping: Mapping, delimiter: str | None, order: DateOrder, today: dt.date
) -> dict[str, pa.Scalar]:
    """The mapping's defaults parsed like cells of their columns (ISO dates unless an order is given)."""
    resolved: ResolvedDateOrder = "ymd" if order == "auto" else order
    typed: dict[str, pa.Scalar] = {}
    for name, text in mapping.defaults:
        value, reason = typed_default(table, table.column(name), text, delimiter=delimiter, order=resolved, today=today)
        if value is None:
            raise MappingFileError(f"{where}: defaults: {reason}")
        typed[name] = value
    return typed


def check_value_mappings(where: Path, table: RawTable, mapping: Mapping, delimiter: str | None, today: dt.date) -> None:
    """Every ``values:`` target is a value its column accepts; ``unknown_values:`` names columns with a list."""
    for name, spellings in mapping.values:
        for spelling, target in spellings:
            if target is None:
                continue
            column = table.column(name)
            value, reason = typed_default(table, column, target, delimiter=delimiter, order="ymd", today=today)
            if value is None:
                raise MappingFileError(f"{where}: values: {name}: {spelling!r} -> {target!r}: {reason}")
    for name, _ in mapping.unknown_values:
        if unknown_values_mode(table, name) is None:
            raise MappingFileError(
                f"{where}: unknown_values: {name} has no list of known values (it applies to value domains, "
                "countries, languages and time zones)"
            )
