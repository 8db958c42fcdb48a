"""Read the published warehouse: the only way the app, exports and senders read marts.

Two kinds of warehouse sit behind one seam (``reader``): the embedded one, DuckDB files published by
``herald build`` (the default, described below), and a SQL warehouse reached through ibis (PostgreSQL today),
named by ``HERALD_WAREHOUSE_URL``, e.g. ``postgresql://herald@db.example.com:5432/marketing?schema=herald``.
A ``Reader`` is one open view of the published build: it runs SQL in its own dialect (the audience compiler
writes that dialect from one query) and answers Arrow tables.

Readers open the file named in ``CURRENT`` read-only, so any number of them run beside a build or an import
and never see a half-built state. Each call to ``connect`` re-reads the pointer: a new connection after a
publish sees the new build, an open one keeps its consistent snapshot.

A published build is two files: ``herald-<id>.duckdb`` (the marketing database, audiences, engagement) and
``deliveries-<id>.duckdb`` (the delivery runs and ``herald_meta``), which ``connect`` attaches as ``deliveries``.
The first holds views of the second's tables under their usual names (``send_lists``,
``herald_meta.build_info``…), so a reader queries one database and never names the second.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, urlsplit

import duckdb
import ibis
import pyarrow as pa
from ibis.backends.duckdb import Backend as IbisDuckDB

from herald.errors import ConfigError, WarehouseNotReady
from herald.project import Project


def current_path(project: Project) -> Path:
    """The published file readers should open now."""
    try:
        name = project.current_pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise WarehouseNotReady(
            f"no published warehouse under {project.warehouse_dir}; run `herald build` (or `make demo`) first"
        ) from exc
    path = project.published_dir / name
    if not path.exists():
        raise WarehouseNotReady(f"CURRENT names {name}, which does not exist; run `herald build`")
    return path


DELIVERIES_CATALOG = "deliveries"


def deliveries_path(path: Path) -> Path:
    """The delivery-runs file published with the build file ``path`` (``herald-<id>`` → ``deliveries-<id>``)."""
    return path.with_name("deliveries-" + path.name.removeprefix("herald-"))


def attach_deliveries_sql(path: Path) -> str | None:
    """The ATTACH statement for the delivery runs published with ``path``; None for a file published without."""
    runs = deliveries_path(path)
    if not runs.exists():
        return None
    quoted = str(runs).replace("'", "''")
    # IF NOT EXISTS: DuckDB shares one database instance between the connections a process opens to one path.
    return f"attach if not exists '{quoted}' as {DELIVERIES_CATALOG} (read_only)"


def open_published(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the published file ``path``, its delivery runs attached. Close it."""
    con = duckdb.connect(str(path), read_only=True)
    if (attach := attach_deliveries_sql(path)) is not None:
        con.execute(attach)  # per database, so cursors of this connection see it too
    return con


def open_published_ibis(path: Path) -> IbisDuckDB:
    """A read-only ibis connection to the published file ``path``, its delivery runs attached. Lazy queries."""
    con = ibis.duckdb.connect(str(path), read_only=True)
    if (attach := attach_deliveries_sql(path)) is not None:
        con.raw_sql(attach)
    return con


def connect(project: Project, path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the current published warehouse (or to ``path``, a published file
    resolved earlier, so several queries can share one build). Close it when done."""
    return open_published(path or current_path(project))


def connect_ibis(project: Project, path: Path | None = None) -> IbisDuckDB:
    """A read-only ibis connection to the current published warehouse, or to ``path`` (see ``connect``).

    Queries are lazy until executed."""
    return open_published_ibis(path or current_path(project))


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the mart tables in the published warehouse: the allow-list for exports."""
    # Marts only: staging and intermediate relations share the schema but are not a public interface.
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
        " and table_type = 'BASE TABLE' and table_name not like 'stg\\_%' escape '\\'"
        " and table_name not like 'int\\_%' escape '\\' order by table_name"
    ).fetchall()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------------------------------- the seam

Dialect = Literal["duckdb", "postgres", "spark"]


class Reader(Protocol):
    """One open, consistent view of the published warehouse."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def schema(self) -> str:
        """The schema the marts are in (unqualified table names resolve there)."""
        ...

    @property
    def meta_schema(self) -> str:
        """The schema of what Herald records beside the marts (``build_info``)."""
        ...

    def arrow(self, sql: str) -> pa.Table:
        """Run one query written in ``dialect``; its whole answer. Eager."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class EmbeddedReader:
    """A published DuckDB file (its delivery runs attached), read-only."""

    con: duckdb.DuckDBPyConnection
    dialect: Dialect = "duckdb"
    schema: str = "main"
    meta_schema: str = "herald_meta"

    def arrow(self, sql: str) -> pa.Table:
        return self.con.execute(sql).to_arrow_table()

    def close(self) -> None:
        self.con.close()


@dataclass(frozen=True, slots=True)
class SqlReader:
    """A SQL warehouse through ibis: the published schema on the search path, one connection."""

    backend: Any  # an ibis backend (ibis.postgres.connect(...))
    schema: str
    dialect: Dialect = "postgres"

    @property
    def meta_schema(self) -> str:
        # One per published schema: two projects may share a database.
        return f"{self.schema}_meta"

    def arrow(self, sql: str) -> pa.Table:
        with self.backend.raw_sql(sql) as cursor:
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        return pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in rows]) if rows else _empty(names)

    def close(self) -> None:
        self.backend.disconnect()


def _empty(names: list[str]) -> pa.Table:
    return pa.table({n: pa.array([], pa.null()) for n in names})


@dataclass(frozen=True, slots=True)
class SqlWarehouse:
    """Where a SQL warehouse is: ``postgresql://user[:password]@host[:port]/database?schema=name``. Equal when
    they name the same place."""

    url: str

    @property
    def schema(self) -> str:
        return parse_qs(urlsplit(self.url).query).get("schema", ["herald"])[0]

    @property
    def meta_schema(self) -> str:
        return f"{self.schema}_meta"

    def _parts(self) -> dict[str, Any]:
        parts = urlsplit(self.url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise ConfigError(f"HERALD_WAREHOUSE_URL: {parts.scheme!r} is not a warehouse Herald reads (postgresql)")
        if not self.schema.replace("_", "").isalnum():
            raise ConfigError(f"HERALD_WAREHOUSE_URL: schema {self.schema!r} is not a plain name")
        return {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": parts.username or "postgres",
            # A password in the URL, or (better: never in a file) in HERALD_PG_PASSWORD.
            "password": parts.password or os.environ.get("HERALD_PG_PASSWORD", ""),
            "dbname": parts.path.lstrip("/") or "postgres",
        }

    def open(self) -> SqlReader:
        """A reader of the published schema (ibis), for the block that closes it."""
        p = self._parts()
        backend = ibis.postgres.connect(
            host=p["host"], port=p["port"], user=p["user"], password=p["password"], database=p["dbname"]
        )
        backend.raw_sql(f"set search_path to {self.schema}").close()
        return SqlReader(backend=backend, schema=self.schema)

    def connection(self, *, autocommit: bool = False) -> Any:
        """A psycopg connection for what writes (landing, publishing); a context manager that commits on a clean
        exit and closes."""
        import psycopg

        p = self._parts()
        return psycopg.connect(
            host=p["host"],
            port=p["port"],
            user=p["user"],
            password=p["password"],
            dbname=p["dbname"],
            autocommit=autocommit,
        )

    def dbt_env(self, *, schema: str) -> dict[str, str]:
        """What profiles.yml's postgres target reads, building into ``schema``."""
        p = self._parts()
        return {
            "HERALD_TARGET": "postgres",
            "HERALD_PG_HOST": str(p["host"]),
            "HERALD_PG_PORT": str(p["port"]),
            "HERALD_PG_USER": str(p["user"]),
            "HERALD_PG_PASSWORD": str(p["password"]),
            "HERALD_PG_DBNAME": str(p["dbname"]),
            "HERALD_PG_SCHEMA": schema,
        }


def sql_warehouse(env: dict[str, str] | None = None) -> SqlWarehouse | None:
    """The SQL warehouse ``HERALD_WAREHOUSE_URL`` names; None: the embedded one."""
    url = (env if env is not None else os.environ).get("HERALD_WAREHOUSE_URL", "")
    return SqlWarehouse(url) if url else None


def has_table(reader: Reader, schema: str, table: str) -> bool:
    """Whether the warehouse holds ``schema.table`` (a table or a view). Both names are plain identifiers."""
    if not (schema.replace("_", "").isalnum() and table.replace("_", "").isalnum()):
        raise ValueError(f"not plain names: {schema!r}, {table!r}")
    found = reader.arrow(
        "select count(*) as n from information_schema.tables"
        f" where table_schema = '{schema}' and table_name = '{table}'"
    )
    return bool(found.column("n")[0].as_py())


@contextmanager
def reader(project: Project, path: Path | None = None) -> Iterator[Reader]:
    """The published build open for reading for the duration of the block: the SQL warehouse when one is
    configured, else the current published file (or ``path``, a published file resolved earlier)."""
    remote = sql_warehouse() if path is None else None
    opened: Reader = remote.open() if remote is not None else EmbeddedReader(connect(project, path))
    try:
        yield opened
    finally:
        opened.close()
