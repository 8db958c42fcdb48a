"""Mapping files: how a customer tells the importer what their headers mean.

    # crm-export.mapping.yml
    columns:                 # raw column: header in the file
      external_key: "Kundennr."
      email: "E-Mail (geschäftlich)"
    date_order: dmy          # optional: auto, dmy, mdy or ymd
    defaults:                # optional: value where the file gives none
      country_code: DE
    values:                  # optional: this file's own spellings -> the value to store (null: store empty)
      country_code: {"Untied States": US, "Elsewhere": null}
    unknown_values:          # optional: what a value nothing recognizes does: reject (the row) or null
      country_code: reject

Headers not named here are still matched automatically. Defaults fill empty cells and columns the file does not
have (for contacts, an existing contact keeps its current value; the default is for new ones). ``values``
spellings are compared ignoring case, accents, spaces and punctuation, and are applied before the column's own
rules; every target must be a value the column accepts. Without ``unknown_values``, an unrecognized country,
language or time zone lands empty with a warning, and a value outside a domain the warehouse tests (order
statuses, currencies, channels, ...) rejects its row. Everything is checked before any row is read, so a typo in
the mapping never half-imports a file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml

from herald.importing.errors import MappingFileError
from herald.importing.headers import suggest_column
from herald.importing.kinds import DATE_ORDERS, DateOrder
from herald.raw_schema import RawTable

_KEYS = ("columns", "date_order", "defaults", "values", "unknown_values")

UnknownValues = Literal["reject", "null"]
UNKNOWN_VALUE_MODES: tuple[UnknownValues, ...] = get_args(UnknownValues)


@dataclass(frozen=True, slots=True)
class Mapping:
    """A parsed mapping file; equal when every field is equal (in order).

    ``values`` holds, per column, the file's spellings (as written) and what to store for each (None: empty);
    ``unknown_values`` the per-column choice for a value nothing recognizes.
    """

    columns: tuple[tuple[str, str], ...] = ()
    date_order: DateOrder | None = None
    defaults: tuple[tuple[str, str], ...] = ()
    values: tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...] = ()
    unknown_values: tuple[tuple[str, UnknownValues], ...] = ()

    def values_for(self, column: str) -> tuple[tuple[str, str | None], ...]:
        for name, pairs in self.values:
            if name == column:
                return pairs
        return ()

    def unknown_for(self, column: str) -> UnknownValues | None:
        for name, mode in self.unknown_values:
            if name == column:
                return mode
        return None

    def default_for(self, column: str) -> str | None:
        for name, value in self.defaults:
            if name == column:
                return value
        return None


def load_mapping(path: Path, table: RawTable) -> Mapping:
    """Read and check a mapping file against ``table``. Eager; raises ``MappingFileError`` naming the problem."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise MappingFileError(f"{path}: mapping file cannot be read: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MappingFileError(f"{path}: mapping file is not valid YAML: {exc}") from exc
    if document is None:
        return Mapping()
    if not isinstance(document, dict):
        raise MappingFileError(f"{path}: a mapping file is a YAML object with keys {', '.join(_KEYS)}")
    unknown = [str(k) for k in document if k not in _KEYS]
    if unknown:
        raise MappingFileError(f"{path}: unknown key(s) {', '.join(unknown)}; expected {', '.join(_KEYS)}")
    columns = _columns(path, table, document.get("columns"))
    defaults = _defaults(path, table, document.get("defaults"))
    order = document.get("date_order")
    if order is not None and order not in DATE_ORDERS:
        raise MappingFileError(f"{path}: date_order must be one of {', '.join(DATE_ORDERS)}, not {order!r}")
    return Mapping(
        columns=columns,
        date_order=cast(DateOrder | None, order),
        defaults=defaults,
        values=_values(path, table, document.get("values")),
        unknown_values=_unknown_values(path, table, document.get("unknown_values")),
    )


def _object(path: Path, key: str, value: Any) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingFileError(f"{path}: {key} must map raw column names to values")
    return value


def _check_column(path: Path, table: RawTable, key: str, column: Any) -> str:
    name = str(column)
    if name not in table.column_names:
        close = suggest_column(name, table)
        hint = f"; did you mean {close}?" if close else f"; {table.name} has {', '.join(table.column_names)}"
        raise MappingFileError(f"{path}: {key}: {name!r} is not a column of {table.name}{hint}")
    return name


def _columns(path: Path, table: RawTable, value: Any) -> tuple[tuple[str, str], ...]:
    pairs = []
    for column, header in _object(path, "columns", value).items():
        name = _check_column(path, table, "columns", column)
        if not isinstance(header, str | int) or not str(header).strip():
            raise MappingFileError(f"{path}: columns: {name} must name a header of the file")
        pairs.append((name, str(header).strip()))
    return tuple(pairs)


def _defaults(path: Path, table: RawTable, value: Any) -> tuple[tuple[str, str], ...]:
    pairs = []
    for column, default in _object(path, "defaults", value).items():
        name = _check_column(path, table, "defaults", column)
        if name == table.key:
            raise MappingFileError(f"{path}: defaults: the key {name} cannot have a default (every row would share it)")
        if default is None or isinstance(default, dict | list):
            raise MappingFileError(f"{path}: defaults: {name} needs a single value")
        pairs.append((name, _as_text(default)))
    return tuple(pairs)


def _values(path: Path, table: RawTable, value: Any) -> tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...]:
    out = []
    for column, spellings in _object(path, "values", value).items():
        name = _check_column(path, table, "values", column)
        if name == table.key:
            raise MappingFileError(f"{path}: values: the key {name} cannot be rewritten")
        if not isinstance(spellings, dict) or not spellings:
            raise MappingFileError(f'{path}: values: {name} maps spellings to values, e.g. {{"Untied States": US}}')
        pairs: list[tuple[str, str | None]] = []
        for spelling, target in spellings.items():
            if spelling is None or isinstance(target, dict | list):
                raise MappingFileError(f"{path}: values: {name}: {spelling!r} needs a single value (or null)")
            pairs.append((_as_text(spelling), None if target is None else _as_text(target)))
        out.append((name, tuple(pairs)))
    return tuple(out)


def _unknown_values(path: Path, table: RawTable, value: Any) -> tuple[tuple[str, UnknownValues], ...]:
    out = []
    for column, mode in _object(path, "unknown_values", value).items():
        name = _check_column(path, table, "unknown_values", column)
        mode = "null" if mode is None else mode  # YAML reads a bare null as None
        if mode not in UNKNOWN_VALUE_MODES:
            raise MappingFileError(
                f"{path}: unknown_values: {name} must be one of {', '.join(UNKNOWN_VALUE_MODES)}, not {mode!r}"
            )
        out.append((name, cast(UnknownValues, mode)))
    return tuple(out)


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)
