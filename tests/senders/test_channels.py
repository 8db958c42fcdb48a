"""Push and direct mail through the same job, ledger and renderer as email: one message per call against a strict
fake of FCM HTTP v1, and batched calls into Herald's print extraction. (SMS and in-app take the same two paths.)"""

from __future__ import annotations

import csv
import hashlib
import json

import pyarrow.parquet as pq
import pytest

from herald.project import Project
from senders import ledger
from senders.job import SendJob, load_run
from senders.options import SendOptions
from tests.fakes.fcm import FakeFcm
from tests.senders.conftest import LINK_SECRET, SendWorld

pytestmark = pytest.mark.slow

BASE_ENV = {"HERALD_LINK_SECRET": LINK_SECRET}


def _send(project: Project, run_id: str, env: dict[str, str]) -> tuple[dict[str, int], dict[str, ledger.Entry]]:
    summary = SendJob(project, run_id, SendOptions(concurrency=16), env={**BASE_ENV, **env}).run()
    assert summary.complete, summary
    return dict(summary.states), ledger.read_run(project, run_id)


def test_push_through_fcm_fails_an_unregistered_token_alone(
    send_world: SendWorld, channel_runs: dict[str, str], send_project: Project
) -> None:
    run_id = channel_runs["push_news"]
    _, recipients = load_run(send_project, run_id)
    dead = recipients[0].address
    with FakeFcm(project_id="shop-app", access_token="fcm-canary-token", unregistered={dead}) as fake:
        states, latest = _send(
            send_project,
            run_id,
            {
                "HERALD_FCM_PROJECT_ID": "shop-app",
                "HERALD_FCM_ACCESS_TOKEN": "fcm-canary-token",
                "HERALD_FCM_HOST": fake.url,
            },
        )
        assert fake.duplicates() == {}
        assert [r.error_code for r in fake.invalid_requests()] == ["UNREGISTERED"]  # the dead token, once
        assert fake.accepted_ids() == {m for m, e in latest.items() if e.state == "accepted"}
    gone = latest[recipients[0].message_id]
    assert gone.state == "failed" and "UNREGISTERED" in gone.reason
    assert states["accepted"] == len(recipients) - 1


def test_direct_mail_makes_one_checked_extraction(
    send_world: SendWorld, channel_runs: dict[str, str], send_project: Project
) -> None:
    run_id = channel_runs["letter"]
    states, latest = _send(send_project, run_id, {})
    accepted = sorted(m for m, e in latest.items() if e.state == "accepted")
    assert states.get("accepted") == len(accepted) > 0
    folder = send_project.warehouse_dir / "extracts" / run_id
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["row_count"] == len(accepted)
    for f in manifest["files"]:
        assert hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    [csv_name] = [f["name"] for f in manifest["files"] if f["name"].endswith(".csv")]
    with open(folder / csv_name, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["message_id"] for r in rows] == accepted
    parquet = pq.read_table(folder / csv_name.replace(".csv", ".parquet")).to_pylist()
    assert [r["message_id"] for r in parquet] == accepted
    assert all(r["address_line1"] and r["postal_code"] and r["city"] for r in rows)
    assert rows[0]["letter_text"].startswith("Dear ")
