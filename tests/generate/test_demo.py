"""The committed demo seeds are reproducible, loader-friendly, and land once."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from herald import landing
from herald.demo import demo_is_loaded, demo_seeds_dir, load_demo
from herald.generate import write_demo_seeds
from herald.project import Project
from herald.raw_schema import ALL_TABLES, APP_EVENTS, BATCH_COLUMNS, IMPORT_BATCHES, RAW_TABLES, RawTable

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds" / "demo"


def _csv(name: str) -> list[dict[str, str]]:
    with open(SEEDS / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_seeds_regenerate_byte_for_byte(tmp_path: Path) -> None:
    written = write_demo_seeds(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{t.name}.csv" for t in ALL_TABLES)
    for path in written:
        assert path.read_bytes() == (SEEDS / path.name).read_bytes(), f"{path.name} differs: run write_demo_seeds"


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.name)
def test_seed_columns_are_the_raw_shape(table: RawTable) -> None:
    with open(SEEDS / f"{table.name}.csv", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
    expected = [c.name for c in table.columns]
    if table is not IMPORT_BATCHES:
        expected += [c.name for c in BATCH_COLUMNS]
    assert header == expected


def test_seed_values_load_everywhere() -> None:
    for t in ALL_TABLES:
        text = (SEEDS / f"{t.name}.csv").read_text(encoding="utf-8")
        assert "'" not in text, t.name
        assert text.isascii(), t.name
        assert "\r" not in text, t.name
        for row in _csv(t.name):
            assert "null" not in {v.strip().lower() for v in row.values()}, t.name
            for c in t.columns:
                value = row[c.name]
                if value and c.type == "timestamp":
                    assert len(value) == 19 and value[10] == " ", (t.name, c.name, value)
                if value and c.type == "date":
                    assert len(value) == 10, (t.name, c.name, value)


def test_seed_sizes() -> None:
    events = len(_csv("app_events"))
    assert 60_000 <= events <= 90_000
    contacts = {r["external_key"] for r in _csv("crm_contacts")}
    assert 3_000 <= len(contacts) <= 3_200
    total_mb = sum(p.stat().st_size for p in SEEDS.glob("*.csv")) / 1e6
    assert total_mb < 25


def test_demo_lands_once_with_the_landing_schema(tmp_path: Path) -> None:
    project = Project(root=ROOT, warehouse_dir=tmp_path / "warehouse")
    assert demo_seeds_dir(project) == SEEDS
    assert not demo_is_loaded(project)
    first = load_demo(project)
    assert demo_is_loaded(project)
    assert load_demo(project) == []
    records = _csv("import_batches")
    assert len(first) == len(records)
    assert {(b.batch_id, b.table, b.rows) for b in first} == {
        (r["batch_id"], r["table_name"], int(r["rows_read"])) for r in records
    }
    for t in ALL_TABLES:
        for f in landing.batch_files(project, t):
            assert pq.read_schema(f).equals(landing.arrow_schema(t)), f
    con = duckdb.connect()
    for t in RAW_TABLES:
        landed = con.execute(
            f"SELECT count(*) FROM read_parquet('{landing.table_dir(project, t)}/*-demo.parquet')"
        ).fetchone()
        assert landed == (len(_csv(t.name)),)


def test_demo_batches_sort_before_anything_landed_later(tmp_path: Path) -> None:
    project = Project(root=ROOT, warehouse_dir=tmp_path / "warehouse")
    load_demo(project)
    demo_latest = landing.latest_batch_id(project)
    assert demo_latest.endswith("-demo")
    assert demo_latest < landing.new_batch_id()
    assert min(r["batch_id"] for r in _csv("import_batches")) > landing.EMPTY_BATCH_ID


def test_an_interrupted_load_is_completed(tmp_path: Path) -> None:
    project = Project(root=ROOT, warehouse_dir=tmp_path / "warehouse")
    load_demo(project)
    victim = sorted((project.landing_dir / "import_batches").glob("*-demo-app_events.parquet"))[0]
    data = landing.table_dir(project, APP_EVENTS) / victim.name.replace("-app_events", "")
    victim.unlink()
    data.unlink()
    assert not demo_is_loaded(project)
    again = load_demo(project)
    assert [b.table for b in again] == ["app_events"]
    assert demo_is_loaded(project)
