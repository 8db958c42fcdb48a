"""Land the demo seeds (``seeds/demo/*.csv``) into a project's landing zone, once, moved to the day they land.

The seeds are fixed: their data ends on ``DEMO_END_DATE``. So that the demo never ages, the first load moves
every date and timestamp of every seed (and the batch ids, which sort by time) by whole days, so that the
newest data is yesterday by ``herald.clock``; windows such as "in the last 7 days" then mean what they say.
The shift is recorded in the landing zone (``demo.json``) and reused by every later load, so the demo lands as
the same batches every time: a batch whose file is already there is skipped, and loading twice lands nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from herald import clock, landing
from herald.errors import LandingError
from herald.files import replacing, write_atomic
from herald.generate._sql import lit
from herald.generate.seeds import DEMO_END_DATE, seed_file_name
from herald.landing import LandedBatch
from herald.project import Project
from herald.raw_schema import BATCH_COLUMNS, IMPORT_BATCHES, RAW_TABLES, RawTable, RawType

DEMO_RECORD = "demo.json"
# The demo's own specs, whose dates were written for the seeds' calendar (campaign dates, schedules, a journey's
# start): they move with the data, so the demo's schedules lie ahead of the day it lands.
DEMO_DATED_SPECS = ("plans/winter_2026.yml", "journeys/welcome_series.yml")
_MOVED_MARK = re.compile(r"^# Dates moved with the demo data by (-?\d+) days\.\n", re.MULTILINE)
_ISO_DATE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\d-])")
_BATCH_TIME_FORMAT = "%Y%m%dT%H%M%S"

_CSV_TYPES: dict[RawType, str] = {
    "varchar": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def demo_seeds_dir(project: Project) -> Path:
    """The demo seeds: Herald's, whichever project lands them (``herald init --demo`` copies only the specs)."""
    return project.demo_seeds_dir


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


@dataclass(frozen=True, slots=True)
class DemoShift:
    """How far the demo's dates were moved when it first landed: ``days`` whole days, on ``landed_on``."""

    days: int
    landed_on: dt.date

    def batch_id(self, seed_batch_id: str) -> str:
        """A seed batch id (``20261128T000000000000Z-demo``) moved by the shift; its sub-second part is kept."""
        stamp, rest = seed_batch_id[:15], seed_batch_id[15:]
        moved = dt.datetime.strptime(stamp, _BATCH_TIME_FORMAT) + dt.timedelta(days=self.days)
        return moved.strftime(_BATCH_TIME_FORMAT) + rest


def shift_for(today: dt.date) -> DemoShift:
    """The shift that makes the demo's newest data fall on the day before ``today``."""
    return DemoShift(days=(today - dt.timedelta(days=1) - DEMO_END_DATE).days, landed_on=today)


def recorded_shift(project: Project) -> DemoShift | None:
    """The shift the demo landed with in this project, or None when it has not landed."""
    path = project.landing_dir / DEMO_RECORD
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return DemoShift(days=int(doc["shift_days"]), landed_on=dt.date.fromisoformat(str(doc["landed_on"])))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise LandingError(f"{path} is not a demo record: {exc}") from exc


def _record_shift(project: Project, shift: DemoShift) -> None:
    record = {"shift_days": shift.days, "landed_on": shift.landed_on.isoformat()}
    write_atomic(project.landing_dir / DEMO_RECORD, json.dumps(record) + "\n")


def move_demo_specs(project: Project, shift: DemoShift) -> list[Path]:
    """Move every date of the demo's own specs to the demo's calendar; returns the files changed.

    Each file says by how much its dates were moved (a comment on its first line), so moving is idempotent and
    a later load with another shift (a new warehouse on another day) moves them by the difference only."""
    changed = []
    for name in DEMO_DATED_SPECS:
        path = project.specs_dir / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        mark = _MOVED_MARK.search(text)
        delta = shift.days - (int(mark.group(1)) if mark else 0)
        if delta == 0:
            continue
        body = _MOVED_MARK.sub("", text, count=1)
        moved = _move_dates(body, delta)
        header = f"# Dates moved with the demo data by {shift.days} days.\n" if shift.days else ""
        write_atomic(path, header + moved)
        changed.append(path)
    return changed


def _move_dates(text: str, days: int) -> str:
    def moved(m: re.Match[str]) -> str:
        return (dt.date.fromisoformat(m.group(1)) + dt.timedelta(days=days)).isoformat()

    return _ISO_DATE.sub(moved, text)


def _demo_batches(con: duckdb.DuckDBPyConnection, seeds: Path) -> list[tuple[str, str]]:
    """(seed batch id, table name) of every demo batch, from ``import_batches.csv``."""
    rel = _read_csv(con, seeds / seed_file_name(IMPORT_BATCHES), IMPORT_BATCHES)
    return [(str(b), str(t)) for b, t in rel.order("batch_id, table_name").select("batch_id, table_name").fetchall()]


def _shifted(rel: duckdb.DuckDBPyRelation, table: RawTable, shift: DemoShift, batch_id: str) -> duckdb.DuckDBPyRelation:
    """The seed rows with every date and timestamp moved by the shift, and their new batch id."""
    cols = table.columns if table is IMPORT_BATCHES else (*table.columns, *BATCH_COLUMNS)
    exprs = []
    for c in cols:
        name = f'"{c.name}"'
        if c.name in ("_batch_id", "batch_id"):
            exprs.append(f"{lit(batch_id)} AS {name}")
        elif c.type in ("date", "timestamp"):
            exprs.append(f"CAST({name} + INTERVAL {int(shift.days)} DAY AS {_CSV_TYPES[c.type]}) AS {name}")
        else:
            exprs.append(name)
    return rel.select(", ".join(exprs))


def demo_is_loaded(project: Project) -> bool:
    """True when every demo batch and its import record are in the landing zone."""
    seeds = demo_seeds_dir(project)
    shift = recorded_shift(project)
    if shift is None or not (seeds / seed_file_name(IMPORT_BATCHES)).is_file():
        return False
    con = duckdb.connect()
    try:
        batches = _demo_batches(con, seeds)
    finally:
        con.close()
    return bool(batches) and all(
        (project.landing_dir / table / f"{shift.batch_id(batch_id)}.parquet").exists()
        and (project.landing_dir / IMPORT_BATCHES.name / f"{shift.batch_id(batch_id)}-{table}.parquet").exists()
        for batch_id, table in batches
    )


def load_demo(project: Project, *, today: dt.date | None = None) -> list[LandedBatch]:
    """Land every demo batch not landed yet; returns the batches landed by this call (empty when all were).

    The first load moves the demo so that its newest data is the day before ``today`` (default: the clock's
    today) and records the shift; later loads reuse it, whatever the day. The demo's specs are left alone:
    ``herald demo`` moves them (``move_demo_specs``). Eager: each batch is visible (atomic
    rename) before the next is written; its import record is written last, so an interrupted load is
    completed by the next call.
    """
    seeds = demo_seeds_dir(project)
    if not (seeds / seed_file_name(IMPORT_BATCHES)).is_file():
        raise LandingError(f"no demo seeds in {seeds}")
    landing.ensure_initialized(project)
    shift = recorded_shift(project)
    if shift is None:
        # A landing zone filled before shifts were recorded holds the seeds as they are: keep them that way.
        unmoved = (project.landing_dir / IMPORT_BATCHES.name).glob("*-demo-*.parquet")
        shift = (
            DemoShift(0, DEMO_END_DATE + dt.timedelta(days=1)) if any(unmoved) else shift_for(today or clock.today())
        )
        _record_shift(project, shift)
    landed: list[LandedBatch] = []
    con = duckdb.connect()
    try:
        records = _read_csv(con, seeds / seed_file_name(IMPORT_BATCHES), IMPORT_BATCHES)
        by_name = {t.name: t for t in RAW_TABLES}
        for seed_batch_id, table_name in _demo_batches(con, seeds):
            table = by_name[table_name]
            batch_id = shift.batch_id(seed_batch_id)
            target = landing.table_dir(project, table) / f"{batch_id}.parquet"
            record = landing.table_dir(project, IMPORT_BATCHES) / f"{batch_id}-{table_name}.parquet"
            if not target.exists():
                rows = _read_csv(con, seeds / seed_file_name(table), table)
                rows = rows.filter(f"_batch_id = {lit(seed_batch_id)}").order("_line_number")
                count = _write_parquet(table, _shifted(rows, table, shift, batch_id), target)
                landed.append(LandedBatch(batch_id=batch_id, table=table_name, path=target, rows=count))
            if not record.exists():
                record_row = records.filter(f"batch_id = {lit(seed_batch_id)} AND table_name = {lit(table_name)}")
                _write_parquet(IMPORT_BATCHES, _shifted(record_row, IMPORT_BATCHES, shift, batch_id), record)
    finally:
        con.close()
    return landed


def _write_parquet(table: RawTable, rel: duckdb.DuckDBPyRelation, target: Path) -> int:
    """Write ``rel`` typed as ``table``'s landing shape to ``target`` in one atomic rename; returns the rows."""
    data = landing.conform(table, rel.to_arrow_table())
    try:
        with replacing(target) as tmp:
            pq.write_table(data, tmp, compression="zstd")
    except OSError as exc:
        raise LandingError(f"could not write demo batch {target}: {exc}") from exc
    return int(data.num_rows)
