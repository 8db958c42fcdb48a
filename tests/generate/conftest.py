"""A small generated landing folder shared by the generator tests (generation is the slow part)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from herald.generate import GenerateReport, generate
from herald.raw_schema import ALL_TABLES

SMALL_PROFILES = 400
SMALL_EVENTS = 10
BATCH_TIME = dt.datetime(2026, 11, 28, 6, 0, 0)


def small_run(out: Path, *, profiles: int = SMALL_PROFILES, seed: int = 7) -> GenerateReport:
    return generate(
        out,
        profiles=profiles,
        events_per_profile=SMALL_EVENTS,
        seed=seed,
        batch_time=BATCH_TIME,
        memory_limit="1GB",
    )


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateReport]:
    out = tmp_path_factory.mktemp("generated")
    return out, small_run(out)


@pytest.fixture(scope="session")
def raw(small: tuple[Path, GenerateReport]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with one view per raw table over the small run's batches."""
    out, _ = small
    con = duckdb.connect()
    for t in ALL_TABLES:
        con.execute(f"CREATE VIEW {t.name} AS SELECT * FROM read_parquet('{out}/{t.name}/*.parquet')")
    yield con
    con.close()
