"""The landing zone: append-only, typed, atomic batches that never touch a database file."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from herald import landing
from herald.errors import LandingError
from herald.project import Project
from herald.raw_schema import CRM_CONTACTS, IMPORT_BATCHES, RAW_TABLES


def _contacts(keys: list[str]) -> pa.Table:
    return pa.table({"external_key": keys, "email": [f"{k.lower()}@example.com" for k in keys]})


def test_a_batch_is_typed_like_the_raw_table_and_missing_columns_are_null(project: Project) -> None:
    batch = landing.land_batch(project, CRM_CONTACTS, _contacts(["C1", "C2"]), source_file="contacts.csv")
    written = pa.parquet.read_table(batch.path)
    assert written.schema == landing.arrow_schema(CRM_CONTACTS)
    assert written.column("city").null_count == 2
    assert written.column("_line_number").to_pylist() == [1, 2]
    assert set(written.column("_batch_id").to_pylist()) == {batch.batch_id}


def test_batches_append_and_are_audited(project: Project) -> None:
    first = landing.land_batch(
        project,
        CRM_CONTACTS,
        _contacts(["C1"]),
        source_file="a.csv",
        counts=landing.BatchCounts(read=3, inserted=1, updated=0, rejected=2),
    )
    second = landing.land_batch(project, CRM_CONTACTS, _contacts(["C1"]), source_file="b.csv")
    assert first.batch_id < second.batch_id  # ids sort by time, so "latest batch wins" is well defined
    con = duckdb.connect()
    rows = landing.scan(con, project, CRM_CONTACTS).filter("external_key = 'C1'").count("*").fetchone()
    assert rows == (2,)
    audit = landing.scan(con, project, IMPORT_BATCHES).order("batch_id").fetchall()
    assert [(r[0], r[2], r[4], r[7]) for r in audit if r[0] != landing.EMPTY_BATCH_ID] == [
        (first.batch_id, "a.csv", 3, 2),
        (second.batch_id, "b.csv", 1, 0),
    ]
    assert landing.latest_batch_id(project) == second.batch_id


def test_every_raw_table_is_readable_before_any_data_lands(project: Project) -> None:
    landing.ensure_initialized(project)
    con = duckdb.connect()
    for table in RAW_TABLES:
        assert landing.scan(con, project, table).count("*").fetchone() == (0,)


def test_a_column_outside_the_raw_shape_is_refused_and_nothing_lands(project: Project) -> None:
    data = _contacts(["C1"]).append_column("shoe_size", pa.array(["42"]))
    with pytest.raises(LandingError, match="shoe_size"):
        landing.land_batch(project, CRM_CONTACTS, data, source_file="bad.csv")
    assert [p.name for p in landing.batch_files(project, CRM_CONTACTS)] == [f"{landing.EMPTY_BATCH_ID}.parquet"]
    assert not list(landing.table_dir(project, CRM_CONTACTS).glob(".*partial"))


def test_batches_landed_before_a_column_was_added_still_read_with_it(project: Project) -> None:
    """A warehouse landed by an earlier version: its batches (the empty one included) lack a column added since.
    The next initialization brings the empty batch to the current shape, so the column exists, null in old rows."""
    import pyarrow.parquet as pq

    from herald.raw_schema import ESP_EVENTS

    landing.ensure_initialized(project)
    folder = landing.table_dir(project, ESP_EVENTS)
    old = landing.arrow_schema(ESP_EVENTS)
    old = old.remove(old.get_field_index("run_id"))
    pq.write_table(old.empty_table(), folder / f"{landing.EMPTY_BATCH_ID}.parquet")
    row = {f.name: [None] for f in old}
    row.update({"sg_event_id": ["e1"], "event": ["delivered"], "_batch_id": ["20260101T000000000000Z-old"]})
    pq.write_table(pa.table(row, schema=old), folder / "20260101T000000000000Z-old.parquet")
    con = duckdb.connect()
    with pytest.raises(duckdb.BinderException):  # what a build would meet: the column is nowhere
        landing.scan(con, project, ESP_EVENTS).project("run_id").fetchall()
    landing.ensure_initialized(project)
    rows = landing.scan(con, project, ESP_EVENTS).project("sg_event_id, run_id").fetchall()
    assert rows == [("e1", None)]
