"""Helpers for import tests: write input files byte-exactly, read back what landed and what was rejected."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import duckdb

from herald.landing import EMPTY_BATCH_ID
from herald.project import Project


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write exactly ``text`` (no newline translation) in ``encoding``."""
    path.write_bytes(text.encode(encoding))
    return path


def landed_files(project: Project, table: str) -> list[Path]:
    folder = project.landing_dir / table
    return sorted(p for p in folder.glob("*.parquet") if p.stem != EMPTY_BATCH_ID)


def landed(project: Project, table: str, order_by: str = "_loaded_at, _batch_id, _line_number") -> list[dict[str, Any]]:
    """Every landed row of ``table`` (read back from the Parquet batches), as dicts."""
    files = landed_files(project, table)
    if not files:
        return []
    con = duckdb.connect()
    rel = con.read_parquet([str(p) for p in files], union_by_name=True)
    columns = rel.columns
    rows = rel.order(order_by).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in rows]


def latest(project: Project, table: str, key: str) -> dict[str, dict[str, Any]]:
    """The current record per key: the latest batch wins, as dbt's staging reads it."""
    out: dict[str, dict[str, Any]] = {}
    for row in landed(project, table):
        out[row[key]] = row
    return out


def snapshot(project: Project) -> list[tuple[str, int]]:
    """Every file under the warehouse folder with its size: to check that a failed import wrote nothing."""
    if not project.warehouse_dir.exists():
        return []
    root = project.warehouse_dir
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*"))


def read_rejects(path: Path, delimiter: str = ",") -> list[list[str]]:
    """The rejects file's rows, header first."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def rejects_by_line(path: Path, delimiter: str = ",") -> dict[int, str]:
    """Line number -> reason, from a rejects file."""
    return {int(row[0]): row[1] for row in read_rejects(path, delimiter)[1:]}
