"""The demo seeds: a small, fixed-seed generation written as one CSV per raw table.

The CSVs are loaded by ``dbt seed`` (PostgreSQL, Spark) and by ``herald.demo.load_demo`` (the DuckDB landing
zone), so they keep to what every loader reads the same way: a header row, ``YYYY-MM-DD`` dates and
``YYYY-MM-DD HH:MM:SS`` timestamps, an empty cell for null, RFC 4180 quoting, no apostrophes. A record's
``_source_file`` is its CSV and ``_line_number`` its line there (the header is line 1).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb

from herald.files import replacing
from herald.generate._sql import lit
from herald.generate.core import generate
from herald.raw_schema import ALL_TABLES, IMPORT_BATCHES, RawTable

DEMO_PROFILES = 3000
DEMO_EVENTS_PER_PROFILE = 20
DEMO_SEED = 20261127
DEMO_END_DATE = dt.date(2026, 11, 27)
# Fixed batch ids just after the demo's data window: they sort before any batch landed later for real.
DEMO_BATCH_TIME = dt.datetime(2026, 11, 28)
DEMO_BATCH_TAG = "demo"

_CSV_OPTIONS = "HEADER true, DELIMITER ',', QUOTE '\"', DATEFORMAT '%Y-%m-%d', TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S'"


def seed_file_name(table: RawTable) -> str:
    return f"{table.name}.csv"


def write_demo_seeds(seeds_dir: Path) -> list[Path]:
    """Regenerate every demo seed CSV in ``seeds_dir``; the same code always writes the same bytes.

    Eager; returns the files written (one per raw table, ``import_batches.csv`` included).
    """
    seeds_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="herald-demo-") as tmp:
        landing = Path(tmp)
        generate(
            landing,
            profiles=DEMO_PROFILES,
            events_per_profile=DEMO_EVENTS_PER_PROFILE,
            seed=DEMO_SEED,
            end_date=DEMO_END_DATE,
            batch_time=DEMO_BATCH_TIME,
            batch_tag=DEMO_BATCH_TAG,
            memory_limit="2GB",
        )
        con = duckdb.connect()
        try:
            return [_write_csv(con, landing, t, seeds_dir) for t in ALL_TABLES]
        finally:
            con.close()


def _write_csv(con: duckdb.DuckDBPyConnection, landing: Path, table: RawTable, seeds_dir: Path) -> Path:
    source = lit(str(landing / table.name / "*.parquet"))
    target = seeds_dir / seed_file_name(table)
    if table is IMPORT_BATCHES:
        cols = ", ".join(_import_batch_columns([c.name for c in table.columns]))
        query = f"SELECT {cols} FROM read_parquet({source}) ORDER BY batch_id, table_name"
    else:
        raw = ", ".join(c.name for c in table.columns)
        query = f"""
SELECT {raw}, _batch_id,
    {lit(seed_file_name(table))} AS _source_file,
    row_number() OVER (ORDER BY _batch_id, _line_number) + 1 AS _line_number,
    _loaded_at
FROM read_parquet({source})
ORDER BY _batch_id, _line_number"""
    with replacing(target) as tmp:
        con.execute(f"COPY ({query}) TO {lit(str(tmp))} ({_CSV_OPTIONS})")
    return target


def _import_batch_columns(cols: list[str]) -> list[str]:
    # The demo's batches are read from the seed CSVs, so that is the file they name.
    return ["table_name || '.csv' AS source_file" if c == "source_file" else c for c in cols]
