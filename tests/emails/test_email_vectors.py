"""The shared email vectors: herald/emails.py gives the verdict and stored form the warehouse's unit test
``emails_follow_the_shared_policy`` expects from the SQL macros, so Python and the warehouse agree."""

from __future__ import annotations

import csv

import pyarrow as pa
import pytest

from herald.emails import SPECIAL_USE_DOMAINS, check_email
from herald.importing.values import parse_email
from tests.conftest import ROOT

FIXTURES = ROOT / "dbt_project" / "tests" / "fixtures"
MACRO = ROOT / "dbt_project" / "macros" / "normalization" / "normalize_email.sql"


def _read(name: str) -> list[dict[str, str]]:
    with open(FIXTURES / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


GIVEN = {row["external_key"]: row["email"] for row in _read("email_vectors_given.csv")}
EXPECTED = {row["external_key"]: row for row in _read("email_vectors_expected.csv")}


def test_the_two_fixture_files_list_the_same_vectors() -> None:
    assert list(GIVEN) == list(EXPECTED) and len(GIVEN) > 50


@pytest.mark.parametrize("key", list(GIVEN))
def test_python_gives_the_warehouse_verdict(key: str) -> None:
    verdict = check_email(GIVEN[key], allow_test_domains=False)
    expected = EXPECTED[key]
    assert verdict.is_valid is (expected["is_email_valid"] == "true")
    assert (verdict.normalized or "") == expected["email"]
    assert key.startswith("valid_") is verdict.is_valid  # the name says which side a vector is on


def test_the_importer_gives_the_same_verdict_on_the_whole_column() -> None:
    parsed = parse_email("email", pa.array(list(GIVEN.values())))
    reasons = parsed.reasons.to_pylist() if parsed.reasons is not None else [None] * len(GIVEN)
    for key, stored, reason in zip(GIVEN, parsed.values.to_pylist(), reasons, strict=True):
        assert (stored or "") == EXPECTED[key]["email"], key
        assert (reason is None) is (EXPECTED[key]["is_email_valid"] == "true"), key


def test_every_special_use_domain_has_a_vector_and_is_in_the_macro() -> None:
    covered = {GIVEN[k].rsplit(".", 1)[-1].rsplit("@", 1)[-1] for k in GIVEN if k.startswith("invalid_special_")}
    assert set(SPECIAL_USE_DOMAINS) <= covered
    macro = MACRO.read_text(encoding="utf-8")
    for name in SPECIAL_USE_DOMAINS:
        assert f"'{name}'" in macro, name
