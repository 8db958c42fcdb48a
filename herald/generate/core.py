"""Run a generation: build the internal tables in DuckDB, then write every raw table as landing batches."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from herald import clock
from herald.files import replacing
from herald.generate import activity, messaging, profiles
from herald.generate._sql import install_macros, lit
from herald.generate.plan import SESSION_LENGTH, Plan
from herald.landing import arrow_schema
from herald.raw_schema import (
    APP_EVENTS,
    CHANNEL_EVENTS,
    CONSENT_EVENTS,
    CRM_CONTACTS,
    ESP_EVENTS,
    IMPORT_BATCHES,
    MESSAGE_HISTORY,
    PUSH_TOKENS,
    SHOP_ORDER_LINES,
    SHOP_ORDERS,
    SHOP_PAYMENTS,
    RawTable,
    RawType,
)

Progress = Callable[[str, int, int], None]

EVENT_CHUNK = 5_000_000  # app events per batch file: bounds memory and lets a progress bar move
assert EVENT_CHUNK % SESSION_LENGTH == 0

_DUCK_TYPES: dict[RawType, str] = {
    "varchar": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
_BATCH_TAG_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789")


@dataclass(frozen=True, slots=True)
class GenerateReport:
    """What one run wrote: rows per raw table and the batch ids in writing order; equal when every field is."""

    out_dir: Path
    profiles: int
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    batch_ids: tuple[str, ...] = ()
    seconds: float = 0.0

    def summary(self) -> str:
        """A few lines for a terminal: rows per table, batches, time."""
        width = max(len(t) for t in self.rows) if self.rows else 0
        lines = [f"Generated {self.profiles:,} profiles (seed {self.seed}) in {self.seconds:.1f}s into {self.out_dir}"]
        lines += [f"  {table:<{width}}  {rows:>13,} rows" for table, rows in self.rows.items()]
        lines.append(
            f"  {len(self.batch_ids)} batches, {self.batch_ids[0]} .. {self.batch_ids[-1]}" if self.batch_ids else ""
        )
        return "\n".join(line for line in lines if line)


class _BatchWriter:
    """Writes query results as landing batches: ``<table>/<batch_id>.parquet`` plus its import record."""

    def __init__(self, con: duckdb.DuckDBPyConnection, out_dir: Path, batch_time: dt.datetime, tag: str) -> None:
        self.con = con
        self.out_dir = out_dir
        self.batch_time = batch_time
        self.tag = tag
        self.batch_ids: list[str] = []
        self.rows: dict[str, int] = {}

    def _next_batch_id(self) -> tuple[str, dt.datetime]:
        # Consecutive microseconds: ids stay unique and in writing order, and sort before any later import.
        moment = self.batch_time + dt.timedelta(microseconds=len(self.batch_ids))
        batch_id = moment.strftime("%Y%m%dT%H%M%S%fZ") + "-" + self.tag
        self.batch_ids.append(batch_id)
        return batch_id, moment

    def write(self, table: RawTable, select_sql: str, *, source_file: str, updates: bool = False) -> int:
        """Write ``select_sql`` (raw columns plus ``_line_number``) as one batch; returns its row count."""
        batch_id, loaded_at = self._next_batch_id()
        casts = [f"CAST(q.{c.name} AS {_DUCK_TYPES[c.type]}) AS {c.name}" for c in table.columns]
        with replacing(self.out_dir / table.name / f"{batch_id}.parquet") as tmp:
            copy = f"""
COPY (
    SELECT {", ".join(casts)},
        {lit(batch_id)} AS _batch_id,
        {lit(source_file)} AS _source_file,
        CAST(q._line_number AS BIGINT) AS _line_number,
        CAST({lit(loaded_at.isoformat(sep=" "))} AS TIMESTAMP) AS _loaded_at
    FROM ({select_sql}) q
) TO {lit(str(tmp))} (FORMAT parquet, COMPRESSION zstd)"""
            result = self.con.execute(copy).fetchone()
        n = int(result[0]) if result else 0
        self._record(table, batch_id, source_file, n, loaded_at, updates=updates)
        self.rows[table.name] = self.rows.get(table.name, 0) + n
        return n

    def _record(
        self, table: RawTable, batch_id: str, source_file: str, n: int, loaded_at: dt.datetime, *, updates: bool
    ) -> None:
        record = {
            "batch_id": [batch_id],
            "table_name": [table.name],
            "source_file": [source_file],
            "source_sha256": [None],
            "rows_read": [n],
            "rows_inserted": [0 if updates else n],
            "rows_updated": [n if updates else 0],
            "rows_rejected": [0],
            "loaded_at": [loaded_at],
        }
        audit = pa.Table.from_pydict(record, schema=arrow_schema(IMPORT_BATCHES, with_batch_columns=False))
        with replacing(self.out_dir / IMPORT_BATCHES.name / f"{batch_id}-{table.name}.parquet") as tmp:
            pq.write_table(audit, tmp, compression="zstd")
        self.rows[IMPORT_BATCHES.name] = self.rows.get(IMPORT_BATCHES.name, 0) + 1


@contextmanager
def _connection(memory_limit: str, threads: int | None) -> Iterator[duckdb.DuckDBPyConnection]:
    spill = tempfile.mkdtemp(prefix="herald-generate-")
    con = duckdb.connect(config={"memory_limit": memory_limit, "preserve_insertion_order": False})
    try:
        con.execute(f"SET temp_directory = {lit(spill)}")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def generate(
    out_dir: Path,
    *,
    profiles: int,
    events_per_profile: int = 50,
    seed: int = 42,
    end_date: dt.date | None = None,
    progress: Progress | None = None,
    batch_time: dt.datetime | None = None,
    batch_tag: str = "gen",
    memory_limit: str = "4GB",
    threads: int | None = None,
) -> GenerateReport:
    """Write a year of raw data for ``profiles`` people, up to and including ``end_date`` (default: yesterday by
    ``herald.clock``, so generated data is always current), as landing batches.

    Eager: every batch is on disk when this returns. ``out_dir`` can be a project's landing directory. The
    same ``seed`` and sizes give the same rows; batch ids and ``_loaded_at`` come from ``batch_time``
    (default: now, UTC), one microsecond apart, tagged ``batch_tag``. ``progress(step, done, total)`` is
    called as the work advances.
    """
    if profiles < 1 or events_per_profile < 0:
        raise ValueError("profiles must be at least 1 and events_per_profile not negative")
    if not batch_tag or not set(batch_tag) <= _BATCH_TAG_CHARS:
        raise ValueError("batch_tag must be lower-case letters and digits")
    started = time.monotonic()
    if end_date is None:
        end_date = clock.today() - dt.timedelta(days=1)
    plan = Plan(profiles=profiles, events_per_profile=events_per_profile, seed=seed, end_date=end_date)
    moment = batch_time or clock.now().replace(tzinfo=None)
    chunks = [(a, min(a + EVENT_CHUNK, plan.total_events)) for a in range(0, plan.total_events, EVENT_CHUNK)]
    chunks = chunks or [(0, 0)]  # still one (empty) batch, so every raw table has its files
    steps = _Steps(progress, total=13 + len(chunks))
    out_dir.mkdir(parents=True, exist_ok=True)
    with _connection(memory_limit, threads) as con:
        _prepare(con, plan, steps)
        w = _BatchWriter(con, out_dir, moment, batch_tag)
        _write_tables(w, plan, steps, chunks)
    return GenerateReport(
        out_dir=out_dir,
        profiles=profiles,
        seed=seed,
        rows=dict(w.rows),
        batch_ids=tuple(w.batch_ids),
        seconds=time.monotonic() - started,
    )


class _Steps:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def __call__(self, label: str) -> None:
        self.done += 1
        if self.progress:
            self.progress(label, self.done, self.total)


def _prepare(con: duckdb.DuckDBPyConnection, plan: Plan, steps: _Steps) -> None:
    install_macros(con, plan.seed)
    profiles.install_profile_macros(con, plan)
    profiles.register_countries(con)
    profiles.create_profiles(con, plan)
    con.execute(f"CREATE OR REPLACE TABLE devices AS {activity.devices_sql(plan)}")
    steps("profiles")
    messaging.create_campaigns(con, plan)
    messaging.create_consent_state(con, plan)
    messaging.send_campaigns(con, plan)
    steps("campaigns")
    con.execute(f"CREATE OR REPLACE TABLE orders AS {activity.orders_sql(plan)}")
    steps("orders")


def _write_tables(w: _BatchWriter, plan: Plan, steps: _Steps, chunks: list[tuple[int, int]]) -> None:
    def write(table: RawTable, select_sql: str, *, part: str = "", label: str = "", updates: bool = False) -> None:
        w.write(table, select_sql, source_file=f"generated/{table.name}{part}.parquet", updates=updates)
        steps(label or table.name)

    write(CRM_CONTACTS, profiles.contacts_sql(plan))
    write(CONSENT_EVENTS, messaging.consent_events_sql(plan))
    write(SHOP_ORDERS, activity.shop_orders_sql(plan))
    write(SHOP_ORDER_LINES, activity.shop_order_lines_sql(plan))
    for n, (first, last) in enumerate(chunks, start=1):
        sql = activity.app_events_sql(plan, first, last)
        write(APP_EVENTS, sql, part=f"-{n:04d}", label=f"app_events {n}/{len(chunks)}")
    write(PUSH_TOKENS, activity.push_tokens_sql())
    write(MESSAGE_HISTORY, messaging.message_history_sql())
    write(ESP_EVENTS, messaging.esp_events_sql(plan))
    write(CHANNEL_EVENTS, messaging.channel_events_sql(plan))
    # A later CRM export in which some contacts moved: the same keys again, in a newer batch.
    write(CRM_CONTACTS, profiles.contact_updates_sql(plan), part="-update", label="crm_contacts update", updates=True)
    # Written last, so the batches before it keep their ids (one microsecond apart, in writing order).
    write(SHOP_PAYMENTS, activity.shop_payments_sql(plan))
