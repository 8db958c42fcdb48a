"""The dbt sources and the demo seeds' column types are generated from herald/raw_schema.py: no drift."""

from __future__ import annotations

import csv

from herald import dbt_sources
from herald.raw_schema import ALL_TABLES, BATCH_COLUMNS, IMPORT_BATCHES
from tests.conftest import ROOT


def test_committed_sources_equal_the_rendered_raw_schema() -> None:
    committed = (ROOT / dbt_sources.SOURCES_PATH).read_text(encoding="utf-8")
    assert committed == dbt_sources.render_sources(), "run `herald dev render-dbt-yaml` and commit the result"


def test_committed_demo_seed_types_equal_the_rendered_raw_schema() -> None:
    committed = (ROOT / dbt_sources.DEMO_SEEDS_PATH).read_text(encoding="utf-8")
    assert committed == dbt_sources.render_demo_seeds(), "run `herald dev render-dbt-yaml` and commit the result"


def test_every_demo_seed_has_exactly_the_raw_columns_in_order() -> None:
    for table in ALL_TABLES:
        path = ROOT / "seeds" / "demo" / f"{table.name}.csv"
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        expected = [c.name for c in table.columns]
        if table is not IMPORT_BATCHES:
            expected += [c.name for c in BATCH_COLUMNS]
        assert header == expected, f"{path.name} header differs from raw_schema.{table.name}"


def test_the_committed_raw_columns_macro_is_rendered_from_the_raw_schema() -> None:
    committed = (ROOT / dbt_sources.RAW_COLUMNS_PATH).read_text(encoding="utf-8")
    assert committed == dbt_sources.render_raw_columns(), "run `herald dev render-dbt-yaml` and commit the result"
