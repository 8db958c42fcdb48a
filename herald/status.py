"""A plain-text account of a project's state: the published build and what has landed since."""

from __future__ import annotations

import duckdb

from herald import __version__, landing, warehouse
from herald.errors import WarehouseNotReady
from herald.project import Project
from herald.raw_schema import IMPORT_BATCHES, RAW_TABLES


def describe(project: Project) -> str:
    lines: list[str] = [f"Project:   {project.root}", f"Warehouse: {project.warehouse_dir}"]
    # Which Herald's models the project builds: its own dbt project's package, or this checkout itself.
    models = f"herald {__version__} from {project.dbt_package_dir}"
    lines.append(f"Models:    {models}" + ("" if project.uses_package else " (the project's own dbt project)"))
    cutoff = None
    try:
        con = warehouse.connect(project)
        try:
            row = con.execute("select build_id, batch_cutoff, published_at from herald_meta.build_info").fetchone()
        finally:
            con.close()
        if row:
            cutoff = str(row[1])
            lines.append(f"Published: build {row[0]} at {row[2]:%Y-%m-%d %H:%M:%S} UTC (batches up to {cutoff})")
    except (WarehouseNotReady, duckdb.Error) as exc:
        lines.append(f"Published: none ({exc})")
    landing.ensure_initialized(project)
    con = duckdb.connect()
    try:
        lines.append("Landed rows per raw table (rows not yet in the published build):")
        for t in RAW_TABLES:
            total, pending = con.execute(
                "select count(*), count(*) filter (where _batch_id > ?) from read_parquet(?, union_by_name=true)",
                [cutoff or "", str(landing.table_dir(project, t) / "*.parquet")],
            ).fetchone() or (0, 0)
            lines.append(f"  {t.name:<18} {total:>12,}  ({pending:,} pending)")
        batches = con.execute(
            "select count(*) from read_parquet(?, union_by_name=true)",
            [str(landing.table_dir(project, IMPORT_BATCHES) / "*.parquet")],
        ).fetchone()
        lines.append(f"Import batches recorded: {batches[0] if batches else 0:,}")
    finally:
        con.close()
    return "\n".join(lines)
