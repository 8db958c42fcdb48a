"""Day-first or month-first: decided per column from the values, never guessed silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.importing import import_file
from herald.importing.errors import AmbiguousDatesError
from herald.project import Project
from tests.importing.helpers import latest, rejects_by_line, snapshot, write_text


def _births(project: Project) -> dict[str, str]:
    return {k: str(r["birth_date"]) for k, r in latest(project, "crm_contacts", "external_key").items()}


def test_a_value_only_day_first_can_read_decides_the_column(project: Project, tmp_path: Path) -> None:
    text = "external_key,birth_date\n1,03/04/1990\n2,25/12/1985\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert _births(project) == {"1": "1990-04-03", "2": "1985-12-25"}
    assert [(d.column, d.order) for d in report.date_orders] == [("birth_date", "dmy")]


def test_a_value_only_month_first_can_read_decides_the_column(project: Project, tmp_path: Path) -> None:
    text = "external_key,birth_date\n1,03/04/1990\n2,12/25/1985\n"
    import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert _births(project) == {"1": "1990-03-04", "2": "1985-12-25"}


def test_the_minority_order_is_rejected(project: Project, tmp_path: Path) -> None:
    text = "external_key,birth_date\n1,25/12/1985\n2,26/12/1985\n3,12/27/1985\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert report.rows_rejected == 1 and report.rejects_path is not None
    assert "1 that cannot are rejected" in report.date_orders[0].reason
    reason = 'birth_date: "12/27/1985" is not a valid date (read as dd/mm/yyyy)'
    assert rejects_by_line(report.rejects_path) == {4: reason}


def test_ambiguous_dates_stop_the_import_in_a_comma_file(project: Project, tmp_path: Path) -> None:
    text = "external_key,birth_date\n1,1990-01-01\n2,03/04/1990\n3,05/06/1991\n"
    with pytest.raises(AmbiguousDatesError) as caught:
        import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    error = caught.value
    assert (error.column, error.example, error.line_number) == ("birth_date", "03/04/1990", 3)
    assert "date_order='dmy' or 'mdy'" in str(error)
    assert snapshot(project) == []


def test_ambiguous_dates_in_a_semicolon_file_are_day_first(project: Project, tmp_path: Path) -> None:
    text = "external_key;birth_date\n1;03/04/1990\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert _births(project) == {"1": "1990-04-03"}
    assert "';'-delimited" in report.date_orders[0].reason


def test_ambiguous_column_follows_the_other_date_columns(project: Project, tmp_path: Path) -> None:
    text = "external_key,birth_date,created_at\n1,03/04/1990,12/31/2023 10:00\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert _births(project) == {"1": "1990-03-04"}
    assert {d.column: d.order for d in report.date_orders} == {"birth_date": "mdy", "created_at": "mdy"}


def test_values_the_same_in_both_orders_need_no_decision(project: Project, tmp_path: Path) -> None:
    text = "external_key,birth_date\n1,05/05/1990\n2,1991-02-03\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert _births(project) == {"1": "1990-05-05", "2": "1991-02-03"} and report.date_orders == ()


@pytest.mark.parametrize(("order", "expected"), [("dmy", "1990-04-03"), ("mdy", "1990-03-04")])
def test_an_explicit_order_wins(project: Project, tmp_path: Path, order: str, expected: str) -> None:
    text = "external_key,birth_date\n1,03/04/1990\n"
    import_file(project, "profiles", write_text(tmp_path / "c.csv", text), date_order=order)  # type: ignore[arg-type]
    assert _births(project) == {"1": expected}


def test_year_first_only_rejects_slashed_dates(project: Project, tmp_path: Path) -> None:
    text = "external_key,birth_date\n1,1990/04/03\n2,03/04/1990\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text), date_order="ymd")
    assert _births(project) == {"1": "1990-04-03"} and report.rows_rejected == 1


def test_spreadsheet_dates_and_excel_serials_in_one_file(project: Project, tmp_path: Path) -> None:
    text = (
        "external_key;birth_date;created_at\n"
        "1;32874;45366,5\n"  # Excel serials, with a European spreadsheet's decimal comma
        "2;31.12.1979;15.03.2024 14:05\n"
        "3;1985/07/09;2024-03-15T10:30:00+01:00\n"
        "4;12 Feb 1970;45366.75\n"
    )
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    rows = latest(project, "crm_contacts", "external_key")
    assert {k: str(r["birth_date"]) for k, r in rows.items()} == {
        "1": "1990-01-01",
        "2": "1979-12-31",
        "3": "1985-07-09",
        "4": "1970-02-12",
    }
    assert {k: str(r["created_at"]) for k, r in rows.items()} == {
        "1": "2024-03-15 12:00:00",
        "2": "2024-03-15 14:05:00",
        "3": "2024-03-15 09:30:00",
        "4": "2024-03-15 18:00:00",
    }
    assert (report.rows_inserted, report.rejects_path) == (4, None)


def test_excel_serials(project: Project, tmp_path: Path) -> None:
    text = "external_key,birth_date,created_at\n1,32874,45366.5\n"
    import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    row = latest(project, "crm_contacts", "external_key")["1"]
    assert (str(row["birth_date"]), str(row["created_at"])) == ("1990-01-01", "2024-03-15 12:00:00")
