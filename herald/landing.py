"""The landing zone: append-only raw batches as Parquet files, one folder per raw table.

Writers (imports, the demo loader, the generator) never open a DuckDB file, so they never wait for a build
or a reader, and a build never waits for them. A batch becomes visible in one atomic ``rename``; a build reads
only the batches that existed when it started (``HERALD_BATCH_CUTOFF``), so it never sees half an import.

Batch ids sort by time: ``20261128T205500123456Z-1f3a``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from herald import clock
from herald.errors import LandingError
from herald.files import replacing
from herald.project import Project
from herald.raw_schema import ALL_TABLES, BATCH_COLUMNS, IMPORT_BATCHES, RawTable, RawType

EMPTY_BATCH_ID = "00000000T000000000000Z-empty"

_ARROW_TYPES: dict[RawType, pa.DataType] = {
    "varchar": pa.string(),
    "integer": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """How the records of one input file were accounted for; equal when every count is equal."""

    read: int
    inserted: int
    updated: int
    rejected: int

    def adds_up(self) -> bool:
        return self.read == self.inserted + self.updated + self.rejected


@dataclass(frozen=True, slots=True)
class LandedBatch:
    """A batch that is now visible in the landing zone."""

    batch_id: str
    table: str
    path: Path
    rows: int


def new_batch_id(now: dt.datetime | None = None) -> str:
    now = now or clock.now()
    return now.strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(2)


def arrow_schema(table: RawTable, *, with_batch_columns: bool = True) -> pa.Schema:
    cols = (*table.columns, *BATCH_COLUMNS) if with_batch_columns and table is not IMPORT_BATCHES else table.columns
    return pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in cols])


def table_dir(project: Project, table: RawTable) -> Path:
    return project.landing_dir / table.name


def ensure_initialized(project: Project) -> None:
    """Give every raw table an empty, fully typed batch so a build works before any data has landed.

    The empty batch always has the table's current shape: batches landed by an earlier version of Herald lack
    the columns added since, and the sources read every batch by column name, so this batch is what makes those
    columns exist (null in the older rows). It holds no rows, so rewriting it loses nothing."""
    project.ensure_dirs()
    for t in ALL_TABLES:
        d = table_dir(project, t)
        d.mkdir(parents=True, exist_ok=True)
        target = d / f"{EMPTY_BATCH_ID}.parquet"
        schema = arrow_schema(t)
        if not target.exists() or not pq.read_schema(target).equals(schema):
            _atomic_write(schema.empty_table(), target)


def _atomic_write(data: pa.Table, target: Path) -> None:
    try:
        with replacing(target, durable=True) as tmp:
            pq.write_table(data, tmp, compression="zstd")
    except OSError as exc:
        raise LandingError(f"could not write batch {target}: {exc}") from exc


def conform(table: RawTable, data: pa.Table) -> pa.Table:
    """Order and type ``data``'s columns as the raw table's; missing columns become nulls, extras are an error."""
    schema = arrow_schema(table)
    extra = set(data.column_names) - set(schema.names)
    if extra:
        raise LandingError(f"{table.name}: columns not in the raw shape: {', '.join(sorted(extra))}")
    arrays = []
    for field in schema:
        if field.name in data.column_names:
            arrays.append(data.column(field.name).cast(field.type))
        else:
            arrays.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def land_batch(
    project: Project,
    table: RawTable,
    data: pa.Table,
    *,
    source_file: str,
    counts: BatchCounts | None = None,
    source_sha256: str | None = None,
    batch_id: str | None = None,
) -> LandedBatch:
    """Write ``data`` (raw columns, without batch columns) as one new batch and record it in ``import_batches``.

    Eager: the batch is durable and visible when this returns.
    """
    ensure_initialized(project)
    batch_id = batch_id or new_batch_id()
    loaded_at = clock.now().replace(tzinfo=None)
    n = data.num_rows
    if "_line_number" not in data.column_names:
        data = data.append_column("_line_number", pa.array(range(1, n + 1), pa.int64()))
    data = data.append_column("_batch_id", pa.array([batch_id] * n, pa.string()))
    data = data.append_column("_source_file", pa.array([source_file] * n, pa.string()))
    data = data.append_column("_loaded_at", pa.array([loaded_at] * n, pa.timestamp("us")))
    conformed = conform(table, data)
    target = table_dir(project, table) / f"{batch_id}.parquet"
    _atomic_write(conformed, target)
    counts = counts or BatchCounts(read=n, inserted=n, updated=0, rejected=0)
    record = {
        "batch_id": [batch_id],
        "table_name": [table.name],
        "source_file": [source_file],
        "source_sha256": [source_sha256],
        "rows_read": [counts.read],
        "rows_inserted": [counts.inserted],
        "rows_updated": [counts.updated],
        "rows_rejected": [counts.rejected],
        "loaded_at": [loaded_at],
    }
    audit = pa.Table.from_pydict(record, schema=arrow_schema(IMPORT_BATCHES, with_batch_columns=False))
    _atomic_write(audit, table_dir(project, IMPORT_BATCHES) / f"{batch_id}-{table.name}.parquet")
    return LandedBatch(batch_id=batch_id, table=table.name, path=target, rows=n)


def batch_files(project: Project, table: RawTable) -> list[Path]:
    return sorted(table_dir(project, table).glob("*.parquet"))


def latest_batch_id(project: Project) -> str:
    """The highest batch id landed so far (the cut-off a build starting now should use)."""
    ids = [p.stem.split("-", 2)[0] + "-" + p.stem.split("-", 2)[1] for t in ALL_TABLES for p in batch_files(project, t)]
    return max(ids, default=EMPTY_BATCH_ID)


def scan(con: duckdb.DuckDBPyConnection, project: Project, table: RawTable) -> duckdb.DuckDBPyRelation:
    """A lazy relation over every landed batch of ``table`` (no lock on any database file)."""
    pattern = str(table_dir(project, table) / "*.parquet")
    return con.read_parquet(pattern, union_by_name=True)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tables_with_data(project: Project) -> Iterable[RawTable]:
    for t in ALL_TABLES:
        if any(p.stem != EMPTY_BATCH_ID for p in batch_files(project, t)):
            yield t
