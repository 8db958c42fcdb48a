"""Which published warehouse the app reads, and read-only connections to it.

Every cached query takes the published file's path as its first argument: the path is part of the cache key,
so results of an older build are never served once ``CURRENT`` names a new one. Each query opens its own
read-only connection and closes it, so the app never holds a lock that could block a build or a publish.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from ibis.backends.duckdb import Backend as IbisDuckDB

from herald.errors import ConfigError, WarehouseNotReady
from herald.project import find_project
from herald.warehouse import current_path, open_published_ibis

# Results of one published build never change; the TTL only bounds memory held for files no longer current.
CACHE_TTL = dt.timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Missing:
    """Why there is nothing to read yet; ``reason`` is a sentence for the user."""

    reason: str


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """The published build the app shows; equal when every field is."""

    build_id: str
    batch_cutoff: str | None
    published_at: dt.datetime | None
    file_name: str


def current_warehouse() -> str | Missing:
    """Path of the published file readers should open now, or why there is none. Re-reads ``CURRENT``."""
    try:
        return str(current_path(find_project()))
    except (WarehouseNotReady, ConfigError) as exc:
        return Missing(str(exc))


@contextmanager
def read_only(db: str) -> Iterator[IbisDuckDB]:
    """A read-only ibis connection to the published file ``db``, closed on exit."""
    # Open the exact file the cache key names rather than re-reading CURRENT: a publish between resolving
    # the path and connecting must not mix two builds under one key.
    con = open_published_ibis(Path(db))
    try:
        yield con
    finally:
        con.disconnect()


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def build_info(db: str) -> BuildInfo | None:
    """The ``herald_meta.build_info`` row of the published file, or None when the file has none."""
    with read_only(db) as con:
        try:
            rows = con.table("build_info", database="herald_meta").to_pyarrow().to_pylist()
        except Exception:  # an older or hand-made file without herald_meta: not an error for the reader
            return None
    if not rows:
        return None
    row = rows[0]
    published_at = row.get("published_at")
    cutoff = row.get("batch_cutoff")
    return BuildInfo(
        build_id=str(row.get("build_id")),
        batch_cutoff=None if cutoff is None else str(cutoff),
        published_at=published_at if isinstance(published_at, dt.datetime) else None,
        file_name=db.rsplit("/", 1)[-1],
    )
