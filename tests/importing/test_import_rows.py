"""Record by record: one reason per rejected row, its physical line, duplicates, and what lands."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from herald import landing
from herald.errors import LandingError
from herald.importing import import_file
from herald.project import Project
from tests.importing.helpers import landed, landed_files, read_rejects, rejects_by_line, snapshot, write_text

CONTACTS = (
    "external_key,email,phone,country_code,address_line1,birth_date\n"  # line 1
    "1,ann@example.com,+33 6 12 34 56 78,FR,1 Rue A,1990-01-31\n"  # 2
    '2,bob@,12,XX,"2 Main St\n'  # 3 (record continues on line 4)
    'Apt 4",1991-02-03\n'  # 4
    "3,carl@example.com,12,DE,3 Str,1992-03-04\n"  # 5
    ",dora@example.com,,,,\n"  # 6
    "4,  eve@example.com  ,,Narnia,,\n"  # 7
    "5,fay@example.com,,,,31/02/1990\n"  # 8
)


def test_each_rejected_row_gets_its_first_failing_rule_and_physical_line(project: Project, tmp_path: Path) -> None:
    source = write_text(tmp_path / "contacts.csv", CONTACTS)
    report = import_file(project, "profiles", source)
    assert (report.rows_read, report.rows_inserted, report.rows_updated, report.rows_rejected) == (6, 2, 0, 4)
    assert report.rejects_path == tmp_path / "contacts.rejects.csv"
    assert rejects_by_line(report.rejects_path) == {
        # not the phone or the country: the first rule wins
        3: 'email: "bob@" is not an email address: there must be something after the @-sign',
        5: 'phone: "12" is not a phone number (6 to 15 digits)',
        6: "external_key: missing (required)",
        8: 'birth_date: "31/02/1990" is not a valid date (read as dd/mm/yyyy)',
    }
    rows = read_rejects(report.rejects_path)
    assert rows[0] == ["line_number", "reason", "external_key", "email", "phone", "country_code", "address_line1",
                       "birth_date"]  # fmt: skip
    # The original fields exactly as read: untrimmed, embedded newline kept.
    assert rows[1][2:] == ["2", "bob@", "12", "XX", "2 Main St\nApt 4", "1991-02-03"]
    assert rows[4][2:] == ["5", "fay@example.com", "", "", "", "31/02/1990"]
    good = landed(project, "crm_contacts")
    assert [(r["external_key"], r["_line_number"], r["email"], r["phone"]) for r in good] == [
        ("1", 2, "ann@example.com", "+33 6 12 34 56 78"),
        ("4", 7, "eve@example.com", None),  # an unknown country keeps the contact, with the country empty
    ]
    assert [r["country_code"] for r in good] == ["FR", None]
    assert 'country_code: "Narnia" is not a known country: 1 row(s) landed with country_code empty' in "".join(
        report.warnings
    )


def test_good_rows_land_in_one_batch_with_counts_and_checksum(project: Project, tmp_path: Path) -> None:
    source = write_text(tmp_path / "contacts.csv", CONTACTS)
    report = import_file(project, "profiles", source)
    files = landed_files(project, "crm_contacts")
    assert len(files) == 1 and files[0].stem == report.batch_id
    rows = landed(project, "crm_contacts")
    assert [(r["external_key"], r["_line_number"], r["_source_file"]) for r in rows] == [
        ("1", 2, "contacts.csv"),
        ("4", 7, "contacts.csv"),
    ]
    batches = duckdb.sql(f"select * from '{project.landing_dir}/import_batches/{report.batch_id}-*.parquet'")
    (batch,) = batches.fetchall()
    record = dict(zip(batches.columns, batch, strict=True))
    assert record["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest() == report.source_sha256
    counts = (record["rows_read"], record["rows_inserted"], record["rows_updated"], record["rows_rejected"])
    assert counts == (6, 2, 0, 4) == (report.rows_read, report.rows_inserted, report.rows_updated, report.rows_rejected)


def test_duplicates_in_the_file_last_occurrence_wins(project: Project, tmp_path: Path) -> None:
    text = (
        "external_key,first_name\n"
        "A,first\n"  # 2
        "B,only\n"  # 3
        "A,second\n"  # 4
        "A,third\n"  # 5
        "C,bad,extra\n"  # 6 ragged
    )
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (5, 2, 3)
    assert report.rejects_path is not None
    assert rejects_by_line(report.rejects_path) == {
        2: 'duplicate external_key "A": superseded by line 5',
        4: 'duplicate external_key "A": superseded by line 5',
        6: "row: 3 fields where the header has 2",
    }
    assert {r["external_key"]: r["first_name"] for r in landed(project, "crm_contacts")} == {"A": "third", "B": "only"}


def test_a_later_invalid_duplicate_does_not_displace_a_good_one(project: Project, tmp_path: Path) -> None:
    text = "external_key,email\nA,a@example.com\nA,broken@\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert (report.rows_inserted, report.rows_rejected) == (1, 1)
    assert report.rejects_path is not None
    assert rejects_by_line(report.rejects_path) == {
        3: 'email: "broken@" is not an email address: there must be something after the @-sign'
    }


def test_keys_are_trimmed_before_deduplication(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", "external_key\n K1\nK1 \n"))
    assert (report.rows_inserted, report.rows_rejected) == (1, 1)


def test_nothing_lands_when_no_row_is_good(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", "external_key,email\n1,x@\n2,y@\n"))
    assert report.batch_id is None and (report.rows_read, report.rows_rejected) == (2, 2)
    assert "nothing was written to the landing zone" in report.summary()
    assert not project.landing_dir.exists()
    assert report.rejects_path is not None and len(read_rejects(report.rejects_path)) == 3


def test_a_header_only_file_lands_nothing(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", "external_key,email\n"))
    assert (report.batch_id, report.rows_read, report.rejects_path) == (None, 0, None)
    assert "the file has a header but no records" in report.warnings


def test_rejects_path_can_be_chosen(project: Project, tmp_path: Path) -> None:
    target = tmp_path / "out" / "bad.csv"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", "external_key,email\n1,x@\n"),
                         rejects_path=target)  # fmt: skip
    assert report.rejects_path == target and target.exists()
    assert not (tmp_path / "c.rejects.csv").exists()


def test_semicolon_files_get_semicolon_rejects(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", "external_key;email\n1;x@\n"))
    assert report.rejects_path is not None
    assert read_rejects(report.rejects_path, ";")[1] == [
        "2",
        'email: "x@" is not an email address: there must be something after the @-sign',
        "1",
        "x@",
    ]


def test_a_landing_failure_leaves_no_rejects_and_no_batch(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise LandingError("disk full")

    monkeypatch.setattr(landing, "land_batch", broken)
    source = write_text(tmp_path / "c.csv", "external_key,email\n1,a@example.com\n2,x@\n")
    with pytest.raises(LandingError):
        import_file(project, "profiles", source)
    assert list(tmp_path.glob("*rejects*")) == [] and snapshot(project) == []


def test_progress_reports_running_counts(project: Project, tmp_path: Path) -> None:
    text = "external_key\n" + "".join(f"{i}\n" for i in range(120_001))
    seen: list[int] = []
    import_file(project, "profiles", write_text(tmp_path / "c.csv", text), progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 120_001 and len(seen) >= 3


def test_consents(project: Project, tmp_path: Path) -> None:
    text = (
        "Consent ID,Customer ID,Channel,Topic,Status,Date,Source\n"
        "c1,1,E-Mail,newsletter,Subscribed,2024-05-01 10:00,web_form\n"  # 2
        "c2,1,SMS,promotions,unsubscribed,01.06.2024 08:00,\n"  # 3
        "c3,2,fax,newsletter,yes,2024-05-01,\n"  # 4
        "c4,2,email,newsletter,maybe,2024-05-01,\n"  # 5
        "c5,2,email,newsletter,yes,,\n"  # 6
        "c6,2,push,vip_club,opt-in,2024-05-02T00:00:00Z,\n"  # 7
    )
    report = import_file(project, "consents", write_text(tmp_path / "consents.csv", text))
    assert (report.rows_inserted, report.rows_rejected) == (3, 3)
    assert report.rejects_path is not None
    assert rejects_by_line(report.rejects_path) == {
        4: 'channel: "fax" is not a channel (email, sms, push, in_app, direct_mail)',
        5: 'status: "maybe" is not a consent status (opt_in, opt_out)',
        6: "occurred_at: missing (required)",
    }
    rows = {r["consent_event_id"]: r for r in landed(project, "consent_events")}
    assert (rows["c1"]["channel"], rows["c1"]["status"], rows["c1"]["source"]) == ("email", "opt_in", "web_form")
    assert (rows["c2"]["channel"], rows["c2"]["status"], str(rows["c2"]["occurred_at"])) == (
        "sms",
        "opt_out",
        "2024-06-01 08:00:00",
    )
    # Consent without its own evidence points at the import batch that brought it.
    assert (rows["c2"]["source"], rows["c2"]["evidence_id"]) == ("import", report.batch_id)
    assert any("vip_club" in w for w in report.warnings)


def test_orders_and_order_lines(project: Project, tmp_path: Path) -> None:
    orders = (
        "Order number;Customer ID;Status;Total;Currency;Order date\n"
        "O1;1;Paid;1 234,50;€;15/03/2024 14:00\n"
        "O2;1;Canceled;abc;EUR;16/03/2024\n"
        "O3;2;refunded;12;usd;\n"
    )
    report = import_file(project, "orders", write_text(tmp_path / "orders.csv", orders))
    assert (report.rows_inserted, report.rows_rejected) == (1, 2)
    assert report.rejects_path is not None
    assert rejects_by_line(report.rejects_path, ";") == {
        3: 'total_amount: "abc" is not a number',
        4: "ordered_at: missing (required)",
    }
    (row,) = landed(project, "shop_orders")
    assert (row["status"], row["total_amount"], row["currency"], str(row["ordered_at"])) == (
        "completed",
        1234.5,
        "EUR",
        "2024-03-15 14:00:00",
    )
    lines = "id,order id,sku,qty,price\nL1,O1,P1,2,9.99\nL2,O1,P2,1.5,1\nL3,O1,P3,3,\n"
    report = import_file(project, "order_lines", write_text(tmp_path / "lines.csv", lines))
    assert (report.rows_inserted, report.rows_rejected) == (2, 1)
    landed_lines = {r["order_line_id"]: (r["quantity"], r["unit_price"]) for r in landed(project, "shop_order_lines")}
    assert landed_lines == {"L1": (2, 9.99), "L3": (3, None)}


def test_summary_prints_the_counts_that_add_up(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "contacts.csv", CONTACTS))
    text = report.summary()
    assert "read = inserted + updated + rejected: 6 = 2 + 0 + 4" in text
    assert "contacts.csv -> crm_contacts" in text and str(report.rejects_path) in text
    assert 'column "email" -> email (exact)' in text


def test_a_fixed_rejects_file_imports_as_it_is(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", "external_key;email\n1;a@x.com\n2;b@\n"))
    assert report.rejects_path is not None
    fixed = report.rejects_path.read_text(encoding="utf-8-sig").replace("b@", "b@example.com")
    again = import_file(project, "profiles", write_text(tmp_path / "fixed.csv", fixed, "utf-8-sig"))
    assert (again.rows_inserted, again.rows_rejected) == (1, 0)
    assert any("looks like a rejects file" in w for w in again.warnings)
    assert {r["external_key"]: r["email"] for r in landed(project, "crm_contacts")} == {
        "1": "a@x.com",
        "2": "b@example.com",
    }


def test_a_stale_rejects_file_is_pointed_out(project: Project, tmp_path: Path) -> None:
    source = write_text(tmp_path / "c.csv", "external_key,email\n1,x@\n")
    import_file(project, "profiles", source)
    write_text(source, "external_key,email\n1,x@example.com\n")
    report = import_file(project, "profiles", source)
    assert report.rejects_path is None
    assert f"{tmp_path / 'c.rejects.csv'} is from an earlier import: this one rejected nothing" in report.warnings
