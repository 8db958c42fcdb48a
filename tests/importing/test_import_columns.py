"""Header matching, mapping files and unknown columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from herald.errors import ImportFileError
from herald.importing import ColumnMatch, import_file
from herald.importing.errors import MappingFileError, UnknownColumnsError
from herald.importing.headers import SYNONYMS, match_columns, normalize_header, synonym_index
from herald.importing.kinds import KIND_TABLES
from herald.project import Project
from tests.importing.helpers import landed, latest, snapshot, write_text


def test_headers_match_exactly_or_by_synonym(project: Project, tmp_path: Path) -> None:
    text = (
        "Customer ID;E-mail Address;Prénom;Family name;Phone number;PLZ;Country;lang;Date of birth\n"
        "K-1;ann@example.com;Ann;Lee;+33 6 12 34 56 78;75001;France;FR-fr;1990-01-31\n"
    )
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert report.matches == (
        ColumnMatch("Customer ID", "external_key", "synonym"),
        ColumnMatch("E-mail Address", "email", "synonym"),
        ColumnMatch("Prénom", "first_name", "synonym"),
        ColumnMatch("Family name", "last_name", "synonym"),
        ColumnMatch("Phone number", "phone", "synonym"),
        ColumnMatch("PLZ", "postal_code", "synonym"),
        ColumnMatch("Country", "country_code", "synonym"),
        ColumnMatch("lang", "language_code", "synonym"),
        ColumnMatch("Date of birth", "birth_date", "synonym"),
    )
    row = latest(project, "crm_contacts", "external_key")["K-1"]
    assert (row["country_code"], row["language_code"], str(row["birth_date"])) == ("FR", "fr", "1990-01-31")


def test_exact_names_ignore_case_spaces_punctuation_and_accents(project: Project, tmp_path: Path) -> None:
    text = "EXTERNAL KEY,First-Name,e_mail,Póstal Code\n1,Ann,a@x.com,75001\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text))
    assert [(m.column, m.method) for m in report.matches] == [
        ("external_key", "exact"),
        ("first_name", "exact"),
        ("email", "exact"),
        ("postal_code", "exact"),
    ]


def test_bare_id_means_the_tables_own_key() -> None:
    assert synonym_index(KIND_TABLES["profiles"])["id"] == "external_key"
    assert synonym_index(KIND_TABLES["orders"])["id"] == "order_id"
    assert synonym_index(KIND_TABLES["order_lines"])["id"] == "order_line_id"
    assert synonym_index(KIND_TABLES["consents"])["id"] == "consent_event_id"


def test_every_synonym_names_a_real_column_and_no_synonym_is_ambiguous() -> None:
    every_column = {c for t in KIND_TABLES.values() for c in t.column_names}
    assert set(SYNONYMS) <= every_column
    for table in KIND_TABLES.values():
        seen: dict[str, str] = {}
        for column in table.column_names:
            for synonym in SYNONYMS.get(column, ()):
                key = normalize_header(synonym)
                if key in {normalize_header(c) for c in table.column_names}:
                    continue
                assert seen.setdefault(key, column) == column, f"{table.name}: {synonym!r} is ambiguous"


def test_unknown_columns_are_an_error_with_suggestions(project: Project, tmp_path: Path) -> None:
    text = "external_key,Emial,Loyalty Tier\n1,a@x.com,gold\n"
    path = write_text(tmp_path / "c.csv", text)
    with pytest.raises(UnknownColumnsError) as caught:
        import_file(project, "profiles", path)
    error = caught.value
    assert error.columns == ("Emial", "Loyalty Tier")
    assert error.suggestions == {"Emial": "email"}
    message = str(error)
    assert '"Emial" (did you mean email?)' in message and '"Loyalty Tier"' in message
    assert "unknown_columns='ignore'" in message and "'attributes'" in message
    assert snapshot(project) == []


def test_unknown_columns_can_be_ignored(project: Project, tmp_path: Path) -> None:
    text = "external_key,Loyalty Tier,Score\n1,gold,7\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text), unknown_columns="ignore")
    assert (report.unmatched, report.unmatched_action) == (("Loyalty Tier", "Score"), "ignore")
    assert latest(project, "crm_contacts", "external_key")["1"]["attributes"] is None


def test_unknown_columns_fold_into_attributes(project: Project, tmp_path: Path) -> None:
    text = 'external_key,Loyalty Tier,Préférence "A",empty\n1,gold,oui,\n2,,non,\n'
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text), unknown_columns="attributes")
    assert report.unmatched_action == "attributes"
    rows = latest(project, "crm_contacts", "external_key")
    assert json.loads(rows["1"]["attributes"]) == {"loyalty_tier": "gold", "preference_a": "oui"}
    assert json.loads(rows["2"]["attributes"]) == {"preference_a": "non"}


def test_attributes_apply_to_profiles_only(project: Project, tmp_path: Path) -> None:
    path = write_text(tmp_path / "o.csv", "order_id,external_key,ordered_at,gift\n1,2,2024-01-01,yes\n")
    with pytest.raises(ImportFileError, match="profiles only"):
        import_file(project, "orders", path, unknown_columns="attributes")


def test_headers_that_fold_to_the_same_attribute_key(project: Project, tmp_path: Path) -> None:
    path = write_text(tmp_path / "c.csv", "external_key,Tier,TIER\n1,a,b\n")
    with pytest.raises(ImportFileError, match='would both be attribute "tier"'):
        import_file(project, "profiles", path, unknown_columns="attributes")


def test_mapping_file_columns_date_order_and_defaults(project: Project, tmp_path: Path) -> None:
    mapping = write_text(
        tmp_path / "crm.yml",
        "columns:\n  external_key: Kundennr.\n  email: E-Mail (geschäftlich)\n  birth_date: Geb\n"
        "date_order: mdy\ndefaults:\n  country_code: de\n  language_code: German\n",
    )
    text = "Kundennr.;E-Mail (geschäftlich);Geb;Country\n7;x@y.de;03/04/1990;\n8;z@y.de;12/31/1980;AT\n"
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", text), mapping_path=mapping)
    assert [(m.source, m.column, m.method) for m in report.matches] == [
        ("Kundennr.", "external_key", "mapping"),
        ("E-Mail (geschäftlich)", "email", "mapping"),
        ("Geb", "birth_date", "mapping"),
        ("Country", "country_code", "synonym"),
    ]
    rows = latest(project, "crm_contacts", "external_key")
    assert str(rows["7"]["birth_date"]) == "1990-03-04"  # month first, as the mapping says
    assert (rows["7"]["country_code"], rows["8"]["country_code"]) == ("DE", "AT")  # default fills the empty cell
    assert rows["7"]["language_code"] == rows["8"]["language_code"] == "de"  # default for an absent column


def test_mapping_header_match_tolerates_case(project: Project, tmp_path: Path) -> None:
    mapping = write_text(tmp_path / "m.yml", "columns:\n  external_key: kundennr\n")
    report = import_file(project, "profiles", write_text(tmp_path / "c.csv", "KundenNr\n1\n"), mapping_path=mapping)
    assert report.matches == (ColumnMatch("KundenNr", "external_key", "mapping"),)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("columns:\n  emial: Mail\n", "'emial' is not a column of crm_contacts; did you mean email"),
        ("columns:\n  email: Courriel\n", "reads email from 'Courriel', which is not a column of the file"),
        ("colums:\n  email: Mail\n", "unknown key"),
        ("date_order: european\n", "date_order must be one of"),
        ("defaults:\n  country_code: Narnia\n", 'country_code: "Narnia" is not a known country'),
        ("defaults:\n  external_key: x\n", "cannot have a default"),
        ("columns: [a, b]\n", "must map raw column names"),
        ("columns:\n  email: [\n", "not valid YAML"),
        ("- just a list\n", "a mapping file is a YAML object"),
    ],
)
def test_mapping_file_errors(project: Project, tmp_path: Path, mapping: str, message: str) -> None:
    path = write_text(tmp_path / "m.yml", mapping)
    source = write_text(tmp_path / "c.csv", "external_key,Mail\n1,a@x.com\n")
    with pytest.raises(MappingFileError, match=message.replace("(", r"\(").replace("[", r"\[")):
        import_file(project, "profiles", source, mapping_path=path)
    assert landed(project, "crm_contacts") == []


def test_defaults_supply_required_consent_columns(project: Project, tmp_path: Path) -> None:
    mapping = write_text(tmp_path / "m.yml", "defaults:\n  channel: email\n  topic: newsletter\n")
    text = "consent_event_id,customer id,status,date\nc1,1,subscribed,2024-05-01T10:00:00+02:00\n"
    report = import_file(project, "consents", write_text(tmp_path / "c.csv", text), mapping_path=mapping)
    assert report.rows_inserted == 1
    row = landed(project, "consent_events")[0]
    assert (row["channel"], row["topic"], row["status"], str(row["occurred_at"])) == (
        "email",
        "newsletter",
        "opt_in",
        "2024-05-01 08:00:00",
    )


def test_match_columns_reports_blank_headers() -> None:
    plan = match_columns(Path("x.csv"), ("external_key", "", "city"), KIND_TABLES["profiles"])
    assert plan.blank == (1,) and plan.unmatched == ()
