"""The two promises, tested by killing processes: nobody gets a message twice, and nobody who opted out gets one.

The sender runs as a real `herald send` process against the strict fake SendGrid (in this process, over HTTP).
It is SIGKILLed at 20 random points of a 10,000+ recipient send and restarted each time; halfway through, some
recipients unsubscribe (a consent batch lands). In the end every message id reached the fake exactly once,
except those of the people who unsubscribed, which never reached it."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

from herald import clock, landing, warehouse
from herald.build import read_build
from herald.project import Project
from herald.raw_schema import CONSENT_EVENTS
from senders import ledger
from senders.job import load_run
from tests.fakes.sendgrid import FakeSendGrid
from tests.senders.conftest import (
    API_KEY,
    SendWorld,
    kill_once_ledger_holds,
    send_cmd,
    send_until_settled,
    sender_env,
)

pytestmark = pytest.mark.slow


def _unsubscribe(project: Project, profile_ids: list[str], topic: str) -> None:
    con = warehouse.connect(project)
    try:
        keys = con.execute(
            "select external_key from profile_identities where profile_id in (select unnest(?))", [profile_ids]
        ).fetchall()
    finally:
        con.close()
    now = clock.now().replace(tzinfo=None)
    rows = [
        {
            "consent_event_id": f"unsub-{k}",
            "external_key": k,
            "channel": "email",
            "topic": topic,
            "status": "opt_out",
            "source": "preference_center",
            "occurred_at": now,
        }
        for (k,) in keys
    ]
    landing.land_batch(project, CONSENT_EVENTS, pa.Table.from_pylist(rows), source_file="unsubscribes.csv")


def test_sigkill_at_20_random_points_sends_each_message_once_and_none_to_the_unsubscribed(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["bulk_email"]
    _, recipients = load_run(send_project, run_id)
    assert len(recipients) >= 10_000
    fake_sendgrid.latency = 0.03  # a send that lasts long enough to be killed in
    # Lookups settle what the kills left; an absence counts after a settling time far above the fake's (nil) lag.
    env = {**os.environ, **sender_env(send_project, fake_sendgrid), "HERALD_SENDGRID_LOOKUP_SETTLE": "5"}
    cmd = send_cmd(run_id, "--concurrency", "2", "--batch-size", "100")
    rng = random.Random(20261129)
    total_lines = 2 * len(recipients)
    targets = sorted(rng.sample(range(50, total_lines - 200), 20))  # ledger sizes at which to kill
    killed_mid_send = 0
    unsubscribed: list[str] = []
    for i, target in enumerate(targets):
        if i == 10:
            claimed = {e.recipient_id for e in ledger.read_run(send_project, run_id).values()}
            pending = [r.profile_id for r in recipients if r.recipient_id not in claimed and r.profile_id]
            unsubscribed = rng.sample(pending, 40)
            _unsubscribe(send_project, unsubscribed, "newsletter")
        killed_mid_send += kill_once_ledger_holds(cmd, env, send_project, run_id, target, within=60)
    assert killed_mid_send >= 15  # the kills landed while it was sending, not after it finished

    # Restarted without a kill, the sender settles what the kills left (found → accepted; absent once settled →
    # sent) and finishes.
    runs = send_until_settled(cmd, env, send_project, run_id)
    assert all(API_KEY not in r.stdout + r.stderr for r in runs)
    done = runs[-1]
    assert done.returncode == 0, done.stdout + done.stderr

    unsubscribed_ids = {r.message_id for r in recipients if r.profile_id in set(unsubscribed)}
    expected = {r.message_id for r in recipients} - unsubscribed_ids
    assert fake_sendgrid.duplicates() == {}
    assert fake_sendgrid.accepted_ids() == expected
    assert len(expected) >= 10_000 - 40
    assert not unsubscribed_ids & fake_sendgrid.accepted_ids()
    assert fake_sendgrid.invalid_requests() == []

    latest = ledger.read_run(send_project, run_id)
    assert {latest[m].state for m in expected} == {"accepted"}
    assert {(latest[m].state, latest[m].reason) for m in unsubscribed_ids} == {
        ("skipped", "opted_out_since_preparation")
    }


def test_two_senders_started_at_once_never_send_a_message_twice(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["logic_email"]  # one request per recipient: many chances to collide
    _, recipients = load_run(send_project, run_id)
    env = {**os.environ, **sender_env(send_project, fake_sendgrid)}
    # Long enough for the second sender to start while the first still works (a fast sender could otherwise finish
    # every shard before the other has loaded the run).
    fake_sendgrid.latency = 0.05
    cmd = send_cmd(run_id, "--concurrency", "16")
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert fake_sendgrid.duplicates() == {}
    assert fake_sendgrid.accepted_ids() == {r.message_id for r in recipients}
    # Both worked: each process claimed some shards (the writer of an entry is host:pid).
    writers = {e.writer.rsplit(":", 1)[1] for e in ledger.read_history(send_project, run_id)}
    assert writers == {str(p.pid) for p in procs}


def test_the_api_key_never_leaks(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid, caplog: pytest.LogCaptureFixture
) -> None:
    """A canary key: not in logs (even at DEBUG), output, exceptions, the ledger, the warehouse or dbt files."""
    import logging

    from herald.build import build
    from herald.errors import HeraldError
    from senders.job import SendJob
    from senders.options import SendOptions

    caplog.set_level(logging.DEBUG)
    run_id = send_world.runs["logic_email"]
    env = sender_env(send_project, fake_sendgrid)

    # A refused key: the error names the status, never the key.
    wrong = {**env, "SENDGRID_API_KEY": API_KEY + "-revoked"}
    summary = SendJob(send_project, run_id, SendOptions(concurrency=2), env=wrong).run()
    assert "refused the account" in summary.stopped and "401" in summary.stopped
    assert API_KEY not in summary.stopped
    # Then the right key: everything goes (messages a refused key claimed were released, not lost).
    summary = SendJob(send_project, run_id, SendOptions(concurrency=2), env=env).run()
    assert summary.complete and set(summary.states) == {"accepted"}
    try:
        SendJob(send_project, "r-no-such-run", env=env).run()
    except HeraldError as exc:
        assert API_KEY not in str(exc) and API_KEY not in repr(exc.args)

    # dbt reads the ledger into the build file (with the key in this process's environment).
    os.environ["SENDGRID_API_KEY"] = API_KEY
    try:
        build(send_project, select=["stg_senders__send_ledger+"], quiet=True)
    finally:
        del os.environ["SENDGRID_API_KEY"]
    con = read_build(send_project)
    try:
        sent = con.execute("select count(*) from message_sends where run_id = ? and is_sent", [run_id]).fetchone()
    finally:
        con.close()
    assert sent is not None and sent[0] == len(fake_sendgrid.accepted_ids())

    assert API_KEY not in caplog.text
    needle = API_KEY.encode()
    leaks = [
        p
        for root in (send_project.warehouse_dir, send_project.root)
        for p in Path(root).rglob("*")
        if p.is_file() and needle in p.read_bytes()
    ]
    assert leaks == []
