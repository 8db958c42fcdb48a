"""Issue 19.2, end to end: international addresses survive the import and a real dbt build on DuckDB, and every
address the policy refuses is counted where the user looks (the import summary, contact_email_problems)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from herald import landing, warehouse
from herald.build import build
from herald.emails import check_email
from herald.importing import import_file
from herald.project import Project
from herald.raw_schema import CRM_CONTACTS
from tests.conftest import dbt_unit_tests
from tests.importing.helpers import read_rejects, write_text

INTERNATIONAL = [
    "zoë.6@example.com",
    "Stanisław.Wójcik@Example.com",
    "françois.müller@bücher.de",
    "josé.garcía@correo.es",
    "ñandú@example.org",
    "søren.kierkegård@example.dk",
    "şükrü.çelik@örnek.com.tr",
    "иван.петров@пример.рф",
    "用户@例子.广告",
    "θεόδωρος@παράδειγμα.ελ",
    "a@xn--bcher-kva.example",  # Punycode: stored as Unicode, a@bücher.example
]
REFUSED = {
    "l" * 65 + "@example.com": "too long before the @-sign",
    "a@" + "d" * 64 + ".com": "periods cannot be separated by so many characters",
    "l" * 64 + "@" + ".".join(["a" * 63, "b" * 63, "c" * 58]) + ".com": "too long",
    "ann@shop.invalid": "special-use or reserved name",
    "ann@printer.local": "special-use or reserved name",
    "ann@box.localhost": "special-use or reserved name",
    "ann@hidden.onion": "special-use or reserved name",
    "ann@example.test": "special-use or reserved name",
    "ann@1.in-addr.arpa": "special-use or reserved name",
}


def _contacts_file(path: Path) -> Path:
    lines = ["Customer ID,E-Mail,Vorname"]
    plain = [f"kunde{i}@example.com" for i in range(40)]
    for i, email in enumerate([*INTERNATIONAL, *plain, *REFUSED]):
        lines.append(f"K{i:03d},{email},Name{i}")
    return write_text(path, "\n".join(lines) + "\n")


@pytest.mark.slow
def test_international_addresses_survive_import_and_build(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "profiles", _contacts_file(tmp_path / "contacts.csv"))
    assert (report.rows_inserted, report.rows_rejected) == (len(INTERNATIONAL) + 40, len(REFUSED))
    # The summary a user reads counts and explains every refused address, naming the column and the value.
    assert report.rejects_path is not None
    reasons = {row[3]: row[1] for row in read_rejects(report.rejects_path)[1:]}
    assert set(reasons) == set(REFUSED)
    for value, why in REFUSED.items():
        assert reasons[value].startswith(f'email: "{value[:20]}') and why in reasons[value]
        assert "is not an email address" in reasons[value]
    assert any("normalized form" in w for w in report.warnings)  # Stanisław.Wójcik@Example.com was lower-cased

    # A contact landed by another path (demo seeds, `herald generate`) is judged by the warehouse's copy of the
    # policy: kept without an email, and listed with the reason.
    raw = pa.table({
        "external_key": ["G1", "G2", "G3", "G4"],
        "email": ["bob@", "  Zoë@Example.COM ", "ann@example.test", "fischer@gmail"],
    })  # fmt: skip
    landing.land_batch(project, CRM_CONTACTS, raw, source_file="generated.parquet")

    with dbt_unit_tests():  # includes emails_follow_the_shared_policy over the shared vectors
        build(project, quiet=True)

    con = warehouse.connect(project)
    try:
        emails = dict(con.execute("select external_key, email from profiles").fetchall())
        valid = dict(con.execute("select external_key, is_email_valid from profiles").fetchall())
        problems = {
            key: (typed, problem)
            for key, typed, problem in con.execute(
                "select external_key, email_as_typed, email_problem from contact_email_problems"
            ).fetchall()
        }
    finally:
        con.close()
    for i, value in enumerate(INTERNATIONAL):
        key = f"K{i:03d}"
        assert emails[key] == check_email(value).normalized and valid[key] is True, (value, emails.get(key))
    assert emails["K010"] == "a@bücher.example"
    assert emails["G2"] == "zoë@example.com"
    # 0 silent drops: every contact without a usable address but with a value is listed, with its reason.
    silent = [k for k, e in emails.items() if e is None and k not in problems]
    assert silent == []
    assert set(problems) == {"G1", "G3", "G4"}
    assert problems["G3"] == ("ann@example.test", "uses a special-use or reserved domain")
    assert problems["G1"][1] == "needs exactly one @-sign with text before and after it"
