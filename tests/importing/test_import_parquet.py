"""Parquet input: detected by its magic bytes, typed columns kept, rejects numbered by row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from herald.importing import import_file
from herald.project import Project
from tests.importing.helpers import landed, read_rejects


def _write(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


def test_typed_parquet_orders(project: Project, tmp_path: Path) -> None:
    data = pa.table(
        {
            "Order ID": pa.array([101, 102, 103, 101], pa.int64()),  # numbers become varchar keys
            "Customer ID": ["c1", "c2", "c3", "c1"],
            "Total": pa.array([19.5, None, 7.0, 21.0]),
            "Order date": pa.array(
                [
                    dt.datetime(2024, 3, 15, 10, 30, tzinfo=dt.UTC),
                    dt.datetime(2024, 3, 16, 9, 0, tzinfo=dt.UTC),
                    None,
                    dt.datetime(2024, 3, 17, 8, 0, tzinfo=dt.UTC),
                ],
                pa.timestamp("ms", tz="Europe/Paris"),
            ),
        }
    )
    report = import_file(project, "orders", _write(tmp_path / "orders.parquet", data))
    assert (report.file_format, report.encoding, report.delimiter) == ("parquet", None, None)
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (4, 2, 2)
    assert report.rejects_path == tmp_path / "orders.rejects.csv"
    rejects = read_rejects(report.rejects_path)
    assert rejects[0] == ["line_number", "reason", "Order ID", "Customer ID", "Total", "Order date"]
    assert [r[:2] for r in rejects[1:]] == [
        ["1", 'duplicate order_id "101": superseded by line 4'],
        ["3", "ordered_at: missing (required)"],
    ]
    assert rejects[1][2:5] == ["101", "c1", "19.5"]
    rows = {r["order_id"]: r for r in landed(project, "shop_orders")}
    assert set(rows) == {"101", "102"}
    assert (rows["101"]["total_amount"], rows["101"]["_line_number"]) == (21.0, 4)
    assert rows["102"]["ordered_at"] == dt.datetime(2024, 3, 16, 9, 0)  # UTC, without a zone


def test_parquet_strings_are_parsed_like_csv_cells(project: Project, tmp_path: Path) -> None:
    data = pa.table(
        {
            "id": ["1", "2"],
            "email": ["a@x.com", "nope"],
            "dob": ["25/12/1990", "1991-01-02"],
            "birthday_typed": pa.array([None, None], pa.date32()),
        }
    )
    report = import_file(project, "profiles", _write(tmp_path / "p.parquet", data), unknown_columns="ignore")
    assert (report.rows_inserted, report.rows_rejected) == (1, 1)
    (row,) = landed(project, "crm_contacts")
    assert row["birth_date"] == dt.date(1990, 12, 25)


def test_parquet_is_recognised_whatever_the_extension(project: Project, tmp_path: Path) -> None:
    data = pa.table({"external_key": ["1"], "birth_date": pa.array([dt.date(1990, 1, 2)], pa.date32())})
    report = import_file(project, "profiles", _write(tmp_path / "export.csv", data))
    assert report.file_format == "parquet"
    assert landed(project, "crm_contacts")[0]["birth_date"] == dt.date(1990, 1, 2)


def test_parquet_quantities_must_be_whole(project: Project, tmp_path: Path) -> None:
    data = pa.table({"line id": ["L1", "L2"], "order id": ["O1", "O1"], "qty": [2.0, 2.5]})
    report = import_file(project, "order_lines", _write(tmp_path / "l.parquet", data))
    assert report.rejects_path is not None
    assert read_rejects(report.rejects_path)[1][:2] == ["2", 'quantity: "2.5" is not a whole number']
    assert landed(project, "shop_order_lines")[0]["quantity"] == 2


def test_dictionary_and_large_string_columns(project: Project, tmp_path: Path) -> None:
    data = pa.table(
        {
            "external_key": pa.array(["1", "2"], pa.large_string()),
            "country": pa.array(["Deutschland", "FR"]).dictionary_encode(),
            "dob": pa.array(["25/12/1990", "03/04/1991"]).dictionary_encode(),
        }
    )
    report = import_file(project, "profiles", _write(tmp_path / "p.parquet", data))
    assert report.rows_inserted == 2 and [d.order for d in report.date_orders] == ["dmy"]
    rows = {r["external_key"]: r for r in landed(project, "crm_contacts")}
    assert (rows["1"]["country_code"], rows["2"]["birth_date"]) == ("DE", dt.date(1991, 4, 3))
