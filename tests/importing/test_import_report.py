"""The report is a value that always adds up; options are checked before any file is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.importing import ColumnMatch, ImportReport, import_file
from herald.project import Project


def _report(**changes: object) -> ImportReport:
    values: dict[str, object] = {
        "kind": "profiles",
        "table": "crm_contacts",
        "source_file": Path("c.csv"),
        "source_sha256": "0" * 64,
        "batch_id": "20260101T000000000000Z-abcd",
        "rows_read": 10,
        "rows_inserted": 6,
        "rows_updated": 3,
        "rows_rejected": 1,
        "rejects_path": Path("c.rejects.csv"),
        "file_format": "csv",
        "encoding": "utf-8",
        "delimiter": "\t",
        "matches": (ColumnMatch("Customer ID", "external_key", "synonym"),),
        "unmatched": ("Tier",),
        "unmatched_action": "ignore",
        "warnings": ("1 blank line(s) skipped",),
    }
    values.update(changes)
    return ImportReport(**values)  # type: ignore[arg-type]


def test_summary() -> None:
    assert _report().summary().splitlines() == [
        "c.csv -> crm_contacts (batch 20260101T000000000000Z-abcd)",
        "  read = inserted + updated + rejected: 10 = 6 + 3 + 1",
        "  rejects: c.rejects.csv",
        "  read as CSV, encoding utf-8, delimiter tab",
        '  column "Customer ID" -> external_key (synonym)',
        '  ignored: "Tier"',
        "  warning: 1 blank line(s) skipped",
    ]


def test_counts_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(ValueError, match="do not add up"):
        _report(rows_read=11)
    with pytest.raises(ValueError, match="negative"):
        _report(rows_inserted=-1, rows_updated=10)


def test_a_batch_exactly_when_rows_landed() -> None:
    with pytest.raises(ValueError, match="exactly when"):
        _report(batch_id=None)
    with pytest.raises(ValueError, match="exactly when"):
        _report(rows_inserted=0, rows_updated=0, rows_rejected=10)


def test_reports_are_frozen_values() -> None:
    report = _report()
    assert report == _report()
    with pytest.raises(AttributeError):
        report.rows_read = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "invoices"}, "unknown import kind"),
        ({"date_order": "european"}, "date_order must be one of"),
        ({"unknown_columns": "drop"}, "unknown_columns must be one of"),
    ],
)
def test_bad_options(project: Project, tmp_path: Path, options: dict[str, str], message: str) -> None:
    kind = options.pop("kind", "profiles")
    with pytest.raises(ValueError, match=message):
        import_file(project, kind, tmp_path / "missing.csv", **options)  # type: ignore[arg-type]
