"""Inserts vs updates against the landing zone, and contacts completed from their current record."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from herald import landing
from herald.importing import import_file
from herald.project import Project
from herald.raw_schema import CRM_CONTACTS
from tests.importing.helpers import landed, landed_files, latest, write_text

FULL = (
    "external_key,first_name,last_name,email,country_code,birth_date,attributes\n"
    '1,Ann,Lee,ann@example.com,FR,1990-01-31,"{""tier"": ""gold"", ""score"": ""1""}"\n'
    "2,Bob,Ray,bob@example.com,DE,1985-05-05,\n"
)


def test_keys_already_landed_count_as_updates(project: Project, tmp_path: Path) -> None:
    first = import_file(project, "profiles", write_text(tmp_path / "a.csv", FULL))
    assert (first.rows_inserted, first.rows_updated) == (2, 0)
    second = import_file(
        project, "profiles", write_text(tmp_path / "b.csv", "external_key,email\n2,b2@x.com\n3,c@x.com\n")
    )
    assert (second.rows_read, second.rows_inserted, second.rows_updated, second.rows_rejected) == (2, 1, 1, 0)
    assert len(landed_files(project, "crm_contacts")) == 2


def test_a_partial_file_does_not_wipe_the_other_columns(project: Project, tmp_path: Path) -> None:
    import_file(project, "profiles", write_text(tmp_path / "a.csv", FULL))
    import_file(
        project, "profiles", write_text(tmp_path / "b.csv", "Customer ID,E-mail\n1,ann@new.example\n3,c@x.com\n")
    )
    rows = latest(project, "crm_contacts", "external_key")
    ann = rows["1"]
    assert (ann["email"], ann["first_name"], ann["last_name"], ann["country_code"], str(ann["birth_date"])) == (
        "ann@new.example",
        "Ann",
        "Lee",
        "FR",
        "1990-01-31",
    )
    assert json.loads(ann["attributes"]) == {"tier": "gold", "score": "1"}
    assert ann["_source_file"] == "b.csv" and ann["_line_number"] == 2
    assert (rows["3"]["email"], rows["3"]["first_name"]) == ("c@x.com", None)
    assert rows["2"]["_source_file"] == "a.csv"  # untouched


def test_an_empty_cell_in_a_column_the_file_has_clears_the_value(project: Project, tmp_path: Path) -> None:
    import_file(project, "profiles", write_text(tmp_path / "a.csv", FULL))
    import_file(project, "profiles", write_text(tmp_path / "b.csv", "external_key,first_name,email\n1,,a@x.com\n"))
    ann = latest(project, "crm_contacts", "external_key")["1"]
    assert (ann["first_name"], ann["last_name"]) == (None, "Lee")


def test_the_latest_record_is_the_one_completed_from(project: Project, tmp_path: Path) -> None:
    # Two rows for one key in one batch (another writer), then two more batches: the last of them wins.
    same_batch = pa.table({"external_key": ["1", "1"], "city": ["Lyon", "Nice"], "_line_number": [1, 2]})
    landing.land_batch(project, CRM_CONTACTS, same_batch, source_file="demo")
    import_file(project, "profiles", write_text(tmp_path / "b.csv", "external_key,first_name\n1,Ann\n"))
    rows = latest(project, "crm_contacts", "external_key")
    assert (rows["1"]["city"], rows["1"]["first_name"]) == ("Nice", "Ann")
    import_file(project, "profiles", write_text(tmp_path / "c.csv", "external_key,city\n1,Paris\n"))
    import_file(project, "profiles", write_text(tmp_path / "d.csv", "external_key,last_name\n1,Lee\n"))
    final = latest(project, "crm_contacts", "external_key")["1"]
    assert (final["first_name"], final["city"], final["last_name"]) == ("Ann", "Paris", "Lee")


def test_folded_attributes_merge_into_the_current_ones(project: Project, tmp_path: Path) -> None:
    import_file(project, "profiles", write_text(tmp_path / "a.csv", FULL))
    text = "external_key,Score,Tier,Segment\n1,2,,vip\n2,5,,\n"
    import_file(project, "profiles", write_text(tmp_path / "b.csv", text), unknown_columns="attributes")
    rows = latest(project, "crm_contacts", "external_key")
    # The file's value wins, an empty cell removes the key, keys the file does not have stay.
    assert json.loads(rows["1"]["attributes"]) == {"score": "2", "segment": "vip"}
    assert json.loads(rows["2"]["attributes"]) == {"score": "5"}
    assert rows["1"]["first_name"] == "Ann"


def test_folded_attributes_merge_into_a_given_attributes_column(project: Project, tmp_path: Path) -> None:
    text = 'external_key,attributes,Tier\n1,"{""a"": 1}",gold\n'
    import_file(project, "profiles", write_text(tmp_path / "a.csv", text), unknown_columns="attributes")
    assert json.loads(latest(project, "crm_contacts", "external_key")["1"]["attributes"]) == {"a": 1, "tier": "gold"}


def test_defaults_are_for_new_contacts_not_existing_values(project: Project, tmp_path: Path) -> None:
    import_file(project, "profiles", write_text(tmp_path / "a.csv", FULL))
    mapping = write_text(tmp_path / "m.yml", "defaults:\n  country_code: IT\n")
    import_file(project, "profiles", write_text(tmp_path / "b.csv", "external_key\n1\n9\n"), mapping_path=mapping)
    rows = latest(project, "crm_contacts", "external_key")
    assert (rows["1"]["country_code"], rows["9"]["country_code"]) == ("FR", "IT")


def test_other_tables_land_rows_as_given(project: Project, tmp_path: Path) -> None:
    orders = "order_id,external_key,total_amount,ordered_at\nO1,1,10,2024-01-01\n"
    import_file(project, "orders", write_text(tmp_path / "a.csv", orders))
    report = import_file(
        project, "orders", write_text(tmp_path / "b.csv", "order_id,external_key,ordered_at\nO1,1,2024-01-02\n")
    )
    assert (report.rows_inserted, report.rows_updated) == (0, 1)
    rows = landed(project, "shop_orders")
    assert [r["total_amount"] for r in rows] == [10.0, None]


def test_importing_the_same_file_again_is_all_updates_and_warns(project: Project, tmp_path: Path) -> None:
    source = write_text(tmp_path / "a.csv", FULL)
    first = import_file(project, "profiles", source)
    again = import_file(project, "profiles", source)
    assert (again.rows_inserted, again.rows_updated) == (0, 2)
    assert f"this file was imported into crm_contacts before (batch {first.batch_id})" in again.warnings
