"""The allow-list the compiler checks every name against: the marts' tables, columns and column kinds.

Two readers give the same answer: ``from_warehouse`` asks the published warehouse what it actually holds
(live counts and previews use it), and ``from_contracts`` reads the marts' enforced dbt contracts (model
generation uses it, so a fresh clone can generate models before anything is built). A test keeps them equal.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import duckdb
import yaml

from herald.errors import AudienceSpecError
from herald.package import herald_dbt_package
from herald.project import Project
from herald.warehouse import EmbeddedReader, Reader

ColumnKind = Literal["string", "integer", "number", "boolean", "date", "timestamp"]

# The marts an audience may read, by their name in the warehouse.
PROFILES = "profiles"
CONSENTS = "profile_consents"
# Related data: spec name → (mart, default time column for `within_days`).
RELATED_TABLES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "orders": ("orders", "ordered_at"),
        "order_lines": ("order_lines", "ordered_at"),
        "events": ("profile_events", "occurred_at"),
        "messages": ("messages", "sent_at"),
    }
)
# One row per profile: event and order counts and sums in fixed windows ending at the build's as_of, and consent
# flags. Never named in a spec: the compiler answers the conditions it holds exactly from it (docs/audiences.md).
PROFILE_ROLLUPS = "profile_rollups"
AUDIENCE_TABLES = (PROFILES, CONSENTS, *(t for t, _ in RELATED_TABLES.values()), PROFILE_ROLLUPS)


@dataclass(frozen=True, slots=True)
class Schema:
    """Tables → columns → kind. Only the tables in ``AUDIENCE_TABLES`` are ever present."""

    tables: Mapping[str, Mapping[str, ColumnKind]]

    def columns(self, table: str) -> Mapping[str, ColumnKind]:
        try:
            return self.tables[table]
        except KeyError:
            raise AudienceSpecError(f"the warehouse has no table {table!r}; build it first") from None

    def kind(self, table: str, column: str, path: str) -> ColumnKind:
        """The kind of ``table.column``; an AudienceSpecError naming ``path`` when there is no such column."""
        columns = self.columns(table)
        if column not in columns:
            hint = difflib.get_close_matches(column, list(columns), n=3)
            suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
            raise AudienceSpecError(f"condition {path}: unknown column {column!r} in {table}{suggestion}")
        return columns[column]


def kind_of_sql_type(sql_type: str) -> ColumnKind | None:
    """The kind of a column from its SQL type name (DuckDB's, or a contract's data_type), None if unsupported."""
    t = sql_type.lower()
    if "timestamp" in t:
        return "timestamp"
    if t == "date":
        return "date"
    if t == "boolean":
        return "boolean"
    if t in ("bigint", "integer", "int", "smallint", "tinyint", "hugeint", "ubigint", "uinteger"):
        return "integer"
    if "double" in t or "float" in t or "decimal" in t or t in ("real", "numeric"):
        return "number"
    if "string" in t or "text" in t or "varchar" in t or t.startswith("character"):
        return "string"
    return None


def from_warehouse(source: Reader | duckdb.DuckDBPyConnection) -> Schema:
    """The schema of the published warehouse ``source`` reads (a reader of the seam, or a DuckDB connection)."""
    reader = EmbeddedReader(source) if isinstance(source, duckdb.DuckDBPyConnection) else source
    found = reader.arrow(
        "select table_name, column_name, data_type from information_schema.columns"
        f" where table_schema = '{reader.schema}' order by table_name, ordinal_position"
    ).to_pylist()
    rows = [(r["table_name"], r["column_name"], r["data_type"]) for r in found]
    tables: dict[str, dict[str, ColumnKind]] = {}
    for table, column, sql_type in rows:
        kind = kind_of_sql_type(str(sql_type))
        if table in AUDIENCE_TABLES and kind is not None:
            tables.setdefault(str(table), {})[str(column)] = kind
    return _frozen(tables)


def from_contracts(project: Project | Path) -> Schema:
    """The schema the marts' enforced contracts promise, read from their YAML files in Herald's dbt package: the
    project's (``Project.marts_dir``), or, given a folder, its own when it is a checkout of Herald, else the
    installed package's."""
    tables: dict[str, dict[str, ColumnKind]] = {}
    for path in sorted(_marts_dir(project).rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in doc.get("models") or []:
            if model.get("name") not in AUDIENCE_TABLES:
                continue
            for col in model.get("columns") or []:
                # Contract types are written per engine, e.g. "{{ 'string' if target.type == 'spark' else 'text' }}".
                kind = kind_of_sql_type(str(col.get("data_type", "")).replace("{{", "").split(" if ")[0].strip(" '\""))
                if kind is not None:
                    tables.setdefault(model["name"], {})[col["name"]] = kind
    return _frozen(tables)


def _marts_dir(project: Project | Path) -> Path:
    if isinstance(project, Project):
        return project.marts_dir
    own = project / "dbt_project" / "models" / "marts"
    return own if own.is_dir() else herald_dbt_package() / "dbt_project" / "models" / "marts"


def _frozen(tables: dict[str, dict[str, ColumnKind]]) -> Schema:
    return Schema(MappingProxyType({t: MappingProxyType(c) for t, c in tables.items()}))
