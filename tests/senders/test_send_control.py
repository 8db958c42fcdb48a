"""Faults, operators and rules around a send: a storm of 429s, 5xx, timeouts and dropped connections; pause,
resume and cancel; send windows in the recipient's time zone; dry runs; refused runs."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from herald.project import Project
from senders import ledger
from senders.cli import format_summary
from senders.dispatch import RetryPolicy
from senders.errors import LedgerError, SendRefused
from senders.job import SendJob, load_run
from senders.options import SendOptions
from senders.pacing import SendWindow
from tests.fakes.sendgrid import FakeSendGrid
from tests.senders.conftest import SendWorld, sender_env

pytestmark = pytest.mark.slow

SETTLED = {"accepted", "failed", "unknown", "skipped"}


def test_a_fault_storm_ends_with_every_message_settled_and_none_sent_twice(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["bulk_email"]
    fake_sendgrid.retry_after = 1
    fake_sendgrid.timeout_hold = 1.5
    fake_sendgrid.storm(0.35, ("429", "500", "503", "timeout", "accept_drop"))
    env = {**sender_env(send_project, fake_sendgrid), "HERALD_SENDGRID_TIMEOUT": "1"}
    options = SendOptions(concurrency=4, max_batch=250, retry=RetryPolicy(base_delay=0.05, max_delay=0.5))
    summary = SendJob(send_project, run_id, options, env=env).run()

    assert set(summary.states) <= SETTLED and summary.complete, summary
    served = fake_sendgrid.stats()["faults_served"]
    assert {"429", "500", "503", "timeout", "accept_drop"} <= set(served), served
    events = summary.provider_events
    assert events["rate_limited"] >= 1 and events["transient"] >= 1 and events["ambiguous"] >= 1, events
    assert fake_sendgrid.duplicates() == {}
    latest = ledger.read_run(send_project, run_id)
    accepted = {m for m, e in latest.items() if e.state == "accepted"}
    unknown = {m for m, e in latest.items() if e.state == "unknown"}
    # Every ambiguous call was looked up: what was found is accepted; what Email Activity did not show (yet) stays
    # unknown until the settling time has passed, never sent again at once.
    assert accepted <= fake_sendgrid.accepted_ids() <= accepted | unknown
    report = format_summary(summary)
    assert "rate_limited" in report and "ambiguous" in report


def test_pause_stops_the_senders_and_resume_finishes_without_a_duplicate(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["logic_email"]
    env = sender_env(send_project, fake_sendgrid)
    fake_sendgrid.latency = 0.02
    _, recipients = load_run(send_project, run_id)

    def pause_soon() -> None:
        while len(fake_sendgrid.accepted_ids()) < 300:
            time.sleep(0.01)
        ledger.set_control(send_project, run_id, "paused", by="anna", reason="wrong link in the footer")

    pauser = threading.Thread(target=pause_soon)
    pauser.start()
    first = SendJob(send_project, run_id, SendOptions(concurrency=8), env=env).run()
    pauser.join()
    assert first.stopped.startswith("paused by anna: wrong link")
    assert first.states.get("pending", 0) > 0
    with pytest.raises(SendRefused, match="paused"):
        SendJob(send_project, run_id, env=env).run()

    ledger.set_control(send_project, run_id, "active", by="anna")
    second = SendJob(send_project, run_id, SendOptions(concurrency=8), env=env).run()
    assert second.complete and second.states == {"accepted": len(recipients)}
    assert fake_sendgrid.duplicates() == {}

    ledger.set_control(send_project, run_id, "cancelled", by="ben", reason="campaign withdrawn")
    with pytest.raises(LedgerError, match="cancelled"):
        ledger.set_control(send_project, run_id, "active", by="anna")
    with pytest.raises(SendRefused, match="cancelled"):
        SendJob(send_project, run_id, env=env).run()


def test_the_send_window_defers_recipients_outside_their_local_hours(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["bulk_email"]
    env = sender_env(send_project, fake_sendgrid)
    _, recipients = load_run(send_project, run_id)
    window = SendWindow.parse("09:00-18:00")
    noon_utc = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)  # 04:00 in Los Angeles, 21:00 in Tokyo
    summary = SendJob(send_project, run_id, SendOptions(send_window=window, now=lambda: noon_utc), env=env).run()
    sent = fake_sendgrid.accepted_ids()
    for r in recipients:
        inside = r.group == "seed" or window.allows(noon_utc, r.time_zone, "UTC")
        assert (r.message_id in sent) == inside, (r.time_zone, r.group)
    assert 0 < summary.states["pending"] < len(recipients)
    assert not summary.complete


def test_send_window_arithmetic() -> None:
    w = SendWindow.parse("21:00-08:00")  # across midnight
    at = dt.datetime(2026, 12, 3, 22, 30, tzinfo=dt.UTC)
    assert w.allows(at, "UTC", "UTC")
    assert w.allows(at, "Asia/Tokyo", "UTC")  # 07:30 the next morning
    assert not w.allows(at, "America/Los_Angeles", "UTC")  # 14:30
    assert w.allows(dt.datetime(2026, 12, 3, 20, 0, tzinfo=dt.UTC), "Europe/Paris", "UTC")  # 21:00 Paris
    assert w.allows(at, "No/Such_Zone", "UTC")  # an unknown zone falls back to the delivery's
    with pytest.raises(SendRefused, match="HH:MM-HH:MM"):
        SendWindow.parse("9 to 5")


def test_a_dry_run_validates_everything_in_sandbox_and_sends_nothing(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["bulk_email"]
    _, recipients = load_run(send_project, run_id)
    summary = SendJob(
        send_project, run_id, SendOptions(dry_run=True, sandbox=True), env=sender_env(send_project, fake_sendgrid)
    ).run()
    assert summary.dry_run and summary.states == {"valid": len(recipients)}
    stats = fake_sendgrid.stats()
    assert stats["messages"] == 0 and stats["sandbox_requests"] > 0 and stats["invalid_requests"] == 0
    assert not ledger.run_dir(send_project, run_id).exists() or not ledger.read_run(send_project, run_id)


def test_a_run_that_may_not_be_sent_is_refused(send_world: SendWorld, send_project: Project) -> None:
    with pytest.raises(Exception, match="no prepared run"):
        SendJob(send_project, "r00000000T000000000000Z-nothing", env={}).run()
    # The link secret is required for a real send: links must be signed.
    run_id = send_world.runs["bulk_email"]
    with pytest.raises(Exception, match="HERALD_LINK_SECRET"):
        SendJob(send_project, run_id, env={"SENDGRID_API_KEY": "x"}).run()
