"""``herald build`` on a SQL warehouse (PostgreSQL): land, build into a schema of its own, publish by a swap.

The same promises as the embedded warehouse, kept with the warehouse's own means (DECISIONS.md, "A project of
its own, and a warehouse of its own"):

- **Landing**: every landed Parquet batch is appended to ``<schema>_raw.<table>`` in one transaction of its
  own; a batch already there (its id is the key) is skipped, so a killed load is simply run again.
- **Building**: dbt builds every model into the build schema (``<schema>_build``), never the published one,
  reading the raw schema up to the batch cut-off taken when the build started.
- **Publishing**: one transaction renames the published schema away and the build schema into its place and
  records ``<schema>_meta.build_info``; a reader sees the previous build or this one, whole. (PostgreSQL's views
  refer to their tables by identity, so a renamed schema's views still read their own build.)
- **One builder**: the project's build lock, and a PostgreSQL advisory lock for builders on other machines.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from herald import clock, landing
from herald.build import BuildResult, build_lock, configured_as_of, generate_audience_models, run_dbt
from herald.project import Project
from herald.raw_schema import ALL_TABLES, BATCH_COLUMNS, IMPORT_BATCHES, RawTable, RawType
from herald.warehouse import SqlWarehouse

_PG_TYPES: dict[RawType, str] = {
    "varchar": "text",
    "integer": "bigint",
    "double": "double precision",
    "date": "date",
    "timestamp": "timestamp",
}
# pg_advisory_lock takes a number: this one is "herald" in ASCII, the same for every builder of a warehouse.
_BUILD_LOCK_KEY = 0x68657261_6C64


@dataclass(frozen=True, slots=True)
class LandReport:
    """Batches appended to the raw schema, and those found there already; equal when both counts are."""

    appended: int
    already_there: int


def _batch_column(table: RawTable) -> str:
    return "batch_id" if table is IMPORT_BATCHES else "_batch_id"


def _columns(table: RawTable) -> list[tuple[str, RawType]]:
    cols = table.columns if table is IMPORT_BATCHES else (*table.columns, *BATCH_COLUMNS)
    return [(c.name, c.type) for c in cols]


def land(project: Project, wh: SqlWarehouse, *, cutoff: str | None = None) -> LandReport:
    """Append every landed batch (up to ``cutoff``) the raw schema lacks, one transaction per batch. Eager."""
    raw = f"{wh.schema}_raw"
    appended = already = 0
    with wh.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(f"create schema if not exists {raw}")
            for table in ALL_TABLES:
                columns = _columns(table)
                ddl = ", ".join(f"{name} {_PG_TYPES[kind]}" for name, kind in columns)
                cur.execute(f"create table if not exists {raw}.{table.name} ({ddl})")
        conn.commit()
        for table in ALL_TABLES:
            batch = _batch_column(table)
            landed = [name for name, _ in _columns(table)]
            with conn.cursor() as cur:
                cur.execute(f"select distinct {batch} from {raw}.{table.name}")
                present = {row[0] for row in cur.fetchall()}
            for path in landing.batch_files(project, table):
                data = pq.read_table(path)
                if data.num_rows == 0:
                    continue
                ids = set(data.column(batch).to_pylist())
                if cutoff is not None and min(ids) > cutoff:
                    continue
                if ids <= present:
                    already += 1
                    continue
                names = [name for name in landed if name in data.column_names]
                with conn.cursor() as cur, cur.copy(f"copy {raw}.{table.name} ({', '.join(names)}) from stdin") as copy:
                    for row in data.select(names).to_pylist():
                        copy.write_row([row[n] for n in names])
                conn.commit()  # one batch, one transaction
                present |= ids
                appended += 1
    return LandReport(appended, already)


@contextmanager
def _builder_lock(wh: SqlWarehouse) -> Iterator[None]:
    with wh.connection(autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_BUILD_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_BUILD_LOCK_KEY,))


def build(project: Project, wh: SqlWarehouse, *, quiet: bool = False, as_of: str | None = None) -> BuildResult:
    """Land, build every model and test into the build schema, and publish it by a swap. Eager.

    ``as_of``: the reference time of every window (default: dbt_project.yml's ``as_of``, else the build's start)."""
    started = time.monotonic()
    started_at = clock.now()
    build_id = started_at.strftime("%Y%m%dT%H%M%S%fZ")
    as_of = as_of or configured_as_of(project) or started_at.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    landing.ensure_initialized(project)
    with build_lock(project), _builder_lock(wh):
        generate_audience_models(project)
        cutoff = landing.latest_batch_id(project)
        land(project, wh, cutoff=cutoff)
        building = f"{wh.schema}_build"
        with wh.connection(autocommit=True) as conn:
            for leftover in conn.execute(
                "select schema_name from information_schema.schemata where schema_name like %s",
                (building.replace("_", "\\_") + "%",),
            ).fetchall():
                conn.execute(f"drop schema if exists {leftover[0]} cascade")
        env = {
            **wh.dbt_env(schema=building),
            "HERALD_AS_OF": as_of,
            "HERALD_BUILD_ID": build_id,
        }
        variables = json.dumps({"herald_raw_schema": f"{wh.schema}_raw", "as_of": as_of})
        # The demo's seeds land through the landing zone like any batch: never as dbt seeds here.
        args = ["build", "--target", "postgres", "--exclude", "herald.demo", "--vars", variables]
        run_dbt(project, args, quiet=quiet, env=env)
        _publish(wh, building, build_id=build_id, cutoff=cutoff, as_of=as_of, published_at=clock.now())
    return BuildResult(build_id, cutoff, None, time.monotonic() - started)


def _publish(wh: SqlWarehouse, building: str, **info: Any) -> None:
    """Swap every schema the build wrote (``<schema>_build`` and its custom schemas, e.g. ``_build_reference``)
    into its published name, and record the build, in one transaction; then drop what they replaced."""
    published = wh.schema
    with wh.connection() as conn:
        with conn.cursor() as cur:
            cur.execute(
                "select schema_name from information_schema.schemata where schema_name = %s or schema_name like %s",
                (building, building.replace("_", "\\_") + "\\_%"),
            )
            built = sorted(row[0] for row in cur.fetchall())
            swaps = [(name, published + name[len(building) :]) for name in built]
            for _, target in swaps:
                cur.execute(f"drop schema if exists {target}_previous cascade")
                cur.execute("select 1 from information_schema.schemata where schema_name = %s", (target,))
                if cur.fetchone() is not None:
                    cur.execute(f"alter schema {target} rename to {target}_previous")
            for name, target in swaps:
                cur.execute(f"alter schema {name} rename to {target}")
            meta = wh.meta_schema
            cur.execute(f"create schema if not exists {meta}")
            cur.execute(
                f"create table if not exists {meta}.build_info (build_id text, batch_cutoff text,"
                " as_of timestamp, published_at timestamp)"
            )
            cur.execute(f"delete from {meta}.build_info")
            cur.execute(
                f"insert into {meta}.build_info values (%s, %s, %s, %s)",
                (info["build_id"], info["cutoff"], info["as_of"], _naive_utc(info["published_at"])),
            )
        conn.commit()  # the swap and its record, in one transaction
    with wh.connection(autocommit=True) as conn:
        for _, target in swaps:
            conn.execute(f"drop schema if exists {target}_previous cascade")


def _naive_utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when
