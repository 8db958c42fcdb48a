"""A realistic volume: counts must add up exactly at 200,000 rows (timing lives in bench/bench_import.py)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from herald.importing import import_file
from herald.project import Project
from tests.importing.helpers import landed_files, read_rejects

ROWS = 200_000


def _contacts(path: Path) -> None:
    lines = ["Customer ID;Vorname;E-Mail;Land;Geburtsdatum;Betrag;Notiz;Tier"]
    for i in range(ROWS):
        email = f"user{i}@example.com" if i % 100 else "broken@"  # 2,000 bad emails
        key = f"K{i % 199_000}"  # 1,000 keys appear twice: the later row wins
        note = '"two\nlines"' if i % 1000 == 0 else "ok"  # a quoted newline every 1,000 rows
        lines.append(f"{key};Zoë;{email};{'DE' if i % 2 else 'Österreich'};{1 + i % 28:02d}.{1 + i % 12:02d}.1980;"
                     f"1 234,5;{note};{'gold' if i % 3 else ''}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_two_hundred_thousand_contacts(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    _contacts(source)
    report = import_file(project, "profiles", source, unknown_columns="attributes")
    # Keys K0..K998 appear at rows i and i + 199,000; every 100th row has a bad email.
    bad = ROWS // 100
    duplicates_superseded = sum(1 for i in range(1_000) if i % 100 and (i + 199_000) % 100)
    assert report.rows_read == ROWS
    assert report.rows_rejected == bad + duplicates_superseded
    assert report.rows_inserted == ROWS - report.rows_rejected and report.rows_updated == 0
    (batch,) = landed_files(project, "crm_contacts")
    con = duckdb.connect()
    count, keys, countries, max_line = con.execute(
        "select count(*), count(distinct external_key), list(distinct country_code order by country_code), "
        "max(_line_number) from read_parquet(?)",
        [str(batch)],
    ).fetchone()  # type: ignore[misc]
    assert (count, keys, countries) == (report.rows_inserted, report.rows_inserted, ["AT", "DE"])
    # 200 quoted values span two lines each, so the last record starts 200 lines further down.
    assert max_line == ROWS + 1 + ROWS // 1000
    assert report.rejects_path is not None
    rejects = read_rejects(report.rejects_path, ";")
    assert len(rejects) == 1 + report.rows_rejected
    first_bad = {int(r[0]): r[1] for r in rejects[1:]}
    assert first_bad[2] == 'email: "broken@" is not an email address: there must be something after the @-sign'
    sample = con.execute(
        "select attributes, birth_date::varchar, country_code from read_parquet(?) where external_key = 'K1001'",
        [str(batch)],
    ).fetchone()
    assert sample is not None
    assert json.loads(sample[0]) == {"betrag": "1 234,5", "notiz": "ok", "tier": "gold"}
    assert sample[1:] == ("1980-06-22", "DE")
