"""SMS, push, in-app and direct mail through the same job, ledger and renderer as email: each channel's run is
sent once, against a strict fake of its provider (Twilio Messages, FCM HTTP v1) or into Herald's own inbox and
print extraction."""

from __future__ import annotations

import csv
import hashlib
import json

import pyarrow.parquet as pq
import pytest

from herald.project import Project
from senders import ledger
from senders.inbox import Inbox
from senders.job import SendJob, SendOptions, load_run
from tests.fakes.fcm import FakeFcm
from tests.fakes.twilio import FakeTwilio
from tests.senders.conftest import LINK_SECRET, SendWorld

pytestmark = pytest.mark.slow

BASE_ENV = {"HERALD_LINK_SECRET": LINK_SECRET}


def _send(project: Project, run_id: str, env: dict[str, str]) -> tuple[dict[str, int], dict[str, ledger.Entry]]:
    summary = SendJob(project, run_id, SendOptions(concurrency=16), env={**BASE_ENV, **env}).run()
    assert summary.complete, summary
    return dict(summary.states), ledger.read_run(project, run_id)


def test_sms_through_twilio(send_world: SendWorld, channel_runs: dict[str, str], send_project: Project) -> None:
    run_id = channel_runs["sms_promo"]
    _, recipients = load_run(send_project, run_id)
    with FakeTwilio(account_sid="AC" + "1" * 32, auth_token="tw-canary-token", from_numbers={"+15005550006"}) as fake:
        states, latest = _send(
            send_project,
            run_id,
            {
                "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
                "TWILIO_AUTH_TOKEN": "tw-canary-token",
                "HERALD_SMS_FROM": "+15005550006",
                "HERALD_TWILIO_HOST": fake.url,
                "HERALD_SMS_STATUS_CALLBACK": "https://hooks.shop.example/sms/status",
            },
        )
        assert fake.duplicates() == {} and fake.invalid_requests() == []
        assert fake.accepted_ids() == {m for m, e in latest.items() if e.state == "accepted"}
    assert len(recipients) > 500 and states.get("accepted", 0) >= 0.95 * len(recipients)
    assert all(e.provider_id.startswith("SM") for e in latest.values() if e.state == "accepted")


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


def test_in_app_messages_reach_each_profiles_inbox(
    send_world: SendWorld, channel_runs: dict[str, str], send_project: Project
) -> None:
    run_id = channel_runs["inapp_news"]
    _, recipients = load_run(send_project, run_id)
    states, _ = _send(send_project, run_id, {})
    assert states == {"accepted": len(recipients)}
    inbox = Inbox(send_project)
    someone = next(r for r in recipients if r.profile_id)
    [message] = [m for m in inbox.messages(someone.profile_id or "") if m.run_id == run_id]
    assert message.message_id == someone.message_id and message.title.startswith("Hello")
    inbox.record(someone.profile_id or "", message.message_id, "read")
    assert inbox.unread_count(someone.profile_id or "") == 0


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
