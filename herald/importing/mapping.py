"""Mapping files: how a customer tells the importer what their headers mean.

    # crm-export.mapping.yml
    columns:                 # raw column: header in the file
      external_key: "Kundennr."
      email: "E-Mail (geschäftlich)"
    date_order: dmy          # optional: auto, dmy, mdy or ymd
    defaults:                # optional: value where the file gives none
      country_code: DE

Headers not named here are still matched automatically. Defaults fill empty cells and columns the file does not
have (for contacts, an existing contact keeps its current value; the default is for new ones). Everything is
checked before any row is read, so a typo in the mapping never half-imports a file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from herald.importing.errors import MappingFileError
from herald.importing.headers import suggest_column
from herald.importing.kinds import DATE_ORDERS, DateOrder
from herald.raw_schema import RawTable

_KEYS = ("columns", "date_order", "defaults")


@dataclass(frozen=True, slots=True)
class Mapping:
    """A parsed mapping file; equal when columns, date order and defaults are equal (in order)."""

    columns: tuple[tuple[str, str], ...] = ()
    date_order: DateOrder | None = None
    defaults: tuple[tuple[str, str], ...] = ()

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
    return Mapping(columns=columns, date_order=cast(DateOrder | None, order), defaults=defaults)


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


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)
