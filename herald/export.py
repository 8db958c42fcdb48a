"""Export a mart or an audience from the published warehouse to CSV or Parquet.

Names are checked against the tables that actually exist in the published warehouse (an allow-list) and
passed to DuckDB as identifiers through its relation API, never spliced into SQL text. Rows stream in Arrow
batches, so an export of millions of rows runs in bounded memory.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from herald import warehouse
from herald.errors import ExportError
from herald.files import replacing
from herald.project import Project

ExportFormat = Literal["csv", "parquet"]
_BATCH_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote; equal when it wrote the same rows of the same thing to the same file."""

    source: str
    path: Path
    rows: int
    build_id: str | None


def export_table(project: Project, name: str, fmt: ExportFormat, out: Path) -> ExportResult:
    """Write every row of mart ``name`` to ``out``. Eager; the file appears atomically when complete."""
    con = warehouse.connect(project)
    try:
        tables = warehouse.mart_tables(con)
        if name not in tables:
            hint = difflib.get_close_matches(name, tables, n=3)
            suggestion = f" Did you mean: {', '.join(hint)}?" if hint else ""
            raise ExportError(f"no table {name!r} in the published warehouse.{suggestion} Tables: {', '.join(tables)}")
        relation = con.table(name)
        rows = _write(relation.to_arrow_reader(_BATCH_ROWS), fmt, out)
        return ExportResult(source=name, path=out, rows=rows, build_id=_build_id(con))
    finally:
        con.close()


def export_audience(project: Project, name: str, fmt: ExportFormat, out: Path) -> ExportResult:
    """Write the members of audience ``name`` in its latest published build, with their group and profile."""
    from herald.audiences.library import AudienceLibrary

    AudienceLibrary.of(project).get(name)  # an unknown name fails here, with close names
    con = warehouse.connect(project)
    try:
        built = "audience_memberships" in warehouse.mart_tables(con) and con.execute(
            "select count(*) from audience_memberships where audience_name = $name", {"name": name}
        ).fetchone() != (0,)
        if not built:
            raise ExportError(f"audience {name!r} is saved but not built yet: run `herald audience build {name}`")
        relation = con.sql(
            "select m.audience_name, m.audience_group, m.spec_version, m.build_id, p.* "
            "from audience_memberships m join profiles p using (profile_id) "
            "where m.audience_name = $name and m.build_id = "
            "(select max(build_id) from audience_memberships where audience_name = $name) "
            "order by m.profile_id",
            params={"name": name},
        )
        rows = _write(relation.to_arrow_reader(_BATCH_ROWS), fmt, out)
        return ExportResult(source=f"audience:{name}", path=out, rows=rows, build_id=_build_id(con))
    finally:
        con.close()


def _build_id(con: object) -> str | None:
    try:
        row = con.execute("select build_id from herald_meta.build_info").fetchone()  # type: ignore[attr-defined]
    except Exception:  # an unpublished file has no build_info; the export itself is still valid
        return None
    return str(row[0]) if row else None


def _write(reader: pa.RecordBatchReader, fmt: ExportFormat, out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    try:
        with replacing(out) as tmp:
            if fmt == "parquet":
                with pq.ParquetWriter(tmp, reader.schema, compression="zstd") as pw:
                    for batch in reader:
                        pw.write_batch(batch)
                        rows += batch.num_rows
            elif fmt == "csv":
                with pacsv.CSVWriter(tmp, reader.schema) as cw:
                    for batch in reader:
                        cw.write_batch(batch)
                        rows += batch.num_rows
            else:
                raise ExportError(f"unknown format {fmt!r}: use csv or parquet")
    except OSError as exc:
        raise ExportError(f"cannot write {out}: {exc}") from exc
    return rows
