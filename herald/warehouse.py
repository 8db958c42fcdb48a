"""Read the published warehouse: the only way the app, exports and senders read marts.

Readers open the file named in ``CURRENT`` read-only, so any number of them run beside a build or an import
and never see a half-built state. Each call to ``connect`` re-reads the pointer: a new connection after a
publish sees the new build, an open one keeps its consistent snapshot.

A published build is two files: ``herald-<id>.duckdb`` (the marketing database, audiences, engagement) and
``deliveries-<id>.duckdb`` (the delivery runs and ``herald_meta``), which ``connect`` attaches as ``deliveries``.
The first holds views of the second's tables under their usual names (``send_lists``,
``herald_meta.build_info``…), so a reader queries one database and never names the second.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import ibis
from ibis.backends.duckdb import Backend as IbisDuckDB

from herald.errors import WarehouseNotReady
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
