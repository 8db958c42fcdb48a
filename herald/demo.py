"""Land the demo seeds (``seeds/demo/*.csv``) into a project's landing zone, once.

The seeds carry their own batch columns, so the demo lands as the same fixed batches every time (ids like
``20261128T000000000000Z-demo``, which sort before anything imported later). A batch whose file is already
there is skipped: loading twice lands nothing new.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from herald import landing
from herald.errors import LandingError
from herald.generate._sql import lit
from herald.generate.seeds import seed_file_name
from herald.landing import LandedBatch
from herald.project import Project
from herald.raw_schema import BATCH_COLUMNS, IMPORT_BATCHES, RAW_TABLES, RawTable, RawType

DEMO_SEEDS_SUBDIR = "demo"

_CSV_TYPES: dict[RawType, str] = {
    "varchar": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def demo_seeds_dir(project: Project) -> Path:
    return project.seeds_dir / DEMO_SEEDS_SUBDIR


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, table: RawTable) -> duckdb.DuckDBPyRelation:
    """The seed as typed by the raw schema; no sniffing, so a malformed seed fails instead of guessing.

    Empty cells, quoted or not, read as null, as ``dbt seed`` loads them on the other engines.
    """
    cols = table.columns if table is IMPORT_BATCHES else (*table.columns, *BATCH_COLUMNS)
    columns = "{" + ", ".join(f"{lit(c.name)}: {lit(_CSV_TYPES[c.type])}" for c in cols) + "}"
    return con.sql(
        f"SELECT * FROM read_csv({lit(str(path))}, header = true, auto_detect = false, columns = {columns}, "
        f"delim = ',', quote = '\"', escape = '\"', dateformat = '%Y-%m-%d', "
        f"timestampformat = '%Y-%m-%d %H:%M:%S')"
    )


def _demo_batches(con: duckdb.DuckDBPyConnection, seeds: Path) -> list[tuple[str, str]]:
    """(batch id, table name) of every demo batch, from ``import_batches.csv``."""
    rel = _read_csv(con, seeds / seed_file_name(IMPORT_BATCHES), IMPORT_BATCHES)
    return [(str(b), str(t)) for b, t in rel.order("batch_id, table_name").select("batch_id, table_name").fetchall()]


def demo_is_loaded(project: Project) -> bool:
    """True when every demo batch and its import record are in the landing zone."""
    seeds = demo_seeds_dir(project)
    if not (seeds / seed_file_name(IMPORT_BATCHES)).is_file():
        return False
    con = duckdb.connect()
    try:
        batches = _demo_batches(con, seeds)
    finally:
        con.close()
    return bool(batches) and all(
        (project.landing_dir / table / f"{batch_id}.parquet").exists()
        and (project.landing_dir / IMPORT_BATCHES.name / f"{batch_id}-{table}.parquet").exists()
        for batch_id, table in batches
    )


def load_demo(project: Project) -> list[LandedBatch]:
    """Land every demo batch not landed yet; returns the batches landed by this call (empty when all were).

    Eager: each batch is visible (atomic rename) before the next is written; its import record is written last,
    so an interrupted load is completed by the next call.
    """
    seeds = demo_seeds_dir(project)
    if not (seeds / seed_file_name(IMPORT_BATCHES)).is_file():
        raise LandingError(f"no demo seeds in {seeds}")
    landing.ensure_initialized(project)
    landed: list[LandedBatch] = []
    con = duckdb.connect()
    try:
        records = _read_csv(con, seeds / seed_file_name(IMPORT_BATCHES), IMPORT_BATCHES)
        by_name = {t.name: t for t in RAW_TABLES}
        for batch_id, table_name in _demo_batches(con, seeds):
            table = by_name[table_name]
            target = landing.table_dir(project, table) / f"{batch_id}.parquet"
            record = landing.table_dir(project, IMPORT_BATCHES) / f"{batch_id}-{table_name}.parquet"
            if not target.exists():
                rows = _read_csv(con, seeds / seed_file_name(table), table).filter(f"_batch_id = {lit(batch_id)}")
                count = _write_parquet(table, rows.order("_line_number"), target)
                landed.append(LandedBatch(batch_id=batch_id, table=table_name, path=target, rows=count))
            if not record.exists():
                record_row = records.filter(f"batch_id = {lit(batch_id)} AND table_name = {lit(table_name)}")
                _write_parquet(IMPORT_BATCHES, record_row, record)
    finally:
        con.close()
    return landed


def _write_parquet(table: RawTable, rel: duckdb.DuckDBPyRelation, target: Path) -> int:
    """Write ``rel`` typed as ``table``'s landing shape to ``target`` in one atomic rename; returns the rows."""
    data = landing.conform(table, rel.to_arrow_table())
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        pq.write_table(data, tmp, compression="zstd")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LandingError(f"could not write demo batch {target}: {exc}") from exc
    return int(data.num_rows)
