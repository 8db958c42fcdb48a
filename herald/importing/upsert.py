"""Duplicates within the file, and whether each key is new to the landing zone or updates it.

The landing zone is append-only, so an "update" is a new row with a key that has landed before; dbt's staging
keeps the latest. What this module decides is the accounting (inserted vs updated) and, for contacts, the
content: a file that carries only some columns must not wipe the others, so the columns the file does not have
are filled from the contact's current landed record (latest batch wins: ``_loaded_at``, then ``_batch_id``,
then ``_line_number``, all descending), so each landed row is complete on its own.

Everything runs in an in-memory DuckDB over Arrow tables and the landed Parquet files; SQL text is built only
from raw column names in ``herald.raw_schema``, never from anything in the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from herald import landing
from herald.project import Project
from herald.raw_schema import IMPORT_BATCHES, RawTable

ROW = "__row"
LINE = "_line_number"
FOLDED = "__folded"


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class Superseded:
    """A record replaced by a later record with the same key; equal when row and winner line are equal."""

    row: int
    key: str
    winner_line: int


def superseded(con: duckdb.DuckDBPyConnection, keys: Any, rows: Any, lines: Any) -> list[Superseded]:
    """Records whose key appears again later in the file (the last occurrence wins)."""
    if pc.count_distinct(keys).as_py() == len(keys):
        return []
    candidates = pa.table({"k": keys, "r": rows, "l": lines})
    con.register("__keys", candidates)
    try:
        found = con.execute(
            """
            select r, k, w from (
                select r, k, arg_max(l, r) over (partition by k) as w, max(r) over (partition by k) as last_row
                from __keys
            ) where r <> last_row
            order by r
            """
        ).fetchall()
    finally:
        con.unregister("__keys")
    return [Superseded(int(r), str(k), int(w)) for r, k, w in found]


def _landed(con: duckdb.DuckDBPyConnection, project: Project, table: RawTable, view: str) -> bool:
    """Expose every landed batch of ``table`` as ``view``; False when nothing has ever landed there."""
    if not landing.batch_files(project, table):
        return False
    landing.scan(con, project, table).create_view(view, replace=True)
    return True


@dataclass(frozen=True, slots=True, eq=False)
class Upserted:
    """The rows to land and which of them update an existing key; compared by identity (Arrow data)."""

    data: Any
    is_update: Any
    updated: int


def upsert(
    con: duckdb.DuckDBPyConnection,
    project: Project,
    table: RawTable,
    incoming: Any,
    *,
    carry_forward: Iterable[str] = (),
    merge_folded: bool = False,
    folded_into_given: bool = False,
) -> Upserted:
    """Classify each incoming row as insert or update, completing contacts from their current record.

    ``incoming`` holds the raw columns (typed), ``_line_number``, ``__row`` (0, 1, 2, ...) and, when unknown
    headers are folded into attributes, ``__folded`` (a struct). ``carry_forward`` names the columns the file
    does not have: they take the current landed value, or the incoming one (a mapping default, or null) when
    there is none. ``merge_folded`` merges the folded attributes into the current ones (file wins, an empty cell
    removes the key); ``folded_into_given`` merges them into the file's own ``attributes`` column instead.
    Only the columns that change go through DuckDB; the rest stay in the incoming Arrow table.
    """
    carry = [c for c in carry_forward if c != table.key and not (c == "attributes" and merge_folded)]
    con.register("__incoming", incoming)
    try:
        has_landed = _landed(con, project, table, "__landed")
        if not has_landed and not (merge_folded or folded_into_given):
            is_update = pa.array([False] * incoming.num_rows, pa.bool_())
            return Upserted(_finish(incoming, {}), is_update, 0)
        key = _q(table.key)
        select = [f"i.{ROW}", "e.__key is not null as __is_update" if has_landed else "false as __is_update"]
        changed = [c for c in carry if has_landed]
        select += [f"coalesce(e.{_q(c)}, i.{_q(c)}) as {_q(c)}" for c in changed]
        if merge_folded or folded_into_given:
            base = "i.attributes" if folded_into_given else ("e.attributes" if has_landed else "null")
            merged = f"json_merge_patch(coalesce({base}, '{{}}'), to_json(i.{FOLDED}))::varchar"
            select.append(f"nullif({merged}, '{{}}') as attributes")
            changed.append("attributes")
        source = "__incoming i"
        if has_landed:
            wanted = ", ".join([f"{key} as __key", *(_q(c) for c in changed if c in carry or c == "attributes")])
            source += f"""
                left join (
                    select {wanted} from (
                        select l.*, row_number() over (
                            partition by l.{key} order by l._loaded_at desc, l._batch_id desc, l._line_number desc
                        ) as __rank
                        from __landed l
                        where l.{key} in (select {key} from __incoming)
                    ) where __rank = 1
                ) e on e.__key = i.{key}
            """
        result = con.execute(f"select {', '.join(select)} from {source} order by i.{ROW}").to_arrow_table()
    finally:
        con.unregister("__incoming")
    is_update = result.column("__is_update")
    updated = int(pc.sum(pc.cast(is_update, pa.int64())).as_py() or 0)
    return Upserted(_finish(incoming, {c: result.column(c) for c in changed}), is_update, updated)


def _finish(incoming: Any, replaced: dict[str, Any]) -> Any:
    """The incoming table with changed columns swapped in and the helper columns dropped."""
    data = incoming
    for name, values in replaced.items():
        data = data.set_column(data.schema.get_field_index(name), name, values)
    helpers = [c for c in (ROW, FOLDED) if c in data.column_names]
    return data.drop_columns(helpers)


def _duck_type(raw_type: str) -> str:
    return {"varchar": "varchar", "integer": "bigint", "double": "double", "date": "date"}.get(raw_type, "timestamp")


def previous_imports(con: duckdb.DuckDBPyConnection, project: Project, table: RawTable, sha256: str) -> list[str]:
    """Batch ids of earlier imports of a file with the same checksum into the same table."""
    if not _landed(con, project, IMPORT_BATCHES, "__batches"):
        return []
    rows = con.execute(
        "select batch_id from __batches where source_sha256 = ? and table_name = ? order by batch_id",
        [sha256, table.name],
    ).fetchall()
    return [str(r[0]) for r in rows]
