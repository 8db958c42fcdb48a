"""Render the dbt files that describe the raw landing shape and the value domains, from ``herald.raw_schema``
and ``herald.domains``.

Four files are generated and committed: the dbt sources (what staging reads), the demo seeds' column types
(how PostgreSQL and Spark load the demo data), the value-domain macros the model YAML's ``accepted_values``
and ``accepted_range`` tests read, and the raw columns ``herald_source`` maps a project's own tables onto.
``tests/dbt/test_sources_match_raw_schema.py`` and ``tests/dbt/test_value_domains.py`` prove the committed files
equal what this module renders, so the shape and the domains are defined once.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from herald.domains import DOMAINS, RANGES
from herald.raw_schema import ALL_TABLES, BATCH_COLUMNS, IMPORT_BATCHES, RawTable, RawType

SOURCES_PATH = Path("dbt_project/models/staging/_sources.yml")
DEMO_SEEDS_PATH = Path("seeds/demo/_demo__seeds.yml")
VALUE_DOMAINS_PATH = Path("dbt_project/macros/domains/value_domains.sql")
RAW_COLUMNS_PATH = Path("dbt_project/macros/sources/raw_columns.sql")
# What a project's own table may stand in for: every landed table but Herald's own audit of its batches.
OWN_TABLES: tuple[RawTable, ...] = tuple(t for t in ALL_TABLES if t is not IMPORT_BATCHES)

_HEADER = "# Generated from herald/raw_schema.py by `herald dev render-dbt-yaml`; do not edit by hand.\n"


# On DuckDB a source reads the landing zone's Parquet batches directly (no copy, no lock), limited to the
# batches that existed when the build started; other engines read tables of the same name in the raw schema.
def _external_location(batch_column: str) -> str:
    sql = (
        "(select * from read_parquet('\" ~ env_var('HERALD_LANDING_DIR') ~ \"/{name}/*.parquet', union_by_name=true) "
        f"where {batch_column} <= '\" ~ env_var('HERALD_BATCH_CUTOFF', '~') ~ \"')"
    )
    return '{{ "' + sql + "\" if target.type == 'duckdb' else '' }}"


_SEED_TYPES: dict[RawType, str] = {
    "varchar": "{{ 'string' if target.type == 'spark' else 'varchar' }}",
    "integer": "integer",
    "double": "double precision",
    "date": "date",
    "timestamp": "timestamp",
}
_SPARK_DOUBLE = "{{ 'double' if target.type == 'spark' else 'double precision' }}"


def _source_table(t: RawTable) -> dict[str, object]:
    columns: list[dict[str, object]] = []
    for c in t.columns:
        col: dict[str, object] = {"name": c.name, "description": c.description}
        if c.required:
            col["data_tests"] = ["not_null"]
        columns.append(col)
    entry: dict[str, object] = {
        "name": t.name,
        "description": f"{t.description} Key: {t.key}.",
        "loaded_at_field": t.loaded_at_column,
        "columns": columns,
    }
    if t is IMPORT_BATCHES:
        entry["meta"] = {"external_location": _external_location("batch_id")}
    else:
        # A table the project maps to a relation of its own (vars: herald_sources) is not landed: its source,
        # with its freshness check and tests, is off.
        entry["config"] = {"enabled": f"{{{{ var('herald_sources', {{}}).get('{t.name}') is none }}}}"}
    return entry


def render_sources() -> str:
    by_system: dict[str, list[RawTable]] = {}
    for t in ALL_TABLES:
        by_system.setdefault(t.system, []).append(t)
    doc = {
        "version": 2,
        "sources": [
            {
                "name": system,
                "description": f"Raw {system} data as landed, one append-only batch at a time.",
                # A build into a schema of its own (a SQL warehouse's build schema) still reads the one raw schema.
                "schema": "{{ var('herald_raw_schema', target.schema ~ '_raw') }}",
                "meta": {"external_location": _external_location("_batch_id")},
                "config": {
                    "freshness": {
                        "warn_after": {"count": 2, "period": "day"},
                        "error_after": {"count": 7, "period": "day"},
                    }
                },
                "tables": [_source_table(t) for t in tables],
            }
            for system, tables in by_system.items()
        ],
    }
    return _HEADER + yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True)


def render_demo_seeds() -> str:
    seeds = []
    for t in ALL_TABLES:
        types: dict[str, str] = {}
        for c in t.columns if t.name == "import_batches" else (*t.columns, *BATCH_COLUMNS):
            types[c.name] = _SPARK_DOUBLE if c.type == "double" else _SEED_TYPES[c.type]
        seeds.append(
            {
                "name": t.name,
                "description": f"Demo data for raw table {t.name}.",
                "config": {"column_types": types, "quote_columns": False},
            }
        )
    return _HEADER + yaml.safe_dump({"version": 2, "seeds": seeds}, sort_keys=False, width=120)


def render_value_domains() -> str:
    """The macros ``herald_value_domain(name)`` (a list of values) and ``herald_value_range(name)`` (a dict with
    ``min_value`` and ``max_value``, none when open), for test arguments such as
    ``values: "{{ herald_value_domain('order_status') }}"``; dbt renders them into real lists and numbers."""
    domains = "".join(f"\n        {json.dumps(d.name)}: {_list(d.values)}," for d in DOMAINS)
    ranges = "".join(
        f"\n        {json.dumps(r.name)}: {{'min_value': {_number(r.min_value)}, 'max_value': {_number(r.max_value)}}},"
        for r in RANGES
    )
    return f"""{{#- Generated from herald/domains.py by `herald dev render-dbt-yaml`; do not edit by hand. -#}}

{{#- The values a column of this domain may hold: the importer accepts exactly these (herald/domains.py). -#}}
{{% macro herald_value_domain(name) %}}
    {{%- set domains = {{{domains}
    }} -%}}
    {{%- if name not in domains -%}}
        {{{{ exceptions.raise_compiler_error("unknown value domain " ~ name) }}}}
    {{%- endif -%}}
    {{{{ return(domains[name]) }}}}
{{% endmacro %}}

{{#- The bounds a number of this range lies within (none: open), as arguments of the accepted_range test. -#}}
{{% macro herald_value_range(name) %}}
    {{%- set ranges = {{{ranges}
    }} -%}}
    {{%- if name not in ranges -%}}
        {{{{ exceptions.raise_compiler_error("unknown value range " ~ name) }}}}
    {{%- endif -%}}
    {{{{ return(ranges[name]) }}}}
{{% endmacro %}}
"""


def render_raw_columns() -> str:
    """The macro ``herald_raw_columns(table)``: the landed columns of a raw table, in order, each a dict of
    ``name``, ``type`` (varchar, integer, double, date, timestamp) and ``required``; what ``herald_source`` maps
    a project's own relation onto."""
    tables = "".join(
        f"\n        {json.dumps(t.name)}: ["
        + ",".join(
            f"\n            {{'name': {json.dumps(c.name)}, 'type': {json.dumps(c.type)}, "
            f"'required': {str(c.required).lower()}}}"
            for c in t.columns
        )
        + "\n        ],"
        for t in OWN_TABLES
    )
    return f"""{{#- Generated from herald/raw_schema.py by `herald dev render-dbt-yaml`; do not edit by hand. -#}}

{{#- The columns a raw table lands with (herald/raw_schema.py), batch columns aside. -#}}
{{% macro herald_raw_columns(table_name) %}}
    {{%- set tables = {{{tables}
    }} -%}}
    {{%- if table_name not in tables -%}}
        {{{{ exceptions.raise_compiler_error(
            "herald_sources: " ~ table_name ~ " is not a table Herald reads; expected one of "
            ~ (tables.keys() | sort | join(", "))) }}}}
    {{%- endif -%}}
    {{{{ return(tables[table_name]) }}}}
{{% endmacro %}}
"""


def _list(values: tuple[str, ...]) -> str:
    return "[" + textwrap.fill(", ".join(json.dumps(v) for v in values), 100, subsequent_indent=" " * 12) + "]"


def _number(value: float | None) -> str:
    if value is None:
        return "none"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def write_all(root: Path) -> list[Path]:
    """Write every generated file under ``root``; returns the paths written."""
    written = []
    generated = (
        (SOURCES_PATH, render_sources()),
        (DEMO_SEEDS_PATH, render_demo_seeds()),
        (VALUE_DOMAINS_PATH, render_value_domains()),
        (RAW_COLUMNS_PATH, render_raw_columns()),
    )
    for rel, text in generated:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
