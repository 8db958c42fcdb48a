"""Files that cannot be read as a whole: one clear error naming the file and where, and nothing written."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from herald.errors import ImportFileError
from herald.importing import import_file
from herald.importing.errors import MissingColumnsError
from herald.project import Project
from tests.importing.helpers import landed, snapshot, write_bytes, write_text

GOOD = "external_key,email\n1,a@example.com\n"


@pytest.fixture
def seeded(project: Project, tmp_path: Path) -> Project:
    """A project with one batch already landed, so "nothing written" is checked against real state."""
    import_file(project, "profiles", write_text(tmp_path / "seed.csv", GOOD))
    return project


def _fails(project: Project, path: Path, match: str, **options: object) -> ImportFileError:
    before = snapshot(project)
    with pytest.raises(ImportFileError, match=match) as caught:
        import_file(project, "profiles", path, **options)  # type: ignore[arg-type]
    assert snapshot(project) == before, "a failed import must not change the warehouse"
    assert not path.with_name(path.stem + ".rejects.csv").exists()
    assert str(path) in str(caught.value)
    return caught.value


def test_nul_bytes_mean_a_binary_file(seeded: Project, tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "c.csv", b"external_key,email\n1,a@example.com\n2,b\x00\x01\x02@x.com\n")
    _fails(seeded, path, r"NUL bytes \(line 3\)")


def test_nul_bytes_late_in_a_large_file(seeded: Project, tmp_path: Path) -> None:
    lines = "".join(f"{i},u{i}@example.com\n" for i in range(100_000))
    path = write_bytes(tmp_path / "c.csv", b"external_key,email\n" + lines.encode() + b"x\x00y,z\n")
    _fails(seeded, path, r"NUL bytes \(line 100002\)")


def test_undecodable_with_an_explicit_encoding_names_the_line(seeded: Project, tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "c.csv", b"external_key,last_name\n1,Smith\n2,M\xfcller\n")
    _fails(seeded, path, r"byte 0xfc on line 3 is not valid utf-8", encoding="utf-8")


def test_unknown_encoding_name(seeded: Project, tmp_path: Path) -> None:
    _fails(seeded, write_text(tmp_path / "c.csv", GOOD), "unknown encoding", encoding="klingon")


def test_unterminated_quote_names_the_line_where_the_record_starts(seeded: Project, tmp_path: Path) -> None:
    text = 'external_key,address_line1\n1,"fine"\n2,"never closed\n3,x\n4,y\n'
    _fails(seeded, write_text(tmp_path / "c.csv", text), r"unterminated quoted field.*starting on line 3")


def test_unterminated_quote_in_a_large_file(seeded: Project, tmp_path: Path) -> None:
    rows = "".join(f"{i},street {i}\n" for i in range(50_000))
    text = 'external_key,address_line1\n1,x\n2,"open\n' + rows
    _fails(seeded, write_text(tmp_path / "c.csv", text), r"unterminated quoted field.*starting on line 3")


def test_text_after_a_closing_quote_is_malformed(seeded: Project, tmp_path: Path) -> None:
    text = 'external_key,last_name\n1,Smith\n2,"O"Neil\n'
    _fails(seeded, write_text(tmp_path / "c.csv", text), r"malformed quoting on line 3")


def test_missing_required_key_column(seeded: Project, tmp_path: Path) -> None:
    error = _fails(seeded, write_text(tmp_path / "c.csv", "email,city\na@x.com,Paris\n"), "no column for external_key")
    assert isinstance(error, MissingColumnsError) and error.columns == ("external_key",)


def test_missing_key_suggests_a_misspelt_header(seeded: Project, tmp_path: Path) -> None:
    text = "Custmer ID,email\n1,a@x.com\n"
    _fails(seeded, write_text(tmp_path / "c.csv", text), r'"Custmer ID" \(looks like external_key\)')


def test_missing_required_consent_columns_are_all_listed(project: Project, tmp_path: Path) -> None:
    path = write_text(tmp_path / "consents.csv", "consent_event_id,external_key,channel\n1,2,email\n")
    with pytest.raises(MissingColumnsError) as caught:
        import_file(project, "consents", path)
    assert caught.value.columns == ("topic", "status", "occurred_at")
    assert landed(project, "consent_events") == []


def test_empty_file(seeded: Project, tmp_path: Path) -> None:
    _fails(seeded, write_bytes(tmp_path / "c.csv", b""), "the file is empty")


def test_blank_file(seeded: Project, tmp_path: Path) -> None:
    _fails(seeded, write_text(tmp_path / "c.csv", "\n \n\r\n"), "no header line")


def test_bom_only(seeded: Project, tmp_path: Path) -> None:
    _fails(seeded, write_bytes(tmp_path / "c.csv", b"\xef\xbb\xbf"), "no header line")


def test_no_header_row(seeded: Project, tmp_path: Path) -> None:
    text = "1,alice@example.com,Alice\n2,bob@example.com,Bob\n"
    _fails(seeded, write_text(tmp_path / "c.csv", text), "no header row.*looks like data")


def test_excel_workbook(seeded: Project, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    _fails(seeded, write_bytes(tmp_path / "c.xlsx", buffer.getvalue()), "Excel .xlsx")


def test_gzip(seeded: Project, tmp_path: Path) -> None:
    _fails(seeded, write_bytes(tmp_path / "c.csv.gz", gzip.compress(GOOD.encode())), "gzip")


def test_parquet_extension_without_parquet_content(seeded: Project, tmp_path: Path) -> None:
    _fails(seeded, write_text(tmp_path / "c.parquet", GOOD), "not a Parquet file")


def test_truncated_parquet(seeded: Project, tmp_path: Path) -> None:
    _fails(seeded, write_bytes(tmp_path / "c.parquet", b"PAR1" + b"\x00" * 20), "not a readable Parquet file")


def test_missing_file(seeded: Project, tmp_path: Path) -> None:
    _fails(seeded, tmp_path / "nope.csv", "no such file")


def test_two_equally_good_headers_for_one_column(seeded: Project, tmp_path: Path) -> None:
    text = "external_key,Mail,E-mail address\n1,a@x.com,b@x.com\n"
    _fails(seeded, write_text(tmp_path / "c.csv", text), "headers 'Mail' and 'E-mail address' both read as email")


def test_a_weaker_second_header_for_a_column_is_an_unknown_column(seeded: Project, tmp_path: Path) -> None:
    text = "external_key,Email,E-mail address\n1,a@x.com,b@x.com\n"
    _fails(seeded, write_text(tmp_path / "c.csv", text), 'email is already read from "Email"')


def test_ragged_rows_are_rejected_not_fatal(project: Project, tmp_path: Path) -> None:
    text = "external_key,email,city\n1,a@x.com,Paris\n2,b@x.com\n3,c@x.com,Rome,extra\n4,d@x.com,Oslo\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (4, 2, 2)
    assert report.rejects_path is not None
    rejects = report.rejects_path.read_text(encoding="utf-8-sig").splitlines()
    assert rejects[1] == "3,row: 2 fields where the header has 3,2,b@x.com"
    assert rejects[2] == "4,row: 4 fields where the header has 3,3,c@x.com,Rome,extra"


def test_a_table_the_project_reads_from_its_own_relation_is_not_imported(seeded: Project, tmp_path: Path) -> None:
    """vars.herald_sources points the build at the team's own customers model: a file landed for contacts would
    never be read, so the import says where the data is read from instead, and lands nothing."""
    root = tmp_path / "own"
    root.mkdir()
    (root / "dbt_project.yml").write_text(
        "name: acme\nvars:\n  herald_sources:\n    crm_contacts:\n      model: customers\n", encoding="utf-8"
    )
    project = Project(root=root, warehouse_dir=seeded.warehouse_dir)
    error = _fails(project, write_text(tmp_path / "c.csv", GOOD), "crm_contacts is read from model:customers")
    assert "nothing was imported" in str(error)
    # Another kind still lands as before.
    consents = (
        "consent_event_id,external_key,channel,topic,status,occurred_at\nE1,1,email,newsletter,opt_in,2026-01-01\n"
    )
    assert import_file(project, "consents", write_text(tmp_path / "k.csv", consents)).rows_inserted == 1
