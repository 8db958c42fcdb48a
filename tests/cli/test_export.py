"""`herald export`: marts and audiences from the published warehouse, to CSV or Parquet."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from herald import warehouse
from herald.cli import main
from herald.errors import ExportError
from herald.export import export_table
from herald.project import Project

pytestmark = pytest.mark.slow


def _count(project: Project, table: str) -> int:
    con = warehouse.connect(project)
    try:
        return int(con.execute(f"select count(*) from {table}").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def test_export_profiles_to_parquet_and_csv_keeps_every_row(
    demo_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(demo_project.warehouse_dir))
    expected = _count(demo_project, "profiles")
    assert main(["export", "profiles", "--format", "parquet", "--out", str(tmp_path / "p.parquet")]) == 0
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.num_rows == expected
    assert "is_email_reachable" in table.column_names
    assert main(["export", "orders", "--format", "csv", "--out", str(tmp_path / "o.csv")]) == 0
    with open(tmp_path / "o.csv", newline="", encoding="utf-8") as fh:
        assert sum(1 for _ in csv.reader(fh)) == _count(demo_project, "orders") + 1


def test_export_refuses_names_that_are_not_marts(demo_project: Project, tmp_path: Path) -> None:
    for hostile in [
        "profiles; drop table profiles",
        "information_schema.tables",
        "../profiles",
        "profile",
        "stg_crm__contacts",
        "int_contacts_merged_to_profiles",
    ]:
        with pytest.raises(ExportError, match="no table"):
            export_table(demo_project, hostile, "csv", tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
    assert _count(demo_project, "profiles") > 0


def test_export_suggests_the_closest_mart(demo_project: Project, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="Did you mean: profiles"):
        export_table(demo_project, "profils", "csv", tmp_path / "x.csv")


def test_export_unknown_audience_names_the_saved_ones(
    demo_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(demo_project.warehouse_dir))
    assert main(["export", "audience", "recent_buyer", "--out", str(tmp_path / "a.csv")]) == 1
    assert "no audience 'recent_buyer'. Did you mean recent_buyers" in capsys.readouterr().err
    assert not (tmp_path / "a.csv").exists()


def test_export_audience_writes_its_latest_members_with_groups(
    demo_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_WAREHOUSE_DIR", str(demo_project.warehouse_dir))
    out = tmp_path / "test.parquet"
    assert main(["export", "audience", "winter_sale_test", "--format", "parquet", "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == _count(demo_project, "aud_winter_sale_test")
    assert set(table.column("audience_group").to_pylist()) == {"A", "B", "control"}
    assert {"email", "spec_version", "build_id"} <= set(table.column_names)


def test_export_reads_the_published_copy_not_the_build_file(demo_project: Project) -> None:
    # The build file may be locked by a running build; exports must never need it.
    con = warehouse.connect(demo_project)
    try:
        path = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    finally:
        con.close()
    assert path is not None and "published" in str(path[0])
    assert isinstance(duckdb.__version__, str)
