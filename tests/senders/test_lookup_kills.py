"""Email Activity lookups under SIGKILL: a real `herald send` killed at random points, with lookups on, against a
fake whose Activity rows have exactly the documented shape (no custom args) and lag the send. Restarted until
nothing is unknown, every recipient got the message exactly once."""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest

from herald.project import Project
from senders import ledger
from senders.job import load_run
from tests.fakes.sendgrid import FakeSendGrid
from tests.senders.conftest import API_KEY, SendWorld, kill_once_ledger_holds, send_cmd, send_until_settled, sender_env

pytestmark = pytest.mark.slow


def test_kills_with_lookups_on_never_send_twice_and_every_unknown_settles(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["logic_email"]  # one request per recipient: many calls in flight at each kill
    _, recipients = load_run(send_project, run_id)
    fake_sendgrid.latency = 0.05  # calls in flight when the kill lands are recorded just after it
    fake_sendgrid.activity_lag = 1.0  # and show in Email Activity only a while later
    # A settling time far above the fake's lag (as the default is far above SendGrid's), short enough for a test.
    env = {**os.environ, **sender_env(send_project, fake_sendgrid), "HERALD_SENDGRID_LOOKUP_SETTLE": "8"}
    cmd = send_cmd(run_id, "--concurrency", "4")
    rng = random.Random(20261203)
    targets = sorted(rng.sample(range(40, 2 * len(recipients) - 100), 10))  # ledger sizes at which to kill
    killed = 0
    for target in targets:
        killed += kill_once_ledger_holds(cmd, env, send_project, run_id, target, within=120)
    assert killed >= 7  # the kills landed while it was sending

    history = ledger.read_history(send_project, run_id)
    assert any(e.state == "unknown" for e in history)  # the kills left messages in doubt to look up

    runs = send_until_settled(cmd, env, send_project, run_id)
    # Earlier runs may end with messages unknown (reported, not an error); the last settles everything.
    assert runs[-1].returncode == 0, runs[-1].stdout + runs[-1].stderr
    assert all("Traceback" not in r.stderr for r in runs), [r.stderr for r in runs]
    assert all(API_KEY not in r.stdout + r.stderr for r in runs)

    # 0 duplicates, counted per recipient at the provider, and everyone got it.
    per_address = Counter(address.lower() for m in fake_sendgrid.sent for address in m.to)
    assert [a for a, n in per_address.items() if n > 1] == []
    assert fake_sendgrid.duplicates() == {}
    assert fake_sendgrid.accepted_ids() == {r.message_id for r in recipients}
    assert fake_sendgrid.invalid_requests() == []
    # Every unknown settled: found ones accepted by lookup, the others released after settling and sent once.
    latest = ledger.read_run(send_project, run_id)
    assert {latest[r.message_id].state for r in recipients} == {"accepted"}
    released = {e.message_id for e in ledger.read_history(send_project, run_id) if e.state == "released"}
    found = {m for m, e in latest.items() if e.provider_id == "lookup"}
    assert released or found
