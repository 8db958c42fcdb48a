"""The direct-mail extraction: atomic parts, exact lookups, postal checks, and a finish that is idempotent."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import replace

import pyarrow.parquet as pq
import pytest

from herald.project import Project
from senders.errors import ProviderConfigError
from senders.providers.base import OutgoingMessage, RequestRejected
from senders.providers.direct_mail import COLUMNS, DirectMailProvider, ExtractError, extract_dir

RUN = "r20260101T000000000000Z-winter_letter"
DELIVERY = "winter_letter"

POSTAL = {
    "full_name": "Ann O'Neil",
    "address_line1": "1 Main Street",
    "address_line2": "",
    "postal_code": "75001",
    "city": "Paris",
    "country_code": "FR",
}


def letter(i: int, **data: str) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=f"m{i:04d}",
        run_id=RUN,
        recipient_id=f"P{i}",
        channel="direct_mail",
        address=POSTAL["address_line1"],
        text=f"Dear customer {i},\nour winter sale starts now.",
        data={**POSTAL, **data},
    )


@pytest.fixture
def provider(project: Project) -> DirectMailProvider:
    return DirectMailProvider(project, RUN, DELIVERY)


def test_send_writes_one_parquet_part_and_lookup_reads_it(project: Project, provider: DirectMailProvider) -> None:
    outcomes = provider.send([letter(2), letter(1)])
    assert [(o.status, o.provider_id) for o in outcomes] == [("accepted", "m0002-2.parquet")] * 2
    part = pq.read_table(extract_dir(project, RUN) / "parts" / "m0002-2.parquet")
    assert part.column_names == list(COLUMNS)
    assert part.to_pylist()[1] == {
        "message_id": "m0001",
        "recipient_id": "P1",
        **POSTAL,
        "letter_text": "Dear customer 1,\nour winter sale starts now.",
    }
    fresh = DirectMailProvider(project, RUN, DELIVERY)
    assert fresh.lookup(["m0001", "m0002", "m0003"]) == {"m0001": True, "m0002": True, "m0003": False}


def test_missing_postal_fields_fail_with_reason(provider: DirectMailProvider) -> None:
    required_only = {k: POSTAL[k] for k in ("address_line1", "postal_code", "city", "country_code")}
    outcomes = provider.send(
        [
            letter(1, city=""),
            replace(letter(2), data={k: v for k, v in POSTAL.items() if k != "postal_code"}),
            replace(letter(3), data={}),
            replace(letter(4), data=required_only),
            letter(5, country_code="  "),
        ]
    )
    assert [(o.status, o.reason) for o in outcomes] == [
        ("failed", "missing postal field: city"),
        ("failed", "missing postal field: postal_code"),
        ("failed", "missing postal fields: address_line1, postal_code, city, country_code"),
        ("accepted", ""),
        ("failed", "missing postal field: country_code"),
    ]
    assert provider.lookup(["m0001", "m0004"]) == {"m0001": False, "m0004": True}
    row = pq.read_table(provider.finish().parquet_path).to_pylist()[0]
    assert (row["full_name"], row["address_line2"]) == ("", "")  # optional fields: empty, never null


def test_a_call_holds_this_runs_letters_and_ids_must_be_file_names(project: Project) -> None:
    provider = DirectMailProvider(project, RUN, DELIVERY)
    with pytest.raises(RequestRejected, match="other_run"):
        provider.send([replace(letter(1), run_id="other_run")])
    with pytest.raises(ProviderConfigError, match="delivery id"):
        DirectMailProvider(project, RUN, "../x")


def test_an_unrenamed_part_is_invisible(project: Project, provider: DirectMailProvider) -> None:
    class Killed(BaseException):
        pass

    def die(*args: object) -> None:
        raise Killed

    provider.send([letter(1)])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "link", die)
        with pytest.raises(Killed):
            provider.send([letter(2)])
    parts = extract_dir(project, RUN) / "parts"
    # What a kill before the rename leaves: a finished part under its hidden temporary name.
    (parts / ".m0002-1.parquet.99.abcd.partial").write_bytes((parts / "m0001-1.parquet").read_bytes())
    assert DirectMailProvider(project, RUN, DELIVERY).lookup(["m0001", "m0002"]) == {"m0001": True, "m0002": False}
    assert provider.finish().row_count == 1


def test_send_again_writes_nothing_twice(project: Project, provider: DirectMailProvider) -> None:
    provider.send([letter(1), letter(2)])
    again = DirectMailProvider(project, RUN, DELIVERY).send([letter(2), letter(3), letter(3)])
    assert [o.provider_id for o in again] == ["m0001-2.parquet", "m0003-1.parquet", "m0003-1.parquet"]
    assert provider.finish().row_count == 3


def test_finish_writes_identical_csv_and_parquet_and_a_true_manifest(
    project: Project, provider: DirectMailProvider
) -> None:
    tricky = 'He said "hi", then left;\r\nline two — ünïcødé'
    provider.send([letter(3), letter(1, full_name=tricky)])
    provider.send([letter(2, address_line2="Apt 4, floor 2")])
    extract = provider.finish(RUN)
    folder = extract_dir(project, RUN)
    assert extract.csv_path == folder / f"{DELIVERY}-{RUN}.csv"
    assert extract.parquet_path == folder / f"{DELIVERY}-{RUN}.parquet"
    assert (extract.row_count, extract.part_count) == (3, 2)

    raw = extract.csv_path.read_bytes()
    assert raw.startswith(b"message_id,recipient_id,full_name,") and raw.endswith(b"\r\n")
    assert b'"He said ""hi"", then left;\r\nline two' in raw  # RFC 4180: quoted, quotes doubled
    csv_rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    parquet_rows = pq.read_table(extract.parquet_path).to_pylist()
    assert csv_rows == parquet_rows
    assert [r["message_id"] for r in parquet_rows] == ["m0001", "m0002", "m0003"]
    assert parquet_rows[0]["full_name"] == tricky

    manifest = json.loads(extract.manifest_path.read_text())
    assert manifest["run_id"] == RUN and manifest["delivery_id"] == DELIVERY
    assert manifest["row_count"] == 3 and manifest["columns"] == list(COLUMNS)
    for f in manifest["files"]:
        data = (folder / f["name"]).read_bytes()
        assert (f["bytes"], f["sha256"], f["rows"]) == (len(data), hashlib.sha256(data).hexdigest(), 3)
    assert sorted(f["name"] for f in manifest["files"]) == sorted([extract.csv_path.name, extract.parquet_path.name])


def test_finish_is_idempotent(project: Project, provider: DirectMailProvider) -> None:
    provider.send([letter(1), letter(2)])
    first = provider.finish()
    paths = (first.csv_path, first.parquet_path, first.manifest_path)
    before = [p.read_bytes() for p in paths]
    second = DirectMailProvider(project, RUN, DELIVERY).finish(RUN)
    assert second == first
    assert [p.read_bytes() for p in paths] == before  # the manifest too: it keeps the first created_at
    assert not [p for p in extract_dir(project, RUN).rglob(".*")]  # no temporary file left behind


def test_finish_refuses_another_row_count_unless_asked(project: Project, provider: DirectMailProvider) -> None:
    provider.send([letter(1)])
    first = provider.finish()
    provider.send([letter(2)])
    with pytest.raises(ExtractError, match="row_count=1 and its parts now hold 2 letters"):
        provider.finish()
    assert json.loads(first.manifest_path.read_text())["row_count"] == 1
    replaced = provider.finish(overwrite=True)
    assert replaced.row_count == 2
    assert json.loads(replaced.manifest_path.read_text())["row_count"] == 2
    with pytest.raises(ExtractError, match="not other"):
        provider.finish("other")


def test_finish_with_no_letters_writes_an_empty_extraction(provider: DirectMailProvider) -> None:
    extract = provider.finish()
    assert extract.row_count == 0
    assert extract.csv_path.read_bytes() == (",".join(COLUMNS) + "\r\n").encode()
    assert pq.read_table(extract.parquet_path).num_rows == 0
