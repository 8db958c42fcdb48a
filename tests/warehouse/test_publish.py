"""Publishing two files: the delivery runs beside the main file, hard links for an unchanged main file, and the
upgrade of a warehouse that kept its delivery runs in the main file. Without dbt: the files are made by hand."""

from __future__ import annotations

from pathlib import Path

import duckdb

from herald import build, warehouse
from herald.project import Project


def _project(tmp_path: Path) -> Project:
    project = Project(root=Path(__file__).resolve().parents[2], warehouse_dir=tmp_path / "warehouse")
    project.ensure_dirs()
    return project


def _write(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def test_readers_see_delivery_runs_and_herald_meta_through_the_main_file(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _write(project.build_path, "create table profiles as select 'p1' as profile_id")
    _write(project.deliveries_build_path, "create table send_lists as select 'r1' as run_id, 'p1' as profile_id")

    first = build.publish(project, "b1", "batch-1", "fp")
    con = warehouse.connect(project)
    try:
        assert con.execute("select run_id from send_lists join profiles using (profile_id)").fetchall() == [("r1",)]
        assert con.execute("select build_id from herald_meta.build_info").fetchall() == [("b1",)]
        # A cursor is a second connection to the same database: it sees the attached runs too.
        assert con.cursor().execute("select count(*) from main.send_lists").fetchall() == [(1,)]
    finally:
        con.close()

    # Only the delivery-runs file changes (a new run, an approval): the main file is linked, not copied.
    _write(project.deliveries_build_path, "insert into send_lists values ('r2', 'p1')")
    second = build.publish(project, "b2", "batch-1", "fp")
    assert second.stat().st_ino == first.stat().st_ino
    con = warehouse.connect(project)
    try:
        assert con.execute("select count(*) from send_lists").fetchall() == [(2,)]
        assert con.execute("select build_id from herald_meta.build_info").fetchall() == [("b2",)]
    finally:
        con.close()
    # The first build is still whole for a reader that opened it.
    con = warehouse.connect(project, first)
    try:
        assert con.execute("select count(*) from send_lists").fetchall() == [(1,)]
    finally:
        con.close()

    # A changed main file is copied.
    _write(project.build_path, "insert into profiles values ('p2')")
    third = build.publish(project, "b3", "batch-2", "fp")
    assert third.stat().st_ino != second.stat().st_ino
    con = warehouse.connect(project)
    try:
        assert con.execute("select count(*) from profiles").fetchall() == [(2,)]
    finally:
        con.close()


def test_an_upgraded_warehouse_keeps_its_runs_controls_and_approvals(tmp_path: Path) -> None:
    project = _project(tmp_path)
    # As an earlier version left it: delivery runs and herald_meta in the main build file.
    _write(
        project.build_path,
        "create table profiles as select 'p1' as profile_id",
        "create table send_lists as select 'r1' as run_id, 'p1' as profile_id",
        "create table delivery_runs as select 'r1' as run_id, 1 as send_count",
        "create schema herald_meta",
        "create table herald_meta.delivery_run_approvals (run_id varchar, approver varchar, content_hash varchar,"
        " approved_at timestamp, note varchar)",
        "insert into herald_meta.delivery_run_approvals values ('r1', 'anna', 'h', '2026-11-01 10:00:00', 'ok')",
        "create table herald_meta.build_info as select 'old' as build_id",
    )

    build._move_deliveries_out_of_main(project)

    con = duckdb.connect(str(project.build_path), read_only=True)
    try:
        left = con.execute("select schema_name, table_name from duckdb_tables() order by all").fetchall()
    finally:
        con.close()
    assert left == [("main", "profiles")]
    con = duckdb.connect(str(project.deliveries_build_path), read_only=True)
    try:
        assert con.execute("select * from send_lists").fetchall() == [("r1", "p1")]
        assert con.execute("select run_id, send_count from delivery_runs").fetchall() == [("r1", 1)]
        assert con.execute("select approver, note from herald_meta.delivery_run_approvals").fetchall() == [
            ("anna", "ok")
        ]
    finally:
        con.close()
