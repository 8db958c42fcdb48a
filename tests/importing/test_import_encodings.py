"""Encodings and delimiters: what real exports look like, detected without being told."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.importing import import_file
from herald.project import Project
from tests.importing.helpers import latest, write_bytes, write_text

NAMES = "external_key,first_name,last_name,city\r\n1,Zoë,Müller,Köln\r\n2,José,Gärtner,Málaga\r\n"


def _names(project: Project) -> dict[str, tuple[str, str, str]]:
    rows = latest(project, "crm_contacts", "external_key")
    return {k: (r["first_name"], r["last_name"], r["city"]) for k, r in rows.items()}


EXPECTED = {"1": ("Zoë", "Müller", "Köln"), "2": ("José", "Gärtner", "Málaga")}


def test_utf8_without_bom(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", NAMES))
    assert (report.encoding, report.delimiter, report.warnings) == ("utf-8", ",", ())
    assert _names(project) == EXPECTED


def test_utf8_with_bom_does_not_leak_into_the_first_header(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", NAMES, "utf-8-sig"))
    assert report.encoding == "utf-8-sig"
    assert report.matches[0].source == "external_key" and report.matches[0].method == "exact"
    assert _names(project) == EXPECTED


def test_latin1_falls_back_and_says_so(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", NAMES, "latin-1"))
    assert report.encoding == "cp1252"
    assert any("not valid UTF-8" in w and "line 2" in w for w in report.warnings)
    assert _names(project) == EXPECTED


def test_cp1252_specific_characters(project: Project, tmp_path: Path) -> None:
    text = "external_key,last_name\n1,O’Brien – “Ltd” €\n"
    import_file(project, "profiles", write_text(tmp_path / "c.csv", text, "cp1252"))
    assert latest(project, "crm_contacts", "external_key")["1"]["last_name"] == "O’Brien – “Ltd” €"


def test_bytes_undefined_in_cp1252_are_read_as_latin1(project: Project, tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "c.csv", b"external_key,last_name\n1,M\xfcller\x81\n")
    report = import_file(project, "profiles", path)
    assert report.encoding == "latin-1"
    assert latest(project, "crm_contacts", "external_key")["1"]["last_name"] == "Müller\x81"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_and_without_bom(project: Project, tmp_path: Path, encoding: str) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", NAMES, encoding))
    assert report.encoding is not None and report.encoding.startswith("utf-16")
    assert _names(project) == EXPECTED


def test_explicit_encoding_is_used(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", NAMES, "latin-1"), encoding="latin-1")
    assert report.encoding == "latin-1" and report.warnings == ()
    assert _names(project) == EXPECTED


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")])
def test_delimiter_is_sniffed(project: Project, tmp_path: Path, delimiter: str, name: str) -> None:
    # The address holds the other candidates, quoted, so only real parsing finds the right one.
    rows = [["external_key", "address_line1", "city"], ["1", '"Rue A, 3; bis|x"', "Paris"], ["2", "Main St", "Rome"]]
    text = "".join(delimiter.join(r) + "\n" for r in rows)
    report = import_file(project, "profiles", write_text(tmp_path / f"{name}.csv", text))
    assert report.delimiter == delimiter
    assert latest(project, "crm_contacts", "external_key")["1"]["address_line1"] == "Rue A, 3; bis|x"


def test_delimiter_can_be_given(project: Project, tmp_path: Path) -> None:
    text = "external_key;city\n1;Paris, France\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.txt", text), delimiter="semicolon")
    assert report.delimiter == ";"
    assert latest(project, "crm_contacts", "external_key")["1"]["city"] == "Paris, France"


def test_quoted_fields_with_newlines_quotes_and_crlf(project: Project, tmp_path: Path) -> None:
    text = (
        "external_key,address_line1,last_name\r\n"
        '1,"12 Main St\r\nFlat 3","O""Neil"\r\n'
        '2,"line one\nline two\nline three","Smith"\r\n'
    )
    import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    rows = latest(project, "crm_contacts", "external_key")
    assert rows["1"]["address_line1"] == "12 Main St\r\nFlat 3"
    assert rows["1"]["last_name"] == 'O"Neil'
    assert rows["2"]["address_line1"] == "line one\nline two\nline three"
    # Physical line where each record starts: the header is line 1.
    assert (rows["1"]["_line_number"], rows["2"]["_line_number"]) == (2, 4)


def test_spreadsheet_trailing_delimiters_and_blank_lines(project: Project, tmp_path: Path) -> None:
    text = "external_key,city,\n1,Paris,\n\n,,\n2,Rome,,\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert (report.rows_read, report.rows_inserted, report.rows_rejected) == (2, 2, 0)
    assert "2 blank line(s) skipped" in report.warnings
    assert latest(project, "crm_contacts", "external_key")["2"]["_line_number"] == 5


def test_excel_separator_line(project: Project, tmp_path: Path) -> None:
    text = "sep=;\r\nexternal_key;city\r\n1;Paris, France\r\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text, "utf-8-sig"))
    assert report.delimiter == ";"
    row = latest(project, "crm_contacts", "external_key")["1"]
    assert (row["city"], row["_line_number"]) == ("Paris, France", 3)
